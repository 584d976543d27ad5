package slapdtest

import (
	"net"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// ppolicyBind binds as dn with the password policy request control and
// returns the policy error slapd answered with (-1: none) and the bind's
// error.
func ppolicyBind(t *testing.T, s *Server, dn, password string) (int8, error) {
	t.Helper()
	conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}))
	if err != nil {
		t.Fatalf("dial %s: %v", s.URL, err)
	}
	defer conn.Close()
	conn.SetTimeout(2 * time.Second)
	res, err := conn.SimpleBind(&ldap.SimpleBindRequest{Username: dn, Password: password,
		Controls: []ldap.Control{ldap.NewControlBeheraPasswordPolicy()}})
	if res == nil {
		t.Fatalf("bind as %s: no result: %v", dn, err)
	}
	c, _ := ldap.FindControl(res.Controls, ldap.ControlTypeBeheraPasswordPolicy).(*ldap.ControlBeheraPasswordPolicy)
	if c == nil {
		return -1, err
	}
	return c.Error, err
}

// TestSlapdPasswordPolicy checks the states WithPasswordPolicy seeds, as
// slapd tells them in the password policy response control.
func TestSlapdPasswordPolicy(t *testing.T) {
	s := Start(t, WithPasswordPolicy())
	for _, c := range []struct {
		u        User
		password string
		want     int8
		ok       bool
	}{
		{Alice, Alice.Password, -1, true},
		{Alice, "wrong", -1, false},
		{Ed, Ed.Password, ldap.BeheraPasswordExpired, false},
		{Ed, "wrong", -1, false},
		{Lola, Lola.Password, ldap.BeheraAccountLocked, false},
		{Lola, "wrong", ldap.BeheraAccountLocked, false},
		// The bind succeeds, but the connection may only change the
		// password.
		{Mike, Mike.Password, ldap.BeheraChangeAfterReset, true},
		{Mike, "wrong", -1, false},
	} {
		got, err := ppolicyBind(t, s, c.u.DN, c.password)
		if got != c.want || (err == nil) != c.ok {
			t.Errorf("%s with %q: policy error %d, bind error %v; want %d, success %v",
				c.u.Username, c.password, got, err, c.want, c.ok)
		}
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			t.Errorf("%s with %q: %v, want invalidCredentials", c.u.Username, c.password, err)
		}
	}
	// pwdMaxFailure wrong binds lock an account.
	for range PolicyMaxFailure {
		ppolicyBind(t, s, Bob.DN, "wrong")
	}
	if got, _ := ppolicyBind(t, s, Bob.DN, Bob.Password); got != ldap.BeheraAccountLocked {
		t.Errorf("bob after %d wrong binds: policy error %d, want accountLocked", PolicyMaxFailure, got)
	}
}
