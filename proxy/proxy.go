// Package proxy puts otpgate in front of an app: requests with a valid
// session are passed to the upstream with the user's identity in headers;
// all others are sent to sign in.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/otpgate/otpgate/auth"
)

// Identity headers the app receives. Any header the client sent that an app
// could read as one of these is removed first.
const (
	HeaderUser   = "Remote-User"
	HeaderName   = "Remote-Name"
	HeaderEmail  = "Remote-Email"
	HeaderGroups = "Remote-Groups"
	// HeaderAuthLevel is "2" after password and code, "1" where policy let
	// the user in with the password alone.
	HeaderAuthLevel = "Remote-Auth-Level"
)

// identityHeaders are the lower-case names, with '-', of every header that
// carries identity, for matching client headers however they are spelled.
var identityHeaders = map[string]bool{
	"remote-user": true, "remote-name": true, "remote-email": true, "remote-groups": true, "remote-auth-level": true,
}

// Config wires the gateway.
type Config struct {
	// Upstream is the app; nil when otpgate only answers forward-auth
	// requests and serves its portal.
	Upstream  *url.URL
	Prefix    string       // otpgate's own path prefix, "/otpgate/"
	Pages     http.Handler // serves everything under Prefix
	SignInURL func(rd string) string
	Sessions  *auth.Sessions
	Log       *slog.Logger
	// Transport reaches the upstream; nil means a copy of
	// http.DefaultTransport that keeps enough idle connections.
	Transport http.RoundTripper
	Rules     Rules          // access rules, in both modes
	Trusted   TrustedProxies // whose forwarding headers are believed
	// PublicURL is the portal where forward-auth sends browsers to sign
	// in; nil: the host of the request being checked.
	PublicURL *url.URL
	// Forbidden writes the page for a signed-in user a rule refuses.
	// onAppHost is true for forward-auth, where the page is shown on the
	// app's host rather than otpgate's.
	Forbidden func(w http.ResponseWriter, r *http.Request, message string, onAppHost bool)
	// Decision hears each access decision (allow, bypass, sign_in,
	// deny_rule, deny_group, untrusted, malformed), for metrics; nil: nobody.
	Decision func(result string)
}

// Gateway is the reverse-proxy handler.
type Gateway struct {
	cfg     Config
	proxy   *httputil.ReverseProxy
	cookies []string // otpgate's cookie names, kept from the upstream
}

type identityKey struct{}

// authLevels avoids formatting a number on every request.
var authLevels = [...]string{"0", "1", "2"}

// New returns the Gateway.
func New(cfg Config, cookieNames ...string) (*Gateway, error) {
	if cfg.Upstream != nil && cfg.Upstream.Host == "" {
		return nil, errors.New("upstream URL needs a host")
	}
	if cfg.Decision == nil {
		cfg.Decision = func(string) {}
	}
	if cfg.Forbidden == nil {
		cfg.Forbidden = func(w http.ResponseWriter, _ *http.Request, message string, _ bool) {
			http.Error(w, message, http.StatusForbidden)
		}
	}
	if cfg.Transport == nil {
		cfg.Transport = NewTransport()
	}
	g := &Gateway{cfg: cfg, cookies: cookieNames}
	g.proxy = &httputil.ReverseProxy{
		Rewrite:      g.rewrite,
		Transport:    cfg.Transport,
		ErrorHandler: g.upstreamError,
		BufferPool:   newBufferPool(),
	}
	return g, nil
}

// NewTransport returns the upstream transport. http.DefaultTransport keeps
// only 2 idle connections per host, so under load most requests would open
// a new upstream connection.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	return t
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == g.cfg.Prefix+"authz/forward-auth":
		g.forwardAuth(w, r)
		return
	case p == g.cfg.Prefix+"authz/auth-request":
		g.authRequest(w, r)
		return
	case strings.HasPrefix(p, g.cfg.Prefix):
		g.cfg.Pages.ServeHTTP(w, r)
		return
	case p+"/" == g.cfg.Prefix:
		http.Redirect(w, r, g.cfg.Prefix+"signin", http.StatusSeeOther)
		return
	case g.cfg.Upstream == nil:
		// The portal alone: its own pages say who is signed in.
		http.Redirect(w, r, g.cfg.Prefix+"logout", http.StatusSeeOther)
		return
	}
	clean, ok := NormalizePath(r.URL.EscapedPath())
	if !ok {
		g.cfg.Decision("malformed")
		http.Error(w, "Bad request path.", http.StatusBadRequest)
		return
	}
	rule := g.cfg.Rules.Match(hostname(r.Host), clean)
	switch rule.Policy {
	case PolicyDeny:
		g.cfg.Decision("deny_rule")
		g.cfg.Log.Info("access denied by rule", "path", clean, "rule_line", rule.Line, "client", g.cfg.Trusted.ClientIP(r))
		g.cfg.Forbidden(w, r, "This address is closed.", false)
		return
	case PolicyBypass:
		g.cfg.Decision("bypass")
		g.proxy.ServeHTTP(w, r)
		return
	}
	sess, err := g.cfg.Sessions.Load(r)
	// Sessions are issued only for complete sign-ins (a pending one, past
	// the password only, is never a session); Factors says how many.
	if err != nil {
		if err != auth.ErrNoSession {
			// A cookie came but is forged or expired: drop it.
			g.cfg.Log.Debug("session refused", "path", r.URL.Path, "err", err)
			g.cfg.Sessions.Clear(w)
		}
		g.cfg.Decision("sign_in")
		g.signIn(w, r)
		return
	}
	if !inAnyGroup(sess.User.Groups, rule.Groups) {
		g.forbidGroups(w, r, sess, rule, false)
		return
	}
	if err := g.cfg.Sessions.Touch(r, w, sess); err != nil {
		g.cfg.Log.Error("renew session", "user", sess.User.Username, "err", err)
	}
	g.cfg.Decision("allow")
	g.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, &sess)))
}

