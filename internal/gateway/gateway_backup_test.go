package gateway

// Backup codes end to end: made on a page by a two-factor session, stored
// as hashes in a real slapd with otpgate's schema, used once in place of
// the SMS code.

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/auth/slapdtest"
)

// startBackupEnv is startEnv with backup codes on, and a directory with
// otpgate's schema in which the service account may write the hashes.
func startBackupEnv(t *testing.T, edit ...func(*Config)) *env {
	t.Helper()
	opts := []slapdtest.Option{slapdtest.WithSchema(auth.BackupCodeSchema),
		slapdtest.WithUserObjectClass(auth.BackupCodeObjectClass), slapdtest.WithServiceWrite(auth.BackupCodeAttribute)}
	on := func(c *Config) { c.Auth.BackupCodes, c.Auth.BackupCodesAttribute = true, auth.BackupCodeAttribute }
	return startEnvWithDirectory(t, opts, append([]func(*Config){on}, edit...)...)
}

var backupCodeOnPage = regexp.MustCompile(`<code>([2-9A-Z]{4}-[2-9A-Z]{4})</code>`)

// generateBackupCodes presses "Generate new backup codes" and returns the
// response and the codes it shows.
func (b *browser) generateBackupCodes() (response, []string) {
	b.t.Helper()
	r := b.do("POST", "/otpgate/backup-codes", url.Values{"csrf": {b.csrf("/otpgate/logout")}})
	var codes []string
	for _, m := range backupCodeOnPage.FindAllStringSubmatch(r.body, -1) {
		codes = append(codes, m[1])
	}
	return r, codes
}

// backupCode submits the "use a backup code" form.
func (b *browser) backupCode(code string) response {
	b.t.Helper()
	return b.do("POST", "/otpgate/backup", url.Values{"csrf": {b.csrf("/otpgate/logout")}, "backup_code": {code}})
}

// backupHashes reads user's stored hashes as the root DN, past the ACLs.
func backupHashes(t *testing.T, e *env, u slapdtest.User) []string {
	t.Helper()
	res, err := e.dir.Conn(t).Search(ldap.NewSearchRequest(u.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 5, false,
		"(objectClass=*)", []string{auth.BackupCodeAttribute}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read %s: %v", u.Username, err)
	}
	return res.Entries[0].GetEqualFoldAttributeValues(auth.BackupCodeAttribute)
}

func TestBackupCodesEndToEnd(t *testing.T) {
	e := startBackupEnv(t)
	alice := slapdtest.Alice
	b := e.browser()
	b.signIn(alice, "/")

	page := b.get("/otpgate/backup-codes")
	for _, want := range []string{"Generate new backup codes", "You have <strong>0</strong> unused backup codes", "stop working"} {
		if page.status != http.StatusOK || !strings.Contains(page.body, want) {
			t.Fatalf("backup-codes page: %d, want 200 with %q:\n%s", page.status, want, page.body)
		}
	}
	r, codes := b.generateBackupCodes()
	if r.status != http.StatusOK || len(codes) != 10 {
		t.Fatalf("generate: %d with %d codes, want 200 with 10:\n%s", r.status, len(codes), r.body)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("page showing the codes: Cache-Control %q, want %q", got, "no-store")
	}
	if !strings.Contains(r.body, "only time they are shown") {
		t.Error("page showing the codes does not say they are shown once")
	}
	if c := slices.Compact(slices.Sorted(slices.Values(codes))); len(c) != 10 {
		t.Errorf("codes %q: want 10 different ones", codes)
	}
	stored := backupHashes(t, e, alice)
	if len(stored) != 10 {
		t.Fatalf("directory holds %d values, want 10", len(stored))
	}
	for _, h := range stored {
		if !strings.HasPrefix(h, "$2a$") {
			t.Errorf("directory holds %q, want only bcrypt hashes", h)
		}
	}
	if got := b.get("/otpgate/backup-codes").body; !strings.Contains(got, "You have <strong>10</strong> unused backup codes") {
		t.Errorf("backup-codes page after generating does not count 10 codes:\n%s", got)
	}

	// Another sign-in, with a backup code instead of the SMS code.
	b = e.browser()
	if r := b.password(alice.Username, alice.Password, "/report"); r.status != http.StatusSeeOther || r.location != "/otpgate/code" {
		t.Fatalf("password step: %d to %q", r.status, r.location)
	}
	if page := b.get("/otpgate/code"); !strings.Contains(page.body, `href="/otpgate/backup"`) {
		t.Errorf("code page lacks the link to use a backup code:\n%s", page.body)
	}
	form := b.get("/otpgate/backup")
	for _, want := range []string{`name="backup_code"`, `autocomplete="off"`, `<label for="backup_code">`} {
		if form.status != http.StatusOK || !strings.Contains(form.body, want) {
			t.Errorf("backup page: %d, want 200 with %q:\n%s", form.status, want, form.body)
		}
	}
	r = b.backupCode(strings.ToLower(codes[4])) // as people type it
	if r.status != http.StatusSeeOther || r.location != "/report" {
		t.Fatalf("right backup code: %d to %q, want 303 to /report:\n%s", r.status, r.location, r.body)
	}
	seen := b.appSaw("/report")
	if got := headerValues(seen, "Remote-Auth-Level"); !slices.Equal(got, []string{"2"}) {
		t.Errorf("Remote-Auth-Level %q, want [2]", got)
	}
	if got := headerValues(seen, "Remote-User"); !slices.Equal(got, []string{"alice"}) {
		t.Errorf("Remote-User %q, want [alice]", got)
	}
	if n := len(backupHashes(t, e, alice)); n != 9 {
		t.Errorf("directory holds %d hashes after one use, want 9", n)
	}

	// The same code again, in a new sign-in: wrong, and it costs a try.
	b = e.browser()
	b.password(alice.Username, alice.Password, "/")
	r = b.backupCode(codes[4])
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "2 tries left") {
		t.Fatalf("used backup code: %d, want 401 with 2 tries left:\n%s", r.status, r.body)
	}
	if n := len(backupHashes(t, e, alice)); n != 9 {
		t.Errorf("directory holds %d hashes after a reuse, want 9", n)
	}

	logs := e.logs.String()
	for _, c := range codes {
		if strings.Contains(logs, c) || strings.Contains(logs, strings.ReplaceAll(c, "-", "")) {
			t.Errorf("the log contains the backup code %q", c)
		}
	}
	for _, event := range []string{"backup codes generated", "sign-in: backup code ok", "sign-in: backup code wrong"} {
		if !strings.Contains(logs, event) {
			t.Errorf("the log lacks %q", event)
		}
	}
}

