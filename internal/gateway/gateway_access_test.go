package gateway

// End-to-end tests of access decisions that nobody can walk around: each
// request below was once seen to reach a protected page, in reverse-proxy
// mode or through the real nginx and Caddy of examples/, and must not.

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth/slapdtest"
)

// accessRules guard the app: open health check and public area, a closed
// area, an area for admins, and an area for admins on one host only.
const accessRules = `
* /healthz bypass
* /public/** bypass
* /internal/** deny
* /admin/** two_factor groups=admins
` + fwdAppHost + ` /staff/** two_factor groups=admins
`

// Paths a server behind otpgate reads as /admin or /internal though they
// seem to be under /healthz or /public: decoding twice, servlet path
// parameters, and dot segments in every spelling.
var climbingPaths = []string{
	"/admin/%252e%252e/healthz",
	"/admin/%252e%252e/%252e%252e/public/x",
	"/admin/..%252f..%252fpublic/x",
	"/admin/%2e%2e/healthz",
	"/public/..;/admin",
	"/public/.;/../admin",
	"/public/%2e%2e;/admin",
	"/public/..%3b/admin",
	"/public/..%5cadmin",
	"/public/%2e%2e%2fadmin",
	"/public/%EF%BC%8E%EF%BC%8E/admin",
}

// Paths a servlet container or a Windows server reads as /admin or
// /internal: a group or deny rule must hold for them.
var aliasPaths = []string{"/admin;x", "/ADMIN", "/admin.", "/admin%20", "/Admin/users", "/admin;jsessionid=1/users", "/ａｄｍｉｎ"}

// reachedProtected reports whether the app answered, and for which path.
func reachedProtected(r response) (string, bool) {
	seen, ok := appAnswer(r)
	if !ok {
		return "", false
	}
	return fmt.Sprint(seen["path"]), true
}

func TestAccessCannotBeWalkedAroundInReverseProxyMode(t *testing.T) {
	e := startEnv(t, func(c *Config) {
		c.Proxy.AccessRules = accessRules
		c.Proxy.Hosts = []string{fwdAppHost}
	})
	host := fwdAppHost + ":" + e.gwURL(t).Port()
	anon, alice, carol := e.browserAt(host), e.browserAt(host), e.browserAt(host)
	alice.signIn(slapdtest.Alice, "/")
	carol.signIn(slapdtest.Carol, "/")

	t.Run("climbing out of a bypass", func(t *testing.T) {
		for _, p := range climbingPaths {
			for who, b := range map[string]*browser{"anonymous": anon, "carol": carol} {
				r := b.get(p)
				if path, ok := reachedProtected(r); ok {
					t.Errorf("%s GET %s: the app answered for %s", who, p, path)
				} else if r.status != http.StatusBadRequest {
					t.Errorf("%s GET %s: %d, want 400 (read two ways)", who, p, r.status)
				}
			}
		}
	})

	t.Run("servlet and Windows spellings", func(t *testing.T) {
		for _, p := range aliasPaths {
			if r := carol.get(p); r.status != http.StatusForbidden || !strings.Contains(r.body, "only for members of admins") {
				t.Errorf("carol GET %s: %d, want 403 (groups=admins)", p, r.status)
			}
			if r := anon.get(p); r.status != http.StatusSeeOther {
				t.Errorf("anonymous GET %s: %d, want 303 to sign in", p, r.status)
			}
			deny := strings.Replace(strings.Replace(strings.ToLower(p), "admin", "internal", 1), "ａｄｍｉｎ", "ｉｎｔｅｒｎａｌ", 1)
			if r := alice.get(deny); r.status != http.StatusForbidden {
				t.Errorf("alice GET %s (deny rule): %d, want 403", deny, r.status)
			}
		}
		if path, ok := reachedProtected(alice.get("/admin/users")); !ok || path != "/admin/users" {
			t.Errorf("alice (admins) GET /admin/users: the app answered %q, %v; want /admin/users", path, ok)
		}
	})

	t.Run("the client does not choose the host", func(t *testing.T) {
		// Carol's session cookie goes with each, whatever the host.
		cookie := "Cookie: " + carol.sessionCookie()
		for h, want := range map[string]int{
			"evil.example": http.StatusMisdirectedRequest, "127.0.0.1": http.StatusMisdirectedRequest,
			fwdAppHost + "..": http.StatusForbidden, strings.ToUpper(fwdAppHost): http.StatusForbidden, host: http.StatusForbidden,
			fwdAppHost + ",evil.example": http.StatusBadRequest, "evil.example@" + fwdAppHost: http.StatusBadRequest,
		} {
			r := e.rawRequest(t, "GET /staff/x HTTP/1.1", "Host: "+h, "Accept: text/html", cookie)
			if _, ok := reachedProtected(r); ok || r.status != want {
				t.Errorf("carol GET /staff/x with Host %q: %d (app reached: %v), want %d", h, r.status, ok, want)
			}
		}
		if path, ok := reachedProtected(alice.get("/staff/x")); !ok || path != "/staff/x" {
			t.Errorf("alice (admins) GET /staff/x: the app answered %q, %v; want /staff/x", path, ok)
		}
		// otpgate's own pages answer whatever the host: probes use the pod's address.
		if r := anon.get("/otpgate/healthz", "Host", "10.1.2.3:8080"); r.status != http.StatusOK {
			t.Errorf("GET /otpgate/healthz with Host 10.1.2.3: %d, want 200", r.status)
		}
	})

	t.Run("identity and cookies only from otpgate", func(t *testing.T) {
		seen := carol.appSaw("/", forgedIdentity...)
		checkNoForged(t, seen)
		checkIdentity(t, seen, map[string]string{"Remote-User": "carol", "Remote-Name": slapdtest.Carol.Name, "Remote-Auth-Level": "2"})
		for _, name := range []string{"X-Real-Ip", "Forwarded"} {
			if got := headerValues(carol.appSaw("/", name, "10.9.9.9"), name); len(got) != 0 {
				t.Errorf("the app got %s %q from the client", name, got)
			}
		}
	})
}

