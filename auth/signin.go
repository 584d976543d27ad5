package auth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/otpgate/otpgate/sms"
)

// Errors of the sign-in flow. Each maps to one message a user can act on.
var (
	ErrNoMobile        = errors.New("user has no usable mobile number")
	ErrCodeNotSent     = errors.New("code could not be sent")
	ErrWrongCode       = errors.New("wrong code")
	ErrTooManyAttempts = errors.New("too many wrong codes")
	ErrSignInExpired   = errors.New("sign-in expired or already used")
)

// FlowConfig sets the rules of the second factor.
type FlowConfig struct {
	CodeTTL       time.Duration // how long a code is valid
	MaxAttempts   int           // wrong codes allowed before the sign-in starts over
	Message       string        // SMS text with {code} and {ttl}
	MaskVisible   int           // trailing digits of the number shown to users and logs
	FailureFloor  time.Duration // least time a failed password check takes
	SendTimeout   time.Duration // bound on one SMS send
	MaxPendingAge time.Duration // defaults to CodeTTL
}

// Pending is a sign-in that passed the password and waits for its code.
// It lives only in the Store; the browser holds just its ID.
type Pending struct {
	ID       string `json:"id"`
	User     User   `json:"user"`
	CodeHash string `json:"ch"`
	Redirect string `json:"rd"`
	Created  int64  `json:"c"`
}

// MaskedMobile is the destination as it may be shown.
func (p Pending) MaskedMobile(visible int) string { return sms.MaskNumber(p.User.Mobile, visible) }

// Flow runs the two-step sign-in: password against the Directory, then a
// one-time code sent by SMS and checked against the Store.
type Flow struct {
	dir    Directory
	sender sms.Sender
	store  Store
	codes  *CodeMaker
	cfg    FlowConfig
	log    *slog.Logger
	now    func() time.Time
	floor  *timingFloor
}

// NewFlow wires a Flow; now is the clock (time.Now when nil).
func NewFlow(dir Directory, sender sms.Sender, store Store, codes *CodeMaker, cfg FlowConfig, log *slog.Logger, now func() time.Time) *Flow {
	if now == nil {
		now = time.Now
	}
	if cfg.MaxPendingAge == 0 {
		cfg.MaxPendingAge = cfg.CodeTTL
	}
	return &Flow{dir: dir, sender: sender, store: store, codes: codes, cfg: cfg, log: log, now: now, floor: newTimingFloor(cfg.FailureFloor)}
}

// Config returns the flow's settings, for pages that explain them.
func (f *Flow) Config() FlowConfig { return f.cfg }

func pendingKey(id string) string  { return "pending:" + id }
func attemptsKey(id string) string { return "attempts:" + id }

// Begin checks the password and, when it is right, sends a code and
// returns the pending sign-in. No code is sent before the password is right.
func (f *Flow) Begin(ctx context.Context, username, password, client, redirect string) (Pending, error) {
	start := time.Now()
	log := f.log.With("user", username, "client", client)
	user, err := f.dir.Authenticate(ctx, username, password)
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		log.Info("sign-in: password failed", "cause", err)
		f.floor.wait(ctx, start)
		return Pending{}, ErrInvalidCredentials
	case err != nil:
		log.Error("sign-in: directory error", "err", err)
		return Pending{}, fmt.Errorf("%w: %w", ErrDirectoryUnavailable, err)
	}
	f.floor.succeeded(time.Since(start))
	log = f.log.With("user", user.Username, "client", client)
	log.Info("sign-in: password ok")

	mobile, ok := NormalizeMobile(user.Mobile)
	if !ok {
		if user.Mobile == "" {
			log.Warn("sign-in: refused, no mobile number in the directory")
		} else {
			log.Warn("sign-in: refused, mobile number in the directory is not in international form", "mobile", sms.MaskNumber(user.Mobile, f.cfg.MaskVisible))
		}
		return Pending{}, ErrNoMobile
	}
	user.Mobile = mobile

	id, err := randomID()
	if err != nil {
		return Pending{}, err
	}
	code, err := f.codes.New()
	if err != nil {
		return Pending{}, err
	}
	p := Pending{ID: id, User: user, CodeHash: f.codes.Hash(id, code), Redirect: redirect, Created: f.now().Unix()}
	if err := f.putPending(ctx, p); err != nil {
		log.Error("sign-in: store pending sign-in", "err", err)
		return Pending{}, fmt.Errorf("%w: %w", ErrCodeNotSent, err)
	}
	sendCtx, cancel := context.WithTimeout(ctx, f.cfg.SendTimeout)
	defer cancel()
	sendStart := time.Now()
	if err := f.sender.Send(sendCtx, mobile, sms.RenderMessage(f.cfg.Message, code, f.cfg.CodeTTL)); err != nil {
		// An unsent code must not leave a sign-in waiting for it.
		_ = f.store.Delete(context.WithoutCancel(ctx), pendingKey(id))
		log.Error("sign-in: code not sent", "to", p.MaskedMobile(f.cfg.MaskVisible), "err", err, "duration", time.Since(sendStart).String())
		return Pending{}, fmt.Errorf("%w: %w", ErrCodeNotSent, err)
	}
	log.Info("sign-in: code sent", "to", p.MaskedMobile(f.cfg.MaskVisible), "duration", time.Since(sendStart).String())
	return p, nil
}

