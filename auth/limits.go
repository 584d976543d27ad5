package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Limit names a limit on sending codes. Pages choose their words by it, and
// its value is the word logs show.
type Limit string

// The limits an SMS can meet.
const (
	LimitCooldown  Limit = "cooldown"    // least time between two codes of one sign-in
	LimitPerSignIn Limit = "per-sign-in" // codes one sign-in may be sent
	LimitCountry   Limit = "country"     // the number's country or range is not allowed
	LimitGlobal    Limit = "global"      // codes in all an hour
	LimitPerIP     Limit = "per-ip"      // codes per client address an hour
	LimitPerUser   Limit = "per-user"    // codes per user an hour
	LimitPerNumber Limit = "per-number"  // codes per destination number an hour
)

// LimitError says which abuse or cost limit refused an SMS, and until when.
type LimitError struct {
	Limit Limit
	Until time.Time // zero when it does not pass by itself (country, per-sign-in)
}

func (e *LimitError) Error() string { return "sms limit reached: " + string(e.Limit) }

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
		return nil, &LimitError{Limit: LimitCountry}
	}
	checks := []struct {
		limit Limit
		key   string
		max   int
	}{
		{LimitGlobal, "sms:global", l.Global},
		{LimitPerIP, "sms:ip:" + client, l.PerIP},
		{LimitPerUser, "sms:user:" + strings.ToLower(user), l.PerNumber},
		{LimitPerNumber, "sms:num:" + e164, l.PerNumber},
	}
	var charge smsCharge
	for _, c := range checks {
		if c.max <= 0 {
			continue
		}
		r, err := f.store.WindowAdd(ctx, c.key, int64(c.max), limitWindow)
		if err != nil {
			f.refund(ctx, charge)
			return nil, fmt.Errorf("count %s sms: %w", c.limit, err)
		}
		if !r.Added {
			f.refund(ctx, charge)
			return nil, &LimitError{Limit: c.limit, Until: r.Oldest.Add(limitWindow)}
		}
		charge = append(charge, windowEntry{c.key, r.ID})
	}
	return charge, nil
}
