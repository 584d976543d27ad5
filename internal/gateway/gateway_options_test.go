package gateway

// One test per sign-in option (the WSO2 SMS OTP parameters and otpgate's
// abuse limits), each showing its effect through the HTTP flow.

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth/slapdtest"
)

func TestRetryOff(t *testing.T) {
	e := startEnv(t, func(c *Config) { c.Auth.Otp.Retry = false })
	b := e.browser()
	b.password(slapdtest.Alice.Username, slapdtest.Alice.Password, "/")
	code := e.sms.lastCode(slapdtest.Alice.Mobile)
	if r := b.code(otherCode(code)); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "no more tries are allowed") {
		t.Fatalf("one wrong code with retry off: %d, body:\n%s\nwant the sign-in ended", r.status, r.body)
	}
	if r := b.code(code); r.status == http.StatusSeeOther {
		t.Fatal("the right code worked after retry-off ended the sign-in")
	}
}

// resend presses "Send a new code".
func (b *browser) resend() response {
	b.t.Helper()
	return b.do("POST", "/otpgate/code/resend", url.Values{"csrf": {b.csrf("/otpgate/logout")}})
}

func TestResend(t *testing.T) {
	e := startEnv(t) // defaults: resend on, 30s cooldown, 3 codes per sign-in, 3 tries
	b := e.browser()
	alice := slapdtest.Alice
	b.password(alice.Username, alice.Password, "/")
	first := e.sms.lastCode(alice.Mobile)
	if page := b.get("/otpgate/code"); !strings.Contains(page.body, `class="link" disabled aria-describedby="resend-wait">Send a new code`) ||
		!regexp.MustCompile(`You can ask for a new code in (29|30) seconds\.`).MatchString(page.body) {
		t.Fatalf("code page lacks the disabled resend button and the time left:\n%s", page.body)
	}
	if r := b.resend(); r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "Please wait a moment") {
		t.Fatalf("resend within the cooldown: %d, want 429 Please wait", r.status)
	}
	if n := len(e.sms.sent()); n != 1 {
		t.Fatalf("%d SMS after a resend within the cooldown, want 1", n)
	}
	b.code(otherCode(first)) // one wrong try, kept across the resend
	e.clock.Advance(31 * time.Second)
	if r := b.resend(); r.status != http.StatusOK || !strings.Contains(r.body, "A new code is on its way") {
		t.Fatalf("resend after the cooldown: %d, body:\n%s", r.status, r.body)
	}
	second := e.sms.lastCode(alice.Mobile)
	if n := len(e.sms.sent()); n != 2 {
		t.Fatalf("%d SMS after one resend, want 2", n)
	}
	if first != second {
		if r := b.code(first); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "1 try left") {
			t.Fatalf("old code after a resend: %d, want 401 with 1 try left (wrong tries are not reset):\n%s", r.status, r.body)
		}
	}
	e.clock.Advance(31 * time.Second)
	b.resend()
	third := e.sms.lastCode(alice.Mobile)
	e.clock.Advance(31 * time.Second)
	if r := b.resend(); r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "No more codes for this sign-in") {
		t.Fatalf("fourth code of one sign-in: %d, want 429 No more codes", r.status)
	}
	if page := b.get("/otpgate/code"); strings.Contains(page.body, "Send a new code") {
		t.Fatal("code page still offers a new code after the last one allowed")
	}
	if n := len(e.sms.sent()); n != 3 {
		t.Fatalf("%d SMS for one sign-in, want the cap of 3", n)
	}
	if r := b.code(third); r.status != http.StatusSeeOther {
		t.Fatalf("latest code: %d, want 303", r.status)
	}
}

func TestResendOff(t *testing.T) {
	e := startEnv(t, func(c *Config) { c.Auth.Otp.Resend = false })
	b := e.browser()
	b.password(slapdtest.Alice.Username, slapdtest.Alice.Password, "/")
	if page := b.get("/otpgate/code"); strings.Contains(page.body, "Send a new code") {
		t.Fatal("code page offers a new code with OTP_RESEND=false")
	}
	e.clock.Advance(time.Minute)
	if r := b.resend(); r.status != http.StatusNotFound {
		t.Fatalf("resend with OTP_RESEND=false: %d, want 404", r.status)
	}
	if n := len(e.sms.sent()); n != 1 {
		t.Fatalf("%d SMS, want 1", n)
	}
}

