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

// Lockout locks a user out after repeated wrong passwords or codes, and
// pauses password attempts from a client address after repeated wrong
// passwords. Failures count within a sliding Window. Zero MaxFailures
// disables the user lockout, zero MaxFailuresPerIP the address limit.
type Lockout struct {
	MaxFailures int
	Window      time.Duration // failures count within this sliding window
	Duration    time.Duration // how long a user's lock holds
	// MaxFailuresPerIP is how many wrong passwords one client address may
	// make within Window; then it may try no password until its oldest
	// failure leaves the window.
	MaxFailuresPerIP int
}

// LockedError says a user is locked out, and until when.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return "account locked until " + e.Until.UTC().Format(time.RFC3339)
}

// ErrLocked is wrapped by every *LockedError.
var ErrLocked = errors.New("account locked")

func (e *LockedError) Unwrap() error { return ErrLocked }

// AddressLimitedError says the client's address made too many wrong
// passwords, and when it may try again.
type AddressLimitedError struct{ Until time.Time }

func (e *AddressLimitedError) Error() string {
	return "too many wrong passwords from this address until " + e.Until.UTC().Format(time.RFC3339)
}

// ErrAddressLimited is wrapped by every *AddressLimitedError.
var ErrAddressLimited = errors.New("too many wrong passwords from this address")

func (e *AddressLimitedError) Unwrap() error { return ErrAddressLimited }

// Failures are counted against subjects: the user's identity in the
// directory once it is known, and the typed name, folded, before that
// (and for names the directory does not know, so that a lock tells
// nothing about whether a username exists). Spellings the directory
// treats as one user share the identity's count.

// nameSubject is the subject of a typed or canonical username.
func nameSubject(username string) string { return "name:" + NormalizeUsername(username) }

// identitySubject is the subject of a user the directory found: its DN,
// or its canonical username for directories without DNs.
func identitySubject(u User) string {
	if dn := strings.TrimSpace(u.DN); dn != "" {
		return "dn:" + strings.ToLower(dn)
	}
	return nameSubject(u.Username)
}

// userSubjects are the subjects of a user in the second step: the
// identity, and the canonical name that the usual spelling folds to.
func userSubjects(u User) []string {
	return slices.Compact([]string{identitySubject(u), nameSubject(u.Username)})
}

func lockKey(subject string) string { return "lock:" + subject }
func failKey(subject string) string { return "fail:" + subject }
func addressKey(client string) string {
	return "ipfail:" + client
}

// userLocked returns a *LockedError when any subject of u is locked out.
func (f *Flow) userLocked(ctx context.Context, u User) error {
	return f.locked(ctx, userSubjects(u)...)
}

// locked returns a *LockedError, with the latest end, when any of the
// subjects is locked out.
func (f *Flow) locked(ctx context.Context, subjects ...string) error {
	if f.cfg.Lockout.MaxFailures <= 0 {
		return nil
	}
	var found *LockedError
	for _, s := range subjects {
		b, err := f.store.Get(ctx, lockKey(s))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read lock: %w", err)
		}
		var until int64
		if err := json.Unmarshal(b, &until); err != nil {
			return fmt.Errorf("decode lock: %w", err)
		}
		if found == nil || time.Unix(until, 0).After(found.Until) {
			found = &LockedError{Until: time.Unix(until, 0)}
		}
	}
	if found == nil {
		return nil
	}
	return found
}

// lock locks subject out for the lockout's duration and forgets its
// failures, so that counting starts afresh when the lock ends.
func (f *Flow) lock(ctx context.Context, subject string, failures int64) error {
	lo := f.cfg.Lockout
	until := f.now().Add(lo.Duration)
	b, _ := json.Marshal(until.Unix())
	if err := f.store.Put(ctx, lockKey(subject), b, lo.Duration); err != nil {
		return fmt.Errorf("set lock: %w", err)
	}
	_ = f.store.Delete(ctx, failKey(subject))
	f.log.WarnContext(ctx, "sign-in: locked out", "subject", subject, "failures", failures, "until", until.UTC().Format(time.RFC3339))
	return &LockedError{Until: until}
}

