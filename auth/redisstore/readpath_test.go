package redisstore

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/auth/redistest"
)

// getCalls is how many GETs srv has answered.
func getCalls(t *testing.T, srv *redistest.Server) int {
	t.Helper()
	info, err := srv.Do("INFO", "commandstats")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`cmdstat_get:calls=(\d+)`).FindStringSubmatch(info)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// Every signed-in request reads a session's sign-out (absent, as a rule)
// and its user's records (present): from the client-side cache, with no
// round trip and no allocation beyond the bounded context, the key's name
// and, for a value, its copy.
func TestRedisStoreCachedGetMakesNoRoundTripAndFewAllocations(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, options(t, srv, "otpgate:"))
	ctx := context.Background()
	if _, err := srv.Do("SET", "otpgate:dirstate:alice", `{"checked":1}`); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		key     string
		want    string // "": absent
		ceiling float64
	}{
		{"revoked:s1", "", 2},
		{"dirstate:alice", `{"checked":1}`, 3},
	} {
		get := func() {
			v, err := s.Get(ctx, tt.key)
			switch {
			case tt.want == "" && !errors.Is(err, auth.ErrNotFound):
				t.Fatalf("Get %s: %q, %v; want ErrNotFound", tt.key, v, err)
			case tt.want != "" && (err != nil || string(v) != tt.want):
				t.Fatalf("Get %s: %q, %v; want %q", tt.key, v, err, tt.want)
			}
		}
		get() // cached from now on
		calls, hits := getCalls(t, srv), s.cacheHits.Load()
		if calls == 0 {
			t.Fatal("Redis counted no GET, not even the first, uncached one: the count proves nothing")
		}
		const runs = 100
		allocs := testing.AllocsPerRun(runs, get)
		if got := getCalls(t, srv) - calls; got != 0 {
			t.Errorf("Get %s: %d GETs reached Redis, want 0 (all from the cache)", tt.key, got)
		}
		if got := s.cacheHits.Load() - hits; got != runs+1 {
			t.Errorf("Get %s: %d cache hits, want %d", tt.key, got, runs+1)
		}
		if allocs > tt.ceiling {
			t.Errorf("Get %s from the cache: %v allocations, want at most %v", tt.key, allocs, tt.ceiling)
		}
	}
}

func TestLazyTimeout(t *testing.T) {
	over, cancel := context.WithCancel(context.Background())
	cancel()
	t.Run("done at the deadline once waited on", func(t *testing.T) {
		c := &lazyTimeout{Context: context.Background(), deadline: time.Now().Add(20 * time.Millisecond), over: over}
		defer c.stop()
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("not done 5s after a 20ms deadline")
		}
		if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Err = %v, want %v", err, context.DeadlineExceeded)
		}
	})
	t.Run("done when the parent is", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		c := &lazyTimeout{Context: parent, deadline: time.Now().Add(time.Hour), over: over}
		defer c.stop()
		if err := c.Err(); err != nil {
			t.Fatalf("Err before the parent's cancel = %v, want nil", err)
		}
		cancel()
		<-c.Done()
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("Err = %v, want %v", err, context.Canceled)
		}
	})
	t.Run("deadline: the sooner", func(t *testing.T) {
		soon := time.Now().Add(time.Minute)
		parent, cancel := context.WithDeadline(context.Background(), soon)
		defer cancel()
		for _, tt := range []struct {
			parent context.Context
			own    time.Time
			want   time.Time
		}{
			{context.Background(), soon.Add(time.Hour), soon.Add(time.Hour)},
			{parent, soon.Add(time.Hour), soon},
			{parent, soon.Add(-time.Second), soon.Add(-time.Second)},
		} {
			c := &lazyTimeout{Context: tt.parent, deadline: tt.own, over: over}
			if got, ok := c.Deadline(); !ok || !got.Equal(tt.want) {
				t.Errorf("Deadline = %v, %v; want %v, true", got, ok, tt.want)
			}
			c.stop()
		}
	})
	t.Run("done after stop, waited on or not", func(t *testing.T) {
		for _, armed := range []bool{false, true} {
			c := &lazyTimeout{Context: context.Background(), deadline: time.Now().Add(time.Hour), over: over}
			if armed {
				_ = c.Done()
			}
			c.stop()
			select {
			case <-c.Done():
			default:
				t.Errorf("armed %v: not done after stop", armed)
			}
			if c.Err() == nil {
				t.Errorf("armed %v: Err nil after stop", armed)
			}
		}
	})
}
