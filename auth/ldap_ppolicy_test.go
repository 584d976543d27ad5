package auth

import (
	"context"
	"errors"
	"testing"

	"github.com/otpgate/otpgate/auth/slapdtest"
)

// TestLDAPPasswordPolicy signs in against slapd with the ppolicy overlay:
// the account states it tells in the password policy response control are
// AccountStateErrors, no wrong passwords; a wrong password stays
// ErrInvalidCredentials, but for a locked account, which ppolicy tells
// whatever the password (as AD does).
func TestLDAPPasswordPolicy(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.WithPasswordPolicy())
	d := newTestLDAP(t, ldapConfigFor(s))
	ctx := context.Background()
	for _, c := range []struct {
		u        slapdtest.User
		password string
		want     AccountState // accountStateUnknown: ErrInvalidCredentials
		unproven bool         // told as a wrong password: slapd says it whatever the password
	}{
		{slapdtest.Ed, slapdtest.Ed.Password, PasswordExpired, false},
		{slapdtest.Lola, slapdtest.Lola.Password, AccountLockedInDir, true},
		{slapdtest.Mike, slapdtest.Mike.Password, PasswordMustChange, false},
		{slapdtest.Ed, "wrong-password", accountStateUnknown, false},
		{slapdtest.Mike, "wrong-password", accountStateUnknown, false},
		{slapdtest.Lola, "wrong-password", AccountLockedInDir, true},
		{slapdtest.Alice, "wrong-password", accountStateUnknown, false},
	} {
		_, err := d.Authenticate(ctx, c.u.Username, c.password)
		var se *AccountStateError
		var ue *UnprovenStateError
		switch {
		case c.unproven:
			if !errors.As(err, &ue) || ue.State != c.want || !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("%s with %q: %v, want an UnprovenStateError %q, read as a wrong password", c.u.Username, c.password, err, c.want)
			}
		case c.want == accountStateUnknown:
			if !errors.Is(err, ErrInvalidCredentials) || errors.As(err, &se) {
				t.Errorf("%s with %q: %v, want ErrInvalidCredentials", c.u.Username, c.password, err)
			}
		case !errors.As(err, &se) || se.State != c.want:
			t.Errorf("%s with %q: %v, want an AccountStateError %q", c.u.Username, c.password, err, c.want)
		case errors.Is(err, ErrInvalidCredentials) || !errors.Is(err, ErrAccountUnusable):
			t.Errorf("%s with %q: %v is a wrong password, or not ErrAccountUnusable", c.u.Username, c.password, err)
		default:
			t.Logf("%s: %v", c.u.Username, err)
		}
	}
	// The right password of a user in no such state still signs in.
	if u, err := d.Authenticate(ctx, slapdtest.Alice.Username, slapdtest.Alice.Password); err != nil || u.DN != slapdtest.Alice.DN {
		t.Errorf("alice: %+v, %v", u, err)
	}
	// Mike's write of his mobile, as himself, is refused the same way:
	// his bind may only change the password.
	err := d.SetMobile(ctx, slapdtest.Mike.DN, "+15550100099", BindUser, slapdtest.Mike.Password)
	if se := (*AccountStateError)(nil); !errors.As(err, &se) || se.State != PasswordMustChange {
		t.Errorf("mike's mobile write as himself: %v, want PasswordMustChange", err)
	}
}
