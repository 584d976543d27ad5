package gateway

// End-to-end tests of sessions that follow the directory and of signing
// out everywhere: real slapd, a real Samba AD DC, the real gateway.

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/auth/sambatest"
	"github.com/otpgate/otpgate/auth/slapdtest"
)

const (
	e2eRefresh = 5 * time.Minute
	e2eGrace   = 15 * time.Minute
)

// following sets the refresh the tests assume (the defaults, spelled out)
// and a rule that needs the admins group.
func following(c *Config) {
	c.Auth.Session.Refresh, c.Auth.Session.RefreshGrace = e2eRefresh, e2eGrace
	c.Proxy.AccessRules = "* /admin/** two_factor groups=admins"
}

// wantApp fails unless the browser reaches path in the app.
func (b *browser) wantApp(when, path string) {
	b.t.Helper()
	if r := b.get(path); r.status != http.StatusOK {
		b.t.Fatalf("%s: GET %s: %d to %q, want 200 from the app", when, path, r.status, r.location)
	}
}

// wantSignIn fails unless the browser is sent to sign in for path.
func (b *browser) wantSignIn(when, path string) {
	b.t.Helper()
	if r := b.get(path); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/otpgate/signin") {
		b.t.Fatalf("%s: GET %s: %d to %q, want 303 to the sign-in page", when, path, r.status, r.location)
	}
}

// relax (draft-zeilenga-ldap-relax) lets the root DN write ppolicy's
// operational attributes.
var relax = ldap.NewControlString("1.3.6.1.4.1.4203.666.5.12", true, "")

