package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/otpgate/otpgate/auth/slapdtest"
)

// attrValues reads an attribute of dn as the root DN, which bypasses the
// ACLs, to see what the directory really holds.
func attrValues(t *testing.T, s *slapdtest.Server, dn, attr string) []string {
	t.Helper()
	res, err := s.Conn(t).Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{attr}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("reading %s of %s: %v", attr, dn, err)
	}
	v := res.Entries[0].GetEqualFoldAttributeValues(attr)
	if len(v) == 0 {
		return nil // go-ldap gives an empty slice; nil compares as "none"
	}
	slices.Sort(v)
	return v
}

// setAttr sets (or, with no values, removes) an attribute as the root DN.
func setAttr(t *testing.T, s *slapdtest.Server, dn, attr string, values ...string) {
	t.Helper()
	req := ldap.NewModifyRequest(dn, nil)
	req.Replace(attr, values)
	if err := s.Conn(t).Modify(req); err != nil {
		t.Fatalf("setting %s of %s: %v", attr, dn, err)
	}
}

func TestLDAPSetMobile(t *testing.T) {
	t.Parallel()
	servers := map[string]*slapdtest.Server{
		"default ACL":   slapdtest.Start(t),
		"service write": slapdtest.Start(t, slapdtest.WithServiceMobileWrite()),
		"self write":    slapdtest.Start(t, slapdtest.WithSelfMobileWrite()),
	}
	alice, bob := slapdtest.Alice, slapdtest.Bob
	const newMobile = "+447700900456"

	for _, tc := range []struct {
		name, server string
		user         slapdtest.User
		dn           string // default: user.DN
		e164         string // default: newMobile
		as           BindAs
		password     string
		wantErr      error // nil: the write must happen
		wantAnyErr   bool  // an error that is none of ours (caller's mistake)
	}{
		{name: "service, allowed", server: "service write", user: alice, as: BindService},
		{name: "service, gives bob a first number", server: "service write", user: bob, as: BindService},
		{name: "service, default ACL refuses", server: "default ACL", user: alice, as: BindService, wantErr: ErrDirectoryRefused},
		{name: "service, self-write ACL refuses", server: "self write", user: alice, as: BindService, wantErr: ErrDirectoryRefused},
		{name: "user, self write", server: "self write", user: alice, as: BindUser, password: alice.Password},
		{name: "user, default ACL refuses", server: "default ACL", user: alice, as: BindUser, password: alice.Password,
			wantErr: ErrDirectoryRefused},
		{name: "user, wrong password", server: "self write", user: alice, as: BindUser, password: "alice-secret-2",
			wantErr: ErrInvalidCredentials},
		{name: "user, someone else's password", server: "self write", user: alice, as: BindUser, password: bob.Password,
			wantErr: ErrInvalidCredentials},
		{name: "user, empty password", server: "self write", user: alice, as: BindUser, wantErr: ErrInvalidCredentials},
		{name: "not E.164", server: "service write", user: alice, e164: "07700 900456", as: BindService, wantErr: ErrInvalidMobile},
		{name: "not a mobile", server: "service write", user: alice, e164: "+442079460018", as: BindService, wantErr: ErrInvalidMobile},
		{name: "empty DN", server: "service write", user: alice, dn: "-", as: BindService, wantAnyErr: true},
		{name: "DN outside the base", server: "service write", user: alice, dn: slapdtest.ServiceDN, as: BindService, wantAnyErr: true},
		{name: "not a DN", server: "service write", user: alice, dn: "alice", as: BindService, wantAnyErr: true},
		{name: "unknown BindAs", server: "service write", user: alice, as: 0, wantAnyErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := servers[tc.server]
			cfg := ldapConfigFor(s)
			cfg.BaseDN = slapdtest.PeopleDN
			d := newTestLDAP(t, cfg)
			dn, e164 := tc.user.DN, tc.e164
			switch tc.dn {
			case "":
			case "-":
				dn = ""
			default:
				dn = tc.dn
			}
			if e164 == "" {
				e164 = newMobile
			}
			// Each case starts from the seeded number.
			if tc.user.Mobile != "" {
				setAttr(t, s, tc.user.DN, "mobile", tc.user.Mobile)
			} else {
				setAttr(t, s, tc.user.DN, "mobile")
			}

			err := d.SetMobile(t.Context(), dn, e164, tc.as, tc.password)
			want := []string{newMobile}
			switch {
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			case tc.wantAnyErr && err == nil:
				t.Fatal("got no error, want one")
			case tc.wantErr == nil && !tc.wantAnyErr && err != nil:
				t.Fatalf("got %v, want success", err)
			case err != nil:
				// Refused means the directory answered: it is not
				// "unavailable", which would make the user wait and retry.
				if errors.Is(err, ErrDirectoryUnavailable) {
					t.Errorf("got %v, which wraps %v too", err, ErrDirectoryUnavailable)
				}
				if tc.password != "" && strings.Contains(err.Error(), tc.password) {
					t.Errorf("error %q contains the password", err)
				}
				want = nil
				if tc.user.Mobile != "" {
					want = []string{tc.user.Mobile}
				}
			}
			if got := attrValues(t, s, tc.user.DN, "mobile"); !slices.Equal(got, want) {
				t.Errorf("mobile in the directory: got %q, want %q", got, want)
			}
			if err != nil {
				return
			}
			// The next sign-in reads the new number.
			u, err := d.Authenticate(t.Context(), tc.user.Username, tc.user.Password)
			if err != nil {
				t.Fatalf("Authenticate after SetMobile: %v", err)
			}
			if u.Mobile != newMobile {
				t.Errorf("Authenticate after SetMobile: got mobile %q, want %q", u.Mobile, newMobile)
			}
		})
	}

	t.Run("other mobile attribute", func(t *testing.T) {
		s := servers["service write"]
		setAttr(t, s, alice.DN, "mobile", alice.Mobile)
		cfg := ldapConfigFor(s)
		cfg.MobileAttribute = "telephoneNumber"
		err := newTestLDAP(t, cfg).SetMobile(t.Context(), alice.DN, newMobile, BindService, "")
		if !errors.Is(err, ErrDirectoryRefused) {
			t.Fatalf("writing telephoneNumber with only mobile writable: got %v, want %v", err, ErrDirectoryRefused)
		}
		if got, want := attrValues(t, s, alice.DN, "mobile"), []string{alice.Mobile}; !slices.Equal(got, want) {
			t.Errorf("mobile: got %q, want %q", got, want)
		}
	})
}

