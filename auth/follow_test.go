package auth_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/auth/authtest"
	"github.com/otpgate/otpgate/internal/testclock"
)

const (
	testRefresh = 5 * time.Minute
	testGrace   = 15 * time.Minute
)

var followedAlice = authtest.User{User: auth.User{Username: "alice", DN: "uid=alice,ou=people,dc=example,dc=org",
	Name: "Alice Liddell", Email: "alice@example.org", Groups: []string{"admins", "staff"}}, Password: "alice-pw"}

// followEnv is replicas of otpgate sharing one store and one directory.
type followEnv struct {
	t     *testing.T
	clock *testclock.Clock
	store *auth.MemoryStore
	dir   *authtest.Directory
}

func newFollowEnv(t *testing.T) *followEnv {
	clock := testclock.New(testclock.Start)
	return &followEnv{t: t, clock: clock, store: auth.NewMemoryStore(clock.Now), dir: authtest.NewDirectory(followedAlice)}
}

// replica is one otpgate's sessions, with refresh (0: not following).
func (e *followEnv) replica(refresh time.Duration) *auth.Sessions {
	e.t.Helper()
	keys, err := auth.NewKeys([][]byte{bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		e.t.Fatal(err)
	}
	s, err := auth.NewSessions(keys, auth.CookieOptions{Name: "otpgate"}, auth.SessionConfig{Lifetime: 12 * time.Hour,
		Idle: 12 * time.Hour, Store: e.store, Directory: e.dir, Refresh: refresh, RefreshGrace: testGrace}, e.clock.Now)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// signIn issues a session for alice as the directory gave her at sign-in.
func (e *followEnv) signIn(s *auth.Sessions) *http.Cookie {
	e.t.Helper()
	u, err := e.dir.AuthenticateWith(context.Background(), "alice", "alice-pw", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if _, err := s.Issue(rec, u, 2); err != nil {
		e.t.Fatal(err)
	}
	return rec.Result().Cookies()[0]
}

func load(s *auth.Sessions, c *http.Cookie) (auth.Session, error) {
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(c)
	return s.Load(r)
}

// TestSessionFollowsDirectory: a change in the directory reaches a
// session within the refresh period, not before.
func TestSessionFollowsDirectory(t *testing.T) {
	tests := []struct {
		name       string
		change     func(*authtest.Directory)
		wantErr    error
		wantGroups []string
		wantName   string
	}{
		{"disabled", func(d *authtest.Directory) { d.Update("alice", func(u *authtest.User) { u.Disabled = true }) }, auth.ErrUserRefused, nil, ""},
		{"removed", func(d *authtest.Directory) { d.Remove("alice") }, auth.ErrUserRefused, nil, ""},
		{"left a group", func(d *authtest.Directory) {
			d.Update("alice", func(u *authtest.User) { u.Groups = []string{"staff"} })
		}, nil, []string{"staff"}, "Alice Liddell"},
		{"renamed", func(d *authtest.Directory) {
			d.Update("alice", func(u *authtest.User) { u.Name = "Alice Hargreaves" })
		}, nil, []string{"admins", "staff"}, "Alice Hargreaves"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFollowEnv(t)
			s := e.replica(testRefresh)
			c := e.signIn(s)
			tt.change(e.dir)
			e.clock.Advance(testRefresh - time.Second)
			sess, err := load(s, c)
			if err != nil || !slices.Equal(sess.User.Groups, followedAlice.Groups) || sess.User.Name != followedAlice.Name {
				t.Fatalf("before the refresh is due: %v, %q, groups %q; want the session as signed in", err, sess.User.Name, sess.User.Groups)
			}
			e.clock.Advance(time.Second)
			sess, err = load(s, c)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("when the refresh is due: err %v, want %v", err, tt.wantErr)
			}
			if err == nil && (!slices.Equal(sess.User.Groups, tt.wantGroups) || sess.User.Name != tt.wantName) {
				t.Errorf("when the refresh is due: name %q, groups %q; want %q, %q", sess.User.Name, sess.User.Groups, tt.wantName, tt.wantGroups)
			}
			if got := e.dir.Lookups(); got != 1 {
				t.Errorf("directory asked %d times, want 1", got)
			}
		})
	}
}

// TestSessionRefreshOncePerPeriodAcrossReplicas: what one replica learns
// from the directory serves the others, and a period's many requests ask
// it once.
func TestSessionRefreshOncePerPeriodAcrossReplicas(t *testing.T) {
	e := newFollowEnv(t)
	replicas := []*auth.Sessions{e.replica(testRefresh), e.replica(testRefresh), e.replica(testRefresh)}
	c := e.signIn(replicas[0])
	e.dir.Update("alice", func(u *authtest.User) { u.Groups = []string{"staff"} })
	for period := 1; period <= 3; period++ {
		e.clock.Advance(testRefresh)
		for range 10 {
			for i, s := range replicas {
				sess, err := load(s, c)
				if err != nil || !slices.Equal(sess.User.Groups, []string{"staff"}) {
					t.Fatalf("period %d, replica %d: %v, groups %q; want [staff]", period, i, err, sess.User.Groups)
				}
			}
			e.clock.Advance(2 * time.Second)
		}
		if got := e.dir.Lookups(); got != period {
			t.Errorf("after %d periods the directory was asked %d times, want %d", period, got, period)
		}
	}
}

// TestSessionRefreshDirectoryDown: while the directory cannot be asked,
// a session goes on with what it last said for the grace after a read was
// due, then is refused; the directory is asked again at most once per
// retry period meanwhile, and a session is accepted again once it answers.
func TestSessionRefreshDirectoryDown(t *testing.T) {
	e := newFollowEnv(t)
	s := e.replica(testRefresh)
	c := e.signIn(s)
	e.dir.Update("alice", func(u *authtest.User) { u.Groups = []string{"staff"} })
	e.clock.Advance(testRefresh)
	if sess, err := load(s, c); err != nil || !slices.Equal(sess.User.Groups, []string{"staff"}) {
		t.Fatalf("first refresh: %v, groups %q", err, sess.User.Groups)
	}
	e.dir.SetDown(true)
	e.clock.Advance(testRefresh) // due again: asked, no answer
	for elapsed := time.Duration(0); elapsed < testGrace; elapsed += 10 * time.Second {
		sess, err := load(s, c)
		if err != nil || !slices.Equal(sess.User.Groups, []string{"staff"}) {
			t.Fatalf("%v into the outage (grace %v): %v, groups %q; want the last known [staff]", elapsed, testGrace, err, sess.User.Groups)
		}
		e.clock.Advance(10 * time.Second)
	}
	// One try per 30 seconds (the retry period), not one per request.
	if got, want := e.dir.Lookups(), 1+int(testGrace/(30*time.Second)); got != want {
		t.Errorf("directory asked %d times during the outage and before, want %d", got, want)
	}
	if _, err := load(s, c); !errors.Is(err, auth.ErrSessionUnverified) {
		t.Fatalf("past the grace: err %v, want ErrSessionUnverified", err)
	}
	e.dir.SetDown(false)
	e.clock.Advance(30 * time.Second)
	if sess, err := load(s, c); err != nil || !slices.Equal(sess.User.Groups, []string{"staff"}) {
		t.Fatalf("directory back: %v, groups %q; want the session accepted", err, sess.User.Groups)
	}
}

// TestSessionSignedInAfterRefusalIsAccepted: a record that refused a user
// does not refuse a session they begin after it (re-enabled, they signed
// in again).
func TestSessionSignedInAfterRefusalIsAccepted(t *testing.T) {
	e := newFollowEnv(t)
	s := e.replica(testRefresh)
	old := e.signIn(s)
	e.dir.Update("alice", func(u *authtest.User) { u.Disabled = true })
	e.clock.Advance(testRefresh)
	if _, err := load(s, old); !errors.Is(err, auth.ErrUserRefused) {
		t.Fatalf("disabled: err %v, want ErrUserRefused", err)
	}
	e.dir.Update("alice", func(u *authtest.User) { u.Disabled = false })
	e.clock.Advance(time.Second)
	fresh := e.signIn(s)
	if _, err := load(s, fresh); err != nil {
		t.Errorf("a session begun after the refusal: %v, want accepted", err)
	}
	if _, err := load(s, old); !errors.Is(err, auth.ErrUserRefused) {
		t.Errorf("the session from before: err %v, want still ErrUserRefused", err)
	}
}

// TestSessionRefreshOff: with no refresh period the directory is never
// asked again.
func TestSessionRefreshOff(t *testing.T) {
	e := newFollowEnv(t)
	s := e.replica(0)
	c := e.signIn(s)
	e.dir.Update("alice", func(u *authtest.User) { u.Disabled = true })
	e.clock.Advance(11 * time.Hour)
	if _, err := load(s, c); err != nil {
		t.Errorf("refresh off, 11h later: %v, want the session accepted", err)
	}
	if got := e.dir.Lookups(); got != 0 {
		t.Errorf("directory asked %d times, want 0", got)
	}
}

// TestSignOutEverywhere: every session of the user, on every replica, is
// refused within a second; a later sign-in is not; another user's
// session is not touched.
func TestSignOutEverywhere(t *testing.T) {
	e := newFollowEnv(t)
	bob := authtest.User{User: auth.User{Username: "bob", DN: "uid=bob,ou=people,dc=example,dc=org"}, Password: "bob-pw"}
	e.dir = authtest.NewDirectory(followedAlice, bob)
	here, there := e.replica(testRefresh), e.replica(testRefresh)
	phone, laptop := e.signIn(here), e.signIn(there)
	rec := httptest.NewRecorder()
	if _, err := here.Issue(rec, bob.User, 2); err != nil {
		t.Fatal(err)
	}
	bobs := rec.Result().Cookies()[0]
	for _, c := range []*http.Cookie{phone, laptop, bobs} {
		if _, err := load(there, c); err != nil {
			t.Fatalf("before: %v", err)
		}
	}
	e.clock.Advance(time.Minute)
	if _, err := load(there, laptop); err != nil { // there has just read the store
		t.Fatalf("a minute on: %v", err)
	}
	if err := here.SignOutEverywhere(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := load(here, laptop); !errors.Is(err, auth.ErrSessionRevoked) {
		t.Errorf("the replica that signed out, at once: err %v, want ErrSessionRevoked", err)
	}
	e.clock.Advance(time.Second)
	for name, c := range map[string]*http.Cookie{"phone": phone, "laptop": laptop} {
		if _, err := load(there, c); !errors.Is(err, auth.ErrSessionRevoked) {
			t.Errorf("another replica, a second later, %s: err %v, want ErrSessionRevoked", name, err)
		}
	}
	if _, err := load(there, bobs); err != nil {
		t.Errorf("bob's session: %v, want untouched", err)
	}
	fresh := e.signIn(there)
	if _, err := load(here, fresh); err != nil {
		t.Errorf("a sign-in a second after: %v, want accepted", err)
	}
}

// TestSignOutEverywhereByName: the record is found whatever the letter
// case of the name given (as an administrator types it).
func TestSignOutEverywhereByName(t *testing.T) {
	e := newFollowEnv(t)
	s := e.replica(0)
	c := e.signIn(s)
	if err := auth.SignOutEverywhere(context.Background(), e.store, "ALICE", e.clock.Now(), 12*time.Hour); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	if _, err := load(s, c); !errors.Is(err, auth.ErrSessionRevoked) {
		t.Errorf("err %v, want ErrSessionRevoked", err)
	}
	if err := auth.SignOutEverywhere(context.Background(), e.store, " ", e.clock.Now(), time.Hour); err == nil {
		t.Error("an empty name was accepted")
	}
}
