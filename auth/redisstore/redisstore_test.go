package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/auth/redistest"
	"github.com/otpgate/otpgate/auth/storetest"
	"github.com/otpgate/otpgate/internal/testclock"
)

// options reach srv as its ACL user, under prefix.
func options(t *testing.T, srv *redistest.Server, prefix string) Options {
	t.Helper()
	env := Settings{Store: "redis", Redis: RedisSettings{URL: srv.URL, Username: redistest.Username, Password: redistest.Password,
		CAFile: srv.CAFile, CertFile: srv.CertFile, KeyFile: srv.KeyFile, KeyPrefix: prefix, Timeout: 2 * time.Second}}
	o, problems := env.Validate("OTPGATE_")
	if len(problems) > 0 {
		t.Fatalf("settings: %v", problems)
	}
	return o
}

func newStore(t *testing.T, o Options) *Store {
	t.Helper()
	s, err := New(o, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestRedisStore(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int32
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		// One server for every case; the key prefix keeps them apart.
		s := newStore(t, options(t, srv, fmt.Sprintf("case%d:", n.Add(1))))
		clock := testclock.New(testclock.Start)
		s.now = clock.Now
		return storetest.Harness{Store: s, Now: clock.Now, Advance: clock.Advance, Wait: time.Sleep}
	})
}

func TestRedisStoreOverTLSWithAClientCertificate(t *testing.T) {
	srv := redistest.Start(t, redistest.WithTLS())
	s := newStore(t, options(t, srv, "tls:"))
	ctx := context.Background()
	if err := s.Put(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "k"); err != nil || string(got) != "v" {
		t.Fatalf("Get over TLS = %q, %v; want %q", got, err, "v")
	}
	o := options(t, srv, "tls:")
	o.TLS = o.TLS.Clone()
	o.TLS.Certificates = nil
	if _, err := New(o, nil); err == nil {
		t.Fatal("New without the client certificate the server requires: no error")
	}
}

