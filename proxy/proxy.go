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
	"github.com/otpgate/otpgate/internal/reqid"
)

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
	Rules     Rules          // access rules, in every mode
	Trusted   TrustedProxies // whose forwarding headers are believed
	// IgnoreCase also judges each path in any letter case, for apps on
	// servers that ignore case: the stricter verdict wins.
	IgnoreCase bool
	// Hosts are the host names (canonical) the app is served on in
	// reverse-proxy mode; a request naming another gets 421. Empty: any
	// well-formed host, and rules naming hosts are for forward-auth only.
	Hosts []string
	// Identity names the headers that carry the user's identity; zero:
	// DefaultIdentityHeaders.
	Identity IdentityHeaders
	// PublicURL is the portal where forward-auth sends browsers to sign
	// in; nil: the host of the request being checked.
	PublicURL *url.URL
	// Forbidden writes the page for a signed-in user a rule refuses.
	// onAppHost is true for forward-auth, where the page is shown on the
	// app's host rather than otpgate's.
	Forbidden func(w http.ResponseWriter, r *http.Request, message string, onAppHost bool)
	// Decision hears each access decision (allow, bypass, sign_in,
	// deny_rule, deny_group, untrusted, malformed, misdirected), for
	// metrics; nil: nobody.
	Decision func(result string)
}

// Gateway is the reverse-proxy handler.
type Gateway struct {
	cfg      Config
	proxy    *httputil.ReverseProxy
	cookies  []string        // otpgate's cookie names (cgiName), kept from the upstream
	stripper *headerStripper // reverse-proxy mode: what the app never gets from the client
	forged   *headerStripper // forward-auth: identity headers no client may send
	hosts    map[string]bool
	identity []identityHeader // the headers of cfg.Identity, flat
}

// identityContext carries a request's session from serveApp to rewrite
// (httputil.ReverseProxy passes nothing else along): one allocation, where
// context.WithValue and a session escaping to the heap would be two.
type identityContext struct {
	context.Context
	sess auth.Session
}

type identityKey struct{}

func (c *identityContext) Value(key any) any {
	if key == (identityKey{}) {
		return &c.sess
	}
	return c.Context.Value(key)
}

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
	if cfg.Identity.User == nil && cfg.Identity.Name == nil && cfg.Identity.Email == nil && cfg.Identity.Groups == nil && cfg.Identity.AuthLevel == nil {
		cfg.Identity = DefaultIdentityHeaders()
	}
	g := &Gateway{cfg: cfg, stripper: newHeaderStripper(cfg.Identity), forged: newIdentityMatcher(cfg.Identity),
		identity: cfg.Identity.list()}
	for _, n := range cookieNames {
		g.cookies = append(g.cookies, cgiName(n))
	}
	if len(cfg.Hosts) > 0 {
		g.hosts = map[string]bool{}
		for _, h := range cfg.Hosts {
			c, ok := CanonicalHost(h)
			if !ok {
				return nil, fmt.Errorf("host %q is not a host name", h)
			}
			g.hosts[c] = true
		}
	}
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
	g.serveApp(w, r)
}

// serveApp is the reverse-proxy mode: the original request is the one
// otpgate received, and the app gets exactly its path and query.
func (g *Gateway) serveApp(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	o, err := readOriginal(scheme, r.Host, requestTarget(r))
	if err != nil {
		g.cfg.Decision("malformed")
		g.cfg.Log.InfoContext(r.Context(), "request refused", "why", err.Error(), "client", g.cfg.Trusted.ClientIP(r))
		http.Error(w, "Bad request: "+err.Error()+".", http.StatusBadRequest)
		return
	}
	if g.hosts != nil && !g.hosts[o.Host] {
		// Host rules are matched on the host the app is served for; a
		// request naming another host is not for this app.
		g.cfg.Decision("misdirected")
		g.cfg.Log.InfoContext(r.Context(), "request for a host otpgate does not serve refused", "host", o.Host, "client", g.cfg.Trusted.ClientIP(r))
		http.Error(w, "Misdirected request: this server does not serve "+quote(o.Host)+".", http.StatusMisdirectedRequest)
		return
	}
	d := g.decide(w, r, &o)
	g.record(r, &o, d)
	switch d.outcome {
	case outcomeDenyRule:
		g.cfg.Forbidden(w, r, "This address is closed.", false)
	case outcomeDenyGroup:
		g.cfg.Forbidden(w, r, forbiddenGroupsMessage(d.session.User.Username, d.verdict), false)
	case outcomeSignIn:
		if _, err := r.Cookie(g.cfg.Sessions.CookieName()); err == nil {
			// A cookie came but is forged, expired or signed out: drop it.
			g.cfg.Sessions.Clear(w)
		}
		g.signIn(w, r)
	case outcomeBypass:
		g.proxy.ServeHTTP(w, r)
	case outcomeAllow:
		g.proxy.ServeHTTP(w, r.WithContext(&identityContext{Context: r.Context(), sess: d.session}))
	}
}

