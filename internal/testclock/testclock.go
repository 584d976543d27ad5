// Package testclock is the one clock that tests move by hand: a
// goroutine-safe stand-in for time.Now, passed wherever the code under test
// takes a clock (a func() time.Time). It is for tests only; it is a normal
// package so that the tests of every package can share it.
package testclock

import (
	"sync"
	"time"
)

// Start is where New's clocks stand unless a test picks another time: a
// fixed instant, so that times in failure messages are the same every run.
var Start = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Clock is a clock that moves only when told (New), or that follows the
// wall clock shifted by what it was told (Wall). Its methods may be called
// from any goroutine.
type Clock struct {
	mu     sync.Mutex
	base   time.Time // the time at offset 0; zero: follow time.Now
	offset time.Duration
}

// New returns a clock that stands still at start until Advance moves it.
func New(start time.Time) *Clock { return &Clock{base: start} }

// Wall returns a clock that runs with time.Now, ahead of it by every
// Advance: for tests that also use real servers, timeouts or cookies, where
// time must pass, but a test must be able to skip an hour.
func Wall() *Clock { return &Clock{} }

// Now returns the clock's time. Its method value (c.Now) is the clock to
// pass to code that takes a func() time.Time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.base.IsZero() {
		return time.Now().Add(c.offset)
	}
	return c.base.Add(c.offset)
}

// Advance moves the clock on by d (back, when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// AdvanceTo moves the clock on to t, which must not be before Now for a
// clock from New; a Wall clock gets there only for the moment.
func (c *Clock) AdvanceTo(t time.Time) { c.Advance(t.Sub(c.Now())) }
