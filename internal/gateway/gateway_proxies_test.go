package gateway

// End-to-end tests of the forward-auth mode: otpgate as the sign-in portal
// and authorization server (no upstream of its own), behind a real nginx
// and a real Caddy running the example configurations of examples/ as
// written, in front of echoApp. Traefik is not packaged for Debian, so its
// protocol is tested by sending exactly the requests its forwardAuth
// middleware sends.
//
// The browser reaches the portal as auth.example.test and the app as
// app.example.test: its transport dials every *.example.test name at
// 127.0.0.1, keeping the port, so the session cookie, set for the domain
// example.test, goes from the portal to the app as in a real deployment.

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/otpgate/otpgate/auth/slapdtest"
	"github.com/otpgate/otpgate/internal/testclock"
	"github.com/otpgate/otpgate/internal/testserver"
	"github.com/otpgate/otpgate/proxy/webservertest"
)

const (
	fwdDomain     = "example.test"
	fwdPortalHost = "auth.example.test"
	fwdAppHost    = "app.example.test"
	// fwdOtherHost has a bypass rule of its own, and no server in the
	// proxies: a request naming it must not reach the app.
	fwdOtherHost = "public.example.test"
	// fwdSessionCookie is the session cookie's name with COOKIE_DOMAIN set
	// and COOKIE_SECURE=false (with Secure it would be __Secure-otpgate).
	fwdSessionCookie = "otpgate"
)

// forwardAuthRules are the access rules of these tests, one of each kind.
const forwardAuthRules = `
* /internal/** deny
* /public/** bypass
* /admin/** two_factor groups=admins
` + fwdOtherHost + ` /** bypass
`

// startForwardAuthEnv is startEnv for the forward-auth mode: no upstream,
// the portal at http://auth.example.test:PORT, the session cookie shared
// with every host of example.test. The proxies serve plain HTTP in these
// tests, so cookies are not Secure (a Secure cookie would never be sent to
// the app over HTTP).
func startForwardAuthEnv(t *testing.T, edit ...func(*Config)) *env {
	t.Helper()
	// The portal's URL must be known before assembling, so listen first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: slapdtest.Start(t), sms: newSMSGateway(t), clock: testclock.Wall(), logs: &testserver.Output{}}
	e.app = httptest.NewServer(echoApp())
	t.Cleanup(e.app.Close)
	e.config = baseConfig(e.dir, e.sms.srv.URL, "")
	e.config.PublicURL = fmt.Sprintf("http://%s:%d", fwdPortalHost, ln.Addr().(*net.TCPAddr).Port)
	e.config.Auth.Cookie.Domain = fwdDomain
	e.config.Auth.Cookie.Secure = false
	e.config.Proxy.AccessRules = forwardAuthRules
	e.serve(edit, ln)
	return e
}

// exampleSite is what the placeholders of examples/nginx/nginx.conf and
// examples/caddy/Caddyfile stand for.
type exampleSite struct {
	Listen  string // nginx: where it listens
	AppHost string // nginx: the app's server_name
	AppSite string // Caddy: the app's site address
	Otpgate string // otpgate, as the proxy reaches it
	App     string // the app, as the proxy reaches it
}

// renderExample fills in an example configuration as the README shows it.
func renderExample(t *testing.T, path string, site exampleSite) string {
	t.Helper()
	tmpl, err := template.ParseFiles(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, site); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b.String()
}

// proxyKind is one reverse proxy in front of the app.
type proxyKind struct {
	name string
	// start runs the proxy with its example configuration and returns the
	// app's URL through it (http://app.example.test:PORT).
	start func(t *testing.T, e *env) string
	// anonymousAPI is the status an API client without a session gets:
	// nginx turns otpgate's 401 into the redirect for everyone.
	anonymousAPI int
	// passesRenewal: the example passes otpgate's renewed session cookie
	// on to the browser.
	passesRenewal bool
}

var proxyKinds = []proxyKind{
	{name: "nginx", start: startNginxExample, anonymousAPI: http.StatusFound, passesRenewal: true},
	{name: "caddy", start: startCaddyExample, anonymousAPI: http.StatusUnauthorized},
}