// cheapHashes returns n bcrypt hashes at the lowest cost: the directory
// only stores and compares them as strings, so real codes would just make
// the tests slower.
func cheapHashes(t *testing.T, n int) []string {
	t.Helper()
	hashes := make([]string, n)
	for i := range hashes {
		h, err := bcrypt.GenerateFromPassword(fmt.Appendf(nil, "code-%d", i), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		hashes[i] = string(h)
	}
	slices.Sort(hashes)
	return hashes
}

func without(list []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return slices.Contains(drop, s) })
}

func TestLDAPBackupCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		attr string
		opts []slapdtest.Option
	}{
		// What operators are told to do.
		{"otpgate schema", BackupCodeAttribute, []slapdtest.Option{slapdtest.WithSchema(BackupCodeSchema),
			slapdtest.WithUserObjectClass(BackupCodeObjectClass), slapdtest.WithServiceWrite(BackupCodeAttribute)}},
		// The alternative without a schema change.
		{"description", "description", []slapdtest.Option{slapdtest.WithServiceWrite("description")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := slapdtest.Start(t, tc.opts...)
			cfg := ldapConfigFor(s)
			cfg.BackupCodesAttribute = tc.attr
			d := newTestLDAP(t, cfg)
			ctx := t.Context()
			dn := slapdtest.Alice.DN
			hashes := cheapHashes(t, 10)
			read := func(t *testing.T, want []string) {
				t.Helper()
				got, err := d.BackupCodeHashes(ctx, dn)
				if err != nil {
					t.Fatalf("BackupCodeHashes: %v", err)
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("BackupCodeHashes: got %q, want %q", got, want)
				}
			}

			if !d.BackupCodesEnabled() {
				t.Fatal("BackupCodesEnabled: got false, want true")
			}
			read(t, nil)
			if err := d.ReplaceBackupCodes(ctx, dn, hashes); err != nil {
				t.Fatalf("ReplaceBackupCodes: %v", err)
			}
			read(t, hashes)

			if err := d.RemoveBackupCode(ctx, dn, hashes[3]); err != nil {
				t.Fatalf("RemoveBackupCode: %v", err)
			}
			read(t, without(hashes, hashes[3]))
			for _, h := range []string{hashes[3], cheapHashes(t, 11)[10]} {
				if err := d.RemoveBackupCode(ctx, dn, h); !errors.Is(err, ErrBackupCodeUsed) {
					t.Errorf("RemoveBackupCode of a value not stored: got %v, want %v", err, ErrBackupCodeUsed)
				}
			}

			// Take-once: of simultaneous removals of one code, exactly one
			// succeeds.
			const racers = 8
			errs := make([]error, racers)
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() { errs[i] = d.RemoveBackupCode(ctx, dn, hashes[5]) })
			}
			wg.Wait()
			var won int
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, ErrBackupCodeUsed):
					t.Errorf("concurrent RemoveBackupCode: got %v, want nil or %v", err, ErrBackupCodeUsed)
				}
			}
			if won != 1 {
				t.Errorf("concurrent RemoveBackupCode: %d of %d succeeded, want exactly 1", won, racers)
			}
			read(t, without(hashes, hashes[3], hashes[5]))

			// A new set replaces the old one whole.
			fresh := cheapHashes(t, 12)[10:]
			if err := d.ReplaceBackupCodes(ctx, dn, fresh); err != nil {
				t.Fatalf("ReplaceBackupCodes: %v", err)
			}
			read(t, fresh)
			if got := attrValues(t, s, dn, tc.attr); !slices.Equal(got, fresh) {
				t.Errorf("in the directory: got %q, want %q", got, fresh)
			}
			// No hashes removes them all, also when there are none.
			for range 2 {
				if err := d.ReplaceBackupCodes(ctx, dn, nil); err != nil {
					t.Fatalf("ReplaceBackupCodes(nil): %v", err)
				}
				read(t, nil)
			}
			// Other users are untouched.
			if got := attrValues(t, s, slapdtest.Bob.DN, tc.attr); got != nil {
				t.Errorf("bob's %s: got %q, want none", tc.attr, got)
			}
		})
	}
}

