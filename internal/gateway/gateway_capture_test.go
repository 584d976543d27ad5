package gateway

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/otpgate/otpgate/auth/slapdtest"
)

// mobileInDirectory reads bob's mobile attribute as the directory holds it.
func mobileInDirectory(t *testing.T, e *env) string {
	t.Helper()
	conn := e.dir.Conn(t)
	res, err := conn.Search(ldap.NewSearchRequest(slapdtest.Bob.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 5, false,
		"(objectClass=*)", []string{"mobile"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read bob: %v", err)
	}
	return res.Entries[0].GetAttributeValue("mobile")
}

// enterMobile submits the capture form.
func (b *browser) enterMobile(typed string) response {
	b.t.Helper()
	return b.do("POST", "/otpgate/mobile", url.Values{"csrf": {b.csrf("/otpgate/logout")}, "mobile": {typed}})
}

func TestCaptureMobile(t *testing.T) {
	tests := []struct {
		name    string
		bind    string
		dirOpts []slapdtest.Option
		saved   bool
	}{
		{"service account allowed", "service", []slapdtest.Option{slapdtest.WithServiceMobileWrite()}, true},
		{"user's own bind allowed", "user", []slapdtest.Option{slapdtest.WithSelfMobileWrite()}, true},
		{"service account refused by the ACL", "service", nil, false},
		{"user's own bind refused by the ACL", "user", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEnvWithDirectory(t, tt.dirOpts, func(c *Config) {
				c.Auth.CaptureMobile, c.Auth.CaptureMobileBind, c.Auth.DefaultRegion = true, tt.bind, "GB"
			})
			b := e.browser()
			bob := slapdtest.Bob
			r := b.password(bob.Username, bob.Password, "/after")
			if r.status != http.StatusSeeOther || r.location != "/otpgate/mobile" {
				t.Fatalf("bob (no mobile) with capture on: %d to %q, want 303 to /otpgate/mobile", r.status, r.location)
			}
			if r := b.get("/otpgate/code"); r.status != http.StatusSeeOther || r.location != "/otpgate/mobile" {
				t.Fatalf("code page before a number: %d to %q, want back to /otpgate/mobile", r.status, r.location)
			}
			if r := b.enterMobile("0800 123 4567"); r.status != http.StatusBadRequest || !strings.Contains(r.body, "not a mobile number") {
				t.Fatalf("a UK freephone number: %d, body:\n%s\nwant 400 not a mobile number", r.status, r.body)
			}
			if len(e.sms.sent()) != 0 {
				t.Fatal("an SMS went to a refused number")
			}
			// Typed in national form: DEFAULT_REGION=GB makes it +447700900456.
			if r := b.enterMobile("07700 900456"); r.status != http.StatusSeeOther || r.location != "/otpgate/code" {
				t.Fatalf("a UK mobile number: %d to %q, want 303 to /otpgate/code", r.status, r.location)
			}
			code := e.sms.lastCode("+447700900456")
			if got := mobileInDirectory(t, e); got != "" {
				t.Fatalf("number written before the code came back: %q", got)
			}
			r = b.code(code)
			if !tt.saved {
				if r.status != http.StatusForbidden || !strings.Contains(r.body, "Your number could not be saved") {
					t.Fatalf("right code, write refused: %d, body:\n%s\nwant 403 could not be saved", r.status, r.body)
				}
				if got := mobileInDirectory(t, e); got != "" {
					t.Fatalf("directory holds %q after a refused write", got)
				}
				if r := b.get("/"); r.status != http.StatusSeeOther {
					t.Fatalf("after a refused write: %d, want no session (303 to sign in)", r.status)
				}
				return
			}
			if r.status != http.StatusSeeOther || r.location != "/after" {
				t.Fatalf("right code: %d to %q, want 303 to /after", r.status, r.location)
			}
			if got := mobileInDirectory(t, e); got != "+447700900456" {
				t.Fatalf("directory mobile = %q, want +447700900456", got)
			}
			if got := headerValues(b.appSaw("/"), "Remote-Auth-Level"); len(got) != 1 || got[0] != "2" {
				t.Fatalf("Remote-Auth-Level %q, want [2]", got)
			}
			// The next sign-in uses the saved number, with no capture step.
			next := e.browser()
			if r := next.password(bob.Username, bob.Password, "/"); r.location != "/otpgate/code" {
				t.Fatalf("next sign-in: to %q, want /otpgate/code", r.location)
			}
			e.sms.lastCode("+447700900456")
		})
	}
}

func TestChangedDirectoryNumberIsHonoured(t *testing.T) {
	e := startEnv(t)
	conn := e.dir.Conn(t)
	mod := ldap.NewModifyRequest(slapdtest.Alice.DN, nil)
	mod.Replace("mobile", []string{"+15550100042"})
	if err := conn.Modify(mod); err != nil {
		t.Fatal(err)
	}
	e.browser().password(slapdtest.Alice.Username, slapdtest.Alice.Password, "/")
	e.sms.lastCode("+15550100042")
}

// setDirectoryMobile sets u's mobile attribute as an administrator would.
func setDirectoryMobile(t *testing.T, e *env, u slapdtest.User, value string) {
	t.Helper()
	mod := ldap.NewModifyRequest(u.DN, nil)
	mod.Replace("mobile", []string{value})
	if err := e.dir.Conn(t).Modify(mod); err != nil {
		t.Fatalf("set %s's mobile: %v", u.Username, err)
	}
}

// directoryMobile reads u's mobile attribute as the directory holds it.
func directoryMobile(t *testing.T, e *env, u slapdtest.User) string {
	t.Helper()
	res, err := e.dir.Conn(t).Search(ldap.NewSearchRequest(u.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 5, false,
		"(objectClass=*)", []string{"mobile"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read %s: %v", u.Username, err)
	}
	return res.Entries[0].GetAttributeValue("mobile")
}

// A user whose directory number exists but cannot take codes is not
// offered capture, which would let the password alone replace the number:
// the page says to ask an administrator, no SMS is sent, and the directory
// keeps the number. The ACL lets otpgate write the number, so only the
// flow stands in the way.
func TestCaptureNotOfferedForRefusedNumber(t *testing.T) {
	tests := []struct {
		name      string
		number    string
		wantTitle string
	}{
		{"UK landline", "+44 20 7946 0018", "Your mobile number cannot be used"},
		{"UK toll-free", "0800 123 4567", "Your mobile number cannot be used"},
		{"wrong length", "+44 7700 90012", "Your mobile number cannot be used"},
		{"US personal range", "+1 500 555 0006", "Your mobile number cannot be used"},
		{"satellite, a range of no country", "+881 6 12345678", "Codes cannot be sent to this number"},
		{"a country not allowed", "+998 90 123 4567", "Codes cannot be sent to this number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEnvWithDirectory(t, []slapdtest.Option{slapdtest.WithServiceMobileWrite()}, func(c *Config) {
				c.Auth.CaptureMobile, c.Auth.DefaultRegion = true, "GB"
				c.Auth.Otp.Mandatory = true
			})
			bob := slapdtest.Bob
			setDirectoryMobile(t, e, bob, tt.number)
			b := e.browser()
			r := b.password(bob.Username, bob.Password, "/")
			if r.status != http.StatusForbidden || !strings.Contains(r.body, tt.wantTitle) || !strings.Contains(r.body, "Ask an administrator") {
				t.Fatalf("password step: %d to %q, want 403 %q telling to ask an administrator:\n%s", r.status, r.location, tt.wantTitle, r.body)
			}
			if r := b.get("/otpgate/mobile"); r.status == http.StatusOK {
				t.Fatalf("the capture page is open after a refused number:\n%s", r.body)
			}
			if r := b.enterMobile("07700 900456"); r.status == http.StatusSeeOther {
				t.Fatalf("a typed number was taken: %d to %q", r.status, r.location)
			}
			if msgs := e.sms.sent(); len(msgs) != 0 {
				t.Fatalf("SMS sent: %+v, want none", msgs)
			}
			if got := directoryMobile(t, e, bob); got != tt.number {
				t.Fatalf("directory mobile = %q, want it unchanged (%q)", got, tt.number)
			}
		})
	}
}