func startNginxExample(t *testing.T, e *env) string {
	addr := webservertest.StartNginx(t, func(listen string) string {
		return renderExample(t, "../../examples/nginx/nginx.conf", exampleSite{
			Listen: listen, AppHost: fwdAppHost, Otpgate: e.gw.URL, App: e.app.URL})
	})
	return "http://" + net.JoinHostPort(fwdAppHost, addrPort(addr))
}

func startCaddyExample(t *testing.T, e *env) string {
	addr := webservertest.StartCaddy(t, func(listen string) string {
		return renderExample(t, "../../examples/caddy/Caddyfile", exampleSite{
			AppSite: "http://" + net.JoinHostPort(fwdAppHost, addrPort(listen)),
			Otpgate: strings.TrimPrefix(e.gw.URL, "http://"), App: strings.TrimPrefix(e.app.URL, "http://")})
	})
	return "http://" + net.JoinHostPort(fwdAppHost, addrPort(addr))
}

// addrPort is the port of host:port.
func addrPort(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		panic(err)
	}
	return p
}

// siteBrowser is a cookie-keeping browser that reaches every
// *.example.test host at 127.0.0.1. It follows redirects only when asked,
// so each step can be checked.
type siteBrowser struct {
	t      *testing.T
	e      *env
	jar    *cookiejar.Jar
	client *http.Client
}

func (e *env) siteBrowser() *siteBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, p, err := net.SplitHostPort(addr); err == nil && strings.HasSuffix(host, "."+fwdDomain) {
				addr = net.JoinHostPort("127.0.0.1", p)
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
	e.t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Jar: jar, Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &siteBrowser{t: e.t, e: e, jar: jar, client: c}
}

// try sends one request as a browser navigation; header is name, value
// pairs added to it.
func (b *siteBrowser) try(method, rawURL string, form url.Values, header ...string) (response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Accept" {
			req.Header.Del("Accept")
		}
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(data), header: resp.Header}, nil
}

func (b *siteBrowser) do(method, rawURL string, form url.Values, header ...string) response {
	b.t.Helper()
	r, err := b.try(method, rawURL, form, header...)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	return r
}

func (b *siteBrowser) get(rawURL string, header ...string) response {
	b.t.Helper()
	return b.do("GET", rawURL, nil, header...)
}

// follow gets rawURL and follows redirects (GET, the same extra headers),
// returning the last answer and its URL.
func (b *siteBrowser) follow(rawURL string, header ...string) (response, string) {
	b.t.Helper()
	var hops []string
	for range 10 {
		hops = append(hops, rawURL)
		r := b.get(rawURL, header...)
		if r.status < 300 || r.status > 399 || r.location == "" {
			return r, rawURL
		}
		base, _ := url.Parse(rawURL)
		next, err := base.Parse(r.location)
		if err != nil {
			b.t.Fatalf("GET %s: %d to unreadable Location %q", rawURL, r.status, r.location)
		}
		rawURL = next.String()
	}
	b.t.Fatalf("more than 10 redirects: %q", hops)
	return response{}, ""
}

// portal is the portal's base URL, http://auth.example.test:PORT.
func (b *siteBrowser) portal() string { return b.e.config.PublicURL }

// signInURL is the portal's sign-in page that returns to rd.
func (b *siteBrowser) signInURL(rd string) string {
	return b.portal() + "/otpgate/signin?rd=" + url.QueryEscape(rd)
}

// csrf loads a portal page and returns the CSRF token of its form.
func (b *siteBrowser) csrf(rawURL string) string {
	b.t.Helper()
	r := b.get(rawURL)
	m := csrfField.FindStringSubmatch(r.body)
	if m == nil {
		b.t.Fatalf("GET %s: %d, no CSRF token in:\n%s", rawURL, r.status, r.body)
	}
	return m[1]
}

var rdField = regexp.MustCompile(`name="rd" value="([^"]*)"`)