// TestSessionFollowsSlapd: a user the directory disables or deletes is
// refused within SESSION_REFRESH, not before; a user removed from a group
// loses the group's pages within the same time.
func TestSessionFollowsSlapd(t *testing.T) {
	alice := slapdtest.Alice
	tests := []struct {
		name   string
		change func(t *testing.T, conn *ldap.Conn)
		after  func(b *browser)
	}{
		{"locked by an administrator (ppolicy)", func(t *testing.T, conn *ldap.Conn) {
			m := ldap.NewModifyRequest(alice.DN, []ldap.Control{relax})
			m.Replace("pwdAccountLockedTime", []string{"000001010000Z"})
			if err := conn.Modify(m); err != nil {
				t.Fatal(err)
			}
		}, func(b *browser) { b.wantSignIn("locked", "/app/") }},
		{"matches LDAP_DISABLED_FILTER", func(t *testing.T, conn *ldap.Conn) {
			m := ldap.NewModifyRequest(alice.DN, nil)
			m.Add("employeeType", []string{"disabled"})
			if err := conn.Modify(m); err != nil {
				t.Fatal(err)
			}
		}, func(b *browser) {
			b.wantSignIn("disabled by the filter", "/app/")
			if r := b.e.browser().password(alice.Username, alice.Password, "/app/"); r.status == http.StatusSeeOther {
				b.t.Errorf("disabled by the filter: sign-in went on to %q, want it refused", r.location)
			}
		}},
		{"deleted", func(t *testing.T, conn *ldap.Conn) {
			if err := conn.Del(ldap.NewDelRequest(alice.DN, nil)); err != nil {
				t.Fatal(err)
			}
		}, func(b *browser) { b.wantSignIn("deleted", "/app/") }},
		{"removed from admins", func(t *testing.T, conn *ldap.Conn) {
			m := ldap.NewModifyRequest("cn=admins,"+slapdtest.GroupsDN, nil)
			m.Replace("member", []string{slapdtest.Bob.DN}) // a group keeps a member
			if err := conn.Modify(m); err != nil {
				t.Fatal(err)
			}
		}, func(b *browser) {
			if r := b.get("/admin/"); r.status != http.StatusForbidden {
				b.t.Fatalf("out of admins: GET /admin/: %d, want 403", r.status)
			}
			if got := headerValues(b.appSaw("/app/"), "Remote-Groups"); len(got) != 1 || got[0] != "staff" {
				b.t.Errorf("out of admins: app got Remote-Groups %q, want [staff]", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEnvWithDirectory(t, []slapdtest.Option{slapdtest.WithPasswordPolicy()}, following,
				func(c *Config) { c.Auth.Ldap.DisabledFilter = "(employeeType=disabled)" })
			b := e.browser()
			b.signIn(alice, "/admin/")
			b.wantApp("signed in", "/admin/")
			tt.change(t, e.dir.Conn(t))
			e.clock.Advance(e2eRefresh - 10*time.Second)
			b.wantApp("before the refresh is due", "/admin/")
			e.clock.Advance(10 * time.Second)
			tt.after(b)
		})
	}
}

// TestSessionFollowsSlapdDown: when slapd cannot be reached, sessions go
// on with what it last said for SESSION_REFRESH_GRACE after a read was
// due, then end; once it answers again, the user signs in again.
func TestSessionFollowsSlapdDown(t *testing.T) {
	e := startEnv(t, following)
	b := e.browser()
	b.signIn(slapdtest.Alice, "/admin/")
	e.dir.Stop()
	e.clock.Advance(e2eRefresh)
	b.wantApp("directory down, refresh due", "/admin/")
	e.clock.Advance(e2eGrace - 10*time.Second)
	b.wantApp("directory down, within the grace", "/admin/")
	e.clock.Advance(10 * time.Second)
	b.wantSignIn("directory down, past the grace", "/admin/")
	if logs := e.logs.String(); !strings.Contains(logs, "session refresh: directory unreachable") {
		t.Errorf("log lacks the outage:\n%s", logs)
	}
	e.dir.Restart()
	b.signIn(slapdtest.Alice, "/admin/")
	b.wantApp("directory back, signed in again", "/admin/")
}

// TestSessionFollowsActiveDirectory: AD's disabled bit
// (userAccountControl ACCOUNTDISABLE) ends a session within
// SESSION_REFRESH.
func TestSessionFollowsActiveDirectory(t *testing.T) {
	e := startADEnv(t, following)
	alice := sambatest.Alice
	b := e.browser()
	if r := b.password(alice.Username, alice.Password, "/app/"); r.status != http.StatusSeeOther {
		t.Fatalf("password: %d", r.status)
	}
	if r := b.code(e.sms.lastCode(alice.Mobile)); r.status != http.StatusSeeOther {
		t.Fatalf("code: %d", r.status)
	}
	b.wantApp("signed in", "/app/")
	conn := e.dc.Conn(t)
	uac, err := strconv.Atoi(e.dc.Attr(t, alice.DN, "userAccountControl")[0])
	if err != nil {
		t.Fatal(err)
	}
	m := ldap.NewModifyRequest(alice.DN, nil)
	m.Replace("userAccountControl", []string{strconv.Itoa(uac | 0x2)})
	if err := conn.Modify(m); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(e2eRefresh - 10*time.Second)
	b.wantApp("before the refresh is due", "/app/")
	e.clock.Advance(10 * time.Second)
	b.wantSignIn("disabled in AD", "/app/")
	if logs := e.logs.String(); !strings.Contains(logs, "session refresh: user disabled in the directory") {
		t.Errorf("log lacks the refusal:\n%s", logs)
	}
}

// TestSignOutEverywhereFromThePage: "Sign out everywhere" in one browser
// ends the session of another; a later sign-in works.
func TestSignOutEverywhereFromThePage(t *testing.T) {
	e := startEnv(t)
	alice := slapdtest.Alice
	phone, laptop := e.browser(), e.browser()
	phone.signIn(alice, "/app/")
	laptop.signIn(alice, "/app/")
	laptop.wantApp("signed in", "/app/")
	page := phone.get("/otpgate/logout")
	if !strings.Contains(page.body, "Sign out everywhere") {
		t.Fatalf("the sign-out page offers no way to sign out everywhere:\n%s", page.body)
	}
	tok := csrfField.FindStringSubmatch(page.body)[1]
	if r := phone.do("POST", "/otpgate/logout", url.Values{"csrf": {tok}, "everywhere": {"1"}}); !strings.Contains(r.body, "You are signed out everywhere") {
		t.Fatalf("sign out everywhere: %d\n%s", r.status, r.body)
	}
	laptop.wantSignIn("after sign-out everywhere", "/app/")
	phone.wantSignIn("after sign-out everywhere", "/app/")
	e.clock.Advance(time.Second)
	laptop.signIn(alice, "/app/")
	laptop.wantApp("signed in again", "/app/")
}

// TestSessionsRevokeCommand: `otpgate sessions revoke USER`, against the
// store a running gateway uses, ends every session of USER within a
// second, and no one else's.
func TestSessionsRevokeCommand(t *testing.T) {
	e := startEnv(t)
	alice, carol := e.browser(), e.browser()
	alice.signIn(slapdtest.Alice, "/app/")
	carol.signIn(slapdtest.Carol, "/app/")
	alice.wantApp("signed in", "/app/")
	shared := func(Config, func() time.Time) (auth.Store, bool, func(), error) { return e.store, true, func() {}, nil }
	var stdout, stderr bytes.Buffer
	if code := sessionsCommand(context.Background(), []string{"revoke", "ALICE"}, nil, &stdout, &stderr, shared, e.clock.Now); code != exitOK {
		t.Fatalf("exit %d, want 0; stderr: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "Every session of ALICE") {
		t.Errorf("stdout %q, want it to say what was done", stdout.String())
	}
	e.clock.Advance(time.Second)
	alice.wantSignIn("revoked", "/app/")
	carol.wantApp("another user", "/app/")
}

// TestSessionsCommandAnswers: usage mistakes and a store the command
// cannot reach are told, and nothing is pretended.
func TestSessionsCommandAnswers(t *testing.T) {
	tests := []struct {
		args       []string
		wantCode   int
		wantStderr string
	}{
		{[]string{"sessions"}, exitConfig, "usage: otpgate sessions revoke USER"},
		{[]string{"sessions", "list"}, exitConfig, "usage: otpgate sessions revoke USER"},
		{[]string{"sessions", "revoke", " "}, exitConfig, "usage: otpgate sessions revoke USER"},
		{[]string{"sessions", "revoke", "alice"}, exitFailed, "cannot reach, so nothing was revoked"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, []string{"OTPGATE_SESSION_LIFETIME=12h"}, &stdout, &stderr)
			if code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.wantCode, tt.wantStderr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}
