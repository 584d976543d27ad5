package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/otpgate/otpgate/auth"
)

// lockoutPolicyReader is what checkADLockout needs of the directory.
type lockoutPolicyReader interface {
	ADLockoutPolicy(ctx context.Context) (auth.ADLockoutPolicy, error)
}

// checkADLockout reads Active Directory's lockout policy with the service
// account and warns when AD would lock an account before otpgate does:
// AD's lock holds for every application, and otpgate cannot lift it.
// Other directories are passed over quietly.
func checkADLockout(ctx context.Context, dir lockoutPolicyReader, lo auth.LockoutSettings, log *slog.Logger) {
	p, err := dir.ADLockoutPolicy(ctx)
	switch {
	case errors.Is(err, auth.ErrNotActiveDirectory):
		log.Debug("directory: no Active Directory lockout policy to compare with OTPGATE_LOCKOUT_*", "cause", err)
		return
	case err != nil:
		log.Warn("directory: could not read Active Directory's lockout policy to compare with OTPGATE_LOCKOUT_*", "err", err)
		return
	}
	for _, w := range adLockoutWarnings(p, lo) {
		log.Warn(w, "ad_lockout_threshold", p.Threshold, "ad_observation_window", p.ObservationWindow.String(),
			"ad_lockout_duration", p.Duration.String(), "lockout_max_failures", lo.MaxFailures,
			"lockout_window", lo.Window.String(), "lockout_duration", lo.Duration.String())
	}
}

// adLockoutWarnings says how AD could lock an account before otpgate
// does: empty when otpgate's lockout comes first.
func adLockoutWarnings(p auth.ADLockoutPolicy, lo auth.LockoutSettings) []string {
	if p.Threshold <= 0 {
		return nil // AD never locks
	}
	switch {
	case lo.MaxFailures <= 0:
		return []string{fmt.Sprintf("Active Directory locks an account after %d wrong passwords and OTPGATE_LOCKOUT_MAX_FAILURES=0 turns "+
			"otpgate's lockout off: anyone can lock any user out of every application; set OTPGATE_LOCKOUT_MAX_FAILURES below %d",
			p.Threshold, p.Threshold)}
	case lo.MaxFailures >= p.Threshold:
		return []string{fmt.Sprintf("OTPGATE_LOCKOUT_MAX_FAILURES=%d is not below Active Directory's lockoutThreshold %d: AD locks the "+
			"account, for every application, before otpgate does; set it to %d or less", lo.MaxFailures, p.Threshold, p.Threshold-1)}
	case lo.Duration < p.ObservationWindow:
		// AD forgets wrong passwords only after its window passes without
		// one: otpgate's lock ends first, and the next round adds to AD's
		// count.
		rounds := (p.Threshold + lo.MaxFailures - 1) / lo.MaxFailures
		return []string{fmt.Sprintf("OTPGATE_LOCKOUT_DURATION=%v is shorter than Active Directory's lockOutObservationWindow %v: "+
			"AD still counts the wrong passwords when otpgate's lock ends, and %d rounds of %d reach its lockoutThreshold %d; "+
			"set OTPGATE_LOCKOUT_DURATION to %v or more", lo.Duration, p.ObservationWindow, rounds, lo.MaxFailures, p.Threshold,
			p.ObservationWindow.Round(time.Second))}
	}
	return nil
}