// signIn signs u in at the portal, as the browser does once a proxy sent
// it there for rd, and checks that the portal sends it back to rd.
func (b *siteBrowser) signIn(u slapdtest.User, rd string) {
	b.t.Helper()
	page := b.get(b.signInURL(rd))
	if m := rdField.FindStringSubmatch(page.body); m == nil || html.UnescapeString(m[1]) != rd {
		b.t.Fatalf("sign-in page for rd=%q: %d, rd field %q, want the same rd", rd, page.status, m)
	}
	tok := csrfField.FindStringSubmatch(page.body)
	if tok == nil {
		b.t.Fatalf("sign-in page: %d, no CSRF token in:\n%s", page.status, page.body)
	}
	r := b.do("POST", b.portal()+"/otpgate/signin", url.Values{"csrf": {tok[1]}, "rd": {rd}, "username": {u.Username}, "password": {u.Password}})
	if r.status != http.StatusSeeOther || r.location != "/otpgate/code" {
		b.t.Fatalf("password step: %d to %q, want 303 to /otpgate/code; body:\n%s", r.status, r.location, r.body)
	}
	r = b.do("POST", b.portal()+"/otpgate/code", url.Values{"csrf": {b.csrf(b.portal() + "/otpgate/logout")}, "code": {b.e.sms.lastCode(u.Mobile)}})
	if r.status != http.StatusSeeOther || r.location != rd {
		b.t.Fatalf("code step: %d to %q, want 303 to %q; body:\n%s", r.status, r.location, rd, r.body)
	}
}

// session returns the session cookie the browser would send to rawURL.
func (b *siteBrowser) session(rawURL string) *http.Cookie {
	b.t.Helper()
	u, _ := url.Parse(rawURL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == fwdSessionCookie {
			return c
		}
	}
	b.t.Fatalf("no %s cookie for %s", fwdSessionCookie, rawURL)
	return nil
}

// appSaw fetches rawURL through the proxy and returns what the app received.
func (b *siteBrowser) appSaw(rawURL string, header ...string) map[string]any {
	b.t.Helper()
	r := b.get(rawURL, header...)
	seen, ok := appAnswer(r)
	if !ok {
		b.t.Fatalf("GET %s: %d to %q, want 200 from the app; body:\n%s", rawURL, r.status, r.location, r.body)
	}
	return seen
}

// appAnswer decodes echoApp's answer; ok is false for anything else.
func appAnswer(r response) (map[string]any, bool) {
	var seen map[string]any
	if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &seen) != nil || seen["path"] == nil {
		return nil, false
	}
	return seen, true
}

// sortedGroups sorts a comma-separated group list: the directory's order
// is not the test's business.
func sortedGroups(v []string) []string {
	if len(v) != 1 {
		return v
	}
	g := strings.Split(v[0], ",")
	slices.Sort(g)
	return []string{strings.Join(g, ",")}
}

// checkIdentity checks the identity headers the app received: want maps
// each to its value, "" meaning none. A header that is absent and one
// present with an empty value are both "none": nginx drops a header set to
// "", Caddy sends it empty.
func checkIdentity(t *testing.T, seen map[string]any, want map[string]string) {
	t.Helper()
	for _, name := range []string{"Remote-User", "Remote-Name", "Remote-Email", "Remote-Groups", "Remote-Auth-Level"} {
		got := headerValues(seen, name)
		if name == "Remote-Groups" {
			got = sortedGroups(got)
		}
		if w := want[name]; w == "" {
			if slices.ContainsFunc(got, func(v string) bool { return v != "" }) {
				t.Errorf("app got %s = %q, want none", name, got)
			}
		} else if len(got) != 1 || got[0] != w {
			t.Errorf("app got %s = %q, want [%q]", name, got, w)
		}
	}
}

func aliceIdentity() map[string]string {
	a := slapdtest.Alice
	return map[string]string{"Remote-User": a.Username, "Remote-Name": a.Name, "Remote-Email": a.Email,
		"Remote-Groups": "admins,staff", "Remote-Auth-Level": "2"}
}

// forgedIdentity is what a client sends hoping the app believes it: every
// header an app may read as identity, in the spellings apps on CGI, WSGI
// or PHP read alike (Remote_User, Remote.User are HTTP_REMOTE_USER).
var forgedIdentity = func() []string {
	var h []string
	for _, name := range []string{"Remote-User", "Remote-Groups", "Remote-Email", "Remote-Name", "Remote-Auth-Level",
		"Remote_User", "Remote.User", "Remote_Groups", "X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups",
		"X-Forwarded-Preferred-Username", "X-Auth-Request-User", "X-Auth-Request-Email", "X-Webauth-User", "X-Remote-User",
		"X-Authenticated-User"} {
		h = append(h, name, forgedValue)
	}
	return h
}()

