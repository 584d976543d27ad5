package auth

// Groups as Active Directory keeps them, against a real Samba DC
// (auth/sambatest): the primary group, nested groups, a name with a comma.

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth/sambatest"
)

// adConfig is the README's AD configuration for dc.
func adConfig(t *testing.T, dc *sambatest.DC) LDAPConfig {
	t.Helper()
	pem, err := os.ReadFile(dc.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return LDAPConfig{
		URL: dc.URL, TLSConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		BindDN: dc.BindDN, BindPassword: dc.BindPassword, BaseDN: dc.BaseDN,
		UserFilter: sambatest.UserFilter, UsernameAttribute: "sAMAccountName",
		GroupAttribute: "memberOf", Timeout: 5 * time.Second,
	}
}

// groupsOf signs u in and returns their groups.
func groupsOf(t *testing.T, cfg LDAPConfig, u sambatest.User) []string {
	t.Helper()
	got, err := newTestLDAP(t, cfg).Authenticate(t.Context(), u.Username, u.Password)
	if err != nil {
		t.Fatalf("%s: %v", u.Username, err)
	}
	return got.Groups
}

func sortedWith(groups []string, more ...string) []string {
	out := append(slices.Clone(groups), more...)
	slices.Sort(out)
	return out
}

// TestADGroups checks, against one DC, that memberOf gives the direct
// groups (a comma in a name kept), that PrimaryGroup adds Domain Users,
// and that the README's nested-group filter adds the groups a user is in
// through another group, which memberOf and a plain member filter leave
// out.
func TestADGroups(t *testing.T) {
	dc := sambatest.Start(t)
	alice, bob, carol := sambatest.Alice, sambatest.Bob, sambatest.Carol
	parent := sambatest.NestedGroups["Sales, EMEA"]

	t.Run("memberOf: direct groups only", func(t *testing.T) {
		cfg := adConfig(t, dc)
		for _, u := range []sambatest.User{alice, bob, carol} {
			if got := groupsOf(t, cfg, u); !slices.Equal(got, u.Groups) {
				t.Errorf("%s: groups %q, want %q", u.Username, got, u.Groups)
			}
		}
	})
	t.Run("primary group on", func(t *testing.T) {
		cfg := adConfig(t, dc)
		cfg.PrimaryGroup = true
		for _, u := range []sambatest.User{alice, bob} {
			want := sortedWith(u.Groups, sambatest.PrimaryGroup)
			if got := groupsOf(t, cfg, u); !slices.Equal(got, want) {
				t.Errorf("%s: groups %q, want %q", u.Username, got, want)
			}
		}
	})
	t.Run("primary group on, base DN below the domain", func(t *testing.T) {
		// Domain Users is in CN=Users; a base DN elsewhere does not hide it.
		cfg := adConfig(t, dc)
		cfg.PrimaryGroup = true
		cfg.BaseDN = sambatest.UsersDN
		want := sortedWith(alice.Groups, sambatest.PrimaryGroup)
		if got := groupsOf(t, cfg, alice); !slices.Equal(got, want) {
			t.Errorf("alice: groups %q, want %q", got, want)
		}
	})
	t.Run("nested groups with the in-chain filter", func(t *testing.T) {
		cfg := adConfig(t, dc)
		cfg.GroupBaseDN = dc.BaseDN
		cfg.GroupFilter = "(member:1.2.840.113556.1.4.1941:={dn})"
		want := sortedWith(carol.Groups, parent)
		if got := groupsOf(t, cfg, carol); !slices.Equal(got, want) {
			t.Errorf("carol: groups %q, want %q", got, want)
		}
		// The same filter without memberOf finds the direct groups too.
		cfg.GroupAttribute = ""
		if got := groupsOf(t, cfg, carol); !slices.Equal(got, want) {
			t.Errorf("carol, no memberOf: groups %q, want %q", got, want)
		}
	})
	t.Run("nested groups not found by a plain member filter", func(t *testing.T) {
		cfg := adConfig(t, dc)
		cfg.GroupBaseDN = dc.BaseDN
		cfg.GroupFilter = "(member={dn})"
		if got := groupsOf(t, cfg, carol); !slices.Equal(got, carol.Groups) {
			t.Errorf("carol: groups %q, want only the direct ones %q", got, carol.Groups)
		}
	})
}

func TestSiblingSID(t *testing.T) {
	// S-1-5-21-1-2-3-1104
	user := []byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0x50, 0x04, 0, 0}
	got, ok := siblingSID(user, 513)
	want := append(slices.Clone(user[:24]), 0x01, 0x02, 0, 0) // RID 513
	if !ok || !slices.Equal(got, want) {
		t.Errorf("siblingSID(..., 513) = %v, %v; want %v", got, ok, want)
	}
	if user[24] != 0x50 {
		t.Error("siblingSID changed the user's SID")
	}
	for _, bad := range [][]byte{nil, {1, 5, 0, 0}, user[:27], append(slices.Clone(user), 0), {2, 1, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0}} {
		if _, ok := siblingSID(bad, 513); ok {
			t.Errorf("siblingSID(%v) accepted a malformed SID", bad)
		}
	}
}

func TestDomainOf(t *testing.T) {
	for dn, want := range map[string]string{
		`CN=Alice,CN=Users,DC=example,DC=test`: "dc=example,dc=test",
		`CN=a\,b,OU=x,dc=Example,dc=com`:       "dc=Example,dc=com",
		`uid=alice,ou=people,o=example`:        "",
		`not a dn`:                             "",
	} {
		if got := domainOf(dn); got != want {
			t.Errorf("domainOf(%q) = %q, want %q", dn, got, want)
		}
	}
}
