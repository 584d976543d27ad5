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
)

// BenchmarkProxy measures requests through otpgate with a valid session
// against a bare httputil.ReverseProxy to the same app, in the same run;
// `make bench` prints the ratio. Both use the same tuned transport, so the
// difference is otpgate's own work: session decode, header rewrite.
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
	gw, cookie := benchGateway(b, upstream)

	for _, bc := range []struct {
		name    string
		handler http.Handler
		cookie  *http.Cookie
	}{
		{"bare", bare, nil},
		{"bare-pooled", pooled, nil},
		{"otpgate", gw, cookie},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := httptest.NewServer(bc.handler)
			defer srv.Close()
			client := &http.Client{Transport: NewTransport()}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				req, _ := http.NewRequest("GET", srv.URL+"/dashboard?tab=1", nil)
				req.Header.Set("Accept", "text/html")
				if bc.cookie != nil {
					req.AddCookie(bc.cookie)
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
		})
	}
}

// benchGateway returns a Gateway to upstream and a valid session cookie.
func benchGateway(b *testing.B, upstream *url.URL) (*Gateway, *http.Cookie) {
	keys, err := auth.NewKeys([][]byte{bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		b.Fatal(err)
	}
	sessions, err := auth.NewSessions(keys, auth.CookieOptions{Name: "otpgate"}, auth.SessionConfig{Lifetime: 12 * time.Hour, Idle: time.Hour}, nil)
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
		Rules: benchRules(b), IgnoreCase: true,
	}, sessions.CookieName())
	if err != nil {
		b.Fatal(err)
	}
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
