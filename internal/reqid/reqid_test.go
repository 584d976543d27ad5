package reqid

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

var generated = regexp.MustCompile(`^[0-9a-f]{16}$`)

// A proxy's X-Request-Id is used only when the proxy is trusted and the
// id well-formed; otherwise otpgate makes its own.
func TestIDFromTrustedProxyOnly(t *testing.T) {
	trusted := func(r *http.Request) bool { return strings.HasPrefix(r.RemoteAddr, "10.0.0.1:") }
	tests := []struct {
		name   string
		remote string
		header string
		want   string // "": a generated id
	}{
		{"trusted proxy, uuid", "10.0.0.1:5000", "9f1c2a7e-58a4-4c7b-9d0e-3f6a1b2c4d5e", "9f1c2a7e-58a4-4c7b-9d0e-3f6a1b2c4d5e"},
		{"trusted proxy, none", "10.0.0.1:5000", "", ""},
		{"trusted proxy, line break", "10.0.0.1:5000", "abc\nlevel=ERROR", ""},
		{"trusted proxy, space", "10.0.0.1:5000", "abc def", ""},
		{"trusted proxy, too long", "10.0.0.1:5000", strings.Repeat("a", 65), ""},
		{"client", "192.0.2.7:5000", "chosen-by-client", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = SetHeader(w, r)
			}), trusted)
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.header != "" {
				r.Header.Set(Header, tt.header)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			switch {
			case tt.want != "" && got != tt.want:
				t.Errorf("got %q, want %q", got, tt.want)
			case tt.want == "" && !generated.MatchString(got):
				t.Errorf("got %q, want a new id of 16 hex digits", got)
			}
			if h := w.Header().Get(Header); h != got {
				t.Errorf("X-Request-Id header %q, want %q", h, got)
			}
		})
	}
}

// The id is made once per request and differs between requests.
func TestIDStableWithinRequest(t *testing.T) {
	var ids []string
	h := Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		a, b := ID(r.Context()), ID(r.Context())
		if a != b {
			t.Errorf("ID gave %q then %q in one request", a, b)
		}
		ids = append(ids, a)
	}), nil)
	for range 2 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	if ids[0] == ids[1] {
		t.Errorf("two requests share the id %q", ids[0])
	}
}

// BenchmarkMiddleware is the cost the request id adds to a request that
// never asks for it (a signed-in, proxied one with the access log off),
// and to one that does.
func BenchmarkMiddleware(b *testing.B) {
	for _, bc := range []struct {
		name string
		use  bool
	}{{"unused", false}, {"used", true}} {
		b.Run(bc.name, func(b *testing.B) {
			h := Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				if bc.use {
					_ = ID(r.Context())
				}
			}), nil)
			r := httptest.NewRequest("GET", "/", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}
