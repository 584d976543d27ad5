package auth

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/otpgate/otpgate/internal/testclock"
)

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
