package proxy

import (
	"net/http"
	"strings"

	"github.com/otpgate/otpgate/auth"
)

// IdentityHeaders names the request headers that carry the signed-in
// user's identity to the app. Each may name several headers (an app that
// reads X-Forwarded-User and one that reads Remote-User behind one
// otpgate), or none (the value is not sent).
type IdentityHeaders struct {
	User      []string // the username as the directory writes it
	Name      []string // the display name
	Email     []string
	Groups    []string // group names, as FormatGroups writes them
	AuthLevel []string // "2" after password and code, "1" after the password alone
}

// DefaultIdentityHeaders are the Remote-* headers.
func DefaultIdentityHeaders() IdentityHeaders {
	return IdentityHeaders{User: []string{"Remote-User"}, Name: []string{"Remote-Name"}, Email: []string{"Remote-Email"},
		Groups: []string{"Remote-Groups"}, AuthLevel: []string{"Remote-Auth-Level"}}
}

// authLevels avoids formatting a number on every request.
var authLevels = [...]string{"0", "1", "2"}

// The kinds of identity value, in the order of IdentityHeaders' fields.
const (
	identityUser = iota
	identityName
	identityEmail
	identityGroups
	identityAuthLevel
	identityKinds
)

// identityHeader is one header that carries one kind of identity value.
type identityHeader struct {
	name      string // as configured: the request to the app is sent so
	canonical string // for forward-auth answers, which net/http canonicalises
	kind      int
}

// list is every configured header, in the order of the fields.
func (ih *IdentityHeaders) list() []identityHeader {
	var out []identityHeader
	for kind, names := range [identityKinds][]string{ih.User, ih.Name, ih.Email, ih.Groups, ih.AuthLevel} {
		for _, n := range names {
			out = append(out, identityHeader{name: n, canonical: http.CanonicalHeaderKey(n), kind: kind})
		}
	}
	return out
}

// identityValues are the session's value of each kind; with no session,
// every value is "".
func identityValues(sess *auth.Session) [identityKinds]string {
	var v [identityKinds]string
	if sess != nil {
		u := &sess.User
		v[identityUser], v[identityName], v[identityEmail] = u.Username, u.Name, u.Email
		if len(u.Groups) > 0 {
			v[identityGroups] = FormatGroups(u.Groups)
		}
		v[identityAuthLevel] = authLevels[min(max(sess.Factors, 1), 2)]
	}
	return v
}

// setIdentityHeaders sets each header of list to its value from vals,
// those with an empty value too unless skipEmpty, canonical names when
// canonical, and then each of extra (name, value pairs). The values share
// one array: one allocation per request, not one per header.
func setIdentityHeaders(h http.Header, list []identityHeader, vals *[identityKinds]string, skipEmpty, canonical bool, extra ...string) {
	n := len(extra) / 2
	for _, ih := range list {
		if vals[ih.kind] != "" || !skipEmpty {
			n++
		}
	}
	if n == 0 {
		return
	}
	shared := make([]string, n)
	i := 0
	set := func(name, v string) {
		shared[i] = v
		h[name] = shared[i : i+1 : i+1]
		i++
	}
	for _, ih := range list {
		v := vals[ih.kind]
		switch {
		case v == "" && skipEmpty:
		case canonical:
			set(ih.canonical, v)
		default:
			set(ih.name, v)
		}
	}
	for j := 0; j+1 < len(extra); j += 2 {
		set(extra[j], extra[j+1])
	}
}

// Apps behind a CGI-style interface (CGI, WSGI, PHP, Rack, and servers that
// pass headers on as variables) read a header by a name made of its upper-
// cased letters and digits with every other character an underscore:
// Remote-User, Remote_User, Remote.User and remote~user are all
// HTTP_REMOTE_USER. So a header is stripped by that name, in any spelling.

// identityPrefixes are the families of headers that apps (and other
// gateways' conventions) read as identity or as the client's address, in
// their CGI form. otpgate removes every client header in them before
// setting its own.
var identityPrefixes = []string{
	"REMOTE_",          // Remote-User, Remote-Groups, ...
	"X_REMOTE_",        // X-Remote-User
	"X_FORWARDED_",     // X-Forwarded-User, -Email, -Groups, -Preferred-Username; -For, -Host, -Proto are set anew
	"X_AUTH_REQUEST_",  // X-Auth-Request-User, -Email, -Groups, ...
	"X_WEBAUTH_",       // X-WEBAUTH-USER (Grafana, Gitea)
	"X_AUTHENTICATED_", // X-Authenticated-User
}

// addressHeaders carry the client's address, which apps believe.
var addressHeaders = []string{"FORWARDED", "X_REAL_IP", "X_CLIENT_IP", "TRUE_CLIENT_IP"}

