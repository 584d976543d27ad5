package auth

import (
	"context"
	"testing"
	"time"

	"github.com/otpgate/otpgate/internal/testclock"
)

// TestFollowNotDueAllocatesNothing: on a request whose checks are not due
// (the sign-out record read within a second, the directory within the
// refresh), following the directory adds no allocation to the hot path.
func TestFollowNotDueAllocatesNothing(t *testing.T) {
	clock := testclock.New(testclock.Start)
	f := newFollower(SessionConfig{Lifetime: 12 * time.Hour, Store: NewMemoryStore(clock.Now), Directory: newMemDirectory(),
		Refresh: 5 * time.Minute, RefreshGrace: 15 * time.Minute})
	sess := Session{ID: "s1", User: User{Username: "alice", DN: "uid=alice,dc=example,dc=org", Groups: []string{"staff"}},
		Factors: 2, AuthTime: clock.Now().Unix(), LastSeen: clock.Now().Unix()}
	ctx := context.Background()
	if _, err := f.check(ctx, sess, clock.Now()); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := f.check(ctx, sess, clock.Now()); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("check allocates %v times per request, want 0", allocs)
	}
}
