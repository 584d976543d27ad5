// Package auth holds otpgate's sign-in logic: the user directory, one-time
// codes, the store of pending sign-ins, sessions, and the flow that ties them
// together. It knows nothing of HTML pages or HTTP routing.
package auth

import (
	"context"
	"errors"
)

// User is what the directory says about a person who proved their password.
type User struct {
	Username string   `json:"u"`
	DN       string   `json:"dn,omitempty"`
	Name     string   `json:"n,omitempty"`
	Email    string   `json:"e,omitempty"`
	Mobile   string   `json:"m,omitempty"`
	Groups   []string `json:"g,omitempty"`
	// SecondFactorOff is set when the directory says this user signs in
	// without a code (the enable attribute is FALSE).
	SecondFactorOff bool `json:"-"`
}

// Directory checks a username and password and returns the user's attributes.
type Directory interface {
	// AuthenticateWith finds the user that username names and checks their
	// password. Between the two it calls admit (when not nil) with the user
	// found: if admit returns an error, the password is not checked and that
	// error is returned as it is. This lets a lockout keyed on the user's
	// identity hold before any bind, whatever spelling of the name found
	// them. It returns ErrInvalidCredentials for every kind of wrong
	// username or password, so callers cannot tell them apart, and an error
	// wrapping ErrDirectoryUnavailable when the directory cannot be asked.
	AuthenticateWith(ctx context.Context, username, password string, admit func(User) error) (User, error)
	// Lookup re-reads the entry of a user found before (by its DN, as the
	// service account) for sessions that follow the directory: it returns
	// the user with their current name, e-mail and groups; an error
	// wrapping ErrUserGone when the entry is no more; an
	// *AccountStateError with AccountDisabled when the directory says the
	// account is disabled; and an error wrapping ErrDirectoryUnavailable
	// when it cannot be asked.
	Lookup(ctx context.Context, user User) (User, error)
	// Ping checks that the directory answers, for readiness probes.
	Ping(ctx context.Context) error
}

var (
	// ErrInvalidCredentials covers unknown users, wrong and empty passwords,
	// and usernames that match more than one entry.
	ErrInvalidCredentials = errors.New("invalid username or password")
	// ErrDirectoryUnavailable means the directory could not be reached or
	// refused the service account; the user is not to blame.
	ErrDirectoryUnavailable = errors.New("directory unavailable")
	// ErrUserGone means a user's entry is no longer in the directory (or
	// no longer visible to the service account).
	ErrUserGone = errors.New("user no longer in the directory")
)