// Backup codes and SMS codes share the tries of a sign-in (3 by default).
func TestBackupCodesShareTries(t *testing.T) {
	e := startBackupEnv(t)
	alice := slapdtest.Alice
	b := e.browser()
	b.password(alice.Username, alice.Password, "/")
	sms := e.sms.lastCode(alice.Mobile)
	for i, want := range []string{"2 tries left", "1 try left"} {
		if r := b.backupCode("2222-2222"); r.status != http.StatusUnauthorized || !strings.Contains(r.body, want) {
			t.Fatalf("wrong backup code %d: %d, want 401 with %q:\n%s", i+1, r.status, want, r.body)
		}
	}
	if r := b.code(otherCode(sms)); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "no more tries are allowed") {
		t.Fatalf("wrong SMS code after 2 wrong backup codes: %d, want the sign-in ended:\n%s", r.status, r.body)
	}
	if r := b.code(sms); r.status == http.StatusSeeOther {
		t.Fatal("the right SMS code worked after the tries ran out")
	}
}

func TestBackupCodesNeedTwoFactorSession(t *testing.T) {
	// Staff sign in with the password alone; Bob is staff, with no mobile.
	e := startBackupEnv(t, func(c *Config) { c.Auth.Otp.ExemptGroups = []string{"staff"} })
	bob := slapdtest.Bob
	anonymous := e.browser()
	oneFactor := e.browser()
	if r := oneFactor.password(bob.Username, bob.Password, "/"); r.status != http.StatusSeeOther || r.location != "/" {
		t.Fatalf("bob's password: %d to %q, want a one-factor sign-in", r.status, r.location)
	}
	for _, tc := range []struct {
		name       string
		b          *browser
		method     string
		wantStatus int
		want       string // in the body, or the Location for a redirect
	}{
		{"anonymous GET", anonymous, "GET", http.StatusSeeOther, "/otpgate/signin?rd=%2Fotpgate%2Fbackup-codes"},
		{"anonymous POST", anonymous, "POST", http.StatusSeeOther, "/otpgate/signin?rd=%2Fotpgate%2Fbackup-codes"},
		{"one factor GET", oneFactor, "GET", http.StatusForbidden, "A two-factor sign-in is needed"},
		{"one factor POST", oneFactor, "POST", http.StatusForbidden, "A two-factor sign-in is needed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r response
			var codes []string
			if tc.method == "GET" {
				r = tc.b.get("/otpgate/backup-codes")
			} else {
				r, codes = tc.b.generateBackupCodes()
			}
			got := r.body
			if r.status == http.StatusSeeOther {
				got = r.location
			}
			if r.status != tc.wantStatus || !strings.Contains(got, tc.want) || len(codes) != 0 {
				t.Errorf("%s /otpgate/backup-codes: %d, %d codes, %q; want %d with %q and no codes",
					tc.method, r.status, len(codes), got, tc.wantStatus, tc.want)
			}
		})
	}
	if got := backupHashes(t, e, bob); len(got) != 0 {
		t.Errorf("bob's entry holds %d hashes, want none", len(got))
	}
}

