package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth/slapdtest"
)

const wrongCredentials = "The username or password is not right."

func TestPasswordStepRefusals(t *testing.T) {
	e := startEnv(t)
	alice := slapdtest.Alice
	tests := []struct {
		name, username, password string
		status                   int
		want                     string
	}{
		{"wrong password", alice.Username, "not-her-password", http.StatusUnauthorized, wrongCredentials},
		{"unknown user", "mallory", "whatever-1", http.StatusUnauthorized, wrongCredentials},
		{"empty password", alice.Username, "", http.StatusBadRequest, "Enter your username and your password."},
		{"empty username", "", "x", http.StatusBadRequest, "Enter your username and your password."},
		{"filter wildcard", "*", alice.Password, http.StatusUnauthorized, wrongCredentials},
		{"filter injection", "alice)(uid=*", alice.Password, http.StatusUnauthorized, wrongCredentials},
		{"filter injection with or", "*)(|(uid=*", alice.Password, http.StatusUnauthorized, wrongCredentials},
		{"no mobile number", slapdtest.Bob.Username, slapdtest.Bob.Password, http.StatusForbidden, "Ask an administrator to add your mobile number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.browser().password(tt.username, tt.password, "/")
			if r.status != tt.status || !strings.Contains(r.body, tt.want) {
				t.Fatalf("%d, body:\n%s\nwant %d with %q", r.status, r.body, tt.status, tt.want)
			}
		})
	}
	if n := len(e.sms.sent()); n != 0 {
		t.Fatalf("%d SMS sent for refused sign-ins, want 0", n)
	}
}

// A wrong username must not answer faster than a wrong password, or the
// response time would tell which usernames exist.
func TestUnknownUserTakesAsLongAsWrongPassword(t *testing.T) {
	e := startEnv(t)
	b := e.browser()
	start := time.Now()
	if r := b.password("no-such-user", "x-password", "/"); r.status != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d, want 401", r.status)
	}
	if d := time.Since(start); d < failureFloor {
		t.Fatalf("unknown user refused after %v, want at least the %v floor", d, failureFloor)
	}
}

func TestDirectoryDownThenBack(t *testing.T) {
	e := startEnv(t)
	e.dir.Stop()
	b := e.browser()
	r := b.password(slapdtest.Alice.Username, slapdtest.Alice.Password, "/")
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "cannot reach the user directory") {
		t.Fatalf("directory down: %d, body:\n%s\nwant 503 saying the directory is unreachable", r.status, r.body)
	}
	if ready := b.get("/otpgate/readyz"); ready.status != http.StatusServiceUnavailable {
		t.Fatalf("readyz with directory down: %d, want 503", ready.status)
	}
	e.dir.Restart()
	b.signIn(slapdtest.Alice, "/")
	b.appSaw("/")
	if ready := b.get("/otpgate/readyz"); ready.status != http.StatusOK {
		t.Fatalf("readyz with directory back: %d, want 200", ready.status)
	}
}

func TestSMSGatewayFailures(t *testing.T) {
	tests := []struct {
		name   string
		status int
		delay  time.Duration
		down   bool
	}{
		{"answers 500", http.StatusInternalServerError, 0, false},
		{"answers 429", http.StatusTooManyRequests, 0, false},
		{"slower than the timeout", 0, 5 * time.Second, false},
		{"down", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEnv(t, func(c *Config) { c.SMS.Timeout = 500 * time.Millisecond })
			e.sms.set(tt.status, tt.delay)
			if tt.down {
				e.sms.srv.Close()
			}
			b := e.browser()
			r := b.password(slapdtest.Alice.Username, slapdtest.Alice.Password, "/")
			if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "could not be sent") {
				t.Fatalf("%d, body:\n%s\nwant 503 saying the code could not be sent", r.status, r.body)
			}
			if r := b.get("/otpgate/code"); r.status != http.StatusGone {
				t.Fatalf("code page after a failed send: %d, want 410 (no sign-in waits for an unsent code)", r.status)
			}
			// The user may simply try again once the gateway is back.
			if !tt.down {
				e.sms.set(0, 0)
				b.signIn(slapdtest.Alice, "/")
				b.appSaw("/")
			}
		})
	}
}