// requestTarget is r.URL.RequestURI(): the request's escaped path and
// query. It is the target as received when that reads the same, which is
// the usual case and costs no allocation.
func requestTarget(r *http.Request) string {
	u, raw := r.URL, r.RequestURI
	if path := u.EscapedPath(); path != "" && u.Opaque == "" && !u.ForceQuery && strings.HasPrefix(raw, path) {
		if rest := raw[len(path):]; (rest == "" && u.RawQuery == "") || (len(rest) > 1 && rest[0] == '?' && rest[1:] == u.RawQuery) {
			return raw
		}
	}
	return u.RequestURI()
}

// signIn sends a browser to the sign-in page (303) and tells other clients
// 401, since a redirect to an HTML form helps no API client.
func (g *Gateway) signIn(w http.ResponseWriter, r *http.Request) {
	loc := g.cfg.SignInURL(r.URL.RequestURI())
	if wantsHTML(r) {
		http.Redirect(w, r, loc, http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprintf(w, "Sign in first: %s\n", loc)
}

// wantsHTML reports whether r looks like a browser navigation.
func wantsHTML(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Mode") == "navigate" {
		return true
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(g.cfg.Upstream)
	// Every header an app could read as identity or as the client's
	// address, in any spelling, is dropped; otpgate sets its own below.
	h := pr.Out.Header
	for name := range h {
		if g.stripper.strips(name) {
			delete(h, name)
		}
	}
	stripCookies(h, g.cookies)
	// The forwarding chain is kept only when a trusted proxy sent it.
	trusted := g.cfg.Trusted.Trusts(pr.In)
	if trusted {
		if xff := pr.In.Header["X-Forwarded-For"]; len(xff) > 0 {
			h["X-Forwarded-For"] = xff
		}
	}
	pr.SetXForwarded()
	if trusted {
		if proto := pr.In.Header.Get("X-Forwarded-Proto"); proto == "http" || proto == "https" {
			h.Set("X-Forwarded-Proto", proto)
		}
	}
	if sess, ok := pr.In.Context().Value(identityKey{}).(*auth.Session); ok {
		vals := identityValues(sess)
		setIdentityHeaders(h, g.identity, &vals, true, false)
	}
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
		g.cfg.Log.DebugContext(r.Context(), "client gone before upstream answered", "path", r.URL.Path)
		return
	}
	// The request's id is on the log line (request_id) and in the answer.
	log := g.cfg.Log
	id := reqid.SetHeader(w, r)
	if id == "" { // a Gateway served without reqid.Middleware
		id = reqid.New()
		log = log.With("request_id", id)
	}
	log.ErrorContext(r.Context(), "upstream error", "path", r.URL.Path, "status", status, "err", err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	// id is otpgate's own or a trusted proxy's, checked by reqid.WellFormed
	// (letters, digits, - _ .), in a text/plain body.
	fmt.Fprintf(w, "The application behind otpgate is not answering. Please try again in a moment. (Reference: %s)\n", id) //nolint:gosec // see above
}

// bufferPool reuses the buffers responses are copied through; without one,
// ReverseProxy allocates 32 KiB for every response. It holds pointers to
// the arrays, which a slice turns back into for free: putting a *[]byte
// would allocate one on every response.
type bufferPool struct{ pool sync.Pool }

const bufferSize = 32 << 10

func newBufferPool() *bufferPool {
	return &bufferPool{pool: sync.Pool{New: func() any { return new([bufferSize]byte) }}}
}

func (p *bufferPool) Get() []byte { return p.pool.Get().(*[bufferSize]byte)[:] }

func (p *bufferPool) Put(b []byte) {
	if cap(b) == bufferSize {
		p.pool.Put((*[bufferSize]byte)(b[:bufferSize]))
	}
}
