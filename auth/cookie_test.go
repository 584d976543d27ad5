package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestCookieValueReadsAsNetHTTP: the allocation-free reader of the session
// cookie finds exactly the value r.Cookie finds, in every header shape,
// valid or not, so no cookie is read that net/http would refuse.
func TestCookieValueReadsAsNetHTTP(t *testing.T) {
	keys, err := NewKeys([][]byte{secret(1)})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"otpgate", "__Host-otpgate"} {
		c, err := NewCookie[Session](keys, CookieOptions{Name: name}, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, lines := range [][]string{
			nil,
			{""},
			{name + "=abc"},
			{" " + name + " = abc ; x=1"},
			{"x=1; " + name + "=abc; y=2"},
			{"x=1;" + name + "=abc;"},
			{name + "=\"abc\""},
			{name + "=\"abc"},
			{name + "=\""},
			{name + "=\"\""},
			{name + "="},
			{name},
			{name + "=a\\b; " + name + "=good"},
			{name + "=a\"b; " + name + "=good"},
			{name + "=a b"},
			{name + "=a\x01b; " + name + "=second"},
			{name + "=é; " + name + "=ascii"},
			{name + "=first; " + name + "=second"},
			{"x=1", name + "=in-the-second-line"},
			{name + "\t=\tabc\t"},
			{strings.ToUpper(name) + "=abc"},
			{"x" + name + "=abc"},
			{name + "x=abc"},
			{";;; ;" + name + "=abc;;"},
			{name + "=abc=def"},
			{strings.Repeat("a=1;", 3000) + name + "=over-the-cap"},
			{strings.Repeat("a=1;", 2998) + name + "=at-the-cap"},
		} {
			r := httptest.NewRequest("GET", "/", nil)
			if lines != nil {
				r.Header["Cookie"] = lines
			}
			want, wantErr := r.Cookie(c.Name())
			got, ok := c.value(r)
			switch {
			case wantErr != nil && ok:
				t.Errorf("%s in %.80q: got %q, want none (as net/http)", c.Name(), lines, got)
			case wantErr == nil && (!ok || got != want.Value):
				t.Errorf("%s in %.80q: got %q (found %v), want %q (as net/http)", c.Name(), lines, got, ok, want.Value)
			}
		}
	}
}

// TestCookieValueRefusesNamesNetHTTPWouldNotRead: a cookie name that is
// not a token is never found, as net/http never finds it.
func TestCookieValueRefusesNamesNetHTTPWouldNotRead(t *testing.T) {
	keys, err := NewKeys([][]byte{secret(1)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCookie[Session](keys, CookieOptions{Name: "otp gate"}, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header["Cookie"] = []string{"otp gate=abc"}
	_, wantErr := r.Cookie(c.Name())
	if got, ok := c.value(r); ok || wantErr == nil {
		t.Errorf("got %q (found %v), net/http error %v; want neither to find it", got, ok, wantErr)
	}
}

// TestSessionLoadAllocatesNothing: loading a session whose cookie verified
// before costs no allocation (with or without the race detector: nothing
// here is pooled).
func TestSessionLoadAllocatesNothing(t *testing.T) {
	s, err := NewSessions(mustKeys(t), CookieOptions{Name: "otpgate"},
		SessionConfig{Lifetime: 12 * time.Hour, Idle: time.Hour, Store: NewMemoryStore(time.Now)}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if _, err := s.Issue(rec, User{Username: "alice", Groups: []string{"staff"}}, 2); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header["Cookie"] = []string{"theme=dark; otpgate=" + rec.Result().Cookies()[0].Value + "; lang=en"}
	var loadErr error
	allocs := testing.AllocsPerRun(100, func() {
		var sess Session
		if sess, loadErr = s.Load(r); loadErr == nil {
			loadErr = s.Touch(r, discardWriter{}, sess)
		}
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	if allocs != 0 {
		t.Errorf("Load and Touch of a verified session: %v allocations, want 0", allocs)
	}
}

func mustKeys(t *testing.T) *Keys {
	t.Helper()
	keys, err := NewKeys([][]byte{secret(1)})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}