func (g *Gateway) forbidGroups(w http.ResponseWriter, r *http.Request, sess auth.Session, rule Rule, onAppHost bool) {
	g.cfg.Decision("deny_group")
	g.cfg.Log.Info("access denied, not in a required group", "user", sess.User.Username, "groups", rule.Groups, "rule_line", rule.Line)
	g.cfg.Forbidden(w, r, "You are signed in as "+sess.User.Username+", but this page is only for members of "+
		strings.Join(rule.Groups, " or ")+". Ask an administrator if you need access.", onAppHost)
}

// inAnyGroup reports whether have includes one of want; no want is true.
func inAnyGroup(have, want []string) bool {
	if len(want) == 0 {
		return true
	}
	for _, w := range want {
		for _, h := range have {
			if strings.EqualFold(h, w) {
				return true
			}
		}
	}
	return false
}

// hostname is host without a port, lower-cased.
func hostname(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// signIn sends a browser to the sign-in page (303) and tells other clients
// 401, since a redirect to an HTML form helps no API client.
func (g *Gateway) signIn(w http.ResponseWriter, r *http.Request) {
	loc := g.cfg.SignInURL(r.URL.RequestURI())
	if WantsHTML(r) {
		http.Redirect(w, r, loc, http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprintf(w, "Sign in first: %s\n", loc)
}

// WantsHTML reports whether r looks like a browser navigation.
func WantsHTML(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Mode") == "navigate" {
		return true
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(g.cfg.Upstream)
	// X-Forwarded-* from the client were already dropped by ReverseProxy
	// (Rewrite mode); these are set from the connection itself, keeping
	// the chain only when a trusted proxy sent it.
	trusted := g.cfg.Trusted.Trusts(pr.In)
	if trusted {
		if xff := pr.In.Header["X-Forwarded-For"]; len(xff) > 0 {
			pr.Out.Header["X-Forwarded-For"] = xff
		}
	}
	pr.SetXForwarded()
	if trusted {
		if proto := pr.In.Header.Get("X-Forwarded-Proto"); proto == "http" || proto == "https" {
			pr.Out.Header.Set("X-Forwarded-Proto", proto)
		}
	}
	h := pr.Out.Header
	for name := range h {
		if identityHeaders[strings.ReplaceAll(strings.ToLower(name), "_", "-")] {
			delete(h, name)
		}
	}
	g.stripCookies(h)
	if sess, ok := pr.In.Context().Value(identityKey{}).(*auth.Session); ok {
		u := &sess.User
		h[HeaderUser] = []string{u.Username}
		h[HeaderAuthLevel] = []string{authLevels[min(max(sess.Factors, 1), 2)]}
		if u.Name != "" {
			h[HeaderName] = []string{u.Name}
		}
		if u.Email != "" {
			h[HeaderEmail] = []string{u.Email}
		}
		if len(u.Groups) > 0 {
			h[HeaderGroups] = []string{strings.Join(u.Groups, ",")}
		}
	}
}

// stripCookies keeps otpgate's own cookies from the app: it has no use for
// them and should not be able to replay them.
func (g *Gateway) stripCookies(h http.Header) {
	values := h["Cookie"]
	if len(values) == 0 {
		return
	}
	found := false
	for _, v := range values {
		for _, name := range g.cookies {
			if strings.Contains(v, name) {
				found = true
			}
		}
	}
	if !found {
		return
	}
	var kept []string
	for _, v := range values {
		for part := range strings.SplitSeq(v, ";") {
			name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if !g.isOwnCookie(name) && strings.TrimSpace(part) != "" {
				kept = append(kept, strings.TrimSpace(part))
			}
		}
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = []string{strings.Join(kept, "; ")}
}

func (g *Gateway) isOwnCookie(name string) bool {
	for _, n := range g.cookies {
		if name == n {
			return true
		}
	}
	return false
}

// upstreamError answers 502 or 504 when the app cannot be reached, with a
// short id that links what the user sees to the log line.
func (g *Gateway) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadGateway
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		status = http.StatusGatewayTimeout
	}
	if errors.Is(err, context.Canceled) {
		// The client went away; nobody is left to answer.
		g.cfg.Log.Debug("client gone before upstream answered", "path", r.URL.Path)
		return
	}
	id := fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffffff)
	g.cfg.Log.Error("upstream error", "id", id, "path", r.URL.Path, "status", status, "err", err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "The application behind otpgate is not answering. Please try again in a moment. (error %s)\n", id)
}

// bufferPool reuses the buffers responses are copied through; without one,
// ReverseProxy allocates 32 KiB for every response.
type bufferPool struct{ pool sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{pool: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (p *bufferPool) Get() []byte  { return *p.pool.Get().(*[]byte) }
func (p *bufferPool) Put(b []byte) { p.pool.Put(&b) }