func TestCodeStepRefusals(t *testing.T) {
	alice := slapdtest.Alice
	t.Run("wrong code, then the right one", func(t *testing.T) {
		e := startEnv(t)
		b := e.browser()
		b.password(alice.Username, alice.Password, "/")
		code := e.sms.lastCode(alice.Mobile)
		r := b.code(otherCode(code))
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "You have 2 tries left.") {
			t.Fatalf("wrong code: %d, body:\n%s\nwant 401 with 2 tries left", r.status, r.body)
		}
		if r := b.code(code); r.status != http.StatusSeeOther {
			t.Fatalf("right code after a wrong one: %d, want 303", r.status)
		}
	})
	t.Run("too many wrong codes end the sign-in", func(t *testing.T) {
		e := startEnv(t)
		b := e.browser()
		b.password(alice.Username, alice.Password, "/")
		code := e.sms.lastCode(alice.Mobile)
		b.code(otherCode(code))
		b.code(otherCode(code))
		r := b.code(otherCode(code))
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "Too many wrong codes") {
			t.Fatalf("third wrong code: %d, body:\n%s\nwant 401 Too many wrong codes", r.status, r.body)
		}
		if r := b.code(code); r.status == http.StatusSeeOther {
			t.Fatal("the right code was accepted after the sign-in ended")
		}
	})
	t.Run("replaying the pending cookie does not reset the count", func(t *testing.T) {
		e := startEnv(t)
		b := e.browser()
		b.password(alice.Username, alice.Password, "/")
		code := e.sms.lastCode(alice.Mobile)
		gw, _ := url.Parse(e.gw.URL)
		saved := b.client.Jar.Cookies(gw)
		b.code(otherCode(code))
		b.code(otherCode(code))
		b.client.Jar.SetCookies(gw, saved)
		if r := b.code(otherCode(code)); !strings.Contains(r.body, "Too many wrong codes") {
			t.Fatalf("third wrong code after replaying cookies: %d, body:\n%s\nwant Too many wrong codes", r.status, r.body)
		}
	})
	t.Run("expired code", func(t *testing.T) {
		e := startEnv(t)
		b := e.browser()
		b.password(alice.Username, alice.Password, "/")
		code := e.sms.lastCode(alice.Mobile)
		e.clock.Advance(5*time.Minute + time.Second)
		r := b.code(code)
		if r.status != http.StatusGone || !strings.Contains(r.body, "Sign-in expired") {
			t.Fatalf("code after its 5 minutes: %d, body:\n%s\nwant 410 Sign-in expired", r.status, r.body)
		}
	})
	t.Run("reused code", func(t *testing.T) {
		e := startEnv(t)
		b := e.browser()
		b.password(alice.Username, alice.Password, "/")
		code := e.sms.lastCode(alice.Mobile)
		gw, _ := url.Parse(e.gw.URL)
		saved := b.client.Jar.Cookies(gw)
		tok := b.csrf("/otpgate/code")
		if r := b.code(code); r.status != http.StatusSeeOther {
			t.Fatalf("first use: %d, want 303", r.status)
		}
		b.client.Jar.SetCookies(gw, saved)
		r := b.do("POST", "/otpgate/code", url.Values{"csrf": {tok}, "code": {code}})
		if r.status != http.StatusGone {
			t.Fatalf("second use of the code with the old cookie: %d, want 410", r.status)
		}
	})
	t.Run("code from another sign-in", func(t *testing.T) {
		e := startEnv(t)
		first, second := e.browser(), e.browser()
		first.password(alice.Username, alice.Password, "/")
		firstCode := e.sms.lastCode(alice.Mobile)
		second.password(alice.Username, alice.Password, "/")
		secondCode := e.sms.lastCode(alice.Mobile)
		if firstCode == secondCode {
			t.Skip("both sign-ins drew the same code (one chance in a million); nothing to test")
		}
		if r := second.code(firstCode); r.status != http.StatusUnauthorized {
			t.Fatalf("first sign-in's code on the second: %d, want 401", r.status)
		}
		if r := first.code(firstCode); r.status != http.StatusSeeOther {
			t.Fatalf("first sign-in's own code: %d, want 303", r.status)
		}
	})
	t.Run("concurrent correct codes give one session", func(t *testing.T) {
		e := startEnv(t)
		b := e.browser()
		b.password(alice.Username, alice.Password, "/")
		code := e.sms.lastCode(alice.Mobile)
		tok := b.csrf("/otpgate/code")
		gw, _ := url.Parse(e.gw.URL)
		cookies := b.client.Jar.Cookies(gw)
		const n = 8
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				other := e.browser()
				other.client.Jar.SetCookies(gw, cookies)
				statuses[i] = other.do("POST", "/otpgate/code", url.Values{"csrf": {tok}, "code": {code}}).status
			})
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			if s == http.StatusSeeOther {
				ok++
			}
		}
		if ok != 1 {
			t.Fatalf("statuses %v: %d sessions issued, want exactly 1", statuses, ok)
		}
	})
}