// forgedValue is the value of every forged header, to find it wherever it lands.
const forgedValue = "admins-forged-by-client"

// checkNoForged fails when a forged value reached the app in any header.
func checkNoForged(t *testing.T, seen map[string]any) {
	t.Helper()
	for name := range seen {
		if slices.Contains(headerValues(seen, name), forgedValue) {
			t.Errorf("the app got %s: %q from the client", name, forgedValue)
		}
	}
}

func TestProxiesForwardAuth(t *testing.T) {
	for _, p := range proxyKinds {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			e := startForwardAuthEnv(t)
			app := p.start(t, e)
			alice, carol := e.siteBrowser(), e.siteBrowser()
			page := app + "/report?x=1&y=2"

			t.Run("anonymous browser ends on the sign-in page", func(t *testing.T) {
				anon := e.siteBrowser()
				first := anon.get(page)
				if first.status != http.StatusFound || first.location != anon.signInURL(page) {
					t.Fatalf("GET %s: %d to %q, want 302 to %q", page, first.status, first.location, anon.signInURL(page))
				}
				r, last := anon.follow(page)
				if r.status != http.StatusOK || last != anon.signInURL(page) || !strings.Contains(r.body, `name="password"`) {
					t.Fatalf("following redirects from %s: %d at %s, want the sign-in form at %s", page, r.status, last, anon.signInURL(page))
				}
				if r := anon.get(page, "Accept", "application/json"); r.status != p.anonymousAPI {
					t.Errorf("API client without a session: %d, want %d", r.status, p.anonymousAPI)
				}
				// Identity headers from the client get nobody in: the proxy
				// deletes them before asking (Caddy), or otpgate refuses a
				// question that carries them (nginx).
				if r := anon.get(page, forgedIdentity...); r.status != http.StatusForbidden && r.status != http.StatusFound {
					t.Errorf("anonymous request with forged identity headers: %d, want 403 or 302 to sign in", r.status)
				} else if _, ok := appAnswer(r); ok {
					t.Error("anonymous request with forged identity headers reached the app")
				}
			})

			t.Run("after sign-in the app gets the identity", func(t *testing.T) {
				alice.signIn(slapdtest.Alice, page)
				if c := alice.session(app); c.Value == "" {
					t.Fatal("the session cookie does not reach the app's host")
				}
				seen := alice.appSaw(page)
				if seen["path"] != "/report?x=1&y=2" {
					t.Errorf("app got path %q, want %q", seen["path"], "/report?x=1&y=2")
				}
				checkIdentity(t, seen, aliceIdentity())
			})

			t.Run("forged identity headers never reach the app", func(t *testing.T) {
				carol.signIn(slapdtest.Carol, app+"/")
				// Carol has no email and no groups: nothing may stand in for them.
				checkIdentity(t, carol.appSaw(app+"/"), map[string]string{"Remote-User": "carol", "Remote-Name": slapdtest.Carol.Name, "Remote-Auth-Level": "2"})
				for i := 0; i+1 < len(forgedIdentity); i += 2 {
					r := carol.get(app+"/", forgedIdentity[i], forgedIdentity[i+1])
					if seen, ok := appAnswer(r); ok {
						checkNoForged(t, seen)
						checkIdentity(t, seen, map[string]string{"Remote-User": "carol", "Remote-Name": slapdtest.Carol.Name, "Remote-Auth-Level": "2"})
					} else if r.status != http.StatusForbidden {
						t.Errorf("carol with a forged %s: %d, want the app (without it) or 403", forgedIdentity[i], r.status)
					}
				}
			})

			t.Run("deny rule", func(t *testing.T) {
				for _, path := range []string{"/internal", "/internal/x", "/public/../internal/x", "/%69nternal/x", "/public/..%2Finternal/x", "/INTERNAL/../internal/"} {
					if r := alice.get(app + path); r.status != http.StatusForbidden {
						t.Errorf("alice GET %s: %d, want 403", path, r.status)
					}
					if r := e.siteBrowser().get(app + path); r.status != http.StatusForbidden {
						t.Errorf("anonymous GET %s: %d, want 403", path, r.status)
					}
				}
			})

			t.Run("group rule", func(t *testing.T) {
				if r := carol.get(app + "/admin/users"); r.status != http.StatusForbidden {
					t.Errorf("carol (no groups) GET /admin/users: %d, want 403", r.status)
				}
				if r := carol.get(app + "/public/../admin/users"); r.status != http.StatusForbidden {
					t.Errorf("carol GET /public/../admin/users: %d, want 403", r.status)
				}
				if seen := alice.appSaw(app + "/admin/users"); seen["path"] != "/admin/users" {
					t.Errorf("alice (admins) GET /admin/users: app got %q", seen["path"])
				}
			})

			t.Run("bypass rule", func(t *testing.T) {
				anon := e.siteBrowser()
				checkIdentity(t, anon.appSaw(app+"/public/info"), nil)
				if r := anon.get(app+"/public/info", forgedIdentity...); r.status != http.StatusForbidden {
					seen, ok := appAnswer(r)
					if !ok {
						t.Fatalf("bypass path with forged identity headers: %d, want the app (without them) or 403", r.status)
					}
					checkNoForged(t, seen)
					checkIdentity(t, seen, nil)
				}
			})

			t.Run("a host the proxy does not serve never reaches the app", func(t *testing.T) {
				// fwdOtherHost has a bypass rule; the proxy's server for the app
				// must not answer for it, or anyone could reach the app
				// without signing in by naming it.
				other := "http://" + net.JoinHostPort(fwdOtherHost, addrPort(strings.TrimPrefix(app, "http://"))) + "/report"
				r, err := e.siteBrowser().try("GET", other, nil)
				if _, ok := appAnswer(r); err == nil && ok {
					t.Fatalf("GET %s reached the app without a session", other)
				}
			})

			if p.passesRenewal {
				t.Run("renewed session cookie reaches the browser", func(t *testing.T) {
					e.clock.Advance(2 * time.Minute)
					r := alice.get(page)
					if !strings.Contains(r.header.Get("Set-Cookie"), fwdSessionCookie+"=") {
						t.Fatalf("request after 2 minutes: %d, Set-Cookie %q, want the renewed %s cookie", r.status, r.header.Get("Set-Cookie"), fwdSessionCookie)
					}
				})
			}

			t.Run("logout at the portal signs the browser out of the app", func(t *testing.T) {
				old := alice.session(app)
				r := alice.do("POST", e.config.PublicURL+"/otpgate/logout", url.Values{"csrf": {alice.csrf(e.config.PublicURL + "/otpgate/logout")}})
				if r.status != http.StatusOK || !strings.Contains(r.body, "You are signed out") {
					t.Fatalf("POST logout: %d, want 200 You are signed out", r.status)
				}
				if r, last := alice.follow(page); r.status != http.StatusOK || last != alice.signInURL(page) {
					t.Errorf("after logout, GET %s ends at %s (%d), want the sign-in page", page, last, r.status)
				}
				thief := e.siteBrowser()
				u, _ := url.Parse(app)
				thief.jar.SetCookies(u, []*http.Cookie{{Name: old.Name, Value: old.Value, Path: "/"}})
				if r := thief.get(page); r.status != http.StatusFound || r.location != thief.signInURL(page) {
					t.Errorf("a copy of the signed-out cookie: %d to %q, want 302 to sign in", r.status, r.location)
				}
				if seen, ok := appAnswer(carol.get(app + "/")); !ok || !slices.Equal(headerValues(seen, "Remote-User"), []string{"carol"}) {
					t.Error("alice's logout signed carol out too")
				}
			})
		})
	}
}