// Capture sends codes only where the operator allows: with no country list,
// DEFAULT_REGION alone; ranges of no country (satellite) only when named.
// A refused number costs no send, and no cooldown: the next number typed
// goes at once.
func TestCaptureOnlyToAllowedCountries(t *testing.T) {
	tests := []struct {
		name      string
		countries []string
		typed     string
		wantSent  string // "" : refused
	}{
		{"satellite +881, default list", nil, "+881 6 12345678", ""},
		{"Inmarsat +870, default list", nil, "+870 773111632", ""},
		{"Uzbekistan, default list", nil, "+998 90 123 4567", ""},
		{"Côte d'Ivoire, default list", nil, "+225 01 23 45 6789", ""},
		{"Nigeria, default list", nil, "+234 802 123 4567", ""},
		{"the default region", nil, "07700 900456", "+447700900456"},
		{"Nigeria, listed", []string{"GB", "NG"}, "+234 802 123 4567", "+2348021234567"},
		{"satellite, a country list without it", []string{"GB", "NG"}, "+881 6 12345678", ""},
		{"satellite, named", []string{"GB", "+881"}, "+881 6 12345678", "+881612345678"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEnvWithDirectory(t, []slapdtest.Option{slapdtest.WithServiceMobileWrite()}, func(c *Config) {
				c.Auth.CaptureMobile, c.Auth.DefaultRegion, c.Auth.Sms.AllowedCountries = true, "GB", tt.countries
			})
			bob := slapdtest.Bob
			b := e.browser()
			if r := b.password(bob.Username, bob.Password, "/"); r.location != "/otpgate/mobile" {
				t.Fatalf("password step: %d to %q, want the capture page", r.status, r.location)
			}
			r := b.enterMobile(tt.typed)
			if tt.wantSent != "" {
				if r.status != http.StatusSeeOther || r.location != "/otpgate/code" {
					t.Fatalf("typed %q: %d to %q, want 303 to /otpgate/code:\n%s", tt.typed, r.status, r.location, r.body)
				}
				if msgs := e.sms.sent(); len(msgs) != 1 || msgs[0].To != tt.wantSent {
					t.Fatalf("SMS sent: %+v, want one to %s", msgs, tt.wantSent)
				}
				return
			}
			want := "Sign-in codes are not sent to numbers in that country or range; enter a mobile number of another country, or ask an administrator."
			if r.status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(r.body), want) {
				t.Fatalf("typed %q: %d, want 400 with %q:\n%s", tt.typed, r.status, want, r.body)
			}
			if msgs := e.sms.sent(); len(msgs) != 0 {
				t.Fatalf("SMS sent: %+v, want none", msgs)
			}
			// The refusal cost nothing: an allowed number goes at once.
			if r := b.enterMobile("07700 900456"); r.status != http.StatusSeeOther || r.location != "/otpgate/code" {
				t.Fatalf("an allowed number after the refused one: %d to %q:\n%s", r.status, r.location, r.body)
			}
			if msgs := e.sms.sent(); len(msgs) != 1 || msgs[0].To != "+447700900456" {
				t.Fatalf("SMS sent: %+v, want one to +447700900456", msgs)
			}
			if got := directoryMobile(t, e, bob); got != "" {
				t.Fatalf("directory mobile = %q before any code came back, want none", got)
			}
		})
	}
}

