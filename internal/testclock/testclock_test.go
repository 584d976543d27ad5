package testclock

import (
	"sync"
	"testing"
	"time"
)

func TestNewStandsStillUntilAdvanced(t *testing.T) {
	start := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	c := New(start)
	for _, step := range []struct {
		advance time.Duration
		want    time.Time
	}{
		{0, start},
		{time.Minute, start.Add(time.Minute)},
		{-30 * time.Second, start.Add(30 * time.Second)},
		{time.Hour, start.Add(time.Hour + 30*time.Second)},
	} {
		c.Advance(step.advance)
		if got := c.Now(); !got.Equal(step.want) {
			t.Errorf("after Advance(%v): got %v, want %v", step.advance, got, step.want)
		}
	}
	c.AdvanceTo(start.Add(48 * time.Hour))
	if got, want := c.Now(), start.Add(48*time.Hour); !got.Equal(want) {
		t.Errorf("after AdvanceTo: got %v, want %v", got, want)
	}
}

func TestWallFollowsTimeNowPlusAdvances(t *testing.T) {
	c := Wall()
	c.Advance(time.Hour)
	before := time.Now().Add(time.Hour)
	got := c.Now()
	after := time.Now().Add(time.Hour)
	if got.Before(before) || got.After(after) {
		t.Errorf("got %v, want between %v and %v", got, before, after)
	}
}

func TestAdvanceFromManyGoroutines(t *testing.T) {
	c := New(Start)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			c.Advance(time.Second)
			_ = c.Now()
		})
	}
	wg.Wait()
	if got, want := c.Now(), Start.Add(50*time.Second); !got.Equal(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