// askAuthz sends otpgate's forward-auth endpoint a request as a proxy
// would, from the test's own address; header is name, value pairs.
func askAuthz(t *testing.T, e *env, endpoint string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest("GET", e.gw.URL+"/otpgate/authz/"+endpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", endpoint, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(data), header: resp.Header}
}

// signedInCookie signs u in at the portal and returns the Cookie header a
// browser would send to the app.
func signedInCookie(t *testing.T, e *env, u slapdtest.User) string {
	t.Helper()
	b := e.siteBrowser()
	b.signIn(u, "https://"+fwdAppHost+"/")
	c := b.session("https://" + fwdAppHost + "/")
	return c.Name + "=" + c.Value
}

// traefikAsk sends what Traefik's forwardAuth middleware sends (v2 and v3,
// trustForwardHeader false): a GET to the address with the client's
// headers (Cookie, Accept, User-Agent, ... and any it forged) and the
// original request as X-Forwarded-Method, -Proto, -Host (the Host header,
// port included), -Uri (the request URI) and -For (the client's address).
func traefikAsk(t *testing.T, e *env, method, uri, cookie, accept string, extra ...string) response {
	t.Helper()
	h := []string{
		"X-Forwarded-Method", method, "X-Forwarded-Proto", "https", "X-Forwarded-Host", fwdAppHost,
		"X-Forwarded-Uri", uri, "X-Forwarded-For", "203.0.113.7",
		"Accept", accept, "User-Agent", "Mozilla/5.0 (X11; Linux x86_64)", "Accept-Encoding", "gzip",
	}
	if cookie != "" {
		h = append(h, "Cookie", cookie)
	}
	return askAuthz(t, e, "forward-auth", append(h, extra...)...)
}

const htmlAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// identityOf returns the five identity headers of an answer; each must be
// there exactly once, so that it replaces the client's.
func identityOf(t *testing.T, h http.Header) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range []string{"Remote-User", "Remote-Name", "Remote-Email", "Remote-Groups", "Remote-Auth-Level"} {
		v := h.Values(name)
		if len(v) != 1 {
			t.Errorf("answer has %s %q, want exactly one value (empty when unknown)", name, v)
			continue
		}
		if name == "Remote-Groups" {
			v = sortedGroups(v)
		}
		out[name] = v[0]
	}
	return out
}