func TestRedisStoreUsesTheKeyPrefix(t *testing.T) {
	srv := redistest.Start(t)
	a := newStore(t, options(t, srv, "site-a:"))
	b := newStore(t, options(t, srv, "site-b:"))
	ctx := context.Background()
	if err := a.Put(ctx, "revoked:1", []byte("a"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, _ := srv.Do("GET", "site-a:revoked:1"); got != "a" {
		t.Fatalf("GET site-a:revoked:1 = %q, want %q", got, "a")
	}
	if _, err := b.Get(ctx, "revoked:1"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("another prefix's Get = %v, want ErrNotFound", err)
	}
}

func TestRedisStoreKeysExpire(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, options(t, srv, "ttl:"))
	ctx := context.Background()
	_ = s.Put(ctx, "p", []byte("v"), time.Hour)
	_, _ = s.Incr(ctx, "c", time.Hour)
	_, _ = s.WindowAdd(ctx, "w", 3, time.Hour)
	for _, k := range []string{"ttl:p", "ttl:c", "ttl:w"} {
		pttl, err := srv.Do("PTTL", k)
		if err != nil {
			t.Fatal(err)
		}
		var ms int64
		if _, err := fmt.Sscan(pttl, &ms); err != nil || ms <= 0 || ms > time.Hour.Milliseconds() {
			t.Errorf("PTTL %s = %q, want within an hour", k, pttl)
		}
	}
}

func TestRedisStoreWindowsUseRedisTime(t *testing.T) {
	// Without an injected clock the script reads TIME: the oldest event
	// is now by Redis's clock.
	srv := redistest.Start(t)
	s := newStore(t, options(t, srv, "time:"))
	before := time.Now().Add(-time.Second)
	r, err := s.WindowAdd(context.Background(), "w", 2, time.Minute)
	if err != nil || !r.Added {
		t.Fatalf("WindowAdd = %+v, %v", r, err)
	}
	if after := time.Now().Add(time.Second); r.Oldest.Before(before) || r.Oldest.After(after) {
		t.Fatalf("Oldest = %v, want about now (%v to %v)", r.Oldest, before, after)
	}
}

// TestRedisStoreCachesAbsentKeysAndRedisInvalidatesThem: a sign-out
// written by one replica reaches another's cached Get by Redis's
// invalidation, with no round trip by the reader before it.
func TestRedisStoreCachesAbsentKeysAndRedisInvalidatesThem(t *testing.T) {
	srv := redistest.Start(t)
	a := newStore(t, options(t, srv, "inv:"))
	b := newStore(t, options(t, srv, "inv:"))
	ctx := context.Background()
	for i := range 3 {
		if _, err := b.Get(ctx, "revoked:s1"); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("Get %d = %v, want ErrNotFound", i, err)
		}
	}
	if got := b.cacheHits.Load(); got != 2 {
		t.Fatalf("cache hits after three Gets of an absent key = %d, want 2 (the nil reply cached)", got)
	}
	if err := a.Put(ctx, "revoked:s1", []byte{1}, time.Minute); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		hits := b.cacheHits.Load()
		_, err := b.Get(ctx, "revoked:s1")
		if err == nil {
			if b.cacheHits.Load() != hits {
				t.Fatal("the revocation came from the cache: it was never stale, so the test proves nothing")
			}
			break
		}
		if !errors.Is(err, auth.ErrNotFound) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("another client's revocation not seen within a second")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The value is cached in turn, and so is its removal.
	if _, err := b.Get(ctx, "revoked:s1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, "revoked:s1"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(time.Second)
	for {
		if _, err := b.Get(ctx, "revoked:s1"); errors.Is(err, auth.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("another client's Delete not seen within a second")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRedisStoreFailsWhileRedisIsDownAndRecovers: no call answers from a
// cache while Redis is gone, and the same Store works again once it is back.
func TestRedisStoreFailsWhileRedisIsDownAndRecovers(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, options(t, srv, "down:"))
	ctx := context.Background()
	if _, err := s.Get(ctx, "revoked:x"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatal(err)
	}
	srv.Stop()
	// The cache answers while its connection stands (the README's rule):
	// the calls below are judged from the moment the store has noticed
	// that Redis is gone, which a closed connection tells it at once.
	noticed := time.Now().Add(5 * time.Second)
	for s.Ping(ctx) == nil {
		if time.Now().After(noticed) {
			t.Fatal("the store did not notice within 5s that Redis stopped")
		}
		time.Sleep(10 * time.Millisecond)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, "revoked:x"); return err }},
		{"Put", func() error { return s.Put(ctx, "k", []byte("v"), time.Minute) }},
		{"Take", func() error { _, err := s.Take(ctx, "k"); return err }},
		{"Incr", func() error { _, err := s.Incr(ctx, "c", time.Minute); return err }},
		{"WindowAdd", func() error { _, err := s.WindowAdd(ctx, "w", 1, time.Minute); return err }},
		{"Ping", func() error { return s.Ping(ctx) }},
	}
	for _, c := range calls {
		if err := c.call(); err == nil || errors.Is(err, auth.ErrNotFound) {
			t.Errorf("%s with Redis down = %v, want an error other than ErrNotFound", c.name, err)
		}
	}
	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for s.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the store did not reconnect within 10s of Redis's return")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range calls[1:] {
		if err := c.call(); err != nil {
			t.Errorf("%s after Redis returned: %v", c.name, err)
		}
	}
}

func TestRedisStoreStartsBeforeRedisAndConnectsLater(t *testing.T) {
	srv := redistest.Start(t)
	o := options(t, srv, "late:")
	srv.Stop()
	s, err := New(o, nil)
	if err == nil {
		t.Fatal("New with Redis down: no error to log")
	}
	t.Cleanup(s.Close)
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("Ping with Redis down: nil")
	}
	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for s.Ping(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the store did not connect within 10s of Redis's start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRedisStoreKeepsWhatRedisPersistedAcrossACrash(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, options(t, srv, "crash:"))
	ctx := context.Background()
	_ = s.Put(ctx, "pending:1", []byte("sign-in"), time.Hour)
	for range 3 {
		_, _ = s.Incr(ctx, "fail:alice", time.Hour)
	}
	_, _ = s.WindowAdd(ctx, "sms:alice", 5, time.Hour)
	srv.Kill()
	srv.Restart()
	fresh := newStore(t, options(t, srv, "crash:"))
	if got, err := fresh.Get(ctx, "pending:1"); err != nil || string(got) != "sign-in" {
		t.Errorf("Get after a crash = %q, %v; want %q", got, err, "sign-in")
	}
	if n, err := fresh.Incr(ctx, "fail:alice", time.Hour); err != nil || n != 4 {
		t.Errorf("Incr after a crash = %d, %v; want 4", n, err)
	}
	if r, err := fresh.WindowAdd(ctx, "sms:alice", 5, time.Hour); err != nil || r.Count != 2 {
		t.Errorf("WindowAdd after a crash = %+v, %v; want Count 2", r, err)
	}
}
