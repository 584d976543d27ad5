package auth

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// timingFloor makes failed password checks take as long as successful ones,
// so response time does not tell whether a username exists (an unknown user
// fails before any bind; a wrong password fails after one).
type timingFloor struct {
	min    time.Duration
	jitter time.Duration

	mu  sync.Mutex
	avg time.Duration // moving average of successful checks
}

func newTimingFloor(min time.Duration) *timingFloor {
	return &timingFloor{min: min, jitter: min / 5}
}

// succeeded records how long a successful check took.
func (f *timingFloor) succeeded(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.avg == 0 {
		f.avg = d
		return
	}
	f.avg += (d - f.avg) / 8
}

// wait blocks until a failure that started at start has taken at least as
// long as a typical success, plus jitter; it returns early if ctx ends.
func (f *timingFloor) wait(ctx context.Context, start time.Time) {
	f.mu.Lock()
	target := max(f.min, f.avg)
	f.mu.Unlock()
	if f.jitter > 0 {
		target += rand.N(f.jitter) //nolint:gosec // jitter only blurs timing; nothing secret comes from it
	}
	d := time.Until(start.Add(target))
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
