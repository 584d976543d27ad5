package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// The fakes of the flow's collaborators, for tests that need no server.

// memDirectory is a Directory in memory, with the same optional parts as
// LDAP: it saves captured numbers (MobileWriter) and keeps backup-code
// hashes (BackupCodeDirectory). A user is found by any of its names in any
// case, the way a filter such as (|(uid={username})(mail={username}))
// finds one entry by several spellings; binds are counted. Each call can
// be made to fail, as a directory that goes away does.
type memDirectory struct {
	users map[string]*memUser // by every name that finds them
	binds atomic.Int32        // password checks made

	mu sync.Mutex
	// Errors to return instead of doing the work; nil: work.
	authErr, setMobileErr, readErr, removeErr error
	// Each SetMobile that succeeded, in order.
	mobileWrites []mobileWrite
}

type memUser struct {
	User
	password string
	backup   []string // hashes of unused backup codes
}

type mobileWrite struct {
	DN, E164 string
	As       BindAs
}

var (
	_ interface {
		Directory
		MobileWriter
		BackupCodeDirectory
	} = (*memDirectory)(nil)
	// The in-memory directory stands in for this one.
	_ interface {
		Directory
		MobileWriter
		BackupCodeDirectory
	} = (*LDAP)(nil)
)

func newMemDirectory(users ...memUser) *memDirectory {
	d := &memDirectory{users: map[string]*memUser{}}
	for _, u := range users {
		u := u
		u.Groups = slices.Clone(u.Groups)
		d.users[u.Username] = &u
		if u.Email != "" {
			d.users[u.Email] = &u
		}
	}
	return d
}

func (d *memDirectory) AuthenticateWith(_ context.Context, username, password string, admit func(User) error) (User, error) {
	d.mu.Lock()
	authErr := d.authErr
	u, ok := d.users[strings.ToLower(username)]
	var found User
	if ok {
		found = u.User
	}
	d.mu.Unlock()
	if authErr != nil {
		return User{}, authErr
	}
	if !ok {
		return User{}, fmt.Errorf("%w: no entry", ErrInvalidCredentials)
	}
	if admit != nil {
		if err := admit(found); err != nil {
			return User{}, err
		}
	}
	d.binds.Add(1)
	if password != u.password {
		return User{}, fmt.Errorf("%w: wrong password", ErrInvalidCredentials)
	}
	return found, nil
}

func (d *memDirectory) Lookup(_ context.Context, user User) (User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.authErr != nil {
		return User{}, d.authErr
	}
	u, err := d.byDN(user.DN)
	if err != nil {
		return User{}, fmt.Errorf("%w: %w", ErrUserGone, err)
	}
	return u.User, nil
}

func (d *memDirectory) Ping(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.authErr
}

// byDN returns the user whose entry is dn; d.mu must be held.
func (d *memDirectory) byDN(dn string) (*memUser, error) {
	for _, u := range d.users {
		if strings.EqualFold(u.DN, dn) {
			return u, nil
		}
	}
	return nil, fmt.Errorf("%w: no entry %q", ErrDirectoryRefused, dn)
}

func (d *memDirectory) SetMobile(_ context.Context, dn, e164 string, as BindAs, password string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.setMobileErr != nil {
		return d.setMobileErr
	}
	u, err := d.byDN(dn)
	if err != nil {
		return err
	}
	if as == BindUser && password != u.password {
		return fmt.Errorf("%w: bind as %q", ErrInvalidCredentials, dn)
	}
	u.Mobile = e164
	d.mobileWrites = append(d.mobileWrites, mobileWrite{dn, e164, as})
	return nil
}

func (d *memDirectory) writes() []mobileWrite {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.mobileWrites)
}

func (d *memDirectory) BackupCodeHashes(_ context.Context, dn string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.readErr != nil {
		return nil, d.readErr
	}
	u, err := d.byDN(dn)
	if err != nil {
		return nil, err
	}
	return slices.Clone(u.backup), nil
}

func (d *memDirectory) ReplaceBackupCodes(_ context.Context, dn string, hashes []string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, err := d.byDN(dn)
	if err != nil {
		return err
	}
	u.backup = slices.Clone(hashes)
	return nil
}

// RemoveBackupCode removes hash; like LDAP's, of several removals of one
// hash exactly one succeeds and the others get ErrBackupCodeUsed.
func (d *memDirectory) RemoveBackupCode(_ context.Context, dn, hash string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.removeErr != nil {
		return d.removeErr
	}
	u, err := d.byDN(dn)
	if err != nil {
		return err
	}
	i := slices.Index(u.backup, hash)
	if i < 0 {
		return fmt.Errorf("%w: %q", ErrBackupCodeUsed, dn)
	}
	u.backup = slices.Delete(u.backup, i, i+1)
	return nil
}

// fail makes the directory's calls fail with the given errors (nil: work).
func (d *memDirectory) fail(auth, setMobile, read, remove error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.authErr, d.setMobileErr, d.readErr, d.removeErr = auth, setMobile, read, remove
}

var (
	memAlice = memUser{User: User{Username: "alice", DN: "uid=alice,ou=people,dc=example,dc=org", Email: "alice@example.org", Mobile: "+15550100006"}, password: "alice-pw"}
	memBob   = memUser{User: User{Username: "bob", DN: "uid=bob,ou=people,dc=example,dc=org", Mobile: "+15550100007"}, password: "bob-pw"}
)

// sentSMS is one message a recordingSender was given.
type sentSMS struct{ To, Msg string }

// recordingSender is an sms.Sender that keeps every message it is given,
// and fails while told to (a failed send is not kept).
type recordingSender struct {
	mu      sync.Mutex
	sent    []sentSMS
	failing bool
}

func (s *recordingSender) Send(_ context.Context, to, msg string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return errors.New("gateway answered 500")
	}
	s.sent = append(s.sent, sentSMS{to, msg})
	return nil
}

// all returns the messages sent so far.
func (s *recordingSender) all() []sentSMS {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

func (s *recordingSender) count() int { return len(s.all()) }

// code returns the last message, which is the code alone in tests whose
// Message is "{code}"; "" when none was sent.
func (s *recordingSender) code() string {
	all := s.all()
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1].Msg
}

func (s *recordingSender) fail(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = on
}

// recordingObserver keeps the results the flow reports, for metrics.
type recordingObserver struct {
	mu             sync.Mutex
	signIns, codes []string
}

func (o *recordingObserver) SignIn(r string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.signIns = append(o.signIns, r)
}

func (o *recordingObserver) CodeCheck(r string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.codes = append(o.codes, r)
}

// last returns the latest sign-in and code-check results ("" for none).
func (o *recordingObserver) last() (signIn, code string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n := len(o.signIns); n > 0 {
		signIn = o.signIns[n-1]
	}
	if n := len(o.codes); n > 0 {
		code = o.codes[n-1]
	}
	return signIn, code
}
