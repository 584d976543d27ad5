package proxy

import (
	"errors"
	"net/http"
	"strings"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/internal/reqid"
)

// Every mode decides access the same way: an adapter reads the original
// request (the one the app will be asked) into an Original, decide judges
// it, and the adapter answers in the form its proxy expects.

// Original is a request as the app will see it: what otpgate decides on.
type Original struct {
	Scheme    string // "http" or "https"
	Host      string // canonical host name (CanonicalHost), for rules
	Authority string // host[:port] as the client named it, for the return address
	Path      Path   // every reading of the path, for rules
	URI       string // escaped path and query as sent, for the return address
}

// URL is the original request's address, for the sign-in page to return to.
func (o *Original) URL() string { return o.Scheme + "://" + o.Authority + o.URI }

// errMalformed wraps every reason an original request cannot be read.
var errMalformed = errors.New("malformed original request")

func malformedf(why string) error { return &malformedError{why} }

type malformedError struct{ why string }

func (e *malformedError) Error() string { return e.why }
func (e *malformedError) Unwrap() error { return errMalformed }

// readOriginal checks the parts of an original request and reads them.
// scheme and authority come from the proxy (or the connection), uri is the
// request target in origin form (/path?query).
func readOriginal(scheme, authority, uri string) (Original, error) {
	if scheme != "http" && scheme != "https" {
		return Original{}, malformedf("scheme " + quote(scheme) + " is not http or https")
	}
	host, ok := CanonicalHost(authority)
	if !ok {
		return Original{}, malformedf("host " + quote(authority) + " is not a host name or address")
	}
	if !strings.HasPrefix(uri, "/") {
		return Original{}, malformedf("request target " + quote(uri) + " does not start with /")
	}
	for i := 0; i < len(uri); i++ {
		if c := uri[i]; c <= ' ' || c == 0x7f || c == '#' {
			return Original{}, malformedf("request target " + quote(uri) + " holds a space, control character or #")
		}
	}
	escapedPath, _, _ := strings.Cut(uri, "?")
	p, err := ReadPath(escapedPath)
	if err != nil {
		return Original{}, &malformedError{err.Error()}
	}
	return Original{Scheme: scheme, Host: host, Authority: authority, Path: p, URI: uri}, nil
}

func quote(s string) string {
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}

// outcome is what the decision pipeline concluded.
type outcome int

const (
	outcomeAllow     outcome = iota // signed in and admitted: pass, with identity
	outcomeBypass                   // a bypass rule: pass, with no identity
	outcomeSignIn                   // no valid session: sign in first
	outcomeDenyRule                 // a deny rule
	outcomeDenyGroup                // signed in, but not in a required group
)

// metric names the outcome for the Decision hook.
func (o outcome) metric() string {
	return [...]string{"allow", "bypass", "sign_in", "deny_rule", "deny_group"}[o]
}

type decision struct {
	outcome outcome
	verdict Verdict
	session auth.Session // for outcomeAllow and outcomeDenyGroup
}

// decide is otpgate's one access decision, for every mode: the rules on
// every reading of the path, then the session, then the groups. r carries
// the browser's cookies; w receives a renewed session cookie.
func (g *Gateway) decide(w http.ResponseWriter, r *http.Request, o *Original) decision {
	v := g.cfg.Rules.Decide(o.Host, o.Path, g.cfg.IgnoreCase)
	switch v.Policy() {
	case PolicyDeny:
		return decision{outcome: outcomeDenyRule, verdict: v}
	case PolicyBypass:
		return decision{outcome: outcomeBypass, verdict: v}
	}
	// Sessions are issued only for complete sign-ins (a pending one, past
	// the password only, is never a session); Factors says how many.
	sess, err := g.cfg.Sessions.Load(r)
	if err != nil {
		if _, present := r.Cookie(g.cfg.Sessions.CookieName()); present == nil {
			g.cfg.Log.DebugContext(r.Context(), "session refused", "path", o.Path.String(), "err", err)
		}
		return decision{outcome: outcomeSignIn, verdict: v}
	}
	reqid.SetUser(r.Context(), sess.User.Username) // for the access log
	if !v.Admits(sess.User.Groups) {
		return decision{outcome: outcomeDenyGroup, verdict: v, session: sess}
	}
	if err := g.cfg.Sessions.Touch(r, w, sess); err != nil {
		g.cfg.Log.ErrorContext(r.Context(), "renew session", "user", sess.User.Username, "err", err)
	}
	return decision{outcome: outcomeAllow, verdict: v, session: sess}
}

// record logs a refusal, and counts every decision for metrics.
func (g *Gateway) record(r *http.Request, o *Original, d decision) {
	g.cfg.Decision(d.outcome.metric())
	switch d.outcome {
	case outcomeDenyRule:
		g.cfg.Log.InfoContext(r.Context(), "access denied by rule", "host", o.Host, "path", o.Path.String(), "rule_line", d.verdict.Rule.Line,
			"client", g.cfg.Trusted.ClientIP(r))
	case outcomeDenyGroup:
		g.cfg.Log.InfoContext(r.Context(), "access denied, not in a required group", "user", d.session.User.Username, "host", o.Host,
			"path", o.Path.String(), "groups", d.verdict.Groups(), "rule_line", d.verdict.Rule.Line)
	}
}

// forbiddenGroupsMessage tells a signed-in user which groups a page needs.
func forbiddenGroupsMessage(user string, v Verdict) string {
	var need []string
	for _, g := range v.Groups() {
		need = append(need, strings.Join(g, " or "))
	}
	return "You are signed in as " + user + ", but this page is only for members of " +
		strings.Join(need, ", and of ") + ". Ask an administrator if you need access."
}
