// Package storetest holds the contract every auth.Store must keep, as tests
// that each implementation runs against itself (the memory store in
// package auth, the Redis store against a real redis-server).
package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth"
)

// Harness is one Store under the contract tests, with ways to let time
// pass for it.
type Harness struct {
	Store auth.Store
	// Now is the clock WindowAdd reads, and Advance moves it on.
	Now     func() time.Time
	Advance func(time.Duration)
	// Wait lets d pass for the expiry of values and counters (Put's and
	// Incr's ttl). A store whose keys expire by its server's clock
	// really waits; one with an injected clock may just advance it.
	Wait func(d time.Duration)
}

// Run holds a Store to the behaviour every Store must have, so that each
// implementation is held to the same rules. newHarness makes an empty
// store for each case.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	ctx := context.Background()
	t.Run("PutGet", func(t *testing.T) {
		h := newHarness(t)
		if err := h.Store.Put(ctx, "k", []byte("v1"), time.Minute); err != nil {
			t.Fatal(err)
		}
		got, err := h.Store.Get(ctx, "k")
		if err != nil || string(got) != "v1" {
			t.Fatalf("Get = %q, %v; want %q, nil", got, err, "v1")
		}
		if err := h.Store.Put(ctx, "k", []byte("v2"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, _ := h.Store.Get(ctx, "k"); string(got) != "v2" {
			t.Fatalf("Get after replace = %q, want %q", got, "v2")
		}
	})
	t.Run("MissingIsNotFound", func(t *testing.T) {
		h := newHarness(t)
		if _, err := h.Store.Get(ctx, "absent"); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("Get(absent) error = %v, want auth.ErrNotFound", err)
		}
		if _, err := h.Store.Take(ctx, "absent"); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("Take(absent) error = %v, want auth.ErrNotFound", err)
		}
		if err := h.Store.Delete(ctx, "absent"); err != nil {
			t.Fatalf("Delete(absent) = %v, want nil", err)
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		h := newHarness(t)
		_ = h.Store.Put(ctx, "k", []byte("v"), 2*time.Second)
		h.Wait(1 * time.Second)
		if _, err := h.Store.Get(ctx, "k"); err != nil {
			t.Fatalf("Get before expiry: %v", err)
		}
		h.Wait(1500 * time.Millisecond)
		if _, err := h.Store.Get(ctx, "k"); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("Get after expiry error = %v, want auth.ErrNotFound", err)
		}
	})
	t.Run("TakeOnce", func(t *testing.T) {
		h := newHarness(t)
		_ = h.Store.Put(ctx, "k", []byte("v"), time.Minute)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				if v, err := h.Store.Take(ctx, "k"); err == nil && string(v) == "v" {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if got := wins.Load(); got != 1 {
			t.Fatalf("%d concurrent Takes succeeded, want exactly 1", got)
		}
	})
	t.Run("IncrCountsExactlyUnderConcurrency", func(t *testing.T) {
		h := newHarness(t)
		var wg sync.WaitGroup
		seen := make([]atomic.Bool, 65)
		for range 64 {
			wg.Go(func() {
				n, err := h.Store.Incr(ctx, "c", time.Minute)
				if err != nil || n < 1 || n > 64 {
					t.Errorf("Incr = %d, %v", n, err)
					return
				}
				if seen[n].Swap(true) {
					t.Errorf("Incr returned %d twice", n)
				}
			})
		}
		wg.Wait()
		if n, _ := h.Store.Incr(ctx, "c", time.Minute); n != 65 {
			t.Fatalf("Incr after 64 = %d, want 65", n)
		}
	})
	t.Run("IncrExpiryIsNotExtended", func(t *testing.T) {
		h := newHarness(t)
		_, _ = h.Store.Incr(ctx, "c", 2*time.Second)
		h.Wait(1 * time.Second)
		if n, _ := h.Store.Incr(ctx, "c", 2*time.Second); n != 2 {
			t.Fatalf("second Incr = %d, want 2", n)
		}
		// Extended, the counter would live until 3s.
		h.Wait(1500 * time.Millisecond)
		if n, _ := h.Store.Incr(ctx, "c", 2*time.Second); n != 1 {
			t.Fatalf("Incr after the first window = %d, want 1 (a window must not slide)", n)
		}
	})
	t.Run("DecrUndoesIncrAndLeavesMissingKeysMissing", func(t *testing.T) {
		h := newHarness(t)
		_, _ = h.Store.Incr(ctx, "c", time.Minute)
		_, _ = h.Store.Incr(ctx, "c", time.Minute)
		if err := h.Store.Decr(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		if n, _ := h.Store.Incr(ctx, "c", time.Minute); n != 2 {
			t.Fatalf("Incr, Incr, Decr, Incr = %d, want 2", n)
		}
		if err := h.Store.Decr(ctx, "absent"); err != nil {
			t.Fatalf("Decr(absent) = %v", err)
		}
		if _, err := h.Store.Get(ctx, "absent"); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("Decr created a missing counter: Get error %v", err)
		}
	})
	runWindow(t, newHarness)
	t.Run("Ping", func(t *testing.T) {
		if err := newHarness(t).Store.Ping(ctx); err != nil {
			t.Fatalf("Ping = %v", err)
		}
	})
}

