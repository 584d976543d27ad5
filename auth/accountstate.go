package auth

import (
	"errors"
	"regexp"
)

// AccountState is why a directory refused a right password.
type AccountState string

// The account states Active Directory tells apart. AD gives them only for
// the right password (a wrong one is "data 52e"), except AccountLocked,
// which it gives whatever the password.
const (
	AccountDisabled     AccountState = "disabled"         // data 533
	PasswordMustChange  AccountState = "must_change"      // data 773
	PasswordExpired     AccountState = "password_expired" // data 532
	AccountExpired      AccountState = "account_expired"  // data 701
	AccountLockedInDir  AccountState = "locked"           // data 775
	accountStateUnknown AccountState = ""
)

// ErrAccountUnusable is wrapped by every *AccountStateError.
var ErrAccountUnusable = errors.New("the directory refuses this account")

// AccountStateError says the directory refused the user's bind for the
// account's state, not for the password. It is no wrong password: it does
// not count towards the lockout.
type AccountStateError struct {
	State AccountState
	// Detail is the directory's answer, for logs.
	Detail string
	// ChangeURL is where the user changes their password
	// (FlowConfig.PasswordChangeURL), for PasswordExpired and
	// PasswordMustChange; "" when not set.
	ChangeURL string
}

func (e *AccountStateError) Error() string {
	return "account " + string(e.State) + ": " + e.Detail
}

func (e *AccountStateError) Unwrap() error { return ErrAccountUnusable }

// adDataCode finds the sub-code of AD's bind errors, e.g. "80090308:
// LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 533,
// v1db1".
var adDataCode = regexp.MustCompile(`\bdata ([0-9a-fA-F]{1,8})\b`)

// adAccountState reads the account state from an AD bind error message.
func adAccountState(msg string) AccountState {
	m := adDataCode.FindStringSubmatch(msg)
	if m == nil {
		return accountStateUnknown
	}
	switch m[1] {
	case "533":
		return AccountDisabled
	case "773":
		return PasswordMustChange
	case "532":
		return PasswordExpired
	case "701":
		return AccountExpired
	case "775":
		return AccountLockedInDir
	}
	return accountStateUnknown
}

// UnprovenStateError says the directory's own data shows the account
// disabled or locked, so its password was not tried: no bind was made,
// which would only add to AD's count of wrong passwords. As the password
// was not proven, whoever typed it is told no more than for a wrong
// password: it wraps ErrInvalidCredentials. It does not count towards
// otpgate's lockout.
type UnprovenStateError struct {
	State  AccountState // AccountDisabled or AccountLockedInDir
	Detail string       // what the directory's data says, for logs
}

func (e *UnprovenStateError) Error() string {
	return "account " + string(e.State) + " in the directory, password not tried: " + e.Detail
}

func (e *UnprovenStateError) Unwrap() error { return ErrInvalidCredentials }
