package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/auth/redistest"
)

func sentinelOptions(t *testing.T, set *redistest.Sentinels) Options {
	t.Helper()
	env := Settings{Store: "redis", Redis: RedisSettings{Username: redistest.Username, Password: redistest.Password,
		SentinelMaster: redistest.MasterName, SentinelAddrs: set.Addrs, SentinelPassword: redistest.SentinelPassword,
		KeyPrefix: "ha:", Timeout: 2 * time.Second, MinReplicas: 1}}
	o, problems := env.Validate("OTPGATE_")
	if len(problems) > 0 {
		t.Fatalf("settings: %v", problems)
	}
	return o
}

// TestRedisStoreSentinelFailoverLosesNoAcknowledgedWrite: during a stream
// of writes and reads, Sentinel promotes the replica. Every call either
// succeeds or fails with an error; every write that succeeded (a sign-out,
// a counted failure) is on the new master afterwards; and the store works
// again without being remade.
func TestRedisStoreSentinelFailoverLosesNoAcknowledgedWrite(t *testing.T) {
	set := redistest.StartSentinels(t)
	s := newStore(t, sentinelOptions(t, set))
	ctx := context.Background()

	var (
		mu        sync.Mutex
		revoked   []string // acknowledged Puts
		failures  int64    // acknowledged Incrs
		errs      int
		lastError error
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("revoked:%d-%d", g, i)
				putErr := s.Put(ctx, key, []byte{1}, time.Hour)
				_, incrErr := s.Incr(ctx, "fail:alice", time.Hour)
				_, getErr := s.Get(ctx, "revoked:never")
				mu.Lock()
				if putErr == nil {
					revoked = append(revoked, key)
				}
				if incrErr == nil {
					failures++
				}
				for _, err := range []error{putErr, incrErr} {
					if err != nil {
						errs++
						lastError = err
					}
				}
				if getErr != nil && !errors.Is(getErr, auth.ErrNotFound) {
					errs++
					lastError = getErr
				}
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	set.Failover()
	// Until the store writes to the new master, with its new replica (the
	// old master) in step.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := s.Put(ctx, "probe", []byte{1}, time.Minute)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			role, _ := set.Replica.Do("ROLE")
			oldRole, _ := set.Master.Do("ROLE")
			t.Fatalf("the store did not write again within 20s of the failover: %v; new master's ROLE %q, old master's %q", err, role, oldRole)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d sign-outs acknowledged, %d errors during the failover (last: %v)", len(revoked), errs, lastError)
	if len(revoked) == 0 {
		t.Fatal("no write succeeded")
	}

	if got := set.MasterAddr(); got != set.Replica.Addr {
		t.Fatalf("master after failover = %q, want the replica %q", got, set.Replica.Addr)
	}
	// Read on the new master itself, not through any cache.
	for _, key := range revoked {
		if got, err := set.Replica.Do("GET", "ha:"+key); err != nil || got != "\x01" {
			t.Errorf("acknowledged sign-out %s after failover: %q, %v; want it kept", key, got, err)
		}
	}
	var n int64
	got, err := set.Replica.Do("GET", "ha:fail:alice")
	if _, scanErr := fmt.Sscan(got, &n); err != nil || scanErr != nil || n < failures {
		t.Errorf("failure counter after failover = %q, %v; want at least the %d acknowledged", got, err, failures)
	}
}