// failed counts one wrong code for user u against each of its subjects
// and locks those that reach the limit; it returns the lock when one was
// set. (Wrong passwords are counted by a guess, before the directory is
// asked.)
func (f *Flow) failed(ctx context.Context, u User) error {
	lo := f.cfg.Lockout
	if lo.MaxFailures <= 0 {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	var lockErr error
	for _, s := range userSubjects(u) {
		r, err := f.store.WindowAdd(ctx, failKey(s), int64(lo.MaxFailures), lo.Window)
		if err != nil {
			return fmt.Errorf("count failure: %w", err)
		}
		if !r.Added || r.Count >= int64(lo.MaxFailures) {
			if err := f.lock(ctx, s, r.Count); err != nil {
				lockErr = err
			}
		}
	}
	return lockErr
}

// succeeded clears the failure counts after a complete sign-in.
func (f *Flow) succeeded(ctx context.Context, u User) {
	if f.cfg.Lockout.MaxFailures <= 0 {
		return
	}
	for _, s := range userSubjects(u) {
		_ = f.store.Delete(context.WithoutCancel(ctx), failKey(s))
	}
}

// guess is one password attempt. It is counted as a failure before the
// directory is asked, against the client address and the typed name at
// once and against the user's identity as soon as the directory has found
// it, so that no number of concurrent guesses passes a limit; a right
// password, or one never checked, gives it back.
type guess struct {
	f        *Flow
	held     []windowEntry // counted failures, to refund
	subjects []string      // counted against
	reached  []atLimit     // subjects this guess brings to the limit
}

type atLimit struct {
	subject string
	count   int64
}

// startGuess counts a password attempt from client for the typed name,
// or refuses it: *AddressLimitedError, *LockedError.
func (f *Flow) startGuess(ctx context.Context, typed, client string) (*guess, error) {
	g := &guess{f: f}
	lo := f.cfg.Lockout
	if lo.MaxFailuresPerIP > 0 {
		r, err := f.store.WindowAdd(ctx, addressKey(client), int64(lo.MaxFailuresPerIP), lo.Window)
		if err != nil {
			return nil, fmt.Errorf("count password attempt: %w", err)
		}
		if !r.Added {
			return nil, &AddressLimitedError{Until: r.Oldest.Add(lo.Window)}
		}
		g.held = append(g.held, windowEntry{addressKey(client), r.ID})
	}
	if err := g.admit(ctx, nameSubject(typed)); err != nil {
		g.cancel(ctx)
		return nil, err
	}
	return g, nil
}

// admit refuses the guess when subject is locked, and otherwise counts it
// against subject. A subject full of failures and guesses in flight is as
// good as locked.
func (g *guess) admit(ctx context.Context, subject string) error {
	lo := g.f.cfg.Lockout
	if lo.MaxFailures <= 0 || slices.Contains(g.subjects, subject) {
		return nil
	}
	if err := g.f.locked(ctx, subject); err != nil {
		return err
	}
	r, err := g.f.store.WindowAdd(ctx, failKey(subject), int64(lo.MaxFailures), lo.Window)
	if err != nil {
		return fmt.Errorf("count password attempt: %w", err)
	}
	if !r.Added {
		return &LockedError{Until: r.Oldest.Add(lo.Window)}
	}
	// A lock set between the check above and the count (lock sets the
	// lock, then empties the window) would let this guess count on an
	// empty window and be checked: look again now that it is counted.
	if err := g.f.locked(ctx, subject); err != nil {
		_ = g.f.store.WindowRemove(context.WithoutCancel(ctx), failKey(subject), r.ID)
		return err
	}
	g.held = append(g.held, windowEntry{failKey(subject), r.ID})
	g.subjects = append(g.subjects, subject)
	if r.Count >= int64(lo.MaxFailures) {
		g.reached = append(g.reached, atLimit{subject, r.Count})
	}
	return nil
}

// cancel gives the guess back: the password was right, or not checked.
func (g *guess) cancel(ctx context.Context) {
	for _, e := range g.held {
		_ = g.f.store.WindowRemove(context.WithoutCancel(ctx), e.key, e.id)
	}
}

// failed keeps the guess counted and locks the subjects it brought to the
// limit; it returns the lock when one was set.
func (g *guess) failed(ctx context.Context) error {
	var lockErr error
	for _, s := range g.reached {
		if err := g.f.lock(context.WithoutCancel(ctx), s.subject, s.count); err != nil {
			lockErr = err
		}
	}
	return lockErr
}
