package sms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Defaults for the zero values of FailoverConfig.
const (
	// DefaultFailoverTimeout matches OTPGATE_SMS_TIMEOUT's default.
	DefaultFailoverTimeout  = 10 * time.Second
	DefaultFailureThreshold = 3
	DefaultOpenFor          = 30 * time.Second
)

// Named is one provider of a Failover. Name identifies it in errors, logs
// and Status ("twilio", "http", "http2"); it is not secret.
type Named struct {
	Name   string
	Sender Sender
}

// FailoverConfig configures NewFailover. Zero values mean the defaults;
// negative values are configuration errors.
type FailoverConfig struct {
	// Timeout is the total budget of one Send across all providers: the
	// longest a user waits for their code to go out. Default
	// DefaultFailoverTimeout. A shorter deadline on Send's context wins.
	Timeout time.Duration
	// FailureThreshold is how many consecutive failures open a provider's
	// breaker. Default DefaultFailureThreshold.
	FailureThreshold int
	// OpenFor is how long an open breaker skips its provider before one
	// probe is let through. Default DefaultOpenFor.
	OpenFor time.Duration
	// Now is the clock of the breakers; nil means time.Now. Only breaker
	// timing uses it: budgets are context deadlines, on the real clock.
	Now func() time.Time
	// Log receives each provider failure (provider name and error) and each
	// breaker transition. Nil means no logging. The number and the message
	// are never logged; provider errors do not contain the message.
	Log *slog.Logger
}

// BreakerState is the state of one provider's circuit breaker.
type BreakerState string

// The states of a breaker, as Status reports them.
const (
	// BreakerClosed: the provider is tried in its turn.
	BreakerClosed BreakerState = "closed"
	// BreakerOpen: the provider failed FailureThreshold times in a row and
	// is skipped until its RetryAt.
	BreakerOpen BreakerState = "open"
	// BreakerHalfOpen: RetryAt has passed; the next Send that reaches the
	// provider sends through it as a probe (or a probe is in flight).
	BreakerHalfOpen BreakerState = "half-open"
)

// ProviderStatus is one provider's health, for logs and readiness checks.
type ProviderStatus struct {
	Name                string
	State               BreakerState
	ConsecutiveFailures int
	// RetryAt is when an open breaker lets a probe through; zero when the
	// breaker is closed.
	RetryAt time.Time
}

// ErrBreakerOpen stands in a Failover's error for a provider that was not
// tried because its breaker is open.
var ErrBreakerOpen = errors.New("not tried: circuit breaker open")

// errNoTime stands in a Failover's error for a provider that was not tried
// because the budget ran out before its turn.
var errNoTime = errors.New("not tried: no time left in the send budget")

// Failover sends through the first of several providers that delivers, so
// that one gateway's outage does not lock users out. Each provider has a
// circuit breaker, so a provider that keeps failing stops costing users
// its share of the wait. It is safe for concurrent use.
//
// Which errors move on to the next provider: every error except one about
// the destination, because a gateway's 4xx is as often a fault of that
// gateway's configuration (401 bad credentials, 403 sender not allowed) as
// of the request, and another gateway may well deliver. Destination errors
// are a number that is not E.164 (checked here before any provider is
// called) and Twilio's 21211 (invalid 'To'), 21614 (not a mobile number)
// and 21610 (recipient unsubscribed: routing around an opt-out would defy
// it). A generic gateway's 400 cannot be told apart from a configuration
// fault, so it fails over. Destination errors end Send at once and do not
// count against the provider's breaker.
//
// Time: each attempt gets the budget left divided by the providers still to
// be tried (those whose breakers let them), so a provider that hangs costs
// at most its share and the next one still gets time; a provider that fails
// fast leaves its share to the others. The last one gets all that is left.
//
// Providers whose breakers are open are not dropped: when every provider
// that was tried has failed and time is left, they are tried last, in
// order. Failing without trying them would make a sign-in fail for sure,
// and with a single provider an open breaker would lock everyone out for
// OpenFor after a short blip.
//
// When Send's context ends (the caller gave up, or its own deadline came
// before Timeout) Send returns at once, and the provider it was waiting for
// is not blamed.
//
// A provider that accepts a message but answers after its share has run
// out counts as failed, and the next provider sends the same message
// again; the user then gets the same code twice, which is harmless.
// Providers must honour their context's deadline, as Sender requires.
type Failover struct {
	timeout   time.Duration
	threshold int
	openFor   time.Duration
	now       func() time.Time
	log       *slog.Logger

	providers []*provider // fixed at construction; their breakers are guarded by mu
	mu        sync.Mutex
}

