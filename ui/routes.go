package ui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/otpgate/otpgate/auth"
)

// Config wires the page handlers.
type Config struct {
	Prefix     string // path prefix, with leading and trailing slash: "/otpgate/"
	Flow       *auth.Flow
	Sessions   *auth.Sessions
	Keys       *auth.Keys
	Cookie     auth.CookieOptions
	Log        *slog.Logger
	ClientAddr func(*http.Request) string      // nil: the connection's address
	Redirects  RedirectPolicy                  // other hosts a sign-in may return to
	PublicURL  string                          // the portal, for pages shown on an app's host
	Ready      func(ctx context.Context) error // nil: always ready
	// Version is the release /healthz names (never the commit or the Go
	// release, which would tell an attacker more); "": not named.
	Version string
	Now     func() time.Time // nil: time.Now; the flow's clock, for the time left in a wait

	// The look and language of the pages (Settings.Validate); a nil
	// Catalog is the built-in one, every language offered.
	Brand   Brand
	Catalog *Catalog
}

// Handler serves every path under the prefix.
type Handler struct {
	cfg     Config
	pages   pages
	catalog *Catalog
	brand   Brand
	csrf    *auth.Cookie[string]
	pending *auth.Cookie[string]
	capture *auth.Cookie[[]byte] // key to the sealed password of a capture sign-in
	mux     *http.ServeMux
	root    http.Handler
	// formAction is the CSP form-action list beyond 'self'.
	formAction string

	readyMu sync.Mutex
	readyAt time.Time // last good readiness check
}

// New returns the page handler.
func New(cfg Config) (*Handler, error) {
	if !strings.HasPrefix(cfg.Prefix, "/") || !strings.HasSuffix(cfg.Prefix, "/") {
		return nil, fmt.Errorf("path prefix %q must start and end with /", cfg.Prefix)
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = RemoteHost
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	catalog := cfg.Catalog
	if catalog == nil {
		var problems []error
		if catalog, problems = NewCatalog(CatalogOptions{}); len(problems) > 0 {
			return nil, errors.Join(problems...)
		}
	}
	// Only the session cookie is shared with COOKIE_DOMAIN; the sign-in's
	// own cookies stay host-only on the portal (__Host-), so that no app
	// host below the domain can read or plant them.
	local := cfg.Cookie
	local.Domain = ""
	csrf, err := auth.NewCookie[string](cfg.Keys, local, "_csrf", csrfLifetime)
	if err != nil {
		return nil, err
	}
	pending, err := auth.NewCookie[string](cfg.Keys, local, "_pending", cfg.Flow.Lifetime())
	if err != nil {
		return nil, err
	}
	capture, err := auth.NewCookie[[]byte](cfg.Keys, local, "_capture", cfg.Flow.Lifetime())
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, pages: p, catalog: catalog, brand: cfg.Brand, csrf: csrf, pending: pending, capture: capture,
		mux: http.NewServeMux(), formAction: cfg.Redirects.formActionSources()}
	pre := cfg.Prefix
	h.mux.Handle("GET "+pre+"static/", http.StripPrefix(pre+"static", staticHandler()))
	h.mux.Handle("GET "+pre+"brand/{file}", brandHandler(h.brand.assets(pre)))
	h.mux.Handle("GET "+pre+"signin", h.handle(h.signInPage))
	h.mux.Handle("POST "+pre+"signin", h.handle(h.signIn))
	h.mux.Handle("GET "+pre+"code", h.handle(h.codePage))
	h.mux.Handle("POST "+pre+"code", h.handle(h.code))
	h.mux.Handle("POST "+pre+"code/resend", h.handle(h.resend))
	h.mux.Handle("GET "+pre+"mobile", h.handle(h.mobilePage))
	h.mux.Handle("POST "+pre+"mobile", h.handle(h.mobile))
	h.mux.Handle("GET "+pre+"logout", h.handle(h.logoutPage))
	h.mux.Handle("POST "+pre+"logout", h.handle(h.logout))
	h.routeBackupCodes()
	h.mux.HandleFunc("GET "+pre+"healthz", h.healthz)
	h.mux.HandleFunc("GET "+pre+"readyz", h.ready)
	h.mux.Handle(pre, h.handle(func(http.ResponseWriter, *http.Request) error { return h.notFound() }))
	// Browsers say where a form post came from; refuse cross-site posts
	// before any handler runs, in addition to the per-form CSRF token.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(h.handle(func(http.ResponseWriter, *http.Request) error { return h.crossOrigin() }))
	h.root = cop.Handler(h.mux)
	return h, nil
}

// ServeHTTP serves the pages. Cross-origin form posts are refused before
// they reach a handler, as well as by the CSRF token each form carries.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.root.ServeHTTP(w, r)
}

// SignInURL is where a request without a session is sent, keeping rd.
func (h *Handler) SignInURL(rd string) string {
	return h.cfg.Prefix + "signin?rd=" + url.QueryEscape(rd)
}

// RemoteHost returns the host part of the connection's address.
func RemoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// CookieNames returns the names of every cookie otpgate sets, so the
// reverse proxy can keep them from the app.
func (h *Handler) CookieNames() []string {
	return []string{h.cfg.Sessions.CookieName(), h.csrf.Name(), h.pending.Name(), h.capture.Name()}
}

// smsContext returns r's context carrying the SMS wording of r's language,
// so that a code sent for r reads in the language of its pages.
func (h *Handler) smsContext(r *http.Request, l *Localizer) context.Context {
	cfg := h.cfg.Flow.Config()
	return auth.WithWording(r.Context(), h.catalog.smsWording(l, cfg.Message, cfg.CodeTTL))
}
