package proxy

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/otpgate/otpgate/auth"
)

// forwardAuth answers Traefik's forwardAuth and Caddy's forward_auth: the
// original request comes as X-Forwarded-Method/-Proto/-Host/-Uri. Any
// answer but 2xx goes back to the client as it is.
func (g *Gateway) forwardAuth(w http.ResponseWriter, r *http.Request) {
	if !g.trustedAsker(w, r) {
		return
	}
	proto := strings.ToLower(r.Header.Get("X-Forwarded-Proto"))
	host := r.Header.Get("X-Forwarded-Host")
	uri := r.Header.Get("X-Forwarded-Uri")
	orig, err := url.ParseRequestURI(uri)
	if host == "" || err != nil || !strings.HasPrefix(uri, "/") || (proto != "http" && proto != "https") || strings.ContainsAny(host, "/\\@ ") {
		g.malformed(w, r, "X-Forwarded-Proto/-Host/-Uri missing or malformed")
		return
	}
	g.authorize(w, r, proto, host, orig, false)
}

// authRequest answers nginx's auth_request: the original URL comes as
// X-Original-URL. nginx turns any status but 2xx, 401 and 403 into a 500
// and cannot follow a redirect, so a missing session is a 401 carrying the
// portal in Location, for `error_page 401 =302 $redirect`.
func (g *Gateway) authRequest(w http.ResponseWriter, r *http.Request) {
	if !g.trustedAsker(w, r) {
		return
	}
	orig, err := url.Parse(r.Header.Get("X-Original-URL"))
	if err != nil || (orig.Scheme != "http" && orig.Scheme != "https") || orig.Host == "" || orig.User != nil {
		g.malformed(w, r, "X-Original-URL missing or malformed")
		return
	}
	g.authorize(w, r, orig.Scheme, orig.Host, orig, true)
}

// trustedAsker refuses forward-auth questions from anyone but a trusted
// proxy: their headers would decide what is allowed.
func (g *Gateway) trustedAsker(w http.ResponseWriter, r *http.Request) bool {
	if g.cfg.Trusted.Trusts(r) {
		return true
	}
	g.cfg.Decision("untrusted")
	g.cfg.Log.Warn("forward-auth request from an untrusted address refused", "remote", r.RemoteAddr)
	http.Error(w, "Forbidden: not a trusted proxy.", http.StatusForbidden)
	return false
}

// malformed denies a request whose original URL cannot be read: never an
// allow, and a 403 that every proxy passes on as a denial.
func (g *Gateway) malformed(w http.ResponseWriter, r *http.Request, why string) {
	g.cfg.Decision("malformed")
	g.cfg.Log.Warn("forward-auth request refused", "why", why, "remote", r.RemoteAddr)
	http.Error(w, "Forbidden: the original request could not be read.", http.StatusForbidden)
}

// authorize decides on the original request proto://host + orig.
func (g *Gateway) authorize(w http.ResponseWriter, r *http.Request, proto, host string, orig *url.URL, nginx bool) {
	w.Header().Set("Cache-Control", "no-store")
	clean, ok := NormalizePath(orig.EscapedPath())
	if !ok {
		g.malformed(w, r, "path cannot be normalised")
		return
	}
	rule := g.cfg.Rules.Match(hostname(host), clean)
	switch rule.Policy {
	case PolicyDeny:
		g.cfg.Decision("deny_rule")
		g.cfg.Log.Info("access denied by rule", "host", hostname(host), "path", clean, "rule_line", rule.Line, "client", g.cfg.Trusted.ClientIP(r))
		g.cfg.Forbidden(w, r, "This address is closed.", true)
		return
	case PolicyBypass:
		// Empty identity headers still replace any the client forged, in
		// proxies that copy them onto the request.
		g.cfg.Decision("bypass")
		setIdentity(w.Header(), nil)
		w.WriteHeader(http.StatusOK)
		return
	}
	sess, err := g.cfg.Sessions.Load(r)
	if err != nil {
		g.cfg.Decision("sign_in")
		loc := g.portalSignIn(proto, host, proto+"://"+host+orig.RequestURI())
		switch {
		case nginx:
			w.Header().Set("Location", loc)
			http.Error(w, "Sign in first.", http.StatusUnauthorized)
		case WantsHTML(r):
			http.Redirect(w, r, loc, http.StatusFound)
		default:
			http.Error(w, "Sign in first: "+loc, http.StatusUnauthorized)
		}
		return
	}
	if !inAnyGroup(sess.User.Groups, rule.Groups) {
		g.forbidGroups(w, r, sess, rule, true)
		return
	}
	if err := g.cfg.Sessions.Touch(r, w, sess); err != nil {
		g.cfg.Log.Error("renew session", "user", sess.User.Username, "err", err)
	}
	g.cfg.Decision("allow")
	setIdentity(w.Header(), &sess)
	w.WriteHeader(http.StatusOK)
}

// portalSignIn is the sign-in page that brings the user back to rd.
func (g *Gateway) portalSignIn(proto, host, rd string) string {
	base := proto + "://" + host
	if g.cfg.PublicURL != nil {
		base = strings.TrimSuffix(g.cfg.PublicURL.String(), "/")
	}
	return base + g.cfg.Prefix + "signin?rd=" + url.QueryEscape(rd)
}

// setIdentity writes every identity header, empty where there is nothing
// to say (or no session), so that each replaces a forged one.
func setIdentity(h http.Header, sess *auth.Session) {
	var user, name, email, groups, level string
	if sess != nil {
		u := &sess.User
		user, name, email, groups = u.Username, u.Name, u.Email, strings.Join(u.Groups, ",")
		level = authLevels[min(max(sess.Factors, 1), 2)]
	}
	h[HeaderUser] = []string{user}
	h[HeaderName] = []string{name}
	h[HeaderEmail] = []string{email}
	h[HeaderGroups] = []string{groups}
	h[HeaderAuthLevel] = []string{level}
}
