package main

import (
	"net/http"
	"net/url"
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
				c.CaptureMobile, c.CaptureMobileBind, c.DefaultRegion = true, tt.bind, "GB"
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
