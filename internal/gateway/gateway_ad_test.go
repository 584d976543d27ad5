package gateway

// End-to-end tests against a real Active Directory: a Samba AD domain
// controller (auth/sambatest) in place of slapd, configured as the
// README's AD section says.

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/auth/sambatest"
	"github.com/otpgate/otpgate/auth/slapdtest"
	"github.com/otpgate/otpgate/internal/testclock"
	"github.com/otpgate/otpgate/internal/testserver"
)

const passwordChangeURL = "https://passwords.example.test/change"

// adEnv is a running gateway in front of the app, with a Samba DC as its
// directory.
type adEnv struct {
	*env
	dc *sambatest.DC
}

// startADEnv starts a DC of its own and the gateway configured for it:
// ldaps with the DC's CA, the service account, sAMAccountName, the NetBIOS
// domain and the UPN suffix.
func startADEnv(t *testing.T, edit ...func(*Config)) *adEnv {
	t.Helper()
	return startADEnvWith(t, nil, edit...)
}

// startADEnvWith is startADEnv with options for the DC.
func startADEnvWith(t *testing.T, opts []sambatest.Option, edit ...func(*Config)) *adEnv {
	t.Helper()
	dc := sambatest.Start(t, opts...)
	e := &env{t: t, sms: newSMSGateway(t), clock: testclock.Wall(), logs: &testserver.Output{}}
	e.app = httptest.NewServer(echoApp())
	t.Cleanup(e.app.Close)
	// baseConfig reads only these fields of the directory.
	e.config = baseConfig(&slapdtest.Server{URL: dc.URL, BindDN: dc.BindDN, BindPassword: dc.BindPassword, BaseDN: dc.BaseDN},
		e.sms.srv.URL, e.app.URL)
	l := &e.config.Auth.Ldap
	l.CAFile = dc.CAFile
	l.UserFilter = sambatest.UserFilter
	l.UsernameAttribute = "sAMAccountName"
	l.NameAttribute = "displayName"
	l.NetbiosDomains = []string{sambatest.NetBIOSDomain}
	l.UpnSuffixes = []string{sambatest.UPNSuffix}
	e.serve(edit, nil)
	return &adEnv{env: e, dc: dc}
}

// pageText is a page's body with its HTML entities decoded.
func pageText(r response) string { return html.UnescapeString(r.body) }