// A session cookie spelled with a space before '=' counts as the session in
// Go, so it must be kept from the app like the plain one.
func TestOwnCookiesNeverReachTheApp(t *testing.T) {
	e := startEnv(t)
	b := e.browser()
	b.signIn(slapdtest.Alice, "/")
	name, value, _ := strings.Cut(b.sessionCookie(), "=")
	for _, cookie := range []string{
		name + " =" + value + "; theme=dark",
		"theme=dark;" + name + "=" + value,
		"theme=dark; " + strings.ToUpper(name) + "=x; " + name + "=" + value,
	} {
		r := e.rawRequest(t, "GET / HTTP/1.1", "Host: 127.0.0.1", "Accept: text/html", "Cookie: "+cookie)
		seen, ok := appAnswer(r)
		if !ok {
			t.Errorf("Cookie %q: %d, want the app", cookie, r.status)
			continue
		}
		if got := headerValues(seen, "Cookie"); len(got) != 1 || got[0] != "theme=dark" {
			t.Errorf("Cookie %q: the app got Cookie %q, want [theme=dark]", cookie, got)
		}
	}
}

// Grafana and Gitea read X-WEBAUTH-USER, Jenkins X-Forwarded-User: the
// identity goes under the names configured, and a client's own value under
// those names, in any spelling, never reaches the app.
func TestIdentityHeaderNamesAreConfigurable(t *testing.T) {
	e := startEnv(t, func(c *Config) {
		c.Proxy.IdentityHeader.User = []string{"X-WEBAUTH-USER", "X-Forwarded-User"}
		c.Proxy.IdentityHeader.Email = []string{"X-WEBAUTH-EMAIL"}
		c.Proxy.IdentityHeader.Name = nil
		c.Proxy.IdentityHeader.Groups = []string{"X-Forwarded-Groups"}
		c.Proxy.IdentityHeader.AuthLevel = nil
	})
	b := e.browser()
	b.signIn(slapdtest.Alice, "/")
	seen := b.appSaw("/", "X_WEBAUTH_USER", "mallory", "X.Webauth.User", "mallory", "X-Forwarded-User", "mallory", "Remote-User", "mallory")
	for name, want := range map[string]string{"X-Webauth-User": "alice", "X-Forwarded-User": "alice", "X-Webauth-Email": slapdtest.Alice.Email} {
		if got := headerValues(seen, name); len(got) != 1 || got[0] != want {
			t.Errorf("the app got %s %q, want [%q]", name, got, want)
		}
	}
	if got := sortedGroups(headerValues(seen, "X-Forwarded-Groups")); len(got) != 1 || got[0] != "admins,staff" {
		t.Errorf("the app got X-Forwarded-Groups %q, want [admins,staff]", got)
	}
	for name := range seen {
		if slices.Contains(headerValues(seen, name), "mallory") {
			t.Errorf("the app got %s: mallory from the client", name)
		}
	}
	for _, name := range []string{"Remote-Name", "Remote-Auth-Level", "Remote-User"} {
		if got := headerValues(seen, name); len(got) != 0 {
			t.Errorf("the app got %s %q, want none (not configured)", name, got)
		}
	}
}