// forwardedIdentity are the X-Forwarded-* headers that carry identity;
// the rest of that family (-For, -Host, -Proto, ...) is the proxies' own.
var forwardedIdentity = []string{"X_FORWARDED_USER", "X_FORWARDED_EMAIL", "X_FORWARDED_GROUPS", "X_FORWARDED_PREFERRED_USERNAME"}

// headerStripper decides which client headers never reach the app.
type headerStripper struct {
	exact    []string // CGI forms
	prefixes []string // CGI forms
	first    [256]bool
}

// newHeaderStripper matches every identity or address header, for the
// request otpgate itself sends to the app.
func newHeaderStripper(ih IdentityHeaders) *headerStripper {
	return newMatcher(identityPrefixes, append(configuredNames(ih), addressHeaders...))
}

// newIdentityMatcher matches the identity headers alone, leaving the
// forwarding headers a proxy sends with a forward-auth question.
func newIdentityMatcher(ih IdentityHeaders) *headerStripper {
	var prefixes []string
	for _, p := range identityPrefixes {
		if p != "X_FORWARDED_" {
			prefixes = append(prefixes, p)
		}
	}
	return newMatcher(prefixes, append(configuredNames(ih), forwardedIdentity...))
}

func configuredNames(ih IdentityHeaders) []string {
	var out []string
	for _, h := range ih.list() {
		out = append(out, cgiName(h.name))
	}
	return out
}

func newMatcher(prefixes, exact []string) *headerStripper {
	s := &headerStripper{prefixes: prefixes, exact: exact}
	for _, n := range append(append([]string(nil), exact...), prefixes...) {
		s.first[n[0]] = true
		s.first[n[0]|0x20] = true
	}
	return s
}

// firstIn returns the name of the first header of h it matches, or "".
func (s *headerStripper) firstIn(h http.Header) string {
	for name := range h {
		if s.strips(name) {
			return name
		}
	}
	return ""
}

// strips reports whether a header of this name is removed.
func (s *headerStripper) strips(name string) bool {
	if name == "" || !s.first[name[0]] {
		return false // most headers, at the cost of one look-up
	}
	for _, e := range s.exact {
		if len(e) == len(name) && cgiHasPrefix(name, e) {
			return true
		}
	}
	for _, p := range s.prefixes {
		if cgiHasPrefix(name, p) {
			return true
		}
	}
	return false
}

// cgiName is a header's name as a CGI-style app reads it.
func cgiName(name string) string {
	b := []byte(name)
	for i, c := range b {
		b[i] = cgiByte(c)
	}
	return string(b)
}

// cgiHasPrefix reports whether name, read as a CGI-style app does, starts
// with prefix (in CGI form), without allocating.
func cgiHasPrefix(name, prefix string) bool {
	if len(name) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if cgiByte(name[i]) != prefix[i] {
			return false
		}
	}
	return true
}

func cgiByte(c byte) byte {
	switch {
	case 'a' <= c && c <= 'z':
		return c - 'a' + 'A'
	case ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9'):
		return c
	}
	return '_'
}

// stripCookies removes otpgate's own cookies, however they are spelled,
// from the Cookie header: the app has no use for them and must not be able
// to replay them. A cookie counts as otpgate's when its name, with spaces
// trimmed, reads as one of otpgate's the way a CGI-style app reads names;
// own holds otpgate's cookie names in that form (cgiName).
func stripCookies(h http.Header, own []string) {
	values := h["Cookie"]
	if len(values) == 0 {
		return
	}
	var kept []string
	changed := false
	for _, v := range values {
		for part := range strings.SplitSeq(v, ";") {
			part = strings.TrimSpace(part)
			name, _, _ := strings.Cut(part, "=")
			if part == "" || isOwnCookie(strings.TrimSpace(name), own) {
				changed = true
				continue
			}
			kept = append(kept, part)
		}
	}
	switch {
	case !changed && len(values) == 1:
	case len(kept) == 0:
		delete(h, "Cookie")
	default:
		h["Cookie"] = []string{strings.Join(kept, "; ")}
	}
}

func isOwnCookie(name string, own []string) bool {
	for _, n := range own {
		if len(n) == len(name) && cgiHasPrefix(name, n) {
			return true
		}
	}
	return false
}

// setIdentity writes every identity header of a forward-auth answer,
// empty where there is nothing to say (or no session), so that each
// replaces one the client forged in proxies that copy them; and, as on
// every answer, Cache-Control: no-store.
func (g *Gateway) setIdentity(h http.Header, sess *auth.Session) {
	vals := identityValues(sess)
	setIdentityHeaders(h, g.identity, &vals, false, true, "Cache-Control", "no-store")
}