func TestTraefikForwardAuthProtocol(t *testing.T) {
	e := startForwardAuthEnv(t)
	aliceCookie := signedInCookie(t, e, slapdtest.Alice)
	carolCookie := signedInCookie(t, e, slapdtest.Carol)
	none := map[string]string{"Remote-User": "", "Remote-Name": "", "Remote-Email": "", "Remote-Groups": "", "Remote-Auth-Level": ""}

	r := traefikAsk(t, e, "GET", "/report?x=1&y=2", "", htmlAccept)
	wantLoc := e.config.PublicURL + "/otpgate/signin?rd=" + url.QueryEscape("https://"+fwdAppHost+"/report?x=1&y=2")
	if r.status != http.StatusFound || r.location != wantLoc {
		t.Errorf("browser without a session: %d to %q, want 302 to %q", r.status, r.location, wantLoc)
	}
	if r := traefikAsk(t, e, "GET", "/report", "", "application/json"); r.status != http.StatusUnauthorized || r.location != "" {
		t.Errorf("API client without a session: %d to %q, want 401 without Location", r.status, r.location)
	}
	if r := traefikAsk(t, e, "GET", "/report", "otpgate=forged-value", htmlAccept); r.status != http.StatusFound {
		t.Errorf("forged session cookie: %d, want 302 to sign in", r.status)
	}

	for _, method := range []string{"GET", "POST"} {
		r := traefikAsk(t, e, method, "/report?x=1", aliceCookie, htmlAccept)
		if r.status != http.StatusOK {
			t.Fatalf("alice, %s: %d, want 200; body:\n%s", method, r.status, r.body)
		}
		if got, want := identityOf(t, r.header), aliceIdentity(); !maps.Equal(got, want) {
			t.Errorf("alice, %s: identity %q, want %q", method, got, want)
		}
	}
	// Traefik passes the client's headers on: otpgate refuses a question
	// that carries an identity of the client's own, in any spelling.
	for _, forged := range []string{"Remote-Groups", "Remote_Groups", "Remote.Groups", "remote~groups", "X-Forwarded-Groups", "X-Auth-Request-Groups"} {
		if r := traefikAsk(t, e, "GET", "/", carolCookie, htmlAccept, forged, "admins"); r.status != http.StatusForbidden {
			t.Errorf("carol with a forged %s: %d, want 403", forged, r.status)
		}
	}
	r = traefikAsk(t, e, "GET", "/", carolCookie, htmlAccept)
	wantCarol := map[string]string{"Remote-User": "carol", "Remote-Name": slapdtest.Carol.Name, "Remote-Email": "", "Remote-Groups": "", "Remote-Auth-Level": "2"}
	if got := identityOf(t, r.header); r.status != http.StatusOK || !maps.Equal(got, wantCarol) {
		t.Errorf("carol: %d, identity %q, want 200 and %q", r.status, got, wantCarol)
	}

	if r := traefikAsk(t, e, "GET", "/internal/x", aliceCookie, htmlAccept); r.status != http.StatusForbidden {
		t.Errorf("alice on a deny path: %d, want 403", r.status)
	}
	if r := traefikAsk(t, e, "GET", "/internal/x", "", htmlAccept); r.status != http.StatusForbidden {
		t.Errorf("anonymous on a deny path: %d, want 403", r.status)
	}
	if r := traefikAsk(t, e, "GET", "/admin/users", carolCookie, htmlAccept); r.status != http.StatusForbidden {
		t.Errorf("carol on /admin/users (groups=admins): %d, want 403", r.status)
	} else {
		// The page is shown on the app's host: its links must lead to the
		// portal, and its CSP must allow the portal's stylesheet.
		for _, want := range []string{`href="` + e.config.PublicURL + `/otpgate/static/style.css"`, `href="` + e.config.PublicURL + `/otpgate/logout"`, "only for members of admins"} {
			if !strings.Contains(r.body, want) {
				t.Errorf("403 page for carol lacks %q:\n%s", want, r.body)
			}
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "style-src 'self' "+e.config.PublicURL+";") {
			t.Errorf("403 page CSP %q does not allow the portal's stylesheet", csp)
		}
	}
	if r := traefikAsk(t, e, "GET", "/admin/users", aliceCookie, htmlAccept); r.status != http.StatusOK {
		t.Errorf("alice on /admin/users: %d, want 200", r.status)
	}
	r = traefikAsk(t, e, "GET", "/public/info", "", htmlAccept)
	if got := identityOf(t, r.header); r.status != http.StatusOK || !maps.Equal(got, none) {
		t.Errorf("bypass path: %d, identity %q, want 200 with every identity header empty", r.status, got)
	}
}