func (f *Flow) putPending(ctx context.Context, p Pending) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode pending sign-in: %w", err)
	}
	return f.store.Put(ctx, pendingKey(p.ID), b, f.cfg.CodeTTL)
}

// Pending returns the pending sign-in with id, or ErrSignInExpired.
func (f *Flow) Pending(ctx context.Context, id string) (Pending, error) {
	b, err := f.store.Get(ctx, pendingKey(id))
	if errors.Is(err, ErrNotFound) {
		return Pending{}, ErrSignInExpired
	}
	if err != nil {
		return Pending{}, fmt.Errorf("load pending sign-in: %w", err)
	}
	return decodePending(b)
}

func decodePending(b []byte) (Pending, error) {
	var p Pending
	if err := json.Unmarshal(b, &p); err != nil {
		return Pending{}, fmt.Errorf("decode pending sign-in: %w", err)
	}
	return p, nil
}

// WrongCodeError says how many tries are left after a wrong code.
type WrongCodeError struct{ Left int }

func (e *WrongCodeError) Error() string { return fmt.Sprintf("wrong code, %d tries left", e.Left) }
func (e *WrongCodeError) Unwrap() error { return ErrWrongCode }

// Verify checks code for the pending sign-in id. On success the pending
// sign-in is consumed: of any number of concurrent correct submissions,
// exactly one returns the user.
func (f *Flow) Verify(ctx context.Context, id, code, client string) (Pending, error) {
	p, err := f.Pending(ctx, id)
	if err != nil {
		f.log.Info("sign-in: code for unknown or expired sign-in", "client", client)
		return Pending{}, err
	}
	log := f.log.With("user", p.User.Username, "client", client)
	// Count the attempt before comparing, so concurrent guesses cannot
	// exceed the limit; the counter lives in the store, so replaying an old
	// cookie does not reset it.
	n, err := f.store.Incr(ctx, attemptsKey(id), f.cfg.CodeTTL)
	if err != nil {
		return Pending{}, fmt.Errorf("count code attempt: %w", err)
	}
	if n > int64(f.cfg.MaxAttempts) {
		f.abandon(ctx, id)
		log.Warn("sign-in: code refused, too many attempts")
		return Pending{}, ErrTooManyAttempts
	}
	submitted := f.codes.Hash(id, code)
	if subtle.ConstantTimeCompare([]byte(submitted), []byte(p.CodeHash)) != 1 {
		left := f.cfg.MaxAttempts - int(n)
		if left <= 0 {
			f.abandon(ctx, id)
			log.Warn("sign-in: code wrong, no tries left; sign-in ended")
			return Pending{}, ErrTooManyAttempts
		}
		log.Info("sign-in: code wrong", "tries_left", left)
		return Pending{}, &WrongCodeError{Left: left}
	}
	b, err := f.store.Take(ctx, pendingKey(id))
	if errors.Is(err, ErrNotFound) {
		log.Warn("sign-in: code already used")
		return Pending{}, ErrSignInExpired
	}
	if err != nil {
		return Pending{}, fmt.Errorf("take pending sign-in: %w", err)
	}
	taken, err := decodePending(b)
	if err != nil {
		return Pending{}, err
	}
	// The pending sign-in may have been replaced (a new code) between the
	// read and the take; only the code of the taken version counts.
	if subtle.ConstantTimeCompare([]byte(submitted), []byte(taken.CodeHash)) != 1 {
		log.Warn("sign-in: code superseded while checking")
		return Pending{}, ErrSignInExpired
	}
	_ = f.store.Delete(ctx, attemptsKey(id))
	log.Info("sign-in: code ok")
	return taken, nil
}

// Cancel forgets a pending sign-in (the user went back or signed out).
func (f *Flow) Cancel(ctx context.Context, id string) { f.abandon(ctx, id) }

func (f *Flow) abandon(ctx context.Context, id string) {
	ctx = context.WithoutCancel(ctx)
	_ = f.store.Delete(ctx, pendingKey(id))
	// The attempts counter is left to expire: deleting it would let a
	// replayed pending ID start counting afresh if the pending entry were
	// ever restored.
}

// NormalizeMobile returns the number in E.164 form ("+15550100006") when it
// is written internationally, allowing spaces, dots, dashes and brackets.
func NormalizeMobile(s string) (string, bool) {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", false
		}
	}
	n := b.String()
	if len(n) < 8 || len(n) > 16 || n[0] != '+' || n[1] == '0' {
		return "", false
	}
	return n, true
}
