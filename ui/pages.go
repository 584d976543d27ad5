// Package ui serves otpgate's own pages under the path prefix: sign-in,
// code entry, sign-out and errors. Pages are server-rendered from embedded
// templates, need no JavaScript, and are sent with a strict CSP.
package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages holds one parsed template set per page, each with the shared layout.
type pages map[string]*template.Template

func parsePages() (pages, error) {
	layout, err := template.ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	p := pages{}
	for _, name := range []string{"signin", "code", "logout", "message", "mobile", "backup", "backupcodes"} {
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse %s page: %w", name, err)
		}
		p[name] = t
	}
	return p, nil
}

// view is the data every page template receives.
type view struct {
	L          *Localizer // the page's language
	Brand      *Brand
	Base       string // origin of otpgate's own links, when not this host
	Prefix     string
	Title      string
	Error      string
	Notice     string
	CSRF       string
	Redirect   string
	Username   string
	Mobile     string
	TTL        string
	InputMode  string
	User       string
	Paragraphs []string
	NextURL    string
	NextLabel  string
	CanResend  bool
	ResendHint string
	ResendWait string // the cooldown runs: why "Send a new code" is disabled
	Hint       string

	BackupCodes bool // the code page offers "use a backup code"

	Reference string // an error page's request id, for the user to quote
}

// T writes a catalogue message in the page's language (Localizer.T).
func (v view) T(id string, args ...any) string { return v.L.T(id, args...) }

// HTML writes a catalogue message with its markup (Localizer.HTML).
func (v view) HTML(id string, args ...any) template.HTML { return v.L.HTML(id, args...) }

// DocTitle is the window's title: the page's, and the brand's name unless
// the page's title already says it.
func (v view) DocTitle() string {
	if v.Brand == nil || v.Brand.Name == "" || strings.Contains(v.Title, v.Brand.Name) {
		return v.Title
	}
	return v.Title + " · " + v.Brand.Name
}

// SignInHref is the sign-in page's path, to return to rd.
func (v view) SignInHref(rd string) string { return v.Prefix + "signin?rd=" + url.QueryEscape(rd) }

func (v view) page() view { return v }

// view returns the data every page of r starts from: its language, the
// brand and the prefix.
func (h *Handler) view(r *http.Request) view {
	return view{L: h.catalog.For(r), Brand: &h.brand, Prefix: h.cfg.Prefix}
}

// securityHeaders are sent with every page: no scripts at all, no framing,
// no referrer leaking the original URL, and nothing cached. formAction
// lists the other origins a form may be redirected to after sign-in;
// styleOrigin is the portal's origin for a page shown on an app's host,
// whence its stylesheets and logo come.
func securityHeaders(h http.Header, formAction, styleOrigin string) {
	if formAction != "" {
		formAction = " " + formAction
	}
	if styleOrigin != "" {
		styleOrigin = " " + styleOrigin
	}
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'"+styleOrigin+"; img-src 'self'"+styleOrigin+"; form-action 'self'"+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

// pageData is a view, or a view with more.
type pageData interface{ page() view }

// render writes page name with data v, whole or not at all.
func (h *Handler) render(w http.ResponseWriter, status int, name string, v pageData) {
	h.renderFrom(w, status, name, v, "")
}

// renderFrom is render for a page whose stylesheet comes from styleOrigin.
func (h *Handler) renderFrom(w http.ResponseWriter, status int, name string, v pageData, styleOrigin string) {
	page := v.page()
	var buf bytes.Buffer
	t, ok := h.pages[name]
	if !ok {
		h.cfg.Log.Error("render page", "page", name, "err", "not parsed")
		http.Error(w, page.T("InternalError"), http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		h.cfg.Log.Error("render page", "page", name, "err", err)
		http.Error(w, page.T("InternalError"), http.StatusInternalServerError)
		return
	}
	securityHeaders(w.Header(), h.formAction, styleOrigin)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", page.L.Lang())
	w.Header().Set("Vary", "Accept-Language")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Favicon serves otpgate's icon at any path, for /favicon.ico outside the
// prefix: browsers ask for it whatever a page links to, and without a
// session it would be answered with a sign-in.
func Favicon() http.Handler {
	static := staticHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.Clone(r.Context())
		r.URL.Path, r.URL.RawPath = "/favicon.ico", ""
		static.ServeHTTP(w, r)
	})
}

func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		if strings.HasSuffix(r.URL.Path, ".ico") {
			// Not left to the system's MIME table, which names it differently.
			w.Header().Set("Content-Type", "image/x-icon")
		}
		files.ServeHTTP(w, r)
	})
}