// TestADLoginNames signs alice in with each form of her name an AD user
// may type; each reaches her entry, her number and her groups.
func TestADLoginNames(t *testing.T) {
	e := startADEnv(t)
	alice := sambatest.Alice
	for i, typed := range []string{`EXAMPLE\alice`, "alice@example.test", "ALICE", `example\Alice`, "Alice@EXAMPLE.TEST", " alice "} {
		b := e.browser()
		r := b.password(typed, alice.Password, "/app/")
		if r.status != http.StatusSeeOther || r.location != "/otpgate/code" {
			t.Errorf("%q: %d to %q, want 303 to the code page; page:\n%s", typed, r.status, r.location, pageText(r))
			continue
		}
		if n := len(e.sms.sent()); n != i+1 {
			t.Fatalf("%q: %d SMS sent in all, want %d", typed, n, i+1)
		}
		if r := b.code(e.sms.lastCode(alice.Mobile)); r.status != http.StatusSeeOther {
			t.Fatalf("%q: code step %d, want 303", typed, r.status)
		}
		seen := b.appSaw("/app/")
		if u := headerValues(seen, "Remote-User"); !slices.Equal(u, []string{"alice"}) {
			t.Errorf("%q: app got Remote-User %q, want alice", typed, u)
		}
		if n := headerValues(seen, "Remote-Name"); !slices.Equal(n, []string{alice.Name}) {
			t.Errorf("%q: app got Remote-Name %q, want %q", typed, n, alice.Name)
		}
		groups := strings.Split(strings.Join(headerValues(seen, "Remote-Groups"), ","), ",")
		slices.Sort(groups)
		if !slices.Equal(groups, []string{"IT Ops", "staff"}) {
			t.Errorf("%q: app got groups %q, want IT Ops and staff", typed, groups)
		}
	}
	// Another domain, or none of AD's forms, finds nobody.
	sent := len(e.sms.sent())
	for _, typed := range []string{`OTHER\alice`, "alice@other.test", `EXAMPLE\`} {
		r := e.browser().password(typed, alice.Password, "/app/")
		if r.status != http.StatusUnauthorized || !strings.Contains(pageText(r), "The username or password is not right") {
			t.Errorf("%q: %d, want 401 with the wrong-password message; page:\n%s", typed, r.status, pageText(r))
		}
	}
	if n := len(e.sms.sent()); n != sent {
		t.Errorf("%d SMS sent for names of other domains", n-sent)
	}
	if n := e.dc.BadPwdCount(t, alice); n != 0 {
		t.Errorf("alice's badPwdCount is %d, want 0: no wrong password was tried", n)
	}
}

// TestADLockoutKeyedOnEntry locks henry with wrong passwords typed in
// every form of his name, then checks that no form gets past the lock,
// not even with the right password, and that AD counted exactly the
// wrong passwords: a refused sign-in never binds, so it neither adds to
// AD's count nor resets it.
func TestADLockoutKeyedOnEntry(t *testing.T) {
	e := startADEnv(t)
	henry := sambatest.Henry
	forms := []string{"henry", `EXAMPLE\henry`, "henry@example.test", "HENRY", `example\HENRY`}
	for i, typed := range forms { // the default lockout: 5
		r := e.browser().password(typed, "wrong-"+henry.Password, "/app/")
		last := i == len(forms)-1
		switch {
		case !last && (r.status != http.StatusUnauthorized || !strings.Contains(pageText(r), "The username or password is not right")):
			t.Fatalf("wrong password %d as %q: %d, want 401 with the wrong-password message; page:\n%s", i+1, typed, r.status, pageText(r))
		case last && (r.status != http.StatusTooManyRequests || !strings.Contains(pageText(r), "Account locked")):
			t.Fatalf("wrong password %d as %q: %d, want 429 Account locked; page:\n%s", i+1, typed, r.status, pageText(r))
		}
	}
	if n := e.dc.BadPwdCount(t, henry); n != len(forms) {
		t.Errorf("henry's badPwdCount after %d wrong passwords: %d", len(forms), n)
	}
	for _, typed := range append([]string{"henry@example.test"}, forms...) {
		r := e.browser().password(typed, henry.Password, "/app/")
		if r.status != http.StatusTooManyRequests || !strings.Contains(pageText(r), "Account locked") {
			t.Errorf("right password as %q while locked: %d, want 429 Account locked; page:\n%s", typed, r.status, pageText(r))
		}
	}
	if n := len(e.sms.sent()); n != 0 {
		t.Errorf("%d SMS sent to a locked user", n)
	}
	if n := e.dc.BadPwdCount(t, henry); n != len(forms) {
		t.Errorf("henry's badPwdCount after the refused right passwords: %d, want still %d (no bind)", n, len(forms))
	}
	if v := e.dc.Attr(t, henry.DN, "lockoutTime"); len(v) == 1 && v[0] != "0" {
		t.Errorf("AD locked henry (lockoutTime %s): otpgate's lock should come first", v[0])
	}
}

// TestADAccountStates signs in, with the right password, users whom AD
// refuses for their account's state at the bind: each sees what is true,
// gets no SMS, and is not counted towards otpgate's lockout (more tries
// than the lockout allows never lock), nor towards AD's badPwdCount.
// (Disabled and locked accounts are refused before any bind: see
// TestADDisabledAndLockedRefusedUnbound.)
func TestADAccountStates(t *testing.T) {
	e := startADEnv(t, func(c *Config) { c.Auth.Ldap.PasswordChangeURL = passwordChangeURL })
	for _, c := range []struct {
		u       sambatest.User
		message string
		link    bool // the page links to the password change
	}{
		{sambatest.Mike, "You must change your password before you sign in: change it at " + passwordChangeURL, true},
		{sambatest.Ed, "Your password has expired: change it at " + passwordChangeURL, true},
		{sambatest.Xena, "Your account has expired", false},
	} {
		before := e.dc.BadPwdCount(t, c.u)
		for try := range e.config.Auth.Lockout.MaxFailures + 1 {
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
		if after := e.dc.BadPwdCount(t, c.u); after != before {
			t.Errorf("%s: AD's badPwdCount went from %d to %d", c.u.Username, before, after)
		}
	}
	if n := len(e.sms.sent()); n != 0 {
		t.Errorf("%d SMS sent to accounts AD refuses", n)
	}
	// Without a change URL, the expired password is told all the same.
	e2 := startADEnv(t)
	r := e2.browser().password(sambatest.Ed.Username, sambatest.Ed.Password, "/app/")
	if r.status != http.StatusForbidden || !strings.Contains(pageText(r), "Your password has expired") {
		t.Errorf("expired password without a change URL: %d; page:\n%s", r.status, pageText(r))
	}
}

// TestADDisabledAndLockedRefusedUnbound signs in, with the right
// password, users whose entries say they are disabled (dave) or locked by
// AD (lola): each gets exactly the wrong-password answer, since the
// password was not proven; no bind is made (AD's badPwdCount and
// lockoutTime are unchanged), no SMS goes, and more tries than otpgate's
// lockout allows do not lock them in otpgate.
func TestADDisabledAndLockedRefusedUnbound(t *testing.T) {
	e := startADEnv(t)
	for _, u := range []sambatest.User{sambatest.Dave, sambatest.Lola} {
		before := e.dc.BadPwdCount(t, u)
		lockedAt := e.dc.Attr(t, u.DN, "lockoutTime")
		for try := range e.config.Auth.Lockout.MaxFailures + 1 {
			r := e.browser().password(u.Username, u.Password, "/app/")
			if r.status != http.StatusUnauthorized || !strings.Contains(pageText(r), "The username or password is not right") {
				t.Errorf("%s, try %d: %d, want 401 with the wrong-password message; page:\n%s", u.Username, try+1, r.status, pageText(r))
				break
			}
		}
		// The same answer as a wrong password gets, but for the form's
		// fresh CSRF token.
		wrong := e.browser().password(u.Username, "wrong-"+u.Password, "/app/")
		right := e.browser().password(u.Username, u.Password, "/app/")
		page := func(r response) string { return csrfValue.ReplaceAllString(pageText(r), "") }
		if wrong.status != right.status || page(wrong) != page(right) {
			t.Errorf("%s: the right password gets %d, a wrong one %d; pages differ:\n%s\n---\n%s",
				u.Username, right.status, wrong.status, pageText(right), pageText(wrong))
		}
		if after := e.dc.BadPwdCount(t, u); after != before {
			t.Errorf("%s: AD's badPwdCount went from %d to %d: otpgate bound as them", u.Username, before, after)
		}
		if after := e.dc.Attr(t, u.DN, "lockoutTime"); !slices.Equal(after, lockedAt) {
			t.Errorf("%s: lockoutTime went from %q to %q", u.Username, lockedAt, after)
		}
	}
	if n := len(e.sms.sent()); n != 0 {
		t.Errorf("%d SMS sent to disabled or locked accounts", n)
	}
	if !strings.Contains(e.logs.String(), "refused without trying the password") {
		t.Errorf("the log does not say the password was not tried:\n%s", e.logs.String())
	}
}

var csrfValue = regexp.MustCompile(`name="csrf" value="[^"]*"`)

// TestADLockExpired checks that a lockoutTime older than the domain's
// lockoutDuration no longer refuses: AD's lock has ended, so lola signs
// in and gets her code.
func TestADLockExpired(t *testing.T) {
	e := startADEnv(t)
	lola := sambatest.Lola
	// One second: AD wants the observation window no longer than the lock.
	m := ldap.NewModifyRequest(sambatest.BaseDN, nil)
	m.Replace("lockOutObservationWindow", []string{"-10000000"})
	m.Replace("lockoutDuration", []string{"-10000000"})
	if err := e.dc.Conn(t).Modify(m); err != nil {
		t.Fatalf("shorten the domain's lockout: %v", err)
	}
	time.Sleep(1100 * time.Millisecond)
	r := e.browser().password(lola.Username, lola.Password, "/app/")
	if r.status != http.StatusSeeOther || r.location != "/otpgate/code" {
		t.Fatalf("lola after AD's lock ended: %d to %q, want 303 to the code page; page:\n%s", r.status, r.location, pageText(r))
	}
	if e.sms.lastCode(lola.Mobile) == "" {
		t.Errorf("no code sent to lola")
	}
}

// TestADLockoutWarning reads the DC's lockout policy (threshold 10,
// observation window and lock 30 minutes) and checks which of otpgate's
// lockout settings draw a warning.
func TestADLockoutWarning(t *testing.T) {
	dc := sambatest.Start(t)
	for _, c := range []struct {
		name string
		lo   auth.LockoutSettings
		want string // in the warning; "": none
	}{
		{"threshold equal", auth.LockoutSettings{MaxFailures: sambatest.LockoutThreshold, Window: time.Hour, Duration: time.Hour},
			"OTPGATE_LOCKOUT_MAX_FAILURES=10 is not below Active Directory's lockoutThreshold 10"},
		{"threshold above", auth.LockoutSettings{MaxFailures: 20, Window: time.Hour, Duration: time.Hour},
			"OTPGATE_LOCKOUT_MAX_FAILURES=20 is not below Active Directory's lockoutThreshold 10"},
		{"lockout off", auth.LockoutSettings{MaxFailures: 0}, "OTPGATE_LOCKOUT_MAX_FAILURES=0 turns otpgate's lockout off"},
		{"lock shorter than AD's window", auth.LockoutSettings{MaxFailures: 5, Window: 15 * time.Minute, Duration: 15 * time.Minute},
			"OTPGATE_LOCKOUT_DURATION=15m0s is shorter than Active Directory's lockOutObservationWindow 30m0s: " +
				"AD still counts the wrong passwords when otpgate's lock ends, and 2 rounds of 5 reach its lockoutThreshold 10"},
		{"below", auth.LockoutSettings{MaxFailures: 5, Window: 30 * time.Minute, Duration: 30 * time.Minute}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := ldapConfigFor(t, dc)
			cfg.Auth.Lockout = c.lo
			logs := &testserver.Output{}
			a, err := assemble(cfg, testLogger(logs), io.Discard, time.Now)
			if err != nil {
				t.Fatalf("assemble: %v", err)
			}
			a.checkDirectory(t.Context())
			warned := strings.Contains(logs.String(), "Active Directory")
			switch {
			case c.want == "" && warned:
				t.Errorf("warned, want no warning:\n%s", logs.String())
			case c.want != "" && !strings.Contains(logs.String(), c.want):
				t.Errorf("log lacks %q:\n%s", c.want, logs.String())
			}
		})
	}
}

