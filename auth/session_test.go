package auth

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/otpgate/otpgate/internal/testclock"
)

func secret(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func newTestSessions(t *testing.T, clock *testclock.Clock, secure bool, secrets ...[]byte) *Sessions {
	t.Helper()
	if len(secrets) == 0 {
		secrets = [][]byte{secret(1)}
	}
	keys, err := NewKeys(secrets)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSessions(keys, CookieOptions{Name: "otpgate", Secure: secure}, SessionConfig{Lifetime: 12 * time.Hour, Idle: time.Hour}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// issue signs alice in and returns the Set-Cookie it produced.
func issue(t *testing.T, s *Sessions) *http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	if _, err := s.Issue(rec, User{Username: "alice", Name: "Alice", Mobile: "+15550100006", Groups: []string{"staff"}}, 2); err != nil {
		t.Fatal(err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("Issue set %d cookies, want 1", len(cookies))
	}
	return cookies[0]
}

func requestWith(c *http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	if c != nil {
		r.AddCookie(c)
	}
	return r
}

func TestSessionCookieAttributes(t *testing.T) {
	tests := []struct {
		secure   bool
		wantName string
	}{
		{true, "__Host-otpgate"},
		{false, "otpgate"},
	}
	for _, tt := range tests {
		c := issue(t, newTestSessions(t, testclock.New(testclock.Start), tt.secure))
		if c.Name != tt.wantName {
			t.Errorf("secure=%v: name %q, want %q", tt.secure, c.Name, tt.wantName)
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tt.secure || c.Path != "/" || c.Domain != "" {
			t.Errorf("secure=%v: cookie %+v: want HttpOnly, SameSite=Lax, Secure=%v, Path=/, no Domain", tt.secure, c, tt.secure)
		}
		if c.MaxAge != int((12 * time.Hour).Seconds()) {
			t.Errorf("Max-Age = %d, want the 12h lifetime", c.MaxAge)
		}
		// Encrypted, not just signed: nothing of the user is readable.
		for _, s := range []string{"alice", "Alice", "staff", "YWxpY2U"} {
			if strings.Contains(c.Value, s) {
				t.Errorf("cookie value shows %q in clear", s)
			}
		}
	}
}

func TestSessionLoad(t *testing.T) {
	clock := testclock.New(testclock.Start)
	s := newTestSessions(t, clock, true)
	c := issue(t, s)
	sess, err := s.Load(requestWith(c))
	if err != nil {
		t.Fatalf("Load fresh session: %v", err)
	}
	if sess.User.Username != "alice" || sess.Factors != 2 || sess.User.Mobile != "" || len(sess.User.Groups) != 1 {
		t.Fatalf("Load = %+v; want alice, 2 factors, groups kept, mobile dropped", sess)
	}

	tampered := *c
	b := []byte(tampered.Value)
	b[len(b)/2] ^= 1
	tampered.Value = string(b)

	otherKey := issue(t, newTestSessions(t, clock, true, secret(9)))

	tests := []struct {
		name    string
		cookie  *http.Cookie
		advance time.Duration
		want    error
	}{
		{"no cookie", nil, 0, ErrNoSession},
		{"tampered", &tampered, 0, ErrNoSession},
		{"signed with another secret", otherKey, 0, ErrNoSession},
		{"idle too long", c, time.Hour + time.Second, ErrSessionExpired},
	}
	for _, tt := range tests {
		clock.Advance(tt.advance)
		if _, err := s.Load(requestWith(tt.cookie)); !errors.Is(err, tt.want) {
			t.Errorf("%s: Load error = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestSessionIdleRenewalAndAbsoluteLifetime(t *testing.T) {
	clock := testclock.New(testclock.Start)
	s := newTestSessions(t, clock, true)
	c := issue(t, s)
	// Use the session every 50 minutes: the idle timer keeps being renewed,
	// but the absolute lifetime still ends it at 12h.
	for elapsed := time.Duration(0); ; {
		clock.Advance(50 * time.Minute)
		elapsed += 50 * time.Minute
		sess, err := s.Load(requestWith(c))
		if elapsed >= 12*time.Hour {
			if !errors.Is(err, ErrSessionExpired) {
				t.Fatalf("after %v: Load error = %v, want ErrSessionExpired", elapsed, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("after %v of regular use: %v", elapsed, err)
		}
		rec := httptest.NewRecorder()
		if err := s.Touch(requestWith(c), rec, sess); err != nil {
			t.Fatal(err)
		}
		renewed := rec.Result().Cookies()
		if len(renewed) != 1 {
			t.Fatalf("after %v: Touch set %d cookies, want 1", elapsed, len(renewed))
		}
		if want := int((12*time.Hour - elapsed).Seconds()); renewed[0].MaxAge != want {
			t.Fatalf("renewed Max-Age = %d, want %d (what is left of the lifetime)", renewed[0].MaxAge, want)
		}
		c = renewed[0]
	}
}

func TestSessionTouchIsRateLimited(t *testing.T) {
	clock := testclock.New(testclock.Start)
	s := newTestSessions(t, clock, true)
	c := issue(t, s)
	sess, _ := s.Load(requestWith(c))
	rec := httptest.NewRecorder()
	clock.Advance(time.Second)
	_ = s.Touch(requestWith(c), rec, sess)
	if n := len(rec.Result().Cookies()); n != 0 {
		t.Fatalf("Touch one second after sign-in set %d cookies, want 0", n)
	}
}

func TestSessionSecretRotation(t *testing.T) {
	clock := testclock.New(testclock.Start)
	old := newTestSessions(t, clock, true, secret(1))
	c := issue(t, old)
	rotated := newTestSessions(t, clock, true, secret(2), secret(1))
	if _, err := rotated.Load(requestWith(c)); err != nil {
		t.Fatalf("a session signed with the previous secret no longer loads: %v", err)
	}
	fresh := issue(t, rotated)
	if _, err := old.Load(requestWith(fresh)); err == nil {
		t.Fatal("a session issued after rotation was signed with the old secret")
	}
	retired := newTestSessions(t, clock, true, secret(2))
	if _, err := retired.Load(requestWith(c)); !errors.Is(err, ErrNoSession) {
		t.Fatalf("with the old secret retired, Load error = %v, want ErrNoSession", err)
	}
}

func TestSessionIssueMakesNewID(t *testing.T) {
	s := newTestSessions(t, testclock.New(testclock.Start), true)
	a, _ := s.Load(requestWith(issue(t, s)))
	b, _ := s.Load(requestWith(issue(t, s)))
	if a.ID == "" || a.ID == b.ID {
		t.Fatalf("session IDs %q and %q: want distinct and non-empty", a.ID, b.ID)
	}
}

func TestNewKeysRefusesShortSecrets(t *testing.T) {
	if _, err := NewKeys([][]byte{secret(1), []byte("short")}); err == nil {
		t.Fatal("NewKeys accepted a 5-byte secret")
	}
	if _, err := NewKeys(nil); err == nil {
		t.Fatal("NewKeys accepted no secret")
	}
}

// With a store, the idle timer is kept on the server as well: forward-auth
// proxies do not pass a renewed cookie back to the browser.
// Behind Traefik's forwardAuth or Caddy's forward_auth the renewed cookie
// never reaches the browser, which keeps sending the first one: renewal
// must still happen at most once per interval, not on every request.
func TestSessionRenewsOncePerIntervalWhenTheCookieNeverComesBack(t *testing.T) {
	clock := testclock.New(testclock.Start)
	keys, _ := NewKeys([][]byte{secret(1)})
	store := &countingStore{Store: NewMemoryStore(clock.Now)}
	s, err := NewSessions(keys, CookieOptions{Name: "otpgate"}, SessionConfig{Lifetime: 12 * time.Hour, Idle: time.Hour, Store: store}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	c := issue(t, s)
	const requests, every = 600, time.Second // ten minutes of requests
	renewals := 0
	for range requests {
		clock.Advance(every)
		sess, err := s.Load(requestWith(c))
		if err != nil {
			t.Fatalf("a request with the first cookie: %v", err)
		}
		rec := httptest.NewRecorder()
		if err := s.Touch(requestWith(c), rec, sess); err != nil {
			t.Fatal(err)
		}
		renewals += len(rec.Result().Cookies())
	}
	// One renewal per interval (a minute with an hour's idle time).
	if want := int(requests * every / s.renewAfter); renewals != want {
		t.Errorf("%d requests over %v with a cookie that never came back renewed %d times, want %d (once per %v)",
			requests, requests*every, renewals, want, s.renewAfter)
	}
	// The last use goes to the store as often as the cookie is renewed.
	if store.puts != renewals {
		t.Errorf("the last use was written to the store %d times, want %d (once per renewal)", store.puts, renewals)
	}
}

// countingStore counts the writes to a Store.
type countingStore struct {
	Store
	puts int
}

func (s *countingStore) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	s.puts++
	return s.Store.Put(ctx, key, value, ttl)
}

func TestSessionIdleKeptInStore(t *testing.T) {
	clock := testclock.New(testclock.Start)
	keys, _ := NewKeys([][]byte{secret(1)})
	store := NewMemoryStore(clock.Now)
	s, err := NewSessions(keys, CookieOptions{Name: "otpgate"}, SessionConfig{Lifetime: 12 * time.Hour, Idle: time.Hour, Store: store}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	c := issue(t, s) // the browser keeps this cookie and never gets another
	for range 5 {
		clock.Advance(50 * time.Minute)
		sess, err := s.Load(requestWith(c))
		if err != nil {
			t.Fatalf("regular use with the first cookie: %v", err)
		}
		_ = s.Touch(requestWith(c), httptest.NewRecorder(), sess)
	}
	clock.Advance(61 * time.Minute)
	if _, err := s.Load(requestWith(c)); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("after 61 idle minutes: %v, want ErrSessionExpired", err)
	}
}

func TestSessionRevoke(t *testing.T) {
	clock := testclock.New(testclock.Start)
	keys, _ := NewKeys([][]byte{secret(1)})
	s, _ := NewSessions(keys, CookieOptions{Name: "otpgate"}, SessionConfig{Lifetime: 12 * time.Hour, Idle: time.Hour, Store: NewMemoryStore(clock.Now)}, clock.Now)
	c := issue(t, s)
	sess, err := s.Load(requestWith(c))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(requestWith(c), sess); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(requestWith(c)); !errors.Is(err, ErrSessionRevoked) {
		t.Fatalf("a copy of a signed-out cookie: Load error %v, want ErrSessionRevoked", err)
	}
}