// The whole flow with real codes: generate, store, match what the user
// types, take it once.
func TestLDAPBackupCodesFlow(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.WithSchema(BackupCodeSchema),
		slapdtest.WithUserObjectClass(BackupCodeObjectClass), slapdtest.WithServiceWrite(BackupCodeAttribute))
	cfg := ldapConfigFor(s)
	cfg.BackupCodesAttribute = BackupCodeAttribute
	d := newTestLDAP(t, cfg)
	ctx, dn := t.Context(), slapdtest.Carol.DN

	codes, err := NewBackupCodes(3)
	if err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for _, c := range codes {
		h, err := HashBackupCode(c)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h)
	}
	if err := d.ReplaceBackupCodes(ctx, dn, hashes); err != nil {
		t.Fatalf("ReplaceBackupCodes: %v", err)
	}
	typed := strings.ToLower(strings.ReplaceAll(codes[1], "-", " "))
	for i, want := range []error{nil, ErrBackupCodeUsed} {
		stored, err := d.BackupCodeHashes(ctx, dn)
		if err != nil {
			t.Fatalf("BackupCodeHashes: %v", err)
		}
		h, ok := MatchBackupCode(typed, stored)
		if i == 1 {
			// The second time, the code is gone from the directory.
			if ok {
				t.Fatalf("used code matched again")
			}
			h = hashes[1]
		} else if !ok || h != hashes[1] {
			t.Fatalf("MatchBackupCode: got %q, %v; want %q", h, ok, hashes[1])
		}
		if err := d.RemoveBackupCode(ctx, dn, h); !errors.Is(err, want) {
			t.Errorf("RemoveBackupCode, use %d: got %v, want %v", i+1, err, want)
		}
	}
}