func TestCodeShape(t *testing.T) {
	tests := []struct {
		name      string
		length    int
		alnum     bool
		charset   string
		inputMode string
	}{
		{"8 digits", 8, false, "0123456789", "numeric"},
		{"4 digits", 4, false, "0123456789", "numeric"},
		{"alphanumeric", 8, true, "23456789ABCDEFGHJKMNPQRSTUVWXYZ", "text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEnv(t, func(c *Config) { c.Auth.Otp.Length, c.Auth.Otp.Alphanumeric = tt.length, tt.alnum })
			b := e.browser()
			b.password(slapdtest.Alice.Username, slapdtest.Alice.Password, "/")
			code := e.sms.lastCode(slapdtest.Alice.Mobile)
			if len(code) != tt.length || strings.Trim(code, tt.charset) != "" {
				t.Fatalf("code %q: want %d characters of %q", code, tt.length, tt.charset)
			}
			if page := b.get("/otpgate/code"); !strings.Contains(page.body, `inputmode="`+tt.inputMode+`"`) {
				t.Fatalf("code page: want inputmode %q", tt.inputMode)
			}
			if r := b.code(strings.ToLower(code)); r.status != http.StatusSeeOther {
				t.Fatalf("code typed in lower case: %d, want 303", r.status)
			}
		})
	}
}

func TestLockout(t *testing.T) {
	e := startEnv(t, func(c *Config) {
		c.Auth.Lockout.MaxFailures, c.Auth.Lockout.Window, c.Auth.Lockout.Duration = 3, 15*time.Minute, 15*time.Minute
	})
	alice := slapdtest.Alice
	b := e.browser()
	b.password(alice.Username, "wrong-1", "/")
	b.password(alice.Username, "wrong-2", "/")
	b.password(alice.Username, alice.Password, "/")
	code := e.sms.lastCode(alice.Mobile)
	// The third failure is a wrong code: codes and passwords count together.
	r := b.code(otherCode(code))
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "Account locked") || !strings.Contains(r.body, "Please try again in 15 minutes.") {
		t.Fatalf("third failure: %d, body:\n%s\nwant 429 Account locked, try again in 15 minutes", r.status, r.body)
	}
	if r := e.browser().password(alice.Username, alice.Password, "/"); r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "Account locked") {
		t.Fatalf("right password while locked: %d, want 429 Account locked", r.status)
	}
	if n := len(e.sms.sent()); n != 1 {
		t.Fatalf("%d SMS, want only the one before the lock", n)
	}
	e.clock.Advance(15*time.Minute + time.Second)
	e.browser().signIn(alice, "/")

	// A complete sign-in clears the count: two more failures do not lock.
	e.browser().password(alice.Username, "wrong-3", "/")
	e.browser().password(alice.Username, "wrong-4", "/")
	e.browser().signIn(alice, "/")
}

func TestLockoutCoversUnknownUsers(t *testing.T) {
	e := startEnv(t, func(c *Config) { c.Auth.Lockout.MaxFailures = 2 })
	b := e.browser()
	b.password("nobody", "x1", "/")
	if r := b.password("nobody", "x2", "/"); !strings.Contains(r.body, "Account locked") {
		t.Fatalf("unknown user, second failure: %d, want the same lock a real user gets", r.status)
	}
}

// appLevel signs u in (password, then code when one is sent) and returns
// the Remote-Auth-Level the app receives.
func appLevel(t *testing.T, e *env, u slapdtest.User) string {
	t.Helper()
	b := e.browser()
	r := b.password(u.Username, u.Password, "/")
	if r.status == http.StatusSeeOther && r.location == "/otpgate/code" {
		if r = b.code(e.sms.lastCode(u.Mobile)); r.status != http.StatusSeeOther {
			t.Fatalf("%s: code step %d", u.Username, r.status)
		}
	} else if r.status != http.StatusSeeOther || r.location != "/" {
		t.Fatalf("%s: password step %d to %q, body:\n%s", u.Username, r.status, r.location, r.body)
	}
	got := headerValues(b.appSaw("/"), "Remote-Auth-Level")
	if len(got) != 1 {
		t.Fatalf("%s: Remote-Auth-Level %q", u.Username, got)
	}
	return got[0]
}