// A refused typed number is explained in one sentence, never twice over.
func TestCaptureRefusalWording(t *testing.T) {
	e := startEnvWithDirectory(t, []slapdtest.Option{slapdtest.WithServiceMobileWrite()}, func(c *Config) {
		c.Auth.CaptureMobile, c.Auth.DefaultRegion = true, "GB"
	})
	b := e.browser()
	b.password(slapdtest.Bob.Username, slapdtest.Bob.Password, "/")
	tests := []struct{ typed, want string }{
		{"0800 123 4567", "That is not a mobile number (it is a landline, a toll-free number or another kind that takes no text messages); enter your mobile number."},
		{"+44 20 7946 0018", "That is not a mobile number (it is a landline, a toll-free number or another kind that takes no text messages); enter your mobile number."},
		{"07700 90012", "That number is too short for a mobile number of its country."},
		{"07700 900456 ext 1", "Use only digits, spaces, dashes, dots, brackets and a leading +."},
	}
	errorText := regexp.MustCompile(`(?s)class="error"[^>]*>(.*?)</`)
	for _, tt := range tests {
		r := b.enterMobile(tt.typed)
		m := errorText.FindStringSubmatch(r.body)
		if r.status != http.StatusBadRequest || m == nil || strings.TrimSpace(html.UnescapeString(m[1])) != tt.want {
			t.Errorf("typed %q: %d, error %q; want 400 with exactly %q:\n%s", tt.typed, r.status, m, tt.want, r.body)
		}
	}
	if msgs := e.sms.sent(); len(msgs) != 0 {
		t.Fatalf("SMS sent: %+v, want none", msgs)
	}
	if got := directoryMobile(t, e, slapdtest.Bob); got != "" {
		t.Fatalf("directory mobile = %q, want none", got)
	}
}

// Kinds of number are a setting: the +1 500 555 range (personal numbers,
// where some SMS providers keep their test numbers) is refused by default
// and taken when allowed.
func TestNumberTypesSetting(t *testing.T) {
	tests := []struct {
		name     string
		types    []string
		wantSent bool
	}{
		{"default", nil, false},
		{"personal_number allowed", []string{"mobile", "fixed_line_or_mobile", "personal_number"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEnv(t, func(c *Config) {
				if tt.types != nil {
					c.Auth.Sms.NumberTypes = tt.types
				}
			})
			alice := slapdtest.Alice
			setDirectoryMobile(t, e, alice, "+15005550006")
			r := e.browser().password(alice.Username, alice.Password, "/")
			msgs := e.sms.sent()
			if !tt.wantSent {
				if r.status != http.StatusForbidden || !strings.Contains(r.body, "Your mobile number cannot be used") || len(msgs) != 0 {
					t.Fatalf("got %d with %d SMS, want 403 Your mobile number cannot be used and none:\n%s", r.status, len(msgs), r.body)
				}
				return
			}
			if r.status != http.StatusSeeOther || r.location != "/otpgate/code" || len(msgs) != 1 || msgs[0].To != "+15005550006" {
				t.Fatalf("got %d to %q with SMS %+v, want 303 to the code page and one SMS to +15005550006", r.status, r.location, msgs)
			}
			if got := directoryMobile(t, e, alice); got != "+15005550006" {
				t.Fatalf("directory mobile = %q, want it unchanged", got)
			}
		})
	}
}
