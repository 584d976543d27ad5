package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"github.com/otpgate/otpgate/internal/setting"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth/slapdtest"
)

// twinLDIF adds a second "twin" uid in another branch, so the user filter
// matches two entries.
const twinLDIF = `
dn: uid=twin,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: twin
cn: Twin One
sn: One
userPassword: twin-secret-1

dn: uid=twin,ou=services,dc=example,dc=org
objectClass: inetOrgPerson
uid: twin
cn: Twin Two
sn: Two
userPassword: twin-secret-1

dn: uid=dave,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: dave
cn: Dave
sn: Dave
# " +15550100007 " with its spaces
mobile:: ICsxNTU1MDEwMDAwNyA=
userPassword: dave-secret-1
`

func ldapConfigFor(s *slapdtest.Server) LDAPConfig {
	return LDAPConfig{
		URL:            s.URL,
		BindDN:         s.BindDN,
		BindPassword:   s.BindPassword,
		BaseDN:         s.BaseDN,
		UserFilter:     slapdtest.UserFilter,
		GroupAttribute: "memberOf",
		Timeout:        3 * time.Second,
	}
}

func newTestLDAP(t testing.TB, cfg LDAPConfig) *LDAP {
	t.Helper()
	d, err := NewLDAP(cfg)
	if err != nil {
		t.Fatalf("NewLDAP: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func seeded(u slapdtest.User) User {
	return User{Username: u.Username, DN: u.DN, Name: u.Name, Email: u.Email, Mobile: u.Mobile, Groups: u.Groups}
}

func equalUser(a, b User) bool {
	return a.Username == b.Username && a.DN == b.DN && a.Name == b.Name && a.Email == b.Email &&
		a.Mobile == b.Mobile && slices.Equal(a.Groups, b.Groups)
}

// checkAuth compares Authenticate's result with want (a user, or an error
// that err must match).
func checkAuth(t *testing.T, got User, err error, want User, wantErr error, password string) {
	t.Helper()
	if wantErr != nil {
		if !errors.Is(err, wantErr) {
			t.Fatalf("got error %v, want %v", err, wantErr)
		}
		if !equalUser(got, User{}) {
			t.Errorf("got user %+v with the error, want none", got)
		}
		if password != "" && strings.Contains(err.Error(), password) {
			t.Errorf("error %q contains the password", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("got error %v, want user %q", err, want.Username)
	}
	if !equalUser(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestLDAPAuthenticate(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.WithLDIF(twinLDIF))
	d := newTestLDAP(t, ldapConfigFor(s))
	alice := slapdtest.Alice

	for _, tc := range []struct {
		name, username, password string
		want                     User
		wantErr                  error
	}{
		{name: "alice", username: "alice", password: alice.Password, want: seeded(alice)},
		{name: "bob has no mobile", username: "bob", password: slapdtest.Bob.Password, want: seeded(slapdtest.Bob)},
		{name: "carol has no groups", username: "carol", password: slapdtest.Carol.Password, want: seeded(slapdtest.Carol)},
		{name: "username case follows the directory", username: "ALICE", password: alice.Password, want: seeded(alice)},
		{name: "mobile is trimmed", username: "dave", password: "dave-secret-1",
			want: User{Username: "dave", DN: "uid=dave," + slapdtest.PeopleDN, Name: "Dave", Mobile: "+15550100007"}},
		{name: "wrong password", username: "alice", password: "alice-secret-2", wantErr: ErrInvalidCredentials},
		{name: "someone else's password", username: "alice", password: slapdtest.Bob.Password, wantErr: ErrInvalidCredentials},
		{name: "empty password", username: "alice", password: "", wantErr: ErrInvalidCredentials},
		{name: "unknown user", username: "mallory", password: alice.Password, wantErr: ErrInvalidCredentials},
		{name: "empty username", username: "", password: alice.Password, wantErr: ErrInvalidCredentials},
		{name: "blank username", username: " \t", password: alice.Password, wantErr: ErrInvalidCredentials},
		{name: "long username", username: strings.Repeat("a", 257), password: alice.Password, wantErr: ErrInvalidCredentials},
		{name: "not UTF-8", username: "alice\xff", password: alice.Password, wantErr: ErrInvalidCredentials},
		{name: "two entries match", username: "twin", password: "twin-secret-1", wantErr: ErrInvalidCredentials},
		// Each would find alice (or everyone) if it reached the filter
		// unescaped.
		{name: "star", username: "*", password: alice.Password, wantErr: ErrInvalidCredentials},
		{name: "prefix star", username: "ali*", password: alice.Password, wantErr: ErrInvalidCredentials},
		{name: "injected or", username: ")(uid=*", password: alice.Password, wantErr: ErrInvalidCredentials},
		{name: "injected alice", username: "alice)(|(uid=*", password: alice.Password, wantErr: ErrInvalidCredentials},
		{name: "backslash", username: `\`, password: alice.Password, wantErr: ErrInvalidCredentials},
		{name: "escaped star", username: `ali\2a`, password: alice.Password, wantErr: ErrInvalidCredentials},
		{name: "NUL", username: "alice\x00", password: alice.Password, wantErr: ErrInvalidCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.Authenticate(t.Context(), tc.username, tc.password)
			checkAuth(t, got, err, tc.want, tc.wantErr, tc.password)
		})
	}

	t.Run("filter matching many", func(t *testing.T) {
		// More matches than the search's size limit: the server stops with
		// "size limit exceeded" instead of returning entries.
		cfg := ldapConfigFor(s)
		cfg.UserFilter = "(|(uid={username})(objectClass=inetOrgPerson))"
		got, err := newTestLDAP(t, cfg).Authenticate(t.Context(), "alice", alice.Password)
		checkAuth(t, got, err, User{}, ErrInvalidCredentials, alice.Password)
	})

	t.Run("wrong service password", func(t *testing.T) {
		cfg := ldapConfigFor(s)
		cfg.BindPassword = "not-the-service-secret"
		d := newTestLDAP(t, cfg)
		got, err := d.Authenticate(t.Context(), "alice", alice.Password)
		checkAuth(t, got, err, User{}, ErrDirectoryUnavailable, alice.Password)
		if err := d.Ping(t.Context()); !errors.Is(err, ErrDirectoryUnavailable) {
			t.Errorf("Ping: got %v, want %v", err, ErrDirectoryUnavailable)
		}
	})

	t.Run("wrong base DN", func(t *testing.T) {
		cfg := ldapConfigFor(s)
		cfg.BaseDN = "ou=nowhere,dc=example,dc=org"
		got, err := newTestLDAP(t, cfg).Authenticate(t.Context(), "alice", alice.Password)
		checkAuth(t, got, err, User{}, ErrDirectoryUnavailable, alice.Password)
	})

	t.Run("ping", func(t *testing.T) {
		if err := d.Ping(t.Context()); err != nil {
			t.Errorf("Ping: got %v, want nil", err)
		}
	})

	t.Run("context cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		got, err := d.Authenticate(ctx, "alice", alice.Password)
		checkAuth(t, got, err, User{}, ErrDirectoryUnavailable, alice.Password)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want it to wrap %v", err, context.Canceled)
		}
		if err := d.Ping(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Ping: got %v, want %v", err, context.Canceled)
		}
	})
}

func TestLDAPGroupSearch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		memberOf bool
	}{
		{"without memberOf", false},
		{"with memberOf too", true}, // both sources: each group once
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opts []slapdtest.Option
			if !tc.memberOf {
				opts = append(opts, slapdtest.WithoutMemberOf())
			}
			s := slapdtest.Start(t, opts...)
			cfg := ldapConfigFor(s)
			cfg.GroupBaseDN = slapdtest.GroupsDN
			cfg.GroupFilter = "(member={dn})"
			d := newTestLDAP(t, cfg)
			for _, u := range []slapdtest.User{slapdtest.Alice, slapdtest.Bob, slapdtest.Carol} {
				got, err := d.Authenticate(t.Context(), u.Username, u.Password)
				checkAuth(t, got, err, seeded(u), nil, u.Password)
			}
			// The group search happens before the password is checked, but
			// a wrong password must still fail.
			got, err := d.Authenticate(t.Context(), "alice", "wrong")
			checkAuth(t, got, err, User{}, ErrInvalidCredentials, "wrong")
		})
	}
}

func TestLDAPDirectoryDown(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t)
	cfg := ldapConfigFor(s)
	cfg.Timeout = 5 * time.Second
	d := newTestLDAP(t, cfg)
	alice := slapdtest.Alice
	ctx := t.Context()

	if _, err := d.Authenticate(ctx, "alice", alice.Password); err != nil {
		t.Fatalf("before Stop: got %v, want success", err)
	}
	s.Stop()

	start := time.Now()
	got, err := d.Authenticate(ctx, "alice", alice.Password)
	checkAuth(t, got, err, User{}, ErrDirectoryUnavailable, alice.Password)
	// Connection refused is immediate; waiting out the timeout would mean
	// the refusal was missed.
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %v, want well under the %v timeout", took, cfg.Timeout)
	}
	if err := d.Ping(ctx); !errors.Is(err, ErrDirectoryUnavailable) {
		t.Errorf("Ping after Stop: got %v, want %v", err, ErrDirectoryUnavailable)
	}
	// An empty password is refused before any I/O, so the dead directory
	// is never noticed.
	got, err = d.Authenticate(ctx, "alice", "")
	checkAuth(t, got, err, User{}, ErrInvalidCredentials, "")

	s.Restart()
	got, err = d.Authenticate(ctx, "alice", alice.Password)
	checkAuth(t, got, err, seeded(alice), nil, alice.Password)
	if err := d.Ping(ctx); err != nil {
		t.Errorf("Ping after Restart: got %v, want nil", err)
	}
}

func TestLDAPDirectoryHangs(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t)
	alice := slapdtest.Alice
	s.Pause()
	defer s.Resume()

	t.Run("request timeout", func(t *testing.T) {
		cfg := ldapConfigFor(s)
		cfg.Timeout = 300 * time.Millisecond
		d := newTestLDAP(t, cfg)
		start := time.Now()
		got, err := d.Authenticate(t.Context(), "alice", alice.Password)
		checkAuth(t, got, err, User{}, ErrDirectoryUnavailable, alice.Password)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("took %v, want about the %v timeout", took, cfg.Timeout)
		}
		start = time.Now()
		if err := d.Ping(t.Context()); !errors.Is(err, ErrDirectoryUnavailable) {
			t.Errorf("Ping: got %v, want %v", err, ErrDirectoryUnavailable)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Ping took %v, want about the %v timeout", took, cfg.Timeout)
		}
	})

	t.Run("context deadline", func(t *testing.T) {
		d := newTestLDAP(t, ldapConfigFor(s)) // 3s timeout: the context must win
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		got, err := d.Authenticate(ctx, "alice", alice.Password)
		checkAuth(t, got, err, User{}, ErrDirectoryUnavailable, alice.Password)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want it to wrap %v", err, context.DeadlineExceeded)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("took %v, want about the context's 200ms", took)
		}
	})
}

func TestLDAPTLS(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.WithTLS())
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", s.CAFile)
	}
	alice := slapdtest.Alice
	for _, tc := range []struct {
		name     string
		url      string
		startTLS bool
		tls      *tls.Config
		wantErr  error
	}{
		{name: "ldaps", url: s.LDAPSURL, tls: &tls.Config{RootCAs: roots}},
		{name: "ldaps, server name from URL", url: strings.Replace(s.LDAPSURL, "127.0.0.1", "localhost", 1),
			tls: &tls.Config{RootCAs: roots}},
		{name: "StartTLS", url: s.URL, startTLS: true, tls: &tls.Config{RootCAs: roots}},
		{name: "ldaps, unknown CA", url: s.LDAPSURL, wantErr: ErrDirectoryUnavailable},
		{name: "StartTLS, unknown CA", url: s.URL, startTLS: true, wantErr: ErrDirectoryUnavailable},
		{name: "StartTLS, wrong name", url: s.URL, startTLS: true,
			tls: &tls.Config{RootCAs: roots, ServerName: "ldap.example.org"}, wantErr: ErrDirectoryUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ldapConfigFor(s)
			cfg.URL, cfg.StartTLS, cfg.TLSConfig = tc.url, tc.startTLS, tc.tls
			d := newTestLDAP(t, cfg)
			got, err := d.Authenticate(t.Context(), "alice", alice.Password)
			want := seeded(alice)
			if tc.wantErr != nil {
				want = User{}
			}
			checkAuth(t, got, err, want, tc.wantErr, alice.Password)
			if err := d.Ping(t.Context()); !errors.Is(err, tc.wantErr) {
				t.Errorf("Ping: got %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestNewLDAPConfigErrors(t *testing.T) {
	valid := LDAPConfig{
		URL: "ldaps://ldap.example.org", BindDN: "cn=svc,dc=example,dc=org", BindPassword: "x",
		BaseDN: "dc=example,dc=org", UserFilter: "(uid={username})",
	}
	for _, tc := range []struct {
		name       string
		change     func(*LDAPConfig)
		wantFields []string
	}{
		{"valid", func(*LDAPConfig) {}, nil},
		{"valid with groups", func(c *LDAPConfig) {
			c.URL, c.StartTLS = "ldap://[::1]:1389", true
			c.GroupBaseDN, c.GroupFilter = "ou=groups,dc=example,dc=org", "(&(member={dn})(cn=*))"
			c.GroupAttribute, c.MobileAttribute = "memberOf", "telephoneNumber;x-work"
		}, nil},
		{"empty", func(c *LDAPConfig) { *c = LDAPConfig{} },
			[]string{"LDAP_URL", "LDAP_BIND_DN", "LDAP_BIND_PASSWORD", "LDAP_BASE_DN", "LDAP_USER_FILTER"}},
		{"everything wrong", func(c *LDAPConfig) {
			c.URL = "http://ldap.example.org"
			c.BindDN = "not a dn"
			c.BaseDN = "dc=example,,"
			c.UserFilter = "(uid=%s)"
			c.GroupFilter = "(member=x)"
			c.MailAttribute = "mail)"
			c.Timeout = -time.Second
		}, []string{"LDAP_URL", "LDAP_BIND_DN", "LDAP_BASE_DN", "LDAP_USER_FILTER", "LDAP_GROUP_BASE_DN", "LDAP_GROUP_FILTER", "LDAP_MAIL_ATTRIBUTE", "LDAP_TIMEOUT"}},
		{"unbalanced filters", func(c *LDAPConfig) {
			c.UserFilter = "(uid={username}"
			c.GroupBaseDN, c.GroupFilter = "dc=example,dc=org", "(member={dn}))"
		}, []string{"LDAP_USER_FILTER", "LDAP_GROUP_FILTER"}},
		{"group base without filter", func(c *LDAPConfig) { c.GroupBaseDN = "dc=example,dc=org" }, []string{"LDAP_GROUP_FILTER"}},
		{"StartTLS on ldaps", func(c *LDAPConfig) { c.StartTLS = true }, []string{"LDAP_START_TLS"}},
		{"pool", func(c *LDAPConfig) { c.PoolSize, c.PoolIdleTimeout = -1, -time.Second },
			[]string{"LDAP_POOL_SIZE", "LDAP_POOL_IDLE_TIMEOUT"}},
		{"pool too large", func(c *LDAPConfig) { c.PoolSize = 1001 }, []string{"LDAP_POOL_SIZE"}},
		{"backup codes", func(c *LDAPConfig) { c.BackupCodesAttribute = "otpgateBackupCode" }, nil},
		{"backup codes in description;x-otpgate", func(c *LDAPConfig) { c.BackupCodesAttribute = "description;x-otpgate" }, nil},
		{"backup codes attribute not a name", func(c *LDAPConfig) { c.BackupCodesAttribute = "backup codes" },
			[]string{"BACKUP_CODES_ATTRIBUTE"}},
		// Saving codes would replace every value of these.
		{"backup codes in the mobile attribute", func(c *LDAPConfig) { c.BackupCodesAttribute = "Mobile" },
			[]string{"BACKUP_CODES_ATTRIBUTE"}},
		{"backup codes in userPassword", func(c *LDAPConfig) { c.BackupCodesAttribute = "userPassword" },
			[]string{"BACKUP_CODES_ATTRIBUTE"}},
		{"backup codes in the group attribute", func(c *LDAPConfig) {
			c.GroupAttribute, c.BackupCodesAttribute = "memberOf", "memberof"
		}, []string{"BACKUP_CODES_ATTRIBUTE"}},
		{"URL with a path", func(c *LDAPConfig) { c.URL = "ldap://h/dc=example,dc=org" }, []string{"LDAP_URL"}},
		{"URL without host", func(c *LDAPConfig) { c.URL = "ldap:///" }, []string{"LDAP_URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid
			tc.change(&cfg)
			d, err := NewLDAP(cfg)
			var fields []string
			if err != nil {
				var errs []error
				if j, ok := err.(interface{ Unwrap() []error }); ok {
					errs = j.Unwrap()
				} else {
					errs = []error{err}
				}
				for _, e := range errs {
					var ce *setting.Problem
					if !errors.As(e, &ce) {
						t.Fatalf("got %T %v, want *setting.Problem", e, e)
					}
					fields = append(fields, ce.Name)
				}
			}
			if !slices.Equal(fields, tc.wantFields) {
				t.Errorf("got problems with %q, want %q (error: %v)", fields, tc.wantFields, err)
			}
			if err == nil && (d == nil || d.cfg.Timeout != defaultLDAPTimeout || d.cfg.NameAttribute != "cn") {
				t.Errorf("got %+v, want defaults filled in", d)
			}
		})
	}
}

func TestLDAPSubstitute(t *testing.T) {
	for _, tc := range []struct{ filter, username, dn, want string }{
		{"(uid={username})", "alice", "", "(uid=alice)"},
		{"(uid={username})", "*)(uid=*", "", `(uid=\2a\29\28uid=\2a)`},
		{"(uid={username})", `a\b`, "", `(uid=a\5cb)`},
		{"(uid={username})", "a\x00", "", `(uid=a\00)`},
		{"(uid={username})", "zoë", "", `(uid=zo\c3\ab)`},
		{"(member={dn})", "", "cn=a\\,b,dc=x", `(member=cn=a\5c,b,dc=x)`},
		{"(|(member={dn})(memberUid={username}))", "al", "uid=al,dc=x", "(|(member=uid=al,dc=x)(memberUid=al))"},
		// One pass: a username that spells a placeholder stays literal.
		{"(&(uid={username})(member={dn}))", "{dn}", "uid=x", "(&(uid={dn})(member=uid=x))"},
	} {
		if got := substitute(tc.filter, tc.username, tc.dn); got != tc.want {
			t.Errorf("substitute(%q, %q, %q): got %q, want %q", tc.filter, tc.username, tc.dn, got, tc.want)
		}
	}
}

func TestLDAPGroupNamesFromDNs(t *testing.T) {
	for _, tc := range []struct {
		dns  []string
		want []string
	}{
		{nil, nil},
		{[]string{"cn=staff,ou=groups,dc=example,dc=org", "CN=Domain Admins,CN=Users,DC=corp"}, []string{"staff", "Domain Admins"}},
		{[]string{`cn=R\2cD,ou=g`, `cn=a\,b+ou=x,dc=y`}, []string{"R,D", "a,b"}},
		{[]string{"not a dn", "", "cn=ok"}, []string{"ok"}},
	} {
		if got := groupNamesOf(tc.dns); !slices.Equal(got, tc.want) {
			t.Errorf("groupNamesOf(%q): got %q, want %q", tc.dns, got, tc.want)
		}
	}
}