// TestNginxAuthRequestProtocol checks the auth-request endpoint on its own,
// with the headers the nginx example sends.
func TestNginxAuthRequestProtocol(t *testing.T) {
	e := startForwardAuthEnv(t)
	alice := signedInCookie(t, e, slapdtest.Alice)
	orig := "http://" + fwdAppHost + ":8443/report?x=1"
	r := askAuthz(t, e, "auth-request", "X-Original-URL", orig, "X-Original-Method", "GET", "Accept", htmlAccept)
	if want := e.config.PublicURL + "/otpgate/signin?rd=" + url.QueryEscape(orig); r.status != http.StatusUnauthorized || r.location != want {
		t.Errorf("without a session: %d to %q, want 401 with Location %q (nginx cannot pass on a redirect)", r.status, r.location, want)
	}
	r = askAuthz(t, e, "auth-request", "X-Original-URL", orig, "X-Original-Method", "GET", "Cookie", alice)
	if got := identityOf(t, r.header); r.status != http.StatusOK || !maps.Equal(got, aliceIdentity()) {
		t.Errorf("alice: %d, identity %q, want 200 and %q", r.status, got, aliceIdentity())
	}
	if r := askAuthz(t, e, "auth-request", "X-Original-URL", "http://"+fwdAppHost+"/internal/x", "Cookie", alice); r.status != http.StatusForbidden {
		t.Errorf("alice on a deny path: %d, want 403", r.status)
	}
}

