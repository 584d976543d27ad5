package auth

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth/slapdtest"
	"github.com/otpgate/otpgate/internal/testserver"
)

// proxiedLDAP is a directory reaching s through a counting TCP proxy.
func proxiedLDAP(t *testing.T, s *slapdtest.Server, edit func(*LDAPConfig)) (*LDAP, *testserver.TCPProxy) {
	t.Helper()
	p := testserver.StartTCPProxy(t, s.URL[len("ldap://"):])
	cfg := ldapConfigFor(s)
	cfg.URL = "ldap://" + p.Addr
	if edit != nil {
		edit(&cfg)
	}
	return newTestLDAP(t, cfg), p
}

// signIn signs u in and checks that the directory returned them as seeded.
func signIn(t *testing.T, d *LDAP, u slapdtest.User) {
	t.Helper()
	got, err := d.Authenticate(t.Context(), u.Username, u.Password)
	checkAuth(t, got, err, seeded(u), nil, u.Password)
}

// TestLDAPPoolReusesConnections counts the connections slapd is sent: one
// bound as the service account and one for user binds serve every
// sign-in, Ping and write made one after another; concurrent ones open no
// more than the pool's size of each kind.
func TestLDAPPoolReusesConnections(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.WithServiceMobileWrite(), slapdtest.WithSelfMobileWrite())
	users := []slapdtest.User{slapdtest.Alice, slapdtest.Bob}

	t.Run("one after another", func(t *testing.T) {
		d, p := proxiedLDAP(t, s, nil)
		for i := range 20 {
			signIn(t, d, users[i%len(users)])
			// A wrong password is the server's answer: the connection
			// stays.
			got, err := d.Authenticate(t.Context(), "alice", "wrong-password")
			checkAuth(t, got, err, User{}, ErrInvalidCredentials, "wrong-password")
		}
		if err := d.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		// Carol's number, written and read by no other part of the test.
		if err := d.SetMobile(t.Context(), slapdtest.Carol.DN, "+15550100099", BindService, ""); err != nil {
			t.Fatalf("SetMobile as service: %v", err)
		}
		if err := d.SetMobile(t.Context(), slapdtest.Carol.DN, "+15550100098", BindUser, slapdtest.Carol.Password); err != nil {
			t.Fatalf("SetMobile as user: %v", err)
		}
		if got, want := p.Accepted(), 2; got != want {
			t.Errorf("got %d connections for 40 password checks, a Ping and two writes, want %d", got, want)
		}
		if got, want := p.Open(), 2; got != want {
			t.Errorf("got %d connections open after use, want %d kept", got, want)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		const size, workers, each = 3, 12, 8
		d, p := proxiedLDAP(t, s, func(c *LDAPConfig) { c.PoolSize = size })
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					u := users[(w+i)%len(users)]
					got, err := d.Authenticate(t.Context(), u.Username, u.Password)
					if err != nil || got.DN != u.DN {
						t.Errorf("%s: got %+v, %v", u.Username, got, err)
					}
					if got, want := p.Open(), 2*size; got > want {
						t.Errorf("%d connections open, want at most %d", got, want)
					}
				}
			})
		}
		wg.Wait()
		if got, want := p.Accepted(), 2*size; got > want {
			t.Errorf("got %d connections for %d sign-ins, want at most %d", got, workers*each, want)
		}
	})
}

// TestLDAPPoolUserBindNeverSearches checks that a connection bound as a
// user never serves the service's searches: slapd lets only the service
// account read mobile numbers and see other users' entries, so a search on
// the last user's connection would find no mobile, or no one. One
// connection of each kind makes each sign-in reuse the last one's.
func TestLDAPPoolUserBindNeverSearches(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.WithExtraACL(fmt.Sprintf(
		"access to attrs=mobile\n by dn.exact=%q read\n by * none", slapdtest.ServiceDN)))
	d, p := proxiedLDAP(t, s, func(c *LDAPConfig) { c.PoolSize = 1 })
	for _, u := range []slapdtest.User{slapdtest.Alice, slapdtest.Bob, slapdtest.Alice, slapdtest.Carol, slapdtest.Alice, slapdtest.Alice} {
		signIn(t, d, u)
	}
	if got, want := p.Accepted(), 2; got != want {
		t.Errorf("got %d connections, want %d (one of each kind, reused)", got, want)
	}
}