func TestNotMandatory(t *testing.T) {
	e := startEnv(t, func(c *Config) { c.Auth.Otp.Mandatory = false })
	if got := appLevel(t, e, slapdtest.Bob); got != "1" {
		t.Errorf("bob (no mobile) with OTP_MANDATORY=false: Remote-Auth-Level %q, want 1", got)
	}
	if got := appLevel(t, e, slapdtest.Alice); got != "2" {
		t.Errorf("alice: Remote-Auth-Level %q, want 2", got)
	}
	if !strings.Contains(e.logs.String(), "signed in with one factor, no usable mobile number") {
		t.Error("the log does not say bob signed in with one factor")
	}
}

func TestExemptAndRequiredGroups(t *testing.T) {
	// Alice is in staff and admins, Bob only in staff (and has no mobile),
	// Carol in no group.
	e := startEnv(t, func(c *Config) {
		c.Auth.Otp.ExemptGroups, c.Auth.Otp.RequiredGroups = []string{"staff"}, []string{"admins"}
	})
	if got := appLevel(t, e, slapdtest.Bob); got != "1" {
		t.Errorf("bob (exempt staff): level %q, want 1", got)
	}
	if got := appLevel(t, e, slapdtest.Alice); got != "2" {
		t.Errorf("alice (staff but required admins): level %q, want 2", got)
	}
	if got := appLevel(t, e, slapdtest.Carol); got != "2" {
		t.Errorf("carol (no group): level %q, want 2", got)
	}
}

func TestRequiredGroupOverridesNotMandatory(t *testing.T) {
	e := startEnv(t, func(c *Config) { c.Auth.Otp.Mandatory, c.Auth.Otp.RequiredGroups = false, []string{"staff"} })
	if r := e.browser().password(slapdtest.Bob.Username, slapdtest.Bob.Password, "/"); r.status != http.StatusForbidden {
		t.Fatalf("bob (required group, no mobile): %d, want 403", r.status)
	}
}

func TestMaskVisibleDigits(t *testing.T) {
	e := startEnv(t, func(c *Config) { c.Auth.MaskVisibleDigits = 2 })
	b := e.browser()
	b.password(slapdtest.Alice.Username, slapdtest.Alice.Password, "/")
	page := html.UnescapeString(b.get("/otpgate/code").body)
	if !strings.Contains(page, "•• 06</strong>") || strings.Contains(page, "0006") {
		t.Fatalf("code page with 2 visible digits:\n%s\nwant only 06 shown", page)
	}
	if strings.Contains(e.logs.String(), "0006") {
		t.Fatal("the log shows more than 2 digits of the number")
	}
}

func TestMessageHostAndOriginBound(t *testing.T) {
	e := startEnv(t, func(c *Config) {
		c.PublicURL = "https://auth.example.com"
		c.Auth.Sms.Message = "Your sign-in code is {code} for {host}. It expires in {ttl}."
		c.Auth.Sms.OriginBound = true
	})
	e.browser().password(slapdtest.Alice.Username, slapdtest.Alice.Password, "/")
	code := e.sms.lastCode(slapdtest.Alice.Mobile)
	want := fmt.Sprintf("Your sign-in code is %s for auth.example.com. It expires in 5 minutes.\n\n@auth.example.com #%s", code, code)
	if got := e.sms.sent()[0].Body; got != want {
		t.Fatalf("SMS body %q, want %q", got, want)
	}
}

// usLDIF adds users with US numbers, for the limit tests.
func usLDIF(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "dn: uid=user%d,%s\nobjectClass: inetOrgPerson\nuid: user%d\ncn: User %d\nsn: %d\nmobile: +1555010%04d\nuserPassword: user%d-secret\n\n",
			i, slapdtest.PeopleDN, i, i, i, 100+i, i)
	}
	return b.String()
}

