package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// storeHarness is one Store implementation under the contract tests, with a
// way to let time pass for it.
type storeHarness struct {
	store   Store
	advance func(time.Duration)
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
	t.Run("Ping", func(t *testing.T) {
		if err := newHarness(t).store.Ping(ctx); err != nil {
			t.Fatalf("Ping = %v", err)
		}
	})
}

func TestMemoryStore(t *testing.T) {
	testStoreContract(t, func(t *testing.T) storeHarness {
		clock := newFakeClock()
		return storeHarness{store: NewMemoryStore(clock.Now), advance: clock.Advance}
	})
}

func TestMemoryStoreSweepsExpiredEntries(t *testing.T) {
	clock := newFakeClock()
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