// otherCode returns a code of the same shape that is not code.
func otherCode(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

func TestFormsNeedCSRFToken(t *testing.T) {
	e := startEnv(t)
	alice := slapdtest.Alice
	tests := []struct {
		name string
		form url.Values
		hdr  []string
	}{
		{"missing token", url.Values{"username": {alice.Username}, "password": {alice.Password}}, nil},
		{"wrong token", url.Values{"csrf": {"forged"}, "username": {alice.Username}, "password": {alice.Password}}, nil},
		{"cross-site post", nil, []string{"Sec-Fetch-Site", "cross-site"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := e.browser()
			form := tt.form
			if form == nil {
				form = url.Values{"csrf": {b.csrf("/otpgate/signin")}, "username": {alice.Username}, "password": {alice.Password}}
			}
			if r := b.do("POST", "/otpgate/signin", form, tt.hdr...); r.status != http.StatusForbidden {
				t.Fatalf("%d, want 403", r.status)
			}
		})
	}
	if n := len(e.sms.sent()); n != 0 {
		t.Fatalf("%d SMS sent without a valid form, want 0", n)
	}
}

func TestRedirectAfterSignInStaysOnSite(t *testing.T) {
	e := startEnv(t)
	for _, rd := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "/%2f%2fevil.example"} {
		t.Run(rd, func(t *testing.T) {
			b := e.browser()
			tok := b.csrf("/otpgate/signin")
			b.do("POST", "/otpgate/signin", url.Values{"csrf": {tok}, "rd": {rd}, "username": {slapdtest.Alice.Username}, "password": {slapdtest.Alice.Password}})
			if r := b.code(e.sms.lastCode(slapdtest.Alice.Mobile)); r.status != http.StatusSeeOther || r.location != "/" {
				t.Fatalf("rd=%q: %d to %q, want 303 to /", rd, r.status, r.location)
			}
		})
	}
}

func TestClientIdentityHeadersAreReplaced(t *testing.T) {
	// The test client (127.0.0.1) is not a trusted proxy here, so its
	// X-Forwarded-For must not be believed.
	e := startEnv(t, func(c *Config) { c.Proxy.TrustedProxies = []string{"192.0.2.1"} })
	b := e.browser()
	b.signIn(slapdtest.Carol, "/")
	seen := b.appSaw("/", "Remote-User", "admin", "Remote_User", "admin", "remote-groups", "admins", "Remote-Email", "admin@example.org", "X-Forwarded-For", "10.9.9.9")
	if got := headerValues(seen, "Remote-User"); len(got) != 1 || got[0] != "carol" {
		t.Errorf("app got Remote-User %q, want [carol]", got)
	}
	for _, name := range []string{"Remote_user", "Remote-Groups", "Remote-Email"} {
		if got := headerValues(seen, name); len(got) != 0 {
			t.Errorf("app got %s %q from the client, want none (carol has no groups or email)", name, got)
		}
	}
	if got := headerValues(seen, "X-Forwarded-For"); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("app got X-Forwarded-For %q, want [127.0.0.1] (the client's own value dropped)", got)
	}
	// Without a session, a forged identity header gets nobody in.
	anon := e.browser()
	if r := anon.get("/", "Remote-User", "alice"); r.status != http.StatusSeeOther {
		t.Fatalf("anonymous request with Remote-User: %d, want 303 to sign in", r.status)
	}
}

