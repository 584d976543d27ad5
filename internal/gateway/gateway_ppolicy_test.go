package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/otpgate/otpgate/auth/slapdtest"
)

// TestPasswordPolicyStates signs in, with the right password, users whom
// OpenLDAP's ppolicy overlay refuses for their account's state: each is
// told what is true, as on AD, on every try; none gets an SMS, and more
// tries than otpgate's lockout (and slapd's pwdMaxFailure) allow lock
// no one, in otpgate or in slapd.
func TestPasswordPolicyStates(t *testing.T) {
	e := startEnvWithDirectory(t, []slapdtest.Option{slapdtest.WithPasswordPolicy()},
		func(c *Config) { c.Auth.Ldap.PasswordChangeURL = passwordChangeURL })
	tries := max(e.config.Auth.Lockout.MaxFailures, slapdtest.PolicyMaxFailure) + 1
	for _, c := range []struct {
		u       slapdtest.User
		message string
		link    bool // the page links to the password change
	}{
		{slapdtest.Mike, "You must change your password before you sign in: change it at " + passwordChangeURL, true},
		{slapdtest.Ed, "Your password has expired: change it at " + passwordChangeURL, true},
	} {
		for try := range tries {
			r := e.browser().password(c.u.Username, c.u.Password, "/app/")
			text := pageText(r)
			if r.status != http.StatusForbidden || !strings.Contains(text, c.message) {
				t.Errorf("%s, try %d: %d, want 403 with %q; page:\n%s", c.u.Username, try+1, r.status, c.message, text)
				break
			}
			if strings.Contains(text, "not right") || strings.Contains(text, "Account locked") {
				t.Errorf("%s, try %d: the page speaks of a wrong password or otpgate's lock:\n%s", c.u.Username, try+1, text)
			}
			if hasLink := strings.Contains(text, `href="`+passwordChangeURL+`"`); hasLink != c.link {
				t.Errorf("%s: link to the password change: %v, want %v", c.u.Username, hasLink, c.link)
			}
		}
	}
	// slapd says "locked" whatever the password, so otpgate tells nothing:
	// Lola, with her right password, gets the wrong-password answer, every
	// time, and otpgate's own lock never follows.
	for try := range tries {
		r := e.browser().password(slapdtest.Lola.Username, slapdtest.Lola.Password, "/app/")
		if text := pageText(r); r.status != http.StatusUnauthorized || !strings.Contains(text, "The username or password is not right") {
			t.Errorf("lola, try %d: %d, want 401 with the wrong-password answer; page:\n%s", try+1, r.status, text)
			break
		}
	}
	if n := len(e.sms.sent()); n != 0 {
		t.Errorf("%d SMS sent to accounts slapd refuses", n)
	}
	// A wrong password is still one.
	r := e.browser().password(slapdtest.Alice.Username, "wrong-"+slapdtest.Alice.Password, "/app/")
	if r.status != http.StatusUnauthorized || !strings.Contains(pageText(r), "The username or password is not right") {
		t.Errorf("alice, wrong password: %d; page:\n%s", r.status, pageText(r))
	}
}
