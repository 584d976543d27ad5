package auth_test

import (
	"testing"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/auth/storetest"
	"github.com/otpgate/otpgate/internal/testclock"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		clock := testclock.New(testclock.Start)
		return storetest.Harness{Store: auth.NewMemoryStore(clock.Now), Now: clock.Now, Advance: clock.Advance, Wait: clock.Advance}
	})
}