// ldapConfigFor is a gateway configuration for dc, as startADEnv makes.
func ldapConfigFor(t *testing.T, dc *sambatest.DC) Config {
	t.Helper()
	cfg := baseConfig(&slapdtest.Server{URL: dc.URL, BindDN: dc.BindDN, BindPassword: dc.BindPassword, BaseDN: dc.BaseDN},
		"http://127.0.0.1:1", "http://127.0.0.1:1")
	cfg.Auth.Ldap.CAFile = dc.CAFile
	cfg.Auth.Ldap.UserFilter = sambatest.UserFilter
	cfg.Auth.Ldap.UsernameAttribute = "sAMAccountName"
	return cfg
}

// TestADCaptureMobileGrant captures bob's number as the service account
// (CAPTURE_MOBILE_BIND=service): with the README's dsacl grant AD stores
// it; without it, AD's default ACLs refuse (Insufficient Access Rights),
// bob is told the number could not be saved, and the log says why.
func TestADCaptureMobileGrant(t *testing.T) {
	for _, grant := range []bool{true, false} {
		t.Run(map[bool]string{true: "granted", false: "default ACLs"}[grant], func(t *testing.T) {
			e := startADEnv(t, func(c *Config) {
				c.Auth.CaptureMobile, c.Auth.CaptureMobileBind, c.Auth.DefaultRegion = true, "service", "GB"
			})
			if grant {
				e.dc.GrantServiceMobileWrite(t)
			}
			bob := sambatest.Bob
			b := e.browser()
			if r := b.password(`EXAMPLE\bob`, bob.Password, "/after"); r.status != http.StatusSeeOther || r.location != "/otpgate/mobile" {
				t.Fatalf("bob (no mobile): %d to %q, want 303 to /otpgate/mobile; page:\n%s", r.status, r.location, pageText(r))
			}
			if r := b.enterMobile("07700 900456"); r.status != http.StatusSeeOther || r.location != "/otpgate/code" {
				t.Fatalf("a UK mobile number: %d to %q, want 303 to /otpgate/code", r.status, r.location)
			}
			r := b.code(e.sms.lastCode("+447700900456"))
			got := e.dc.Attr(t, bob.DN, "mobile")
			if grant {
				if r.status != http.StatusSeeOther || r.location != "/after" {
					t.Fatalf("right code: %d to %q, want 303 to /after; page:\n%s", r.status, r.location, pageText(r))
				}
				if !slices.Equal(got, []string{"+447700900456"}) {
					t.Fatalf("bob's mobile in AD: %q, want +447700900456", got)
				}
				return
			}
			if r.status != http.StatusForbidden || !strings.Contains(pageText(r), "Your number could not be saved") {
				t.Fatalf("right code, write refused: %d, want 403 could not be saved; page:\n%s", r.status, pageText(r))
			}
			if len(got) != 0 {
				t.Fatalf("bob's mobile in AD after a refused write: %q", got)
			}
			if log := e.logs.String(); !strings.Contains(log, "Insufficient Access Rights") {
				t.Errorf("the log does not give AD's reason (Insufficient Access Rights):\n%s", log)
			}
		})
	}
}

