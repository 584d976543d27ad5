package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth"
)

// testGateway starts app behind a Gateway and returns the gateway's URL and
// a valid session cookie for alice.
func testGateway(t *testing.T, app http.Handler) (string, *http.Cookie) {
	t.Helper()
	appSrv := httptest.NewServer(app)
	t.Cleanup(appSrv.Close)
	upstream, _ := url.Parse(appSrv.URL)
	keys, _ := auth.NewKeys([][]byte{bytes.Repeat([]byte{1}, 32)})
	sessions, err := auth.NewSessions(keys, auth.CookieOptions{Name: "otpgate"}, auth.SessionConfig{Lifetime: time.Hour, Idle: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if _, err := sessions.Issue(rec, auth.User{Username: "alice", Name: "Alice Liddell", Email: "alice@example.org", Groups: []string{"admins", "staff"}}, 2); err != nil {
		t.Fatal(err)
	}
	pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "otpgate page "+r.URL.Path) })
	gw, err := New(Config{
		Upstream: upstream, Prefix: "/otpgate/", Pages: pages,
		SignInURL: func(rd string) string { return "/otpgate/signin?rd=" + url.QueryEscape(rd) },
		Sessions:  sessions, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, sessions.CookieName(), "otpgate_csrf")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv.URL, rec.Result().Cookies()[0]
}

func get(t *testing.T, u string, header http.Header, cookies ...*http.Cookie) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestRequestsWithoutSessionNeverReachTheApp(t *testing.T) {
	reached := false
	base, _ := testGateway(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	tests := []struct {
		name     string
		header   http.Header
		cookie   *http.Cookie
		status   int
		location string
	}{
		{"browser", http.Header{"Accept": {"text/html"}}, nil, http.StatusSeeOther, "/otpgate/signin?rd=%2Fapp%3Fa%3D1"},
		{"navigation", http.Header{"Sec-Fetch-Mode": {"navigate"}}, nil, http.StatusSeeOther, "/otpgate/signin?rd=%2Fapp%3Fa%3D1"},
		{"API client", http.Header{"Accept": {"application/json"}}, nil, http.StatusUnauthorized, ""},
		{"forged cookie", http.Header{"Accept": {"text/html"}}, &http.Cookie{Name: "otpgate", Value: "forged"}, http.StatusSeeOther, "/otpgate/signin?rd=%2Fapp%3Fa%3D1"},
		{"forged identity", http.Header{"Accept": {"text/html"}, "Remote-User": {"alice"}}, nil, http.StatusSeeOther, "/otpgate/signin?rd=%2Fapp%3Fa%3D1"},
	}
	for _, tt := range tests {
		var cookies []*http.Cookie
		if tt.cookie != nil {
			cookies = append(cookies, tt.cookie)
		}
		resp := get(t, base+"/app?a=1", tt.header, cookies...)
		if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
			t.Errorf("%s: %d to %q, want %d to %q", tt.name, resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
		}
	}
	if reached {
		t.Fatal("a request without a session reached the app")
	}
}

func TestPrefixIsServedByOtpgateNotTheApp(t *testing.T) {
	base, cookie := testGateway(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "app") }))
	for path, want := range map[string]string{
		"/otpgate/signin":        "otpgate page /otpgate/signin",
		"/otpgate/anything/else": "otpgate page /otpgate/anything/else",
		"/app":                   "app",
	} {
		resp := get(t, base+path, nil, cookie)
		body, _ := io.ReadAll(resp.Body)
		if string(body) != want {
			t.Errorf("GET %s = %q, want %q", path, body, want)
		}
	}
}