var _ Sender = (*Failover)(nil)

// provider is a Named with its breaker.
type provider struct {
	name     string
	sender   Sender
	failures int       // consecutive failures
	open     bool      // the breaker is open (or half-open, once retryAt has passed)
	retryAt  time.Time // when open: the earliest time for a probe
	probing  bool      // when open: a probe is in flight
}

// NewFailover returns a Failover over providers, tried in the given order.
// Configuration problems are reported together as *setting.Problem values, with
// Field naming a FailoverConfig field or "Providers".
func NewFailover(cfg FailoverConfig, providers ...Named) (*Failover, error) {
	var problems configProblems
	f := &Failover{
		timeout:   cfg.Timeout,
		threshold: cfg.FailureThreshold,
		openFor:   cfg.OpenFor,
		now:       cfg.Now,
		log:       cfg.Log,
	}
	switch {
	case f.timeout < 0:
		problems.add("TIMEOUT", "must not be negative")
	case f.timeout == 0:
		f.timeout = DefaultFailoverTimeout
	}
	switch {
	case f.threshold < 0:
		problems.add("BREAKER_FAILURES", "must not be negative")
	case f.threshold == 0:
		f.threshold = DefaultFailureThreshold
	}
	switch {
	case f.openFor < 0:
		problems.add("BREAKER_OPEN_FOR", "must not be negative")
	case f.openFor == 0:
		f.openFor = DefaultOpenFor
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}

	if len(providers) == 0 {
		problems.add("PROVIDERS", "must list at least one provider")
	}
	seen := make(map[string]bool, len(providers))
	for i, p := range providers {
		switch {
		case p.Name == "":
			problems.add("PROVIDERS", fmt.Sprintf("provider %d has no name", i+1))
		case seen[p.Name]:
			problems.add("PROVIDERS", fmt.Sprintf("the name %q is used twice; names must tell providers apart in logs", p.Name))
		}
		seen[p.Name] = true
		if p.Sender == nil {
			problems.add("PROVIDERS", fmt.Sprintf("provider %d (%q) has no Sender", i+1, p.Name))
		}
		f.providers = append(f.providers, &provider{name: p.Name, sender: p.Sender})
	}
	if err := problems.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// Send delivers message to the E.164 number to through the first provider
// that accepts it, within ctx and the configured Timeout. The error of a
// failed Send joins each provider's error, prefixed with its name.
func (f *Failover) Send(ctx context.Context, to, message string) error {
	// Checked here as well as in the providers so that a bad number is
	// not sent to every provider in turn, nor counted against them.
	if !validNumber(to) {
		return fmt.Errorf("sms failover: %w", errInvalidNumber)
	}
	budget, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()

	errs := make([]error, len(f.providers)) // by provider; nil: not reached
	var skipped []int
	for i, p := range f.providers {
		probe, ok := f.admit(p)
		if !ok {
			errs[i] = ErrBreakerOpen
			skipped = append(skipped, i)
			continue
		}
		var done bool
		done, errs[i] = f.try(ctx, budget, p, probe, f.eligibleFrom(i), to, message)
		if done && errs[i] == nil {
			return nil
		}
		if done {
			return f.failure(nil, errs)
		}
	}
	// Last resort: the providers skipped for an open breaker, in order.
	for n, i := range skipped {
		if budget.Err() != nil {
			break
		}
		var done bool
		done, errs[i] = f.try(ctx, budget, f.providers[i], false, len(skipped)-n, to, message)
		if done && errs[i] == nil {
			return nil
		}
		if done {
			return f.failure(nil, errs)
		}
	}
	return f.failure(errors.New("no provider delivered"), errs)
}

// try sends through p with its share of the budget: what is left divided
// by left, the number of providers still to try including p. done means
// Send should stop: p delivered (err nil), the error is about the
// destination, or the caller gave up.
func (f *Failover) try(ctx, budget context.Context, p *provider, probe bool, left int, to, message string) (done bool, err error) {
	deadline, _ := budget.Deadline() // always set: budget has a timeout
	share := time.Until(deadline) / time.Duration(max(left, 1))
	if share <= 0 {
		f.release(p, probe)
		return false, errNoTime
	}
	attempt, cancel := context.WithTimeout(budget, share)
	err = p.sender.Send(attempt, to, message)
	cancel()

	switch {
	case err == nil:
		f.record(ctx, p, probe, nil)
		return true, nil
	case ctx.Err() != nil:
		// The caller gave up (the user left, the server is shutting down):
		// that says nothing about the provider.
		f.release(p, probe)
		return true, err
	case isDestinationError(err):
		f.release(p, probe)
		return true, err
	}
	f.log.LogAttrs(ctx, slog.LevelWarn, "sms provider failed",
		slog.String("provider", p.name), slog.Any("error", err))
	f.record(ctx, p, probe, err)
	return false, err
}

// failure joins head (if any) and each provider's error, named, into
// Send's error.
func (f *Failover) failure(head error, errs []error) error {
	var joined []error
	if head != nil {
		joined = append(joined, head)
	}
	for i, err := range errs {
		if err != nil {
			joined = append(joined, fmt.Errorf("provider %s: %w", f.providers[i].name, err))
		}
	}
	return fmt.Errorf("sms failover: %w", errors.Join(joined...))
}

// isDestinationError reports whether err is about the recipient rather
// than the provider, so that no other provider would do better.
func isDestinationError(err error) bool {
	if errors.Is(err, errInvalidNumber) {
		return true
	}
	var te *TwilioError
	if errors.As(err, &te) {
		switch te.Code {
		case 21211, // invalid 'To' phone number
			21614, // 'To' is not a valid mobile number
			21610: // the recipient unsubscribed (replied STOP)
			return true
		}
	}
	return false
}

// admit reports whether Send should try p in its turn, and whether that
// attempt is the probe of a half-open breaker. Claiming the probe here, under
// the lock, is what keeps concurrent Sends to one probe at a time.
func (f *Failover) admit(p *provider) (probe, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !p.open {
		return false, true
	}
	if p.probing || f.now().Before(p.retryAt) {
		return false, false
	}
	p.probing = true
	return true, true
}

// eligibleFrom counts the providers from index i on that admit would let
// through now, for sharing the budget among them. It only peeks: another
// Send may claim a probe in the meantime, which just makes a share smaller
// or larger than it might have been.
func (f *Failover) eligibleFrom(i int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	n := 0
	for j, p := range f.providers[i:] {
		// Provider i itself has been admitted, probe claimed or not.
		if j == 0 || !p.open || (!p.probing && !now.Before(p.retryAt)) {
			n++
		}
	}
	return n
}

// release ends a probe without a verdict, so the next Send probes again.
func (f *Failover) release(p *provider, probe bool) {
	if !probe {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p.probing = false
}

// record updates p's breaker after an attempt that succeeded (err nil) or
// failed, and logs a transition: opened, closed, or a failed probe that
// opened it again.
func (f *Failover) record(ctx context.Context, p *provider, probe bool, err error) {
	f.mu.Lock()
	wasOpen := p.open
	if probe {
		p.probing = false
	}
	if err == nil {
		p.failures = 0
		p.open = false
		p.retryAt = time.Time{}
	} else {
		p.failures++
		// Re-arming on every failure while open means a failed probe (or a
		// failed last-resort attempt) keeps the provider out for another
		// OpenFor.
		if p.open || p.failures >= f.threshold {
			p.open = true
			p.retryAt = f.now().Add(f.openFor)
		}
	}
	failures, open, retryAt := p.failures, p.open, p.retryAt
	f.mu.Unlock()

	// Logged outside the lock: a slow handler must not hold up other Sends.
	switch {
	case open && (!wasOpen || probe):
		msg := "sms provider breaker opened"
		if wasOpen {
			msg = "sms provider breaker opened again after a failed probe"
		}
		f.log.LogAttrs(ctx, slog.LevelWarn, msg,
			slog.String("provider", p.name), slog.Int("failures", failures),
			slog.Time("retry_at", retryAt))
	case !open && wasOpen:
		f.log.LogAttrs(ctx, slog.LevelInfo, "sms provider breaker closed",
			slog.String("provider", p.name))
	}
}

// Status returns each provider's breaker, in the configured order.
func (f *Failover) Status() []ProviderStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	out := make([]ProviderStatus, 0, len(f.providers))
	for _, p := range f.providers {
		s := ProviderStatus{Name: p.name, State: BreakerClosed, ConsecutiveFailures: p.failures}
		if p.open {
			s.RetryAt = p.retryAt
			s.State = BreakerOpen
			if p.probing || !now.Before(p.retryAt) {
				s.State = BreakerHalfOpen
			}
		}
		out = append(out, s)
	}
	return out
}
