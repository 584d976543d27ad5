package proxy

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/internal/testclock"
)

// BenchmarkProxy measures requests through otpgate with a valid session
// against bare httputil.ReverseProxys to the same app, in the same run;
// `make bench` prints the ratios. All use the same tuned transport, so the
// difference is otpgate's own work. A fresh cookie needs no renewal; a
// stale one (older than the renewal interval, and never replaced, as
// behind a forward-auth proxy) is renewed once per interval.
func BenchmarkProxy(b *testing.B) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("hello from the app\n"))
	}))
	defer app.Close()
	upstream, _ := url.Parse(app.URL)

	bare := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(upstream); pr.SetXForwarded() },
		Transport: NewTransport(),
	}
	// The same bare proxy with otpgate's buffer pool: otpgate against this
	// one shows the cost of its own work alone.
	pooled := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(upstream); pr.SetXForwarded() },
		Transport:  NewTransport(),
		BufferPool: newBufferPool(),
	}
	fresh, freshCookie := benchGateway(b, upstream, 0)
	stale, staleCookie := benchGateway(b, upstream, 2*time.Minute)
	for _, bc := range []struct {
		name    string
		handler http.Handler
		cookie  *http.Cookie
	}{
		{"bare", bare, nil},
		{"bare-pooled", pooled, nil},
		{"otpgate-fresh", fresh, freshCookie},
		{"otpgate-stale", stale, staleCookie},
	} {
		b.Run(bc.name, func(b *testing.B) { runBench(b, bc.handler, "/dashboard?tab=1", nil, bc.cookie) })
	}
}

// BenchmarkForwardAuth measures otpgate answering Traefik's and Caddy's
// forward-auth question for a signed-in browser, against a bare handler
// that answers 200 without checking anything: the limit of this server
// shape.
func BenchmarkForwardAuth(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	fresh, freshCookie := benchGateway(b, nil, 0)
	stale, staleCookie := benchGateway(b, nil, 2*time.Minute)
	asked := http.Header{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"},
		"X-Forwarded-Host": {"app.example.com"}, "X-Forwarded-Uri": {"/dashboard?tab=1"}}
	for _, bc := range []struct {
		name    string
		handler http.Handler
		cookie  *http.Cookie
	}{
		{"bare-200", ok, nil},
		{"otpgate-fresh", fresh, freshCookie},
		{"otpgate-stale", stale, staleCookie},
	} {
		b.Run(bc.name, func(b *testing.B) { runBench(b, bc.handler, "/otpgate/authz/forward-auth", asked, bc.cookie) })
	}
}

// runBench sends GET path to h from parallel clients and checks each 200.
func runBench(b *testing.B, h http.Handler, path string, header http.Header, cookie *http.Cookie) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: NewTransport()}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Accept", "text/html")
		for k, v := range header {
			req.Header[k] = v
		}
		if cookie != nil {
			req.AddCookie(cookie)
		}
		for pb.Next() {
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d, want 200", resp.StatusCode)
				return
			}
		}
	})
}

// benchGateway returns a Gateway to upstream (nil: forward-auth only) and
// a valid session cookie, its clock standing age after the sign-in.
func benchGateway(b *testing.B, upstream *url.URL, age time.Duration) (*Gateway, *http.Cookie) {
	clock := testclock.New(testclock.Start)
	keys, err := auth.NewKeys([][]byte{bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		b.Fatal(err)
	}
	sessions, err := auth.NewSessions(keys, auth.CookieOptions{Name: "otpgate"},
		auth.SessionConfig{Lifetime: 12 * time.Hour, Idle: time.Hour, Store: auth.NewMemoryStore(clock.Now)}, clock.Now)
	if err != nil {
		b.Fatal(err)
	}
	loopback, err := ParseTrustedProxies([]string{"127.0.0.0/8"})
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if _, err := sessions.Issue(rec, auth.User{Username: "alice", Name: "Alice Liddell", Email: "alice@example.org", Groups: []string{"admins", "staff"}}, 2); err != nil {
		b.Fatal(err)
	}
	gw, err := New(Config{
		Upstream: upstream, Prefix: "/otpgate/", Pages: http.NotFoundHandler(),
		SignInURL: func(rd string) string { return "/otpgate/signin?rd=" + url.QueryEscape(rd) },
		Sessions:  sessions, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Rules: benchRules(b), IgnoreCase: true, Trusted: loopback,
	}, sessions.CookieName())
	if err != nil {
		b.Fatal(err)
	}
	clock.Advance(age)
	return gw, rec.Result().Cookies()[0]
}

// benchRules are a typical set: a few bypasses, a deny, a group rule.
func benchRules(b *testing.B) Rules {
	rules, err := ParseRules(`
* /healthz bypass
* /static/** bypass
* /internal/** deny
* /admin/** two_factor groups=admins
app.example.com /api/*/private deny
`)
	if err != nil {
		b.Fatal(err)
	}
	return rules
}

// BenchmarkDecide measures reading a path and judging it by the rules, for
// a plain path (the usual case, which must not allocate) and for paths
// with several readings.
func BenchmarkDecide(b *testing.B) {
	rules := benchRules(b)
	for _, p := range []string{"/dashboard/reports/2026", "/Static/App.js", "/admin;jsessionid=1/users", "/a%20b/c./d;x//e"} {
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				path, err := ReadPath(p)
				if err != nil {
					b.Fatal(err)
				}
				_ = rules.Decide("app.example.com", path, true)
			}
		})
	}
}
