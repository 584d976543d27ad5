package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// LimitError says which abuse or cost limit refused an SMS, and until when.
type LimitError struct {
	Limit string    // "per-number", "per-user", "per-ip", "global", "country", "per-sign-in", "cooldown"
	Until time.Time // zero when it does not pass by itself (country)
}

func (e *LimitError) Error() string { return "sms limit reached: " + e.Limit }

// ErrSMSLimited is wrapped by every *LimitError.
var ErrSMSLimited = errors.New("sms limit reached")

func (e *LimitError) Unwrap() error { return ErrSMSLimited }

// Limits cap how many codes are sent, so that nobody (with a stolen
// password or without one) can run up an SMS bill or flood a phone. Zero
// disables a limit. Counts are per fixed hour window, kept in the Store so
// they hold across retries, sign-ins and (with a shared store) replicas.
type Limits struct {
	PerNumber        int      // codes per destination number, and per user, an hour
	PerIP            int      // codes per client address an hour
	Global           int      // codes in all an hour
	AllowedCountries []string // ISO 3166 regions codes may go to; empty: any
}

const limitWindow = time.Hour

// allowSMS counts one SMS against every limit and says whether it may be
// sent. A refused send is taken back from every count it was added to, so
// the counts are of sent messages: an attacker stopped by one limit does
// not use up a victim's other budgets.
func (f *Flow) allowSMS(ctx context.Context, user, e164, region, client string) error {
	l := f.cfg.Limits
	if len(l.AllowedCountries) > 0 && !slices.Contains(l.AllowedCountries, region) {
		return &LimitError{Limit: "country"}
	}
	checks := []struct {
		name, key string
		max       int
	}{
		{"global", "sms:global", l.Global},
		{"per-ip", "sms:ip:" + client, l.PerIP},
		{"per-user", "sms:user:" + strings.ToLower(user), l.PerNumber},
		{"per-number", "sms:num:" + e164, l.PerNumber},
	}
	var counted []string
	undo := func() {
		for _, k := range counted {
			_ = f.store.Decr(context.WithoutCancel(ctx), k)
		}
	}
	for _, c := range checks {
		if c.max <= 0 {
			continue
		}
		n, err := f.store.Incr(ctx, c.key, limitWindow)
		if err != nil {
			undo()
			return fmt.Errorf("count %s sms: %w", c.name, err)
		}
		counted = append(counted, c.key)
		if n > int64(c.max) {
			undo()
			return &LimitError{Limit: c.name, Until: f.now().Add(limitWindow)}
		}
	}
	return nil
}

// Lockout locks a user out after repeated wrong passwords or codes. Zero
// MaxFailures disables it.
type Lockout struct {
	MaxFailures int
	Window      time.Duration // failures count within this window
	Duration    time.Duration // how long the lock holds
}

// LockedError says a user is locked out, and until when.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return "account locked until " + e.Until.UTC().Format(time.RFC3339)
}

// ErrLocked is wrapped by every *LockedError.
var ErrLocked = errors.New("account locked")

func (e *LockedError) Unwrap() error { return ErrLocked }

// lockKey and failKey use the name as typed, lower-cased: unknown names
// are counted and locked too, so a lock tells nothing about whether a
// username exists.
func lockKey(user string) string { return "lock:" + strings.ToLower(strings.TrimSpace(user)) }
func failKey(user string) string { return "fail:" + strings.ToLower(strings.TrimSpace(user)) }

// locked returns a *LockedError when user is locked out.
func (f *Flow) locked(ctx context.Context, user string) error {
	if f.cfg.Lockout.MaxFailures <= 0 {
		return nil
	}
	b, err := f.store.Get(ctx, lockKey(user))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read lock: %w", err)
	}
	var until int64
	if err := json.Unmarshal(b, &until); err != nil {
		return fmt.Errorf("decode lock: %w", err)
	}
	return &LockedError{Until: time.Unix(until, 0)}
}

// failed counts one wrong password or code for user and locks the user out
// when that reaches the limit; it returns the lock when one was set.
func (f *Flow) failed(ctx context.Context, user string) error {
	lo := f.cfg.Lockout
	if lo.MaxFailures <= 0 {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	n, err := f.store.Incr(ctx, failKey(user), lo.Window)
	if err != nil {
		return fmt.Errorf("count failure: %w", err)
	}
	if n < int64(lo.MaxFailures) {
		return nil
	}
	until := f.now().Add(lo.Duration)
	b, _ := json.Marshal(until.Unix())
	if err := f.store.Put(ctx, lockKey(user), b, lo.Duration); err != nil {
		return fmt.Errorf("set lock: %w", err)
	}
	_ = f.store.Delete(ctx, failKey(user))
	f.log.Warn("sign-in: user locked out", "user", user, "failures", n, "until", until.UTC().Format(time.RFC3339))
	return &LockedError{Until: until}
}

// succeeded clears the failure count after a complete sign-in.
func (f *Flow) succeeded(ctx context.Context, user string) {
	if f.cfg.Lockout.MaxFailures > 0 {
		_ = f.store.Delete(context.WithoutCancel(ctx), failKey(user))
	}
}
