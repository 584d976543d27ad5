package gateway

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/otpgate/otpgate/auth/slapdtest"
)

// logLines returns the gateway's log lines, decoded, whose msg is msg.
func (e *env) logLines(msg string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			e.t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		if v["msg"] == msg {
			out = append(out, v)
		}
	}
	return out
}

var referenceOnPage = regexp.MustCompile(`Reference: ([0-9a-f]{16})<`)

// The reference an error page shows is the request's X-Request-Id and is
// on the log line that says what went wrong, and on no other request's.
func TestErrorPageReferenceIsInTheLog(t *testing.T) {
	e := startEnv(t)
	e.sms.set(http.StatusInternalServerError, 0)
	var refs []string
	for range 2 {
		r := e.browser().password(slapdtest.Alice.Username, slapdtest.Alice.Password, "/")
		m := referenceOnPage.FindStringSubmatch(r.body)
		if r.status != http.StatusServiceUnavailable || m == nil {
			t.Fatalf("SMS gateway failing: %d, want 503 with a reference; body:\n%s", r.status, r.body)
		}
		if got := r.header.Get("X-Request-Id"); got != m[1] {
			t.Errorf("X-Request-Id %q, want the page's reference %q", got, m[1])
		}
		refs = append(refs, m[1])
	}
	if refs[0] == refs[1] {
		t.Fatalf("two requests share the reference %q", refs[0])
	}
	lines := e.logLines("sign-in: code not sent")
	if len(lines) != 2 {
		t.Fatalf("got %d 'code not sent' log lines, want 2:\n%s", len(lines), e.logs.String())
	}
	for i, l := range lines {
		if l["request_id"] != refs[i] {
			t.Errorf("log line %v: got request_id %q, want the page's reference %q", l, l["request_id"], refs[i])
		}
	}
}

// A trusted proxy's X-Request-Id is the request's id; a client's is not.
func TestRequestIDFromTrustedProxyOnly(t *testing.T) {
	e := startEnv(t, func(c *Config) { c.Proxy.TrustedProxies = []string{"127.0.0.9/32"} })
	tests := []struct {
		name, from, sent string
		want             *regexp.Regexp
	}{
		{"trusted proxy", "127.0.0.9", "edge-4711", regexp.MustCompile(`^edge-4711$`)},
		{"client", "127.0.0.10", "edge-4711", regexp.MustCompile(`^[0-9a-f]{16}$`)},
		{"trusted proxy, malformed", "127.0.0.9", "a b", regexp.MustCompile(`^[0-9a-f]{16}$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.browserFrom(tt.from).get("/otpgate/no-such-page", "X-Request-Id", tt.sent)
			m := regexp.MustCompile(`Reference: (\S+?)<`).FindStringSubmatch(r.body)
			if r.status != http.StatusNotFound || m == nil || !tt.want.MatchString(m[1]) {
				t.Fatalf("got %d with body:\n%s\nwant 404 with a reference matching %s", r.status, r.body, tt.want)
			}
			if got := r.header.Get("X-Request-Id"); got != m[1] {
				t.Errorf("X-Request-Id %q, want %q", got, m[1])
			}
		})
	}
}

// The access log has one line per request with what an operator needs
// and nothing secret: no query string, cookie or code. (The test logger
// drops durations, so that their digits are not taken for codes.)
func TestAccessLog(t *testing.T) {
	e := startEnv(t, func(c *Config) { c.AccessLog = true })
	b := e.browser()
	b.signIn(slapdtest.Alice, "/")
	code := e.sms.lastCode(slapdtest.Alice.Mobile)
	r := b.get("/reports/q3?token=s3cr3t-in-query")
	if r.status != http.StatusOK {
		t.Fatalf("GET /reports/q3: %d, want 200", r.status)
	}
	var line map[string]any
	for _, l := range e.logLines("access") {
		if l["path"] == "/reports/q3" {
			line = l
		}
	}
	if line == nil {
		t.Fatalf("no access line for /reports/q3:\n%s", e.logs.String())
	}
	want := map[string]any{"method": "GET", "host": strings.TrimPrefix(e.gw.URL, "https://"), "status": float64(200),
		"user": slapdtest.Alice.Username, "client": "127.0.0.1", "request_id": r.header.Get("X-Request-Id")}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("access line %s: got %v, want %v", k, line[k], v)
		}
	}
	if n, ok := line["bytes"].(float64); !ok || n <= 0 {
		t.Errorf("access line bytes: got %v, want the body's size", line["bytes"])
	}
	signIn := 0
	for _, l := range e.logLines("access") {
		if l["path"] == "/otpgate/code" && l["method"] == "POST" {
			signIn++
			if l["status"] != float64(http.StatusSeeOther) {
				t.Errorf("access line of the code step: status %v, want 303", l["status"])
			}
		}
	}
	if signIn != 1 {
		t.Errorf("got %d access lines for POST /otpgate/code, want 1", signIn)
	}
	logs := e.logs.String()
	for _, secret := range []string{"s3cr3t-in-query", "token=", code, slapdtest.Alice.Password, "__Host-otpgate="} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}