// What operators see when the directory is not set up for backup codes,
// and what callers see for their own mistakes (no I/O for those).
func TestLDAPBackupCodesRefused(t *testing.T) {
	t.Parallel()
	noWrite := slapdtest.Start(t, slapdtest.WithSchema(BackupCodeSchema), slapdtest.WithUserObjectClass(BackupCodeObjectClass))
	noClass := slapdtest.Start(t, slapdtest.WithSchema(BackupCodeSchema), slapdtest.WithServiceWrite(BackupCodeAttribute))
	hashes := cheapHashes(t, 2)
	alice := slapdtest.Alice.DN
	replace := func(hs ...string) func(*LDAP, string) error {
		return func(d *LDAP, dn string) error { return d.ReplaceBackupCodes(t.Context(), dn, hs) }
	}
	remove := func(h string) func(*LDAP, string) error {
		return func(d *LDAP, dn string) error { return d.RemoveBackupCode(t.Context(), dn, h) }
	}
	read := func(d *LDAP, dn string) error { _, err := d.BackupCodeHashes(t.Context(), dn); return err }

	for _, tc := range []struct {
		name    string
		s       *slapdtest.Server
		attr    string
		dn      string
		call    func(*LDAP, string) error
		wantErr error // nil: any error that is not ErrDirectory*
	}{
		{"replace, service may not write", noWrite, BackupCodeAttribute, alice, replace(hashes...), ErrDirectoryRefused},
		{"remove, service may not write", noWrite, BackupCodeAttribute, alice, remove(hashes[0]), ErrDirectoryRefused},
		{"replace, entry lacks the object class", noClass, BackupCodeAttribute, alice, replace(hashes...), ErrDirectoryRefused},
		{"replace, attribute not in the schema", noWrite, "otpgateNoSuchAttribute", alice, replace(hashes...), ErrDirectoryRefused},
		{"read, entry gone", noWrite, BackupCodeAttribute, "uid=gone," + slapdtest.PeopleDN, read, ErrDirectoryRefused},
		{"replace, entry gone", noClass, BackupCodeAttribute, "uid=gone," + slapdtest.PeopleDN, replace(hashes...), ErrDirectoryRefused},
		{"feature off: read", noWrite, "", alice, read, errors.ErrUnsupported},
		{"feature off: replace", noWrite, "", alice, replace(hashes...), errors.ErrUnsupported},
		{"feature off: remove", noWrite, "", alice, remove(hashes[0]), errors.ErrUnsupported},
		{"empty DN: read", noWrite, BackupCodeAttribute, "", read, nil},
		{"empty DN: replace", noWrite, BackupCodeAttribute, "", replace(hashes...), nil},
		{"empty DN: remove", noWrite, BackupCodeAttribute, "", remove(hashes[0]), nil},
		{"DN outside the base", noWrite, BackupCodeAttribute, slapdtest.ServiceDN, read, nil},
		{"plain code", noClass, BackupCodeAttribute, alice, replace("7KQ4-M2XD"), nil},
		{"empty value", noClass, BackupCodeAttribute, alice, replace(hashes[0], ""), nil},
		{"repeated hash", noClass, BackupCodeAttribute, alice, replace(hashes[0], hashes[1], hashes[0]), nil},
		{"remove empty hash", noClass, BackupCodeAttribute, alice, remove(""), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ldapConfigFor(tc.s)
			cfg.BaseDN = slapdtest.PeopleDN
			cfg.BackupCodesAttribute = tc.attr
			err := tc.call(newTestLDAP(t, cfg), tc.dn)
			switch {
			case err == nil:
				t.Fatal("got no error, want one")
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			case tc.wantErr == nil && (errors.Is(err, ErrDirectoryRefused) || errors.Is(err, ErrDirectoryUnavailable)):
				t.Fatalf("got %v, want the request refused before reaching the directory", err)
			case errors.Is(err, ErrDirectoryUnavailable):
				t.Errorf("got %v, which wraps %v too", err, ErrDirectoryUnavailable)
			}
			if strings.Contains(err.Error(), "7KQ4") {
				t.Errorf("error %q contains the code", err)
			}
		})
	}
	for _, s := range []*slapdtest.Server{noWrite, noClass} {
		if got := attrValues(t, s, alice, BackupCodeAttribute); got != nil {
			t.Errorf("after refused writes: got %q, want nothing stored", got)
		}
	}
}

