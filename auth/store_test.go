package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otpgate/otpgate/internal/testclock"
)

// storeHarness is one Store implementation under the contract tests, with a
// way to let time pass for it.
type storeHarness struct {
	store   Store
	advance func(time.Duration)
	now     func() time.Time // the store's clock
}

// testStoreContract runs the behaviour every Store must have, so each
// implementation (memory now, shared stores later) is held to the same rules.
func testStoreContract(t *testing.T, newHarness func(t *testing.T) storeHarness) {
	ctx := context.Background()
	t.Run("PutGet", func(t *testing.T) {
		h := newHarness(t)
		if err := h.store.Put(ctx, "k", []byte("v1"), time.Minute); err != nil {
			t.Fatal(err)
		}
		got, err := h.store.Get(ctx, "k")
		if err != nil || string(got) != "v1" {
			t.Fatalf("Get = %q, %v; want %q, nil", got, err, "v1")
		}
		if err := h.store.Put(ctx, "k", []byte("v2"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, _ := h.store.Get(ctx, "k"); string(got) != "v2" {
			t.Fatalf("Get after replace = %q, want %q", got, "v2")
		}
	})
	t.Run("MissingIsNotFound", func(t *testing.T) {
		h := newHarness(t)
		if _, err := h.store.Get(ctx, "absent"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get(absent) error = %v, want ErrNotFound", err)
		}
		if _, err := h.store.Take(ctx, "absent"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Take(absent) error = %v, want ErrNotFound", err)
		}
		if err := h.store.Delete(ctx, "absent"); err != nil {
			t.Fatalf("Delete(absent) = %v, want nil", err)
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		h := newHarness(t)
		_ = h.store.Put(ctx, "k", []byte("v"), 2*time.Second)
		h.advance(1 * time.Second)
		if _, err := h.store.Get(ctx, "k"); err != nil {
			t.Fatalf("Get before expiry: %v", err)
		}
		h.advance(1500 * time.Millisecond)
		if _, err := h.store.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get after expiry error = %v, want ErrNotFound", err)
		}
	})
	t.Run("TakeOnce", func(t *testing.T) {
		h := newHarness(t)
		_ = h.store.Put(ctx, "k", []byte("v"), time.Minute)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				if v, err := h.store.Take(ctx, "k"); err == nil && string(v) == "v" {
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
				n, err := h.store.Incr(ctx, "c", time.Minute)
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
		if n, _ := h.store.Incr(ctx, "c", time.Minute); n != 65 {
			t.Fatalf("Incr after 64 = %d, want 65", n)
		}
	})
	t.Run("IncrExpiryIsNotExtended", func(t *testing.T) {
		h := newHarness(t)
		_, _ = h.store.Incr(ctx, "c", 2*time.Second)
		h.advance(1500 * time.Millisecond)
		if n, _ := h.store.Incr(ctx, "c", 2*time.Second); n != 2 {
			t.Fatalf("second Incr = %d, want 2", n)
		}
		h.advance(1 * time.Second)
		if n, _ := h.store.Incr(ctx, "c", 2*time.Second); n != 1 {
			t.Fatalf("Incr after the first window = %d, want 1 (a window must not slide)", n)
		}
	})
	t.Run("DecrUndoesIncrAndLeavesMissingKeysMissing", func(t *testing.T) {
		h := newHarness(t)
		_, _ = h.store.Incr(ctx, "c", time.Minute)
		_, _ = h.store.Incr(ctx, "c", time.Minute)
		if err := h.store.Decr(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		if n, _ := h.store.Incr(ctx, "c", time.Minute); n != 2 {
			t.Fatalf("Incr, Incr, Decr, Incr = %d, want 2", n)
		}
		if err := h.store.Decr(ctx, "absent"); err != nil {
			t.Fatalf("Decr(absent) = %v", err)
		}
		if _, err := h.store.Get(ctx, "absent"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Decr created a missing counter: Get error %v", err)
		}
	})
	testWindowContract(t, newHarness)
	t.Run("Ping", func(t *testing.T) {
		if err := newHarness(t).store.Ping(ctx); err != nil {
			t.Fatalf("Ping = %v", err)
		}
	})
}

func TestMemoryStore(t *testing.T) {
	testStoreContract(t, func(t *testing.T) storeHarness {
		clock := testclock.New(testclock.Start)
		return storeHarness{store: NewMemoryStore(clock.Now), advance: clock.Advance, now: clock.Now}
	})
}

func TestMemoryStoreSweepsExpiredEntries(t *testing.T) {
	clock := testclock.New(testclock.Start)
	s := NewMemoryStore(clock.Now)
	ctx := context.Background()
	for i := range 100 {
		_ = s.Put(ctx, fmt.Sprint(i), []byte("v"), time.Second)
	}
	clock.Advance(2 * sweepEvery)
	_ = s.Put(ctx, "fresh", []byte("v"), time.Hour)
	if got := s.Len(); got != 1 {
		t.Fatalf("Len after sweep = %d, want 1", got)
	}
}

// testWindowContract holds WindowAdd and WindowRemove to their contract.
func testWindowContract(t *testing.T, newHarness func(t *testing.T) storeHarness) {
	ctx := context.Background()
	add := func(t *testing.T, h storeHarness, key string, limit int64, window time.Duration) WindowResult {
		t.Helper()
		r, err := h.store.WindowAdd(ctx, key, limit, window)
		if err != nil {
			t.Fatalf("WindowAdd(%q): %v", key, err)
		}
		return r
	}
	t.Run("WindowAdmitsUpToLimit", func(t *testing.T) {
		h := newHarness(t)
		first := h.now()
		for i := int64(1); i <= 3; i++ {
			r := add(t, h, "w", 3, time.Minute)
			if !r.Added || r.Count != i || r.ID == "" || !r.Oldest.Equal(first) {
				t.Fatalf("event %d: %+v, want Added, Count %d, an ID, Oldest %v", i, r, i, first)
			}
			h.advance(time.Second)
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
		start := h.now()
		for _, s := range steps {
			h.advance(start.Add(s.at).Sub(h.now()))
			if r := add(t, h, "w", 2, time.Minute); r.Added != s.added || r.Count != s.count {
				t.Fatalf("at %v: Added %v Count %d, want %v %d", s.at, r.Added, r.Count, s.added, s.count)
			}
		}
	})
	t.Run("WindowRefusedOldestSaysWhenOneFits", func(t *testing.T) {
		h := newHarness(t)
		first := h.now()
		add(t, h, "w", 2, time.Minute)
		h.advance(10 * time.Second)
		add(t, h, "w", 2, time.Minute)
		r := add(t, h, "w", 2, time.Minute)
		h.advance(r.Oldest.Add(time.Minute).Sub(h.now()))
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
				r, err := h.store.WindowAdd(ctx, "w", 10, time.Minute)
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
		if err := h.store.WindowRemove(ctx, "w", a.ID); err != nil {
			t.Fatal(err)
		}
		if err := h.store.WindowRemove(ctx, "w", a.ID); err != nil {
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
		if err := h.store.WindowRemove(ctx, "absent", "1"); err != nil {
			t.Fatalf("WindowRemove(absent) = %v", err)
		}
		if r := add(t, h, "absent", 5, time.Minute); r.Count != 1 {
			t.Fatalf("first event after removing from a missing key: Count %d, want 1", r.Count)
		}
	})
	t.Run("WindowDeleteForgetsEvents", func(t *testing.T) {
		h := newHarness(t)
		add(t, h, "w", 1, time.Minute)
		if err := h.store.Delete(ctx, "w"); err != nil {
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
			if _, err := h.store.WindowAdd(ctx, "w", c.limit, c.window); !errors.Is(err, ErrBadWindow) {
				t.Errorf("WindowAdd(limit %d, window %v) error = %v, want ErrBadWindow", c.limit, c.window, err)
			}
		}
	})
}

func TestMemoryStoreSweepsExpiredWindows(t *testing.T) {
	clock := testclock.New(testclock.Start)
	s := NewMemoryStore(clock.Now)
	ctx := context.Background()
	for i := range 100 {
		_, _ = s.WindowAdd(ctx, fmt.Sprint(i), 3, time.Second)
	}
	clock.Advance(2 * sweepEvery)
	_, _ = s.WindowAdd(ctx, "fresh", 3, time.Hour)
	if got := s.Len(); got != 1 {
		t.Fatalf("Len after sweep = %d, want 1", got)
	}
}