func TestForwardAuthAbsoluteFormRequests(t *testing.T) {
	for _, p := range proxyKinds {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			e := startForwardAuthEnv(t)
			app := p.start(t, e)
			addr := "127.0.0.1:" + addrPort(strings.TrimPrefix(app, "http://"))
			hostPort := fwdAppHost + ":" + addrPort(addr)
			other := fwdOtherHost + ":" + addrPort(addr)
			// fwdOtherHost has a bypass rule: a request line naming the app
			// with a Host header naming the other must be judged as the app's.
			for _, tc := range []struct{ line, host string }{
				{"GET http://" + hostPort + "/report HTTP/1.1", other},
				{"GET http://" + fwdAppHost + "/report HTTP/1.1", other},
				{"GET http://" + strings.ToUpper(fwdAppHost) + ":" + addrPort(addr) + "/report HTTP/1.1", fwdOtherHost},
			} {
				r := rawRequest(t, addr, nil, tc.line, "Host: "+tc.host, "Accept: text/html")
				if seen, ok := appAnswer(r); ok {
					t.Errorf("%q with Host %q reached the app without a session: %v", tc.line, tc.host, seen["path"])
				} else if r.status != http.StatusFound && r.status != http.StatusForbidden && r.status != http.StatusBadRequest {
					t.Errorf("%q with Host %q: %d, want 302 to sign in or a refusal", tc.line, tc.host, r.status)
				}
			}
		})
	}
}

func TestForwardAuthCannotBeWalkedAround(t *testing.T) {
	for _, p := range proxyKinds {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			e := startForwardAuthEnv(t, func(c *Config) { c.Proxy.AccessRules = accessRules })
			app := p.start(t, e)
			carol := e.siteBrowser()
			carol.signIn(slapdtest.Carol, app+"/")
			anon := e.siteBrowser()
			for _, path := range append(append([]string{}, climbingPaths...), aliasPaths...) {
				for who, b := range map[string]*siteBrowser{"anonymous": anon, "carol": carol} {
					r, err := b.try("GET", app+path, nil)
					if err != nil {
						continue // the proxy closed the connection: not reached
					}
					if seen, ok := appAnswer(r); ok {
						t.Errorf("%s GET %s: the app answered for %v", who, path, seen["path"])
					}
				}
				deny := strings.Replace(strings.Replace(path, "admin", "internal", 1), "ADMIN", "INTERNAL", 1)
				if r, err := anon.try("GET", app+deny, nil); err == nil {
					if seen, ok := appAnswer(r); ok {
						t.Errorf("anonymous GET %s: the app answered for %v", deny, seen["path"])
					}
				}
			}
		})
	}
}

