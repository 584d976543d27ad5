package proxy

import (
	"net/http"
	"net/url"
	"strings"
)

// forwardAuth answers Traefik's forwardAuth and Caddy's forward_auth: the
// original request comes as X-Forwarded-Proto, -Host and -Uri. Any answer
// but 2xx goes back to the client as it is.
func (g *Gateway) forwardAuth(w http.ResponseWriter, r *http.Request) {
	if !g.trustedAsker(w, r) {
		return
	}
	proto, okProto := onlyValue(r.Header, "X-Forwarded-Proto")
	host, okHost := onlyValue(r.Header, "X-Forwarded-Host")
	uri, okURI := onlyValue(r.Header, "X-Forwarded-Uri")
	if !okProto || !okHost || !okURI {
		g.malformed(w, r, "X-Forwarded-Proto, -Host and -Uri must each be sent exactly once")
		return
	}
	o, err := readOriginal(strings.ToLower(proto), host, uri)
	if err == nil {
		err = g.checkAsked(r, &o)
	}
	if err != nil {
		g.malformed(w, r, err.Error())
		return
	}
	g.answerForwardAuth(w, r, &o, false)
}

// authRequest answers nginx's auth_request: the original URL comes as
// X-Original-URL. nginx turns any status but 2xx, 401 and 403 into a 500
// and cannot follow a redirect, so a missing session is a 401 carrying the
// portal in Location, for `error_page 401 =302 $redirect`.
func (g *Gateway) authRequest(w http.ResponseWriter, r *http.Request) {
	if !g.trustedAsker(w, r) {
		return
	}
	raw, ok := onlyValue(r.Header, "X-Original-Url") // canonical: no copy to look it up
	if !ok {
		g.malformed(w, r, "X-Original-URL must be sent exactly once")
		return
	}
	// scheme://authority/target, read strictly: an authority is never
	// allowed to end at a '?' or '#', which would hide the path.
	scheme, rest, _ := strings.Cut(raw, "://")
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		g.malformed(w, r, "X-Original-URL "+quote(raw)+" is not scheme://host/path")
		return
	}
	o, err := readOriginal(strings.ToLower(scheme), rest[:slash], rest[slash:])
	if err == nil {
		err = g.checkAsked(r, &o)
	}
	if err != nil {
		g.malformed(w, r, err.Error())
		return
	}
	g.answerForwardAuth(w, r, &o, true)
}

// checkAsked refuses what no forward-auth question may carry, whatever
// its proxy: identity headers of the client's own (a proxy may pass on a
// spelling it does not replace, and an app may read it as the one otpgate
// sent), and an original host other than the one the endpoint's URL pins
// with ?host= (the proxy's configuration, which no client can change).
func (g *Gateway) checkAsked(r *http.Request, o *Original) error {
	if name := g.forged.firstIn(r.Header); name != "" {
		return malformedf("the client sent an identity header of its own (" + quote(name) + ")")
	}
	if r.URL.RawQuery == "" {
		return nil // no pin: the usual question, without parsing a query
	}
	if pin := r.URL.Query()["host"]; len(pin) > 0 {
		host, ok := CanonicalHost(pin[0])
		if len(pin) != 1 || !ok || host != o.Host {
			return malformedf("original host " + quote(o.Host) + " is not the host the proxy pinned (" + quote(strings.Join(pin, ",")) + ")")
		}
	}
	return nil
}

// onlyValue is the value of a header sent exactly once.
func onlyValue(h http.Header, name string) (string, bool) {
	v := h.Values(name)
	if len(v) != 1 || v[0] == "" {
		return "", false
	}
	return v[0], true
}

// trustedAsker refuses forward-auth questions from anyone but a trusted
// proxy: their headers would decide what is allowed.
func (g *Gateway) trustedAsker(w http.ResponseWriter, r *http.Request) bool {
	if g.cfg.Trusted.Trusts(r) {
		return true
	}
	g.cfg.Decision("untrusted")
	g.cfg.Log.WarnContext(r.Context(), "forward-auth request from an untrusted address refused", "remote", r.RemoteAddr)
	http.Error(w, "Forbidden: not a trusted proxy.", http.StatusForbidden)
	return false
}

// malformed denies a request whose original cannot be read: never an
// allow, and a 403 that every proxy passes on as a denial (nginx would
// turn a 400 into a 500).
func (g *Gateway) malformed(w http.ResponseWriter, r *http.Request, why string) {
	g.cfg.Decision("malformed")
	g.cfg.Log.WarnContext(r.Context(), "forward-auth request refused", "why", why, "remote", r.RemoteAddr)
	http.Error(w, "Forbidden: the original request could not be read.", http.StatusForbidden)
}

// answerForwardAuth decides on the original request and answers as the
// asking proxy expects.
func (g *Gateway) answerForwardAuth(w http.ResponseWriter, r *http.Request, o *Original, nginx bool) {
	d := g.decide(w, r, o)
	g.record(r, o, d)
	switch d.outcome {
	case outcomeBypass:
		// Empty identity headers still replace any the client forged, in
		// proxies that copy them onto the request.
		g.setIdentity(w.Header(), nil)
		w.WriteHeader(http.StatusOK)
		return
	case outcomeAllow:
		g.setIdentity(w.Header(), &d.session)
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	switch d.outcome {
	case outcomeDenyRule:
		g.cfg.Forbidden(w, r, "This address is closed.", true)
	case outcomeDenyGroup:
		g.cfg.Forbidden(w, r, forbiddenGroupsMessage(d.session.User.Username, d.verdict), true)
	case outcomeSignIn:
		loc := g.portalSignIn(o)
		switch {
		case nginx:
			w.Header().Set("Location", loc)
			http.Error(w, "Sign in first.", http.StatusUnauthorized)
		case wantsHTML(r):
			http.Redirect(w, r, loc, http.StatusFound) //nolint:gosec // loc is the portal: PUBLIC_URL, or the checked original host
		default:
			http.Error(w, "Sign in first: "+loc, http.StatusUnauthorized)
		}
	}
}

// portalSignIn is the sign-in page that brings the user back to o.
func (g *Gateway) portalSignIn(o *Original) string {
	base := o.Scheme + "://" + o.Authority
	if g.cfg.PublicURL != nil {
		base = strings.TrimSuffix(g.cfg.PublicURL.String(), "/")
	}
	return base + g.cfg.Prefix + "signin?rd=" + url.QueryEscape(o.URL())
}
