package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth/redistest"
	"github.com/otpgate/otpgate/auth/slapdtest"
)

// withRedis keeps the gateway's state in srv.
func withRedis(srv *redistest.Server) func(*Config) {
	return func(c *Config) {
		c.Store.Store = "redis"
		c.Store.Redis.URL = srv.URL
		c.Store.Redis.Username = redistest.Username
		c.Store.Redis.Password = redistest.Password
		c.Store.Redis.Timeout = time.Second
	}
}

func isUnavailable(r response) bool {
	return r.status == http.StatusServiceUnavailable && strings.Contains(r.body, "Sign-in is briefly unavailable")
}

// waitReady polls readyz until it answers 200.
func (e *env) waitReady(b *browser) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for b.get("/otpgate/readyz").status != http.StatusOK {
		if time.Now().After(deadline) {
			e.t.Fatal("readyz not 200 within 15s of Redis's return")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRedisDownFailsClosedAndRecovers: with Redis stopped, signed-in
// requests, sign-in pages and sign-ins in flight get the 503 page (not a
// sign-in redirect, not the app), readyz fails; when Redis returns, all of
// it works again by itself, with nothing lost.
func TestRedisDownFailsClosedAndRecovers(t *testing.T) {
	srv := redistest.Start(t)
	e := startEnv(t, withRedis(srv))
	alice := slapdtest.Alice
	signedIn := e.browser()
	signedIn.signIn(alice, "/app/")
	signedIn.appSaw("/app/before")
	inFlight := e.browser()
	if r := inFlight.password(alice.Username, alice.Password, "/app/"); r.status != http.StatusSeeOther {
		t.Fatalf("password of a second sign-in: %d, want 303", r.status)
	}
	pendingCode := e.sms.lastCode(alice.Mobile)
	codeCSRF := inFlight.csrf("/otpgate/logout")
	anonymous := e.browser()

	srv.Stop()
	// The client-side cache answers while its connection stands (Redis
	// is consistent with it until then); the rule holds from the moment
	// otpgate notices the connection is gone, which readyz shows.
	deadline := time.Now().Add(10 * time.Second)
	for anonymous.get("/otpgate/readyz").status != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("readyz still 200 10s after Redis stopped")
		}
		time.Sleep(20 * time.Millisecond)
	}
	checks := []struct {
		name string
		do   func() response
	}{
		{"signed-in request", func() response { return signedIn.get("/app/during") }},
		{"sign-in page", func() response { return anonymous.get("/otpgate/signin?rd=%2Fapp%2F") }},
		{"code of a sign-in in flight", func() response {
			return inFlight.do("POST", "/otpgate/code", url.Values{"csrf": {codeCSRF}, "code": {pendingCode}})
		}},
	}
	for _, c := range checks {
		r := c.do()
		if !isUnavailable(r) {
			t.Errorf("%s with Redis down: %d to %q, want 503 Sign-in is briefly unavailable; body:\n%s", c.name, r.status, r.location, r.body)
		}
		if sc := r.header.Values("Set-Cookie"); len(sc) > 0 {
			t.Errorf("%s with Redis down set cookies %q: nothing should change", c.name, sc)
		}
		if r.header.Get("Retry-After") == "" {
			t.Errorf("%s with Redis down: no Retry-After", c.name)
		}
	}
	if logs := e.logs.String(); !strings.Contains(logs, "store unavailable") || !strings.Contains(logs, "redis") {
		t.Errorf("the log does not say the store failed and why:\n%s", logs)
	}

	srv.Restart()
	e.waitReady(anonymous)
	signedIn.appSaw("/app/after")
	if r := inFlight.code(pendingCode); r.status != http.StatusSeeOther || r.location != "/app/" {
		t.Fatalf("the code of the sign-in in flight, after Redis returned: %d to %q, want 303 to /app/; body:\n%s", r.status, r.location, r.body)
	}
	inFlight.appSaw("/app/finished")
	anonymous.signIn(alice, "/app/")
	anonymous.appSaw("/app/new")
}

// TestRedisRestartKeepsSignOutsAndLockouts: what otpgate wrote to Redis
// survives Redis being killed and started again: a signed-out session
// stays out, another session stays in, a locked account stays locked.
func TestRedisRestartKeepsSignOutsAndLockouts(t *testing.T) {
	srv := redistest.Start(t)
	e := startEnv(t, withRedis(srv), func(c *Config) { c.Auth.Lockout.MaxFailures = 2 })
	alice, bob := slapdtest.Alice, slapdtest.Bob
	out, in := e.browser(), e.browser()
	out.signIn(alice, "/app/")
	in.signIn(alice, "/app/")
	gwURL, _ := url.Parse(e.gw.URL)
	oldCookies := out.client.Jar.Cookies(gwURL)
	if r := out.do("POST", "/otpgate/logout", url.Values{"csrf": {out.csrf("/otpgate/logout")}}); r.status != http.StatusOK {
		t.Fatalf("sign-out: %d", r.status)
	}
	attacker := e.browser()
	for range 2 {
		attacker.password(bob.Username, "wrong", "/app/")
	}
	if r := attacker.password(bob.Username, bob.Password, "/app/"); !isLocked(r) {
		t.Fatalf("bob after 2 wrong passwords: %d, want 429 Account locked", r.status)
	}

	srv.Kill()
	srv.Restart()
	e.waitReady(in)

	out.client.Jar.SetCookies(gwURL, oldCookies)
	if r := out.get("/app/replayed"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/otpgate/signin") {
		t.Errorf("a signed-out session's cookie after a Redis restart: %d to %q, want 303 to the sign-in page", r.status, r.location)
	}
	in.appSaw("/app/still-in")
	if r := e.browser().password(bob.Username, bob.Password, "/app/"); !isLocked(r) {
		t.Errorf("bob after a Redis restart: %d, want 429 Account locked", r.status)
	}
}