func TestTamperedAndExpiredSessions(t *testing.T) {
	e := startEnv(t)
	b := e.browser()
	b.signIn(slapdtest.Alice, "/")
	gw, _ := url.Parse(e.gw.URL)
	var session *http.Cookie
	for _, c := range b.client.Jar.Cookies(gw) {
		if c.Name == "__Host-otpgate" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no __Host-otpgate cookie after sign-in")
	}
	tampered := e.browser()
	v := []byte(session.Value)
	v[len(v)/3] ^= 2
	tampered.client.Jar.SetCookies(gw, []*http.Cookie{{Name: session.Name, Value: string(v), Path: "/"}})
	if r := tampered.get("/"); r.status != http.StatusSeeOther {
		t.Fatalf("tampered session: %d, want 303 to sign in", r.status)
	}
	e.clock.Advance(time.Hour + time.Minute)
	if r := b.get("/"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/otpgate/signin") {
		t.Fatalf("session idle for over an hour: %d to %q, want 303 to sign in", r.status, r.location)
	}
}

func TestOversizedFormBody(t *testing.T) {
	e := startEnv(t)
	b := e.browser()
	tok := b.csrf("/otpgate/signin")
	r := b.do("POST", "/otpgate/signin", url.Values{"csrf": {tok}, "username": {strings.Repeat("a", 100_000)}, "password": {"x"}})
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("100 kB form: %d, want 413", r.status)
	}
	if r := b.get("/otpgate/healthz"); r.status != http.StatusOK {
		t.Fatalf("healthz after an oversized form: %d, want 200", r.status)
	}
}

func TestLogout(t *testing.T) {
	e := startEnv(t)
	b := e.browser()
	b.signIn(slapdtest.Alice, "/")
	page := b.get("/otpgate/logout")
	if page.status != http.StatusOK || !strings.Contains(page.body, "Sign out</button>") || !strings.Contains(page.body, "alice") {
		t.Fatalf("GET logout: %d, body:\n%s\nwant a sign-out button for alice", page.status, page.body)
	}
	if b.appSaw("/")["path"] != "/" {
		t.Fatal("GET logout signed the user out")
	}
	r := b.do("POST", "/otpgate/logout", url.Values{"csrf": {b.csrf("/otpgate/logout")}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "You are signed out") {
		t.Fatalf("POST logout: %d, want 200 You are signed out", r.status)
	}
	if r := b.get("/"); r.status != http.StatusSeeOther {
		t.Fatalf("after logout: %d, want 303 to sign in", r.status)
	}
}

func TestNonBrowserClientsGet401(t *testing.T) {
	e := startEnv(t)
	req, _ := http.NewRequest("GET", e.gw.URL+"/api/data", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := e.gw.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("API client without session: %d, want 401", resp.StatusCode)
	}
}

func TestPagesSendSecurityHeaders(t *testing.T) {
	e := startEnv(t)
	r := e.browser().get("/otpgate/signin")
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
	}
	for k, v := range want {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	css := e.browser().get("/otpgate/static/style.css")
	if css.status != http.StatusOK || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") || !strings.Contains(css.body, ".card") {
		t.Errorf("stylesheet: %d %q, want 200 text/css", css.status, css.header.Get("Content-Type"))
	}
	if strings.Contains(r.body, "<script") || strings.Contains(r.body, "style=") {
		t.Error("sign-in page has a script or inline style")
	}
	var csrf *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "__Host-otpgate_csrf" {
			csrf = c
		}
	}
	if csrf == nil || !csrf.HttpOnly || !csrf.Secure || csrf.SameSite != http.SameSiteLaxMode {
		t.Fatalf("CSRF cookie %+v: want __Host-otpgate_csrf, HttpOnly, Secure, SameSite=Lax", csrf)
	}
}

func TestUpstreamDown(t *testing.T) {
	e := startEnv(t)
	b := e.browser()
	b.signIn(slapdtest.Alice, "/")
	e.app.Close()
	if r := b.get("/"); r.status != http.StatusBadGateway {
		t.Fatalf("app down: %d, want 502", r.status)
	}
}