// runWindow holds WindowAdd and WindowRemove to their contract.
func runWindow(t *testing.T, newHarness func(t *testing.T) Harness) {
	ctx := context.Background()
	add := func(t *testing.T, h Harness, key string, limit int64, window time.Duration) auth.WindowResult {
		t.Helper()
		r, err := h.Store.WindowAdd(ctx, key, limit, window)
		if err != nil {
			t.Fatalf("WindowAdd(%q): %v", key, err)
		}
		return r
	}
	t.Run("WindowAdmitsUpToLimit", func(t *testing.T) {
		h := newHarness(t)
		first := h.Now()
		for i := int64(1); i <= 3; i++ {
			r := add(t, h, "w", 3, time.Minute)
			if !r.Added || r.Count != i || r.ID == "" || !r.Oldest.Equal(first) {
				t.Fatalf("event %d: %+v, want Added, Count %d, an ID, Oldest %v", i, r, i, first)
			}
			h.Advance(time.Second)
		}
		r := add(t, h, "w", 3, time.Minute)
		if r.Added || r.Count != 3 || r.ID != "" || !r.Oldest.Equal(first) {
			t.Fatalf("event over the limit: %+v, want refused, Count 3, no ID, Oldest %v", r, first)
		}
	})
	t.Run("WindowSlides", func(t *testing.T) {
		// A fixed window would admit two more at 60s; a sliding one
		// admits one more each time an old event leaves.
		h := newHarness(t)
		steps := []struct {
			at    time.Duration // since the first event
			added bool
			count int64
		}{
			{0, true, 1},
			{40 * time.Second, true, 2},
			{59 * time.Second, false, 2},
			{60 * time.Second, true, 2}, // the event at 0 has left
			{61 * time.Second, false, 2},
			{99 * time.Second, false, 2},
			{100 * time.Second, true, 2}, // the event at 40s has left
			{221 * time.Second, true, 1}, // all have left
		}
		start := h.Now()
		for _, s := range steps {
			h.Advance(start.Add(s.at).Sub(h.Now()))
			if r := add(t, h, "w", 2, time.Minute); r.Added != s.added || r.Count != s.count {
				t.Fatalf("at %v: Added %v Count %d, want %v %d", s.at, r.Added, r.Count, s.added, s.count)
			}
		}
	})
	t.Run("WindowRefusedOldestSaysWhenOneFits", func(t *testing.T) {
		h := newHarness(t)
		first := h.Now()
		add(t, h, "w", 2, time.Minute)
		h.Advance(10 * time.Second)
		add(t, h, "w", 2, time.Minute)
		r := add(t, h, "w", 2, time.Minute)
		h.Advance(r.Oldest.Add(time.Minute).Sub(h.Now()))
		if !r.Oldest.Equal(first) {
			t.Fatalf("Oldest = %v, want the first event's time %v", r.Oldest, first)
		}
		if r := add(t, h, "w", 2, time.Minute); !r.Added {
			t.Fatalf("at Oldest+window: %+v, want Added", r)
		}
	})
	t.Run("WindowAddIsExactUnderConcurrency", func(t *testing.T) {
		h := newHarness(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ids := map[string]bool{}
		for range 64 {
			wg.Go(func() {
				r, err := h.Store.WindowAdd(ctx, "w", 10, time.Minute)
				if err != nil {
					t.Errorf("WindowAdd: %v", err)
					return
				}
				if r.Added {
					mu.Lock()
					ids[r.ID] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(ids) != 10 {
			t.Fatalf("%d distinct events added by 64 concurrent callers, want exactly the limit of 10", len(ids))
		}
	})
	t.Run("WindowRemoveRefundsOneEvent", func(t *testing.T) {
		h := newHarness(t)
		a := add(t, h, "w", 2, time.Minute)
		add(t, h, "w", 2, time.Minute)
		if err := h.Store.WindowRemove(ctx, "w", a.ID); err != nil {
			t.Fatal(err)
		}
		if err := h.Store.WindowRemove(ctx, "w", a.ID); err != nil {
			t.Fatalf("removing an event twice: %v", err)
		}
		if r := add(t, h, "w", 2, time.Minute); !r.Added || r.Count != 2 {
			t.Fatalf("after a refund: %+v, want Added with Count 2", r)
		}
		if r := add(t, h, "w", 2, time.Minute); r.Added {
			t.Fatalf("a removed event was refunded twice: %+v", r)
		}
	})
	t.Run("WindowRemoveOfMissingCreatesNothing", func(t *testing.T) {
		h := newHarness(t)
		if err := h.Store.WindowRemove(ctx, "absent", "1"); err != nil {
			t.Fatalf("WindowRemove(absent) = %v", err)
		}
		if r := add(t, h, "absent", 5, time.Minute); r.Count != 1 {
			t.Fatalf("first event after removing from a missing key: Count %d, want 1", r.Count)
		}
	})
	t.Run("WindowDeleteForgetsEvents", func(t *testing.T) {
		h := newHarness(t)
		add(t, h, "w", 1, time.Minute)
		if err := h.Store.Delete(ctx, "w"); err != nil {
			t.Fatal(err)
		}
		if r := add(t, h, "w", 1, time.Minute); !r.Added || r.Count != 1 {
			t.Fatalf("after Delete: %+v, want Added with Count 1", r)
		}
	})
	t.Run("WindowKeysAreIndependent", func(t *testing.T) {
		h := newHarness(t)
		add(t, h, "a", 1, time.Minute)
		if r := add(t, h, "b", 1, time.Minute); !r.Added {
			t.Fatalf("a full window refused another key: %+v", r)
		}
	})
	t.Run("WindowRefusesBadArguments", func(t *testing.T) {
		h := newHarness(t)
		for _, c := range []struct {
			limit  int64
			window time.Duration
		}{{0, time.Minute}, {-1, time.Minute}, {1, 0}, {1, -time.Second}} {
			if _, err := h.Store.WindowAdd(ctx, "w", c.limit, c.window); !errors.Is(err, auth.ErrBadWindow) {
				t.Errorf("WindowAdd(limit %d, window %v) error = %v, want auth.ErrBadWindow", c.limit, c.window, err)
			}
		}
	})
}