// The forward-auth endpoints read the original request strictly: one value
// per header, a host with nothing but a host in it, and the host pinned
// by the proxy's configuration.
func TestForwardAuthReadsTheOriginalStrictly(t *testing.T) {
	e := startForwardAuthEnv(t, func(c *Config) { c.Proxy.AccessRules = accessRules })
	alice := signedInCookie(t, e, slapdtest.Alice)
	fa := func(extra ...string) []string {
		return append([]string{"X-Forwarded-Method", "GET", "X-Forwarded-Proto", "https", "X-Forwarded-Uri", "/report", "Cookie", alice}, extra...)
	}
	for name, h := range map[string][]string{
		"two X-Forwarded-Host":          fa("X-Forwarded-Host", fwdOtherHost, "X-Forwarded-Host", fwdAppHost),
		"a list in X-Forwarded-Host":    fa("X-Forwarded-Host", fwdOtherHost+", "+fwdAppHost),
		"two X-Forwarded-Uri":           {"X-Forwarded-Proto", "https", "X-Forwarded-Host", fwdAppHost, "X-Forwarded-Uri", "/public/x", "X-Forwarded-Uri", "/admin"},
		"a fragment in X-Forwarded-Uri": fa("X-Forwarded-Host", fwdAppHost, "X-Forwarded-Uri", "/report#x"),
	} {
		if r := askAuthz(t, e, "forward-auth", h...); r.status != http.StatusForbidden {
			t.Errorf("forward-auth with %s: %d, want 403", name, r.status)
		}
	}
	for _, orig := range []string{
		"http://" + fwdOtherHost + "?/admin/x", "http://" + fwdOtherHost + "#/admin/x", "http://" + fwdOtherHost + "?x/admin",
		"http://" + fwdAppHost + ",x/admin", "http://x@" + fwdAppHost + "/admin", "http://" + fwdAppHost + "/admin/x http://a/",
	} {
		if r := askAuthz(t, e, "auth-request", "X-Original-URL", orig, "Cookie", alice); r.status != http.StatusForbidden {
			t.Errorf("auth-request with X-Original-URL %q: %d, want 403", orig, r.status)
		}
	}
	pinned := "auth-request?host=" + fwdAppHost
	if r := askAuthz(t, e, pinned, "X-Original-URL", "https://"+fwdOtherHost+"/report", "Cookie", alice); r.status != http.StatusForbidden {
		t.Errorf("pinned to %s, original on %s: %d, want 403", fwdAppHost, fwdOtherHost, r.status)
	}
	if r := askAuthz(t, e, pinned, "X-Original-URL", "https://"+strings.ToUpper(fwdAppHost)+":8443/report", "Cookie", alice); r.status != http.StatusOK {
		t.Errorf("pinned to %s, original on the same host: %d, want 200", fwdAppHost, r.status)
	}
}

// sessionCookie is the browser's session cookie, as name=value.
func (b *browser) sessionCookie() string {
	b.t.Helper()
	u := b.e.gwURL(b.t)
	if b.host != "" {
		u.Host = b.host
	}
	for _, c := range b.client.Jar.Cookies(u) {
		if strings.HasSuffix(c.Name, b.e.config.Auth.Cookie.Name) {
			return c.Name + "=" + c.Value
		}
	}
	b.t.Fatal("no session cookie")
	return ""
}

// gwURL is the gateway's URL, parsed.
func (e *env) gwURL(t *testing.T) *url.URL {
	u, err := url.Parse(e.gw.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// rawRequest sends the gateway a request exactly as written.
func (e *env) rawRequest(t *testing.T, line string, header ...string) response {
	t.Helper()
	var tc *tls.Config
	if tr, ok := e.gw.Client().Transport.(*http.Transport); ok {
		tc = tr.TLSClientConfig
	}
	return rawRequest(t, e.gwURL(t).Host, tc, line, header...)
}

// rawRequest sends a request exactly as written (request line, then
// header lines), over TLS with tc, and reads the answer.
func rawRequest(t *testing.T, addr string, tc *tls.Config, line string, header ...string) response {
	t.Helper()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	var conn net.Conn
	var err error
	if tc != nil {
		conn, err = tls.DialWithDialer(dialer, "tcp", addr, tc)
	} else {
		conn, err = dialer.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "%s\r\n%s\r\nConnection: close\r\n\r\n", line, strings.Join(header, "\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return response{} // closed without an answer: not reached
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(data), header: resp.Header}
}