// Forward-auth answers decide what a proxy lets through, so only trusted
// proxies may ask: from anyone else, even with a good session, the answer
// is 403, never 200.
func TestForwardAuthUntrustedAsker(t *testing.T) {
	e := startForwardAuthEnv(t, func(c *Config) { c.Proxy.TrustedProxies = []string{"192.0.2.1/32", "10.0.0.0/8"} })
	alice := signedInCookie(t, e, slapdtest.Alice)
	for _, cookie := range []string{alice, ""} {
		for _, path := range []string{"/report", "/public/info"} {
			fa := []string{"X-Forwarded-Method", "GET", "X-Forwarded-Proto", "https", "X-Forwarded-Host", fwdAppHost, "X-Forwarded-Uri", path,
				"X-Forwarded-For", "192.0.2.1", "Accept", htmlAccept}
			ar := []string{"X-Original-URL", "https://" + fwdAppHost + path, "X-Original-Method", "GET", "X-Forwarded-For", "192.0.2.1"}
			if cookie != "" {
				fa = append(fa, "Cookie", cookie)
				ar = append(ar, "Cookie", cookie)
			}
			for endpoint, h := range map[string][]string{"forward-auth": fa, "auth-request": ar} {
				r := askAuthz(t, e, endpoint, h...)
				if r.status != http.StatusForbidden || !strings.Contains(r.body, "not a trusted proxy") {
					t.Errorf("%s %s from untrusted 127.0.0.1 (signed in: %v): %d %q, want 403 not a trusted proxy",
						endpoint, path, cookie != "", r.status, strings.TrimSpace(r.body))
				}
			}
		}
	}
	if !strings.Contains(e.logs.String(), "forward-auth request from an untrusted address refused") {
		t.Error("log lacks the refusal of an untrusted address")
	}
}

// An original request otpgate cannot read is refused, never allowed, even
// for a signed-in user (who would get 200 for a readable one).
func TestForwardAuthMalformedOriginal(t *testing.T) {
	e := startForwardAuthEnv(t)
	alice := signedInCookie(t, e, slapdtest.Alice)
	good := map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https", "X-Forwarded-Host": fwdAppHost, "X-Forwarded-Uri": "/report"}
	ask := func(endpoint string, set map[string]string, drop string) response {
		var h []string
		for k, v := range set {
			if k != drop {
				h = append(h, k, v)
			}
		}
		return askAuthz(t, e, endpoint, append(h, "Cookie", alice, "Accept", htmlAccept)...)
	}
	if r := ask("forward-auth", good, ""); r.status != http.StatusOK {
		t.Fatalf("well-formed forward-auth request: %d, want 200", r.status)
	}
	for _, name := range []string{"X-Forwarded-Uri", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if r := ask("forward-auth", good, name); r.status != http.StatusForbidden {
			t.Errorf("forward-auth without %s: %d, want 403", name, r.status)
		}
	}
	for name, bad := range map[string][]string{
		"X-Forwarded-Uri":   {"report", "https://" + fwdAppHost + "/report", "/report%zz", "*"},
		"X-Forwarded-Host":  {"alice@" + fwdAppHost, fwdAppHost + "/x", "app example.test", `app.example.test\x`},
		"X-Forwarded-Proto": {"ftp", "javascript"},
	} {
		for _, v := range bad {
			set := maps.Clone(good)
			set[name] = v
			if r := ask("forward-auth", set, ""); r.status != http.StatusForbidden {
				t.Errorf("forward-auth with %s %q: %d, want 403", name, v, r.status)
			}
		}
	}

	if r := ask("auth-request", map[string]string{"X-Original-URL": "https://" + fwdAppHost + "/report"}, ""); r.status != http.StatusOK {
		t.Fatalf("well-formed auth-request: %d, want 200", r.status)
	}
	if r := ask("auth-request", nil, ""); r.status != http.StatusForbidden {
		t.Errorf("auth-request without X-Original-URL: %d, want 403", r.status)
	}
	for _, v := range []string{"/report", fwdAppHost + "/report", "ftp://" + fwdAppHost + "/", "https://alice:pw@" + fwdAppHost + "/",
		"https:///report", "https://" + fwdAppHost + "/report%zz", "https:" + fwdAppHost + "/report"} {
		if r := ask("auth-request", map[string]string{"X-Original-URL": v}, ""); r.status != http.StatusForbidden {
			t.Errorf("auth-request with X-Original-URL %q: %d, want 403", v, r.status)
		}
	}
}
