package auth

import (
	"context"
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
// disables a limit. Counts are over a sliding hour, kept in the Store so
// they hold across retries, sign-ins and (with a shared store) replicas; a
// fixed hour would let a client send twice a limit around its boundary.
type Limits struct {
	PerNumber        int      // codes per destination number, and per user, an hour
	PerIP            int      // codes per client address an hour
	Global           int      // codes in all an hour
	AllowedCountries []string // ISO 3166 regions codes may go to; empty: any
}

const limitWindow = time.Hour

// smsCharge is one SMS counted against each budget, to be refunded when
// it is not sent after all.
type smsCharge []windowEntry

type windowEntry struct{ key, id string }

// refund takes the SMS back from every budget it was counted in.
func (f *Flow) refund(ctx context.Context, c smsCharge) {
	for _, e := range c {
		_ = f.store.WindowRemove(context.WithoutCancel(ctx), e.key, e.id)
	}
}

// allowSMS counts one SMS against every limit and says whether it may be
// sent. A refused send is taken back from every count it was added to, so
// the counts are of sent messages: an attacker stopped by one limit does
// not use up a victim's other budgets. The caller refunds the charge when
// the send then fails.
func (f *Flow) allowSMS(ctx context.Context, user, e164, region, client string) (smsCharge, error) {
	l := f.cfg.Limits
	if len(l.AllowedCountries) > 0 && !slices.Contains(l.AllowedCountries, region) {
		return nil, &LimitError{Limit: "country"}
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
	var charge smsCharge
	for _, c := range checks {
		if c.max <= 0 {
			continue
		}
		r, err := f.store.WindowAdd(ctx, c.key, int64(c.max), limitWindow)
		if err != nil {
			f.refund(ctx, charge)
			return nil, fmt.Errorf("count %s sms: %w", c.name, err)
		}
		if !r.Added {
			f.refund(ctx, charge)
			return nil, &LimitError{Limit: c.name, Until: r.Oldest.Add(limitWindow)}
		}
		charge = append(charge, windowEntry{c.key, r.ID})
	}
	return charge, nil
}