func usUser(i int) slapdtest.User {
	return slapdtest.User{Username: fmt.Sprintf("user%d", i), Password: fmt.Sprintf("user%d-secret", i), Mobile: fmt.Sprintf("+1555010%04d", 100+i)}
}

// TestSMSPumping scripts an attempt to send many codes (many sign-ins,
// numbers and client addresses) and checks exactly which were sent.
func TestSMSPumping(t *testing.T) {
	e := startEnvWithDirectory(t, []slapdtest.Option{slapdtest.WithLDIF(usLDIF(6))}, func(c *Config) {
		c.Auth.Sms.LimitPerNumber, c.Auth.Sms.LimitPerIP, c.Auth.Sms.LimitGlobal = 2, 3, 5
		c.Auth.Sms.AllowedCountries = []string{"US"}
		c.Auth.Lockout.MaxFailures = 0
	})
	steps := []struct {
		from   string
		user   slapdtest.User
		sent   bool
		reason string
	}{
		{"127.0.0.2", usUser(1), true, ""},
		{"127.0.0.2", usUser(1), true, ""},
		{"127.0.0.2", usUser(1), false, "per-user"},
		{"127.0.0.2", usUser(2), true, ""},
		{"127.0.0.2", usUser(3), false, "per-ip"},
		{"127.0.0.4", slapdtest.Carol, false, "country"}, // a UK number
		{"127.0.0.3", usUser(3), true, ""},
		{"127.0.0.4", usUser(4), true, ""},
		{"127.0.0.5", usUser(5), false, "global"},
	}
	for i, s := range steps {
		before := len(e.sms.sent())
		r := e.browserFrom(s.from).password(s.user.Username, s.user.Password, "/")
		sent := len(e.sms.sent()) > before
		if sent != s.sent {
			t.Fatalf("step %d (%s from %s): sent=%v, want %v; %d, body:\n%s", i+1, s.user.Username, s.from, sent, s.sent, r.status, r.body)
		}
		if !s.sent {
			if r.status == http.StatusSeeOther {
				t.Fatalf("step %d: refused send still went on to the code page", i+1)
			}
			if !strings.Contains(e.logs.String(), `"limit":"`+s.reason+`"`) {
				t.Errorf("step %d: the log does not name the %s limit", i+1, s.reason)
			}
		}
	}
	// Then a flood from many addresses and sign-ins: the global budget holds.
	for i := range 30 {
		e.browserFrom(fmt.Sprintf("127.0.1.%d", i+1)).password(usUser(6).Username, usUser(6).Password, "/")
	}
	if n := len(e.sms.sent()); n != 5 {
		t.Fatalf("%d SMS sent in all, want exactly 5 (the global budget)", n)
	}
}

func TestEnableAttribute(t *testing.T) {
	// employeeType stands in for the operator's attribute: Bob's says
	// FALSE, Alice's TRUE, Carol has none.
	ldif := "dn: uid=erin," + slapdtest.PeopleDN + "\nobjectClass: inetOrgPerson\nuid: erin\ncn: Erin\nsn: E\nemployeeType: FALSE\nuserPassword: erin-secret\n\n" +
		"dn: uid=frank," + slapdtest.PeopleDN + "\nobjectClass: inetOrgPerson\nuid: frank\ncn: Frank\nsn: F\nemployeeType: TRUE\nmobile: +15550100199\nuserPassword: frank-secret\n"
	e := startEnvWithDirectory(t, []slapdtest.Option{slapdtest.WithLDIF(ldif)}, func(c *Config) { c.Auth.Otp.EnableAttribute = "employeeType" })
	erin := slapdtest.User{Username: "erin", Password: "erin-secret"}
	frank := slapdtest.User{Username: "frank", Password: "frank-secret", Mobile: "+15550100199"}
	if got := appLevel(t, e, erin); got != "1" {
		t.Errorf("erin (employeeType FALSE, no mobile): level %q, want 1", got)
	}
	if got := appLevel(t, e, frank); got != "2" {
		t.Errorf("frank (employeeType TRUE): level %q, want 2", got)
	}
	if got := appLevel(t, e, slapdtest.Alice); got != "2" {
		t.Errorf("alice (no employeeType): level %q, want 2", got)
	}
}
