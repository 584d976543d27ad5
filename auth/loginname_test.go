package auth

import (
	"errors"
	"testing"
)

func TestLoginName(t *testing.T) {
	d, err := NewLDAP(LDAPConfig{URL: "ldaps://dc.example.test", BindDN: "cn=svc,dc=example,dc=test", BindPassword: "x",
		BaseDN: "dc=example,dc=test", UserFilter: "(sAMAccountName={username})",
		NetBIOSDomains: []string{"EXAMPLE"}, UPNSuffixes: []string{"example.test", "corp.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		typed, want string
		refused     bool
	}{
		{`EXAMPLE\alice`, "alice", false},
		{`example\Alice`, "Alice", false},
		{"alice@example.test", "alice", false},
		{"alice@CORP.example.test", "alice", false},
		{" alice ", "alice", false},
		{"alice@other.test", "alice@other.test", false}, // searched as typed
		{"a@b@example.test", "a@b", false},
		{`OTHER\alice`, `OTHER\alice`, true},
		{`EXAMPLE\`, `EXAMPLE\`, true},
	} {
		got, err := d.loginName(c.typed)
		if got != c.want || (err != nil) != c.refused {
			t.Errorf("loginName(%q) = %q, %v; want %q, refused %v", c.typed, got, err, c.want, c.refused)
		}
		if err != nil && !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("loginName(%q): %v, want ErrInvalidCredentials", c.typed, err)
		}
	}
	// Without NetBIOS domains, a backslash is part of the name.
	plain, _ := NewLDAP(LDAPConfig{URL: "ldap://h", BindDN: "cn=s", BindPassword: "x", BaseDN: "dc=x", UserFilter: "(uid={username})"})
	if got, err := plain.loginName(`EXAMPLE\alice`); got != `EXAMPLE\alice` || err != nil {
		t.Errorf("without domains: %q, %v", got, err)
	}
	if _, err := NewLDAP(LDAPConfig{URL: "ldap://h", BindDN: "cn=s", BindPassword: "x", BaseDN: "dc=x", UserFilter: "(uid={username})",
		NetBIOSDomains: []string{`EX\AMPLE`}, UPNSuffixes: []string{"@example.test"}}); err == nil {
		t.Error("a domain with a backslash and a suffix with @ were accepted")
	}
}

func TestADAccountState(t *testing.T) {
	for msg, want := range map[string]AccountState{
		"80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 533, v1db1": AccountDisabled,
		"80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 773, v1db1": PasswordMustChange,
		"80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 532, v1db1": PasswordExpired,
		"80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 701, v1db1": AccountExpired,
		"80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 775, v1db1": AccountLockedInDir,
		"80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1": accountStateUnknown,
		"invalid credentials": accountStateUnknown,
	} {
		if got := adAccountState(msg); got != want {
			t.Errorf("adAccountState(%q) = %q, want %q", msg, got, want)
		}
	}
}