// serviceBackupHashes reads user's stored backup-code hashes as the
// service account, with its rights (the attribute is confidential).
func serviceBackupHashes(t *testing.T, dc *sambatest.DC, u sambatest.User) []string {
	t.Helper()
	res, err := dc.ConnAs(t, sambatest.ServiceDN, sambatest.ServicePassword).Search(ldap.NewSearchRequest(u.DN,
		ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 5, false, "(objectClass=*)", []string{auth.BackupCodeAttribute}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read %s's backup codes as the service account: %v", u.Username, err)
	}
	return res.Entries[0].GetEqualFoldAttributeValues(auth.BackupCodeAttribute)
}

// TestADBackupCodes runs backup codes against a DC extended with
// auth.BackupCodeSchemaAD and the README's grant to the service account:
// alice makes 10 codes, signs out, signs in again with one in place of
// the SMS code (no further SMS goes), and the code's hash is gone from
// her entry (9 left, read as the service account); the same code does not
// work twice.
func TestADBackupCodes(t *testing.T) {
	e := startADEnvWith(t, []sambatest.Option{sambatest.WithSchema(auth.BackupCodeSchemaAD)}, func(c *Config) {
		c.Auth.BackupCodes, c.Auth.BackupCodesAttribute = true, auth.BackupCodeAttribute
	})
	e.dc.GrantServiceReadWrite(t, auth.BackupCodeAttributeGUIDAD)
	alice := sambatest.Alice
	b := e.browser()
	if r := b.password(alice.Username, alice.Password, "/"); r.status != http.StatusSeeOther || r.location != "/otpgate/code" {
		t.Fatalf("password step: %d to %q, want 303 to /otpgate/code; page:\n%s", r.status, r.location, pageText(r))
	}
	if r := b.code(e.sms.lastCode(alice.Mobile)); r.status != http.StatusSeeOther {
		t.Fatalf("code step: %d, want 303; page:\n%s", r.status, pageText(r))
	}
	if page := b.get("/otpgate/backup-codes"); !strings.Contains(page.body, "You have <strong>0</strong> unused backup codes") {
		t.Fatalf("backup-codes page: %d, want 0 codes:\n%s", page.status, pageText(page))
	}
	r, codes := b.generateBackupCodes()
	if r.status != http.StatusOK || len(codes) != 10 {
		t.Fatalf("generate: %d with %d codes, want 200 with 10:\n%s", r.status, len(codes), pageText(r))
	}
	stored := serviceBackupHashes(t, e.dc, alice)
	if len(stored) != 10 {
		t.Fatalf("AD holds %d hashes for alice, want 10", len(stored))
	}
	for _, h := range stored {
		if !strings.HasPrefix(h, "$2a$") {
			t.Errorf("AD holds %q, want only bcrypt hashes", h)
		}
	}
	if got := b.get("/otpgate/backup-codes").body; !strings.Contains(got, "You have <strong>10</strong> unused backup codes") {
		t.Errorf("backup-codes page after generating does not count 10 codes:\n%s", got)
	}
	if r := b.do("POST", "/otpgate/logout", url.Values{"csrf": {b.csrf("/otpgate/logout")}}); r.status != http.StatusOK || !strings.Contains(r.body, "You are signed out") {
		t.Fatalf("sign out: %d, want 200 You are signed out", r.status)
	}
	if r := b.get("/app/"); r.status != http.StatusSeeOther {
		t.Fatalf("after signing out: %d, want 303 to the sign-in", r.status)
	}

	// Signed out, in again with a backup code instead of the SMS code.
	if r := b.password(`EXAMPLE\alice`, alice.Password, "/app/"); r.status != http.StatusSeeOther || r.location != "/otpgate/code" {
		t.Fatalf("second password step: %d to %q; page:\n%s", r.status, r.location, pageText(r))
	}
	sent := len(e.sms.sent())
	r = b.backupCode(strings.ToLower(codes[3]))
	if r.status != http.StatusSeeOther || r.location != "/app/" {
		t.Fatalf("right backup code: %d to %q, want 303 to /app/; page:\n%s", r.status, r.location, pageText(r))
	}
	seen := b.appSaw("/app/")
	if got := headerValues(seen, "Remote-Auth-Level"); !slices.Equal(got, []string{"2"}) {
		t.Errorf("Remote-Auth-Level %q, want [2]", got)
	}
	if got := headerValues(seen, "Remote-User"); !slices.Equal(got, []string{"alice"}) {
		t.Errorf("Remote-User %q, want [alice]", got)
	}
	if n := len(e.sms.sent()); n != sent {
		t.Errorf("%d SMS sent for the sign-in with a backup code", n-sent)
	}
	if n := len(serviceBackupHashes(t, e.dc, alice)); n != 9 {
		t.Errorf("AD holds %d hashes after one use, want 9", n)
	}
	// The same code again, in a new sign-in: wrong.
	b2 := e.browser()
	b2.password(alice.Username, alice.Password, "/")
	if r := b2.backupCode(codes[3]); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "2 tries left") {
		t.Errorf("used backup code: %d, want 401 with 2 tries left:\n%s", r.status, pageText(r))
	}
	if n := len(serviceBackupHashes(t, e.dc, alice)); n != 9 {
		t.Errorf("AD holds %d hashes after a reuse, want 9", n)
	}
}