func TestIdentityHeadersAndCookies(t *testing.T) {
	var seen http.Header
	base, cookie := testGateway(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.Header.Clone() }))
	header := http.Header{
		"Remote-User": {"mallory"}, "Remote_user": {"mallory"}, "Remote_Auth_Level": {"3"}, "Remote-Auth-Level": {"3"},
		"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Host": {"evil.example"},
		"Connection": {"Remote-Groups"}, // must not let the client drop a header otpgate sets
	}
	get(t, base+"/app", header, cookie, &http.Cookie{Name: "otpgate_csrf", Value: "x"}, &http.Cookie{Name: "app_session", Value: "keep"})
	want := map[string][]string{
		"Remote-User":       {"alice"},
		"Remote-Name":       {"Alice Liddell"},
		"Remote-Email":      {"alice@example.org"},
		"Remote-Groups":     {"admins,staff"},
		"Remote-Auth-Level": {"2"},
		"Cookie":            {"app_session=keep"},
	}
	for k, v := range want {
		if got := seen[k]; strings.Join(got, "|") != strings.Join(v, "|") {
			t.Errorf("app got %s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"Remote_user", "Remote_auth_level"} {
		if got, ok := seen[k]; ok {
			t.Errorf("app got client-sent %s = %q", k, got)
		}
	}
	if got := seen.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want 127.0.0.1 (client's value dropped)", got)
	}
	if got := seen.Get("X-Forwarded-Host"); strings.Contains(got, "evil") {
		t.Errorf("X-Forwarded-Host = %q: the client's value was kept", got)
	}
}

func TestStreamingResponsesPassThrough(t *testing.T) {
	release := make(chan struct{})
	base, cookie := testGateway(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		fmt.Fprint(w, "data: second\n\n")
	}))
	defer close(release)
	resp := get(t, base+"/events", nil, cookie)
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if line != "data: first\n" {
			t.Fatalf("first event %q, want %q", line, "data: first\n")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first event did not arrive while the app was still streaming")
	}
}

func TestWebSocketUpgradePassesThrough(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" || r.Header.Get("Remote-User") != "alice" {
			http.Error(w, "want a websocket upgrade from alice", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = rw.Flush()
		// Echo raw bytes: enough to show the tunnel carries both directions.
		buf := make([]byte, 5)
		if _, err := io.ReadFull(rw, buf); err == nil {
			_, _ = rw.Write(bytes.ToUpper(buf))
			_ = rw.Flush()
		}
	})
	base, cookie := testGateway(t, app)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nCookie: %s=%s\r\n\r\n", cookie.Name, cookie.Value)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %d, want 101", resp.StatusCode)
	}
	_, _ = conn.Write([]byte("hello"))
	echo := make([]byte, 5)
	if _, err := io.ReadFull(br, echo); err != nil || string(echo) != "HELLO" {
		t.Fatalf("echo through the tunnel = %q, %v; want HELLO", echo, err)
	}
}

func TestUpstreamErrors(t *testing.T) {
	base, cookie := testGateway(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Drop the connection without answering.
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.Close()
	}))
	resp := get(t, base+"/app", nil, cookie)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadGateway || !regexp.MustCompile(`Reference: [0-9a-f]{16}\b`).MatchString(string(body)) {
		t.Fatalf("app hung up: %d %q, want 502 with a reference (request id)", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "EOF") || strings.Contains(string(body), "127.0.0.1") {
		t.Fatalf("502 body shows internals: %q", body)
	}
}

func TestWantsHTML(t *testing.T) {
	tests := []struct {
		header http.Header
		want   bool
	}{
		{http.Header{"Accept": {"text/html,application/xhtml+xml"}}, true},
		{http.Header{"Sec-Fetch-Mode": {"navigate"}}, true},
		{http.Header{"Accept": {"*/*"}}, false},
		{http.Header{"Accept": {"application/json"}}, false},
		{http.Header{}, false},
	}
	for _, tt := range tests {
		if got := wantsHTML(&http.Request{Header: tt.header}); got != tt.want {
			t.Errorf("wantsHTML(%v) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

// TestRequestTargetIsRequestURI: the target read without allocating is
// always what r.URL.RequestURI() gives, for targets as a server parses
// them (escaped, unescaped, with empty and odd queries, absolute-form).
func TestRequestTargetIsRequestURI(t *testing.T) {
	for _, target := range []string{
		"/", "/a/b", "/a/b?x=1&y=2", "/a?", "/a??", "/a?x=1?y", "/a%2Fb", "/a%2fb", "/%41", "/a b", "/é",
		"/a;b=c/d", "/a/./b/../c", "//x", "/a%20b?q=%20", "*", "http://other.example/p?q=1", "/a?#x",
	} {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n")))
		if err != nil {
			continue // not a target a server accepts
		}
		if got, want := requestTarget(r), r.URL.RequestURI(); got != want {
			t.Errorf("target %q: got %q, want %q (RequestURI)", target, got, want)
		}
	}
}