// TestLDAPPoolStaleConnections checks that kept connections the directory
// no longer has are replaced without the caller seeing an error: after a
// restart of slapd (which closes them), and when each request on them is
// met with a reset (a firewall that forgot them), for every kind of call.
// A connection whose request timed out is not kept.
func TestLDAPPoolStaleConnections(t *testing.T) {
	t.Parallel()
	alice := slapdtest.Alice

	t.Run("slapd restarted", func(t *testing.T) {
		t.Parallel()
		s := slapdtest.Start(t)
		d := newTestLDAP(t, ldapConfigFor(s))
		signIn(t, d, alice)
		s.Restart()
		signIn(t, d, alice)
		s.Restart()
		if err := d.Ping(t.Context()); err != nil {
			t.Errorf("Ping after restart: %v", err)
		}
	})

	t.Run("forgotten by a firewall", func(t *testing.T) {
		t.Parallel()
		s := slapdtest.Start(t, slapdtest.WithServiceMobileWrite(), slapdtest.WithSelfMobileWrite())
		d, p := proxiedLDAP(t, s, nil)
		for _, c := range []struct {
			name string
			call func() error
		}{
			{"Authenticate", func() error { _, err := d.Authenticate(t.Context(), alice.Username, alice.Password); return err }},
			{"Ping", func() error { return d.Ping(t.Context()) }},
			{"SetMobile as service", func() error { return d.SetMobile(t.Context(), alice.DN, alice.Mobile, BindService, "") }},
			{"SetMobile as user", func() error { return d.SetMobile(t.Context(), alice.DN, alice.Mobile, BindUser, alice.Password) }},
		} {
			// The first sign-in keeps a connection of each kind; the call
			// then meets one or both forgotten.
			signIn(t, d, alice)
			before := p.Accepted()
			p.ForgetAll()
			if err := c.call(); err != nil {
				t.Errorf("%s on forgotten connections: %v, want success", c.name, err)
			}
			if p.Accepted() == before {
				t.Errorf("%s: no new connection, so no forgotten one was met", c.name)
			}
		}
	})

	t.Run("request timed out", func(t *testing.T) {
		t.Parallel()
		s := slapdtest.Start(t)
		d, p := proxiedLDAP(t, s, func(c *LDAPConfig) { c.Timeout = 300 * time.Millisecond })
		signIn(t, d, alice)
		s.Pause()
		_, err := d.Authenticate(t.Context(), alice.Username, alice.Password)
		s.Resume()
		if !errors.Is(err, ErrDirectoryUnavailable) {
			t.Fatalf("while paused: got %v, want %v", err, ErrDirectoryUnavailable)
		}
		signIn(t, d, alice)
		// The service connection whose search went unanswered was closed
		// and replaced; the user-bind one was never reached.
		if got, want := p.Accepted(), 3; got != want {
			t.Errorf("got %d connections, want %d", got, want)
		}
	})
}

// TestLDAPPoolClose checks that Close closes every kept connection and
// that the directory then refuses calls as unavailable.
func TestLDAPPoolClose(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t)
	d, p := proxiedLDAP(t, s, nil)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { signIn(t, d, slapdtest.Alice) })
	}
	wg.Wait()
	if p.Open() == 0 {
		t.Fatal("no connection kept after sign-ins")
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := p.WaitOpen(0, 5*time.Second); got != 0 {
		t.Errorf("%d connections open after Close, want 0", got)
	}
	got, err := d.Authenticate(t.Context(), "alice", slapdtest.Alice.Password)
	checkAuth(t, got, err, User{}, ErrDirectoryUnavailable, slapdtest.Alice.Password)
	if err := d.Ping(t.Context()); !errors.Is(err, ErrDirectoryUnavailable) {
		t.Errorf("Ping after Close: got %v, want %v", err, ErrDirectoryUnavailable)
	}
}