func TestLDAPWritesDirectoryDown(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.WithSchema(BackupCodeSchema), slapdtest.WithUserObjectClass(BackupCodeObjectClass),
		slapdtest.WithServiceWrite(BackupCodeAttribute, "mobile"))
	cfg := ldapConfigFor(s)
	cfg.BackupCodesAttribute = BackupCodeAttribute
	d := newTestLDAP(t, cfg)
	alice := slapdtest.Alice
	hashes := cheapHashes(t, 2)
	if err := d.ReplaceBackupCodes(t.Context(), alice.DN, hashes); err != nil {
		t.Fatalf("before Stop: %v", err)
	}
	calls := []struct {
		name string
		call func(context.Context) error
	}{
		{"SetMobile as service", func(ctx context.Context) error {
			return d.SetMobile(ctx, alice.DN, "+447700900456", BindService, "")
		}},
		{"SetMobile as user", func(ctx context.Context) error {
			return d.SetMobile(ctx, alice.DN, "+447700900456", BindUser, alice.Password)
		}},
		{"BackupCodeHashes", func(ctx context.Context) error { _, err := d.BackupCodeHashes(ctx, alice.DN); return err }},
		{"ReplaceBackupCodes", func(ctx context.Context) error { return d.ReplaceBackupCodes(ctx, alice.DN, hashes[:1]) }},
		{"RemoveBackupCode", func(ctx context.Context) error { return d.RemoveBackupCode(ctx, alice.DN, hashes[0]) }},
	}

	t.Run("context cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for _, c := range calls {
			err := c.call(ctx)
			if !errors.Is(err, ErrDirectoryUnavailable) || !errors.Is(err, context.Canceled) {
				t.Errorf("%s: got %v, want %v wrapping %v", c.name, err, ErrDirectoryUnavailable, context.Canceled)
			}
		}
	})

	s.Stop()
	t.Run("stopped", func(t *testing.T) {
		for _, c := range calls {
			err := c.call(t.Context())
			if !errors.Is(err, ErrDirectoryUnavailable) {
				t.Errorf("%s: got %v, want %v", c.name, err, ErrDirectoryUnavailable)
			}
			if errors.Is(err, ErrDirectoryRefused) || errors.Is(err, ErrBackupCodeUsed) {
				t.Errorf("%s: got %v, which also claims the directory answered", c.name, err)
			}
			if strings.Contains(err.Error(), alice.Password) {
				t.Errorf("%s: error %q contains the password", c.name, err)
			}
		}
	})

	// Nothing was written while the directory was away.
	s.Restart()
	if got := attrValues(t, s, alice.DN, BackupCodeAttribute); !slices.Equal(got, hashes) {
		t.Errorf("after restart: got %q, want %q", got, hashes)
	}
	if got, want := attrValues(t, s, alice.DN, "mobile"), []string{alice.Mobile}; !slices.Equal(got, want) {
		t.Errorf("mobile after restart: got %q, want %q", got, want)
	}
}
