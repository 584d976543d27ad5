// Package authtest holds in-memory stand-ins for what auth.Flow talks to (a
// Directory, an SMS sender, a clock), so that the packages built on auth
// test their handlers without slapd or an SMS gateway. It is a normal
// package, not a _test file, so that every package's tests can use it.
package authtest

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/otpgate/otpgate/auth"
)

// User is a directory entry: the user and their password.
type User struct {
	auth.User
	Password string
	// Disabled accounts are refused at sign-in and reported by Lookup.
	Disabled bool
}

// Directory is an auth.Directory in memory, and an auth.MobileWriter. A
// user is found by their username or email, in any case, as a filter such
// as (|(uid={username})(mail={username})) would find them.
type Directory struct {
	mu      sync.Mutex
	users   map[string]*User // by every name that finds them
	down    bool             // every call fails as an unreachable directory would
	lookups int
}

// NewDirectory returns a Directory holding users.
func NewDirectory(users ...User) *Directory {
	d := &Directory{users: map[string]*User{}}
	for _, u := range users {
		d.users[strings.ToLower(u.Username)] = &u
		if u.Email != "" {
			d.users[strings.ToLower(u.Email)] = &u
		}
	}
	return d
}

// AuthenticateWith implements auth.Directory.
func (d *Directory) AuthenticateWith(_ context.Context, username, password string, admit func(auth.User) error) (auth.User, error) {
	d.mu.Lock()
	found, ok := d.users[strings.ToLower(username)]
	var u User
	if ok {
		u = *found
	}
	down := d.down
	d.mu.Unlock()
	if down {
		return auth.User{}, fmt.Errorf("%w: the test directory is down", auth.ErrDirectoryUnavailable)
	}
	if !ok || u.Disabled {
		return auth.User{}, fmt.Errorf("%w: no entry", auth.ErrInvalidCredentials)
	}
	if admit != nil {
		if err := admit(u.User); err != nil {
			return auth.User{}, err
		}
	}
	if password == "" || password != u.Password {
		return auth.User{}, fmt.Errorf("%w: wrong password", auth.ErrInvalidCredentials)
	}
	return u.User, nil
}

// Lookup implements auth.Directory: it finds the user by DN, or by
// username when they have none.
func (d *Directory) Lookup(_ context.Context, user auth.User) (auth.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lookups++
	if d.down {
		return auth.User{}, fmt.Errorf("%w: the test directory is down", auth.ErrDirectoryUnavailable)
	}
	u := d.findLocked(user)
	switch {
	case u == nil:
		return auth.User{}, fmt.Errorf("%w: no entry %q", auth.ErrUserGone, user.DN)
	case u.Disabled:
		return auth.User{}, &auth.AccountStateError{State: auth.AccountDisabled, Detail: "disabled in the test directory"}
	}
	found := u.User
	found.Groups = append([]string(nil), u.Groups...)
	return found, nil
}

// findLocked returns the entry of user, by DN or else by username; d.mu
// must be held.
func (d *Directory) findLocked(user auth.User) *User {
	for _, u := range d.users {
		if (user.DN != "" && strings.EqualFold(u.DN, user.DN)) || (user.DN == "" && strings.EqualFold(u.Username, user.Username)) {
			return u
		}
	}
	return nil
}

// Lookups returns how many times Lookup was called.
func (d *Directory) Lookups() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lookups
}

// Update changes the entry of username in place (its groups, name, e-mail,
// whether it is disabled).
func (d *Directory) Update(username string, change func(*User)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if u, ok := d.users[strings.ToLower(username)]; ok {
		change(u)
	}
}

// Remove deletes the entry of username.
func (d *Directory) Remove(username string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, u := range d.users {
		if strings.EqualFold(u.Username, username) {
			delete(d.users, name)
		}
	}
}

// SetDown makes every call fail as an unreachable directory would (true),
// or answer again (false).
func (d *Directory) SetDown(down bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down = down
}

// Ping implements auth.Directory.
func (d *Directory) Ping(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down {
		return fmt.Errorf("%w: the test directory is down", auth.ErrDirectoryUnavailable)
	}
	return nil
}

// SetMobile implements auth.MobileWriter; as whom it writes is not checked.
func (d *Directory) SetMobile(_ context.Context, dn, e164 string, _ auth.BindAs, _ string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, u := range d.users {
		if u.DN == dn {
			u.Mobile = e164
			return nil
		}
	}
	return fmt.Errorf("no entry %q", dn)
}

// SMS is one text message a Sender was given.
type SMS struct{ To, Text string }

// Sender is an sms.Sender that keeps every message instead of sending it.
type Sender struct {
	mu   sync.Mutex
	sent []SMS
}

// Send implements sms.Sender.
func (s *Sender) Send(_ context.Context, to, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, SMS{to, text})
	return nil
}

// Sent returns the messages sent so far, oldest first.
func (s *Sender) Sent() []SMS {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMS(nil), s.sent...)
}