func TestBackupCodesOff(t *testing.T) {
	e := startEnv(t) // OTPGATE_BACKUP_CODES defaults to false
	alice := slapdtest.Alice
	signedIn := e.browser()
	signedIn.signIn(alice, "/")
	pending := e.browser()
	pending.password(alice.Username, alice.Password, "/")
	if page := pending.get("/otpgate/code"); strings.Contains(page.body, "/otpgate/backup") {
		t.Errorf("code page offers backup codes while they are off:\n%s", page.body)
	}
	for _, tc := range []struct {
		name string
		b    *browser
		send func(*browser) response
	}{
		{"GET backup-codes", signedIn, func(b *browser) response { return b.get("/otpgate/backup-codes") }},
		{"POST backup-codes", signedIn, func(b *browser) response { r, _ := b.generateBackupCodes(); return r }},
		{"GET backup", pending, func(b *browser) response { return b.get("/otpgate/backup") }},
		{"POST backup", pending, func(b *browser) response { return b.backupCode("2222-2222") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := tc.send(tc.b); r.status != http.StatusNotFound || !strings.Contains(html.UnescapeString(r.body), "Page not found") {
				t.Errorf("got %d, want 404 Page not found:\n%s", r.status, r.body)
			}
		})
	}
	// The 404 did not count as a try: all three are left for the SMS code.
	if r := pending.code(otherCode(e.sms.lastCode(alice.Mobile))); !strings.Contains(r.body, "2 tries left") {
		t.Errorf("wrong SMS code after the 404s: %d, want 2 tries left:\n%s", r.status, r.body)
	}
}

// Without a pending sign-in there is nothing a backup code could finish.
func TestBackupCodeWithoutSignIn(t *testing.T) {
	e := startBackupEnv(t)
	b := e.browser()
	for _, r := range []response{b.get("/otpgate/backup"), b.backupCode("2222-2222")} {
		if r.status != http.StatusGone || !strings.Contains(r.body, "Sign-in expired") {
			t.Errorf("got %d, want 410 Sign-in expired:\n%s", r.status, r.body)
		}
	}
}

// Parallel submissions of one right backup code (a double click, a client
// retrying, or many at once): exactly one signs in, the others are told the
// code was just used, only that code is spent, and nothing counts as a
// wrong try, so the user is not locked out (5 failures lock by default).
func TestBackupCodeParallelSubmissions(t *testing.T) {
	for _, parallel := range []int{2, 4, 10} {
		t.Run(fmt.Sprint(parallel), func(t *testing.T) {
			e := startBackupEnv(t)
			alice := slapdtest.Alice
			maker := e.browser()
			maker.signIn(alice, "/")
			_, codes := maker.generateBackupCodes()
			if len(codes) != 10 {
				t.Fatalf("generated %d codes, want 10", len(codes))
			}

			b := e.browser()
			if r := b.password(alice.Username, alice.Password, "/report"); r.location != "/otpgate/code" {
				t.Fatalf("password step: %d to %q", r.status, r.location)
			}
			tok := b.csrf("/otpgate/backup")
			responses := make([]response, parallel)
			var wg sync.WaitGroup
			for i := range parallel {
				wg.Go(func() {
					responses[i] = b.do("POST", "/otpgate/backup", url.Values{"csrf": {tok}, "backup_code": {codes[3]}})
				})
			}
			wg.Wait()
			var signedIn, justUsed int
			for _, r := range responses {
				switch {
				case r.status == http.StatusSeeOther && r.location == "/report":
					signedIn++
				case r.status == http.StatusConflict && strings.Contains(r.body, "This backup code was just used") &&
					strings.Contains(r.body, `href="/otpgate/signin?rd=%2Freport"`):
					justUsed++
				default:
					t.Errorf("got %d to %q, want 303 to /report or 409 just used:\n%s", r.status, r.location, r.body)
				}
			}
			if signedIn != 1 || justUsed != parallel-1 {
				t.Fatalf("%d signed in and %d told just used, want 1 and %d", signedIn, justUsed, parallel-1)
			}
			if got := headerValues(b.appSaw("/report"), "Remote-User"); !slices.Equal(got, []string{"alice"}) {
				t.Errorf("Remote-User %q, want [alice]", got)
			}
			if n := len(backupHashes(t, e, alice)); n != 9 {
				t.Errorf("directory holds %d hashes, want 9: exactly one code spent", n)
			}
			// Nothing counted as wrong: 4 wrong passwords leave alice one
			// short of the lockout (5), so her next sign-in gets its code;
			// three SMS in all, the maker's, the backup sign-in's and that.
			for i := range 4 {
				if r := e.browser().password(alice.Username, "wrong", "/"); r.status != http.StatusUnauthorized {
					t.Fatalf("wrong password %d: %d, want 401 (not locked):\n%s", i+1, r.status, r.body)
				}
			}
			next := e.browser()
			if r := next.password(alice.Username, alice.Password, "/"); r.status != http.StatusSeeOther || r.location != "/otpgate/code" {
				t.Fatalf("next sign-in: %d to %q, want 303 to /otpgate/code:\n%s", r.status, r.location, r.body)
			}
			if msgs := e.sms.sent(); len(msgs) != 3 {
				t.Fatalf("%d SMS sent, want 3", len(msgs))
			}
		})
	}
}
