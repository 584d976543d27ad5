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
	ErrResendDisabled  = errors.New("sending a new code is turned off")
)

// FlowConfig sets the rules of the second factor.
type FlowConfig struct {
	CodeTTL        time.Duration // how long a code is valid
	MaxAttempts    int           // wrong codes allowed before the sign-in starts over
	Retry          bool          // false: one wrong code ends the sign-in
	Resend         bool          // the user may ask for a new code
	ResendCooldown time.Duration // least time between two codes of one sign-in
	MaxSends       int           // codes per sign-in, the first included
	Message        string        // SMS text with {code}, {ttl} and {host}
	Host           string        // the public host, for {host} and the origin-bound line
	OriginBound    bool          // end the SMS with "@host #code" so phones autofill only there
	MaskVisible    int           // trailing digits of the number shown to users and logs
	FailureFloor   time.Duration // least time a failed password check takes
	SendTimeout    time.Duration // bound on one SMS send
	DefaultRegion  string        // region for directory numbers without a country code
	NumberTypes    NumberTypes   // kinds of number codes go to; zero: DefaultNumberTypes
	Policy         Policy
	Lockout        Lockout
	Limits         Limits
	// BackupCodes lets users sign in with a one-time backup code instead of
	// the SMS code; the Directory must then be a BackupCodeDirectory.
	BackupCodes bool
	// CaptureMobile lets a user with no mobile number enter one; it is
	// written to the directory only after a code sent to it comes back.
	// The Directory must then be a MobileWriter.
	CaptureMobile     bool
	CaptureMobileBind BindAs
	// PasswordChangeURL is where users change an expired password, shown
	// when the directory says it has expired; "": not shown.
	PasswordChangeURL string
	// Observer hears each step's outcome, for metrics; nil: nobody.
	Observer Observer
}

// Observer hears the outcome of sign-in steps. Results are short fixed
// words, fit for metric labels.
type Observer interface {
	SignIn(result string)    // password step: code_sent, signed_in_one_factor, capture, password_failed, account_unusable, locked, address_limited, no_mobile, limited, not_sent, directory_error, error
	CodeCheck(result string) // code or backup code: ok, wrong, too_many_attempts, expired, just_used, locked, not_saved, error
}

type noObserver struct{}

func (noObserver) SignIn(string)    {}
func (noObserver) CodeCheck(string) {}

func beginResult(res Result, err error) string {
	var locked *LockedError
	var limited *LimitError
	var unproven *UnprovenStateError
	switch {
	case err == nil && res.SignedIn:
		return "signed_in_one_factor"
	case err == nil && res.NeedMobile:
		return "capture"
	case err == nil:
		return "code_sent"
	case errors.As(err, &unproven):
		return "account_unusable"
	case errors.Is(err, ErrInvalidCredentials):
		return "password_failed"
	case errors.Is(err, ErrAccountUnusable):
		return "account_unusable"
	case errors.As(err, &locked):
		return "locked"
	case errors.Is(err, ErrAddressLimited):
		return "address_limited"
	case errors.Is(err, ErrNoMobile):
		return "no_mobile"
	case errors.As(err, &limited):
		return "limited"
	case errors.Is(err, ErrCodeNotSent):
		return "not_sent"
	case errors.Is(err, ErrDirectoryUnavailable):
		return "directory_error"
	}
	return "error"
}

func checkResult(err error) string {
	var locked *LockedError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrWrongCode):
		return "wrong"
	case errors.Is(err, ErrTooManyAttempts):
		return "too_many_attempts"
	case errors.Is(err, ErrSignInExpired):
		return "expired"
	case errors.Is(err, ErrBackupCodeJustUsed):
		return "just_used"
	case errors.As(err, &locked):
		return "locked"
	case errors.Is(err, ErrMobileNotSaved):
		return "not_saved"
	}
	return "error"
}

// BackupCodeDirectory keeps users' backup-code hashes in the directory.
type BackupCodeDirectory interface {
	BackupCodeHashes(ctx context.Context, dn string) ([]string, error)
	ReplaceBackupCodes(ctx context.Context, dn string, hashes []string) error
	// RemoveBackupCode removes one hash; ErrBackupCodeUsed when it is gone.
	RemoveBackupCode(ctx context.Context, dn, hash string) error
}

// MobileWriter saves a user's verified mobile number in the directory.
type MobileWriter interface {
	SetMobile(ctx context.Context, dn, e164 string, as BindAs, password string) error
}

// Pending is a sign-in that passed the password and waits for its code.
// It lives only in the Store; the browser holds just its ID.
type Pending struct {
	ID       string `json:"id"`
	User     User   `json:"user"`
	CodeHash string `json:"ch"`
	Redirect string `json:"rd"`
	Created  int64  `json:"c"`
	SentAt   int64  `json:"sa"` // unix seconds the current code was sent
	Sends    int    `json:"s"`  // codes sent for this sign-in
	// Capture: the user typed the number; it is saved after the code.
	Capture     bool   `json:"cap,omitempty"`
	PasswordBox []byte `json:"pb,omitempty"` // see sealPassword
}

// MaskedMobile is the destination as it may be shown.
func (p Pending) MaskedMobile(visible int) string { return maskNumber(p.User.Mobile, visible) }

// Result is the outcome of a right password: either a code was sent and
// Pending waits for it, or no code is needed and the user is signed in.
type Result struct {
	Pending  Pending
	SignedIn bool
	User     User
	Factors  int
	// NeedMobile: the user has no number and must enter one (capture);
	// CaptureKey then goes to the browser with the pending sign-in.
	NeedMobile bool
	CaptureKey []byte
}

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
	if !cfg.Resend || cfg.MaxSends < 1 {
		cfg.MaxSends = 1
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	return &Flow{dir: dir, sender: sender, store: store, codes: codes, cfg: cfg, log: log, now: now, floor: newTimingFloor(cfg.FailureFloor)}
}

// Config returns the flow's settings, for pages that explain them.
func (f *Flow) Config() FlowConfig { return f.cfg }

// Alphanumeric reports whether codes contain letters.
func (f *Flow) Alphanumeric() bool { return f.codes.alphabet != DigitAlphabet }

func pendingKey(id string) string  { return "pending:" + id }
func attemptsKey(id string) string { return "attempts:" + id }
func sendsKey(id string) string    { return "sends:" + id }
func cooldownKey(id string) string { return "cooldown:" + id }
func usedKey(id string) string     { return "used:" + id }

// Lifetime bounds how long anything about one sign-in is kept: every code
// it may be sent, each valid for CodeTTL.
func (f *Flow) Lifetime() time.Duration { return f.lifetime() }

func (f *Flow) lifetime() time.Duration {
	return f.cfg.CodeTTL*time.Duration(f.cfg.MaxSends) + f.cfg.ResendCooldown*time.Duration(f.cfg.MaxSends)
}

// Begin checks the password and then either sends a code (Result.Pending)
// or, where policy lets the user sign in without one, says so. No code is
// sent before the password is right.
func (f *Flow) Begin(ctx context.Context, username, password, client, redirect string) (Result, error) {
	res, err := f.begin(ctx, username, password, client, redirect)
	f.cfg.Observer.SignIn(beginResult(res, err))
	return res, err
}

func (f *Flow) begin(ctx context.Context, username, password, client, redirect string) (Result, error) {
	start := time.Now()
	log := f.log.With("user", username, "client", client)
	// Counted before the directory is asked under the name searched for,
	// so that EXAMPLE\alice, alice@example.com and alice share a count.
	counted := username
	if ln, ok := f.dir.(LoginNamer); ok {
		counted = ln.LoginName(username)
	}
	g, err := f.startGuess(ctx, counted, client)
	switch {
	case errors.Is(err, ErrAddressLimited):
		log.WarnContext(ctx, "sign-in: refused, too many wrong passwords from this address")
		return Result{}, err
	case errors.Is(err, ErrLocked):
		log.InfoContext(ctx, "sign-in: refused, user locked out")
		return Result{}, err
	case err != nil:
		log.ErrorContext(ctx, "sign-in: count password attempt", "err", err)
		return Result{}, err
	}
	// Checked once the directory has found the user, before any bind: a
	// lock by identity holds whatever spelling of the name found them.
	var admitErr error
	var stateErr *AccountStateError
	var unproven *UnprovenStateError
	user, err := f.dir.AuthenticateWith(ctx, username, password, func(u User) error {
		admitErr = g.admit(ctx, identitySubject(u))
		return admitErr
	})
	switch {
	case admitErr != nil:
		g.cancel(ctx)
		if errors.Is(admitErr, ErrLocked) {
			log.InfoContext(ctx, "sign-in: refused, user locked out")
		} else {
			log.ErrorContext(ctx, "sign-in: count password attempt", "err", admitErr)
		}
		// As long as an unknown name or a wrong password takes.
		f.floor.wait(ctx, start)
		return Result{}, admitErr
	case errors.As(err, &stateErr):
		// Not a wrong password: AD says so only for the right one (or
		// for any, when it has locked the account itself).
		g.cancel(ctx)
		log.InfoContext(ctx, "sign-in: refused by the directory for the account's state", "state", stateErr.State, "cause", stateErr.Detail)
		stateErr.ChangeURL = f.cfg.PasswordChangeURL
		return Result{}, stateErr
	case errors.As(err, &unproven):
		// Answered as a wrong password, and as slowly, but not counted:
		// no password was tried.
		g.cancel(ctx)
		log.InfoContext(ctx, "sign-in: refused without trying the password: the directory says the account is unusable",
			"state", unproven.State, "cause", unproven.Detail)
		f.floor.wait(ctx, start)
		return Result{}, err
	case errors.Is(err, ErrInvalidCredentials):
		log.InfoContext(ctx, "sign-in: password failed", "cause", err)
		lockErr := g.failed(ctx)
		f.floor.wait(ctx, start)
		if lockErr != nil {
			return Result{}, lockErr
		}
		return Result{}, ErrInvalidCredentials
	case err != nil:
		g.cancel(ctx)
		log.ErrorContext(ctx, "sign-in: directory error", "err", err)
		return Result{}, fmt.Errorf("%w: %w", ErrDirectoryUnavailable, err)
	}
	g.cancel(ctx) // a right password is no failure
	f.floor.succeeded(time.Since(start))
	log = f.log.With("user", user.Username, "client", client)
	log.InfoContext(ctx, "sign-in: password ok")

	if need, why := f.cfg.Policy.needsCode(user); !need {
		log.InfoContext(ctx, "sign-in: signed in with one factor", "reason", why)
		f.succeeded(ctx, user)
		return Result{SignedIn: true, User: user, Factors: 1}, nil
	}
	mobile, err := f.directoryMobile(user)
	if err != nil {
		return f.noUsableMobile(ctx, user, password, redirect, err, log)
	}
	user.Mobile = mobile.E164

	id, err := randomID()
	if err != nil {
		return Result{}, err
	}
	p := Pending{ID: id, User: user, Redirect: redirect, Created: f.now().Unix()}
	if err := f.sendCode(ctx, &p, mobile.Region, client, log); err != nil {
		return Result{}, err
	}
	return Result{Pending: p}, nil
}

// Resend sends a new code for the pending sign-in id; the old code stops
// working. Wrong tries are not reset.
func (f *Flow) Resend(ctx context.Context, id, client string) (Pending, error) {
	if !f.cfg.Resend {
		return Pending{}, ErrResendDisabled
	}
	p, err := f.Pending(ctx, id)
	if err != nil {
		return Pending{}, err
	}
	log := f.log.With("user", p.User.Username, "client", client)
	if err := f.userLocked(ctx, p.User); err != nil {
		return Pending{}, err
	}
	mobile, err := f.cfg.NumberTypes.ParseMobile(p.User.Mobile, "")
	if err != nil {
		return Pending{}, fmt.Errorf("%w: %w", ErrCodeNotSent, err)
	}
	if err := f.sendCode(ctx, &p, mobile.Region, client, log); err != nil {
		return Pending{}, err
	}
	// A correct code may have been used while this one was made; then the
	// pending sign-in just stored must not outlive it.
	if _, err := f.store.Get(ctx, usedKey(id)); err == nil {
		_ = f.store.Delete(context.WithoutCancel(ctx), pendingKey(id))
		return Pending{}, ErrSignInExpired
	}
	return p, nil
}

// NextSendAt is when the pending sign-in may ask for another code.
func (f *Flow) NextSendAt(p Pending) time.Time {
	return time.Unix(p.SentAt, 0).Add(f.cfg.ResendCooldown)
}

// CanResend reports whether the page should offer a new code.
func (f *Flow) CanResend(p Pending) bool { return f.cfg.Resend && p.Sends < f.cfg.MaxSends }

// sendCode makes a new code for p, stores p with its hash and sends the
// code, within the cooldown, the per-sign-in cap and every SMS limit. A
// send that fails at every provider is refunded from the SMS limits, which
// count delivered messages (an outage must not leave users "too many codes
// sent"), but it still counts for the sign-in's cooldown and cap: hammering
// a broken gateway should not be free.
func (f *Flow) sendCode(ctx context.Context, p *Pending, region, client string, log *slog.Logger) error {
	if f.cfg.ResendCooldown > 0 {
		c, err := f.store.Incr(ctx, cooldownKey(p.ID), f.cfg.ResendCooldown)
		if err != nil {
			return fmt.Errorf("%w: count cooldown: %w", ErrCodeNotSent, err)
		}
		if c > 1 {
			log.InfoContext(ctx, "sign-in: code not sent, asked again within the cooldown")
			return &LimitError{Limit: LimitCooldown, Until: f.NextSendAt(*p)}
		}
	}
	n, err := f.store.Incr(ctx, sendsKey(p.ID), f.lifetime())
	if err != nil {
		return fmt.Errorf("%w: count sends: %w", ErrCodeNotSent, err)
	}
	if n > int64(f.cfg.MaxSends) {
		log.WarnContext(ctx, "sign-in: code not sent, limit reached", "limit", LimitPerSignIn, "sends", n-1)
		return &LimitError{Limit: LimitPerSignIn}
	}
	charge, err := f.allowSMS(ctx, p.User.Username, p.User.Mobile, region, client)
	if err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			log.WarnContext(ctx, "sign-in: code not sent, limit reached", "limit", le.Limit, "to", p.MaskedMobile(f.cfg.MaskVisible))
		}
		return err
	}
	code, err := f.codes.New()
	if err != nil {
		f.refund(ctx, charge)
		return err
	}
	p.CodeHash = f.codes.Hash(p.ID, code)
	p.SentAt = f.now().Unix()
	p.Sends = int(n)
	if err := f.putPending(ctx, *p); err != nil {
		f.refund(ctx, charge)
		log.ErrorContext(ctx, "sign-in: store pending sign-in", "err", err)
		return fmt.Errorf("%w: %w", ErrCodeNotSent, err)
	}
	sendCtx, cancel := context.WithTimeout(ctx, f.cfg.SendTimeout)
	defer cancel()
	sendStart := time.Now()
	if err := f.sender.Send(sendCtx, p.User.Mobile, f.message(ctx, code)); err != nil {
		f.refund(ctx, charge) // an error means not sent (sms.Sender)
		if p.Sends == 1 {
			// An unsent first code must not leave a sign-in waiting for it.
			_ = f.store.Delete(context.WithoutCancel(ctx), pendingKey(p.ID))
		}
		log.ErrorContext(ctx, "sign-in: code not sent", "to", p.MaskedMobile(f.cfg.MaskVisible), "err", err, "duration", time.Since(sendStart).String())
		return fmt.Errorf("%w: %w", ErrCodeNotSent, err)
	}
	log.InfoContext(ctx, "sign-in: code sent", "to", p.MaskedMobile(f.cfg.MaskVisible), "send", p.Sends, "duration", time.Since(sendStart).String())
	return nil
}

// message renders the SMS text for code, in the wording ctx carries.
func (f *Flow) message(ctx context.Context, code string) string {
	w := f.wording(ctx)
	msg := strings.ReplaceAll(renderMessage(w.Template, code, w.TTL), "{host}", f.cfg.Host)
	if f.cfg.OriginBound && f.cfg.Host != "" {
		// The origin-bound format (WICG sms-one-time-codes): browsers offer
		// to fill the code only on this host, which defeats phishing pages.
		msg += "\n\n@" + f.cfg.Host + " #" + code
	}
	return msg
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
// exactly one returns the user. captureKey opens the sealed password of a
// capture sign-in (nil otherwise).
func (f *Flow) Verify(ctx context.Context, id, code, client string, captureKey []byte) (Pending, error) {
	p, err := f.verify(ctx, id, code, client, captureKey)
	f.cfg.Observer.CodeCheck(checkResult(err))
	return p, err
}

func (f *Flow) verify(ctx context.Context, id, code, client string, captureKey []byte) (Pending, error) {
	a, err := f.startAttempt(ctx, id, client, "code")
	if err != nil {
		return Pending{}, err
	}
	submitted := f.codes.Hash(id, code)
	if subtle.ConstantTimeCompare([]byte(submitted), []byte(a.p.CodeHash)) != 1 {
		return Pending{}, f.refuseAttempt(ctx, a, "code")
	}
	taken, err := f.takePending(ctx, a)
	if err != nil {
		return Pending{}, err
	}
	// The pending sign-in may have been replaced (a new code) between the
	// read and the take; only the code of the taken version counts.
	if subtle.ConstantTimeCompare([]byte(submitted), []byte(taken.CodeHash)) != 1 {
		a.log.WarnContext(ctx, "sign-in: code superseded while checking")
		return Pending{}, ErrSignInExpired
	}
	a.log.InfoContext(ctx, "sign-in: code ok")
	if taken.Capture {
		if err := f.saveCaptured(ctx, taken, captureKey, a.log); err != nil {
			return Pending{}, err
		}
	}
	f.succeeded(ctx, a.p.User)
	return taken, nil
}

// attempt is one counted try at the second factor of a pending sign-in.
type attempt struct {
	id  string
	p   Pending // as read before the try was counted
	n   int64   // this try's number
	max int     // tries allowed
	log *slog.Logger
}

// startAttempt loads the pending sign-in id, refuses a locked user, and
// counts one try before anything is compared, so that concurrent guesses
// cannot exceed the limit. The counter lives in the store, so replaying an
// old cookie or asking for a new code does not reset it. what names the
// factor in the log ("code", "backup code").
func (f *Flow) startAttempt(ctx context.Context, id, client, what string) (attempt, error) {
	p, err := f.Pending(ctx, id)
	if err != nil {
		f.log.InfoContext(ctx, "sign-in: "+what+" for unknown or expired sign-in", "client", client)
		return attempt{}, err
	}
	a := attempt{id: id, p: p, max: f.cfg.MaxAttempts, log: f.log.With("user", p.User.Username, "client", client)}
	if err := f.userLocked(ctx, p.User); err != nil {
		f.abandon(ctx, id)
		return attempt{}, err
	}
	if a.n, err = f.store.Incr(ctx, attemptsKey(id), f.lifetime()); err != nil {
		return attempt{}, fmt.Errorf("count %s attempt: %w", what, err)
	}
	if !f.cfg.Retry {
		a.max = 1
	}
	if a.n > int64(a.max) {
		f.abandon(ctx, id)
		a.log.WarnContext(ctx, "sign-in: "+what+" refused, too many attempts")
		return attempt{}, ErrTooManyAttempts
	}
	return a, nil
}

// releaseAttempt gives back a try that was counted but never judged.
func (f *Flow) releaseAttempt(ctx context.Context, a attempt) {
	_ = f.store.Decr(context.WithoutCancel(ctx), attemptsKey(a.id))
}

// refuseAttempt ends a wrong try: it counts toward lockout, and the
// sign-in ends when no tries are left. It returns the error to give the
// user: *LockedError, ErrTooManyAttempts or *WrongCodeError.
func (f *Flow) refuseAttempt(ctx context.Context, a attempt, what string) error {
	if lockErr := f.failed(ctx, a.p.User); lockErr != nil {
		f.abandon(ctx, a.id)
		return lockErr
	}
	left := a.max - int(a.n)
	if left <= 0 {
		f.abandon(ctx, a.id)
		a.log.WarnContext(ctx, "sign-in: "+what+" wrong, no tries left; sign-in ended")
		return ErrTooManyAttempts
	}
	a.log.InfoContext(ctx, "sign-in: "+what+" wrong", "tries_left", left)
	return &WrongCodeError{Left: left}
}

// takePending consumes the pending sign-in of a right try: of concurrent
// takers exactly one gets it, the others ErrSignInExpired. It marks the
// sign-in used, so that a new code sent at the same moment (Resend) does
// not bring it back.
func (f *Flow) takePending(ctx context.Context, a attempt) (Pending, error) {
	b, err := f.store.Take(ctx, pendingKey(a.id))
	if errors.Is(err, ErrNotFound) {
		a.log.WarnContext(ctx, "sign-in: pending sign-in already used")
		return Pending{}, ErrSignInExpired
	}
	if err != nil {
		return Pending{}, fmt.Errorf("take pending sign-in: %w", err)
	}
	_ = f.store.Put(context.WithoutCancel(ctx), usedKey(a.id), []byte{1}, f.lifetime())
	return decodePending(b)
}

// Cancel forgets a pending sign-in (the user went back or signed out).
func (f *Flow) Cancel(ctx context.Context, id string) { f.abandon(ctx, id) }

// abandon deletes the pending sign-in. Its counters are left to expire, so
// nothing about it can start afresh.
func (f *Flow) abandon(ctx context.Context, id string) {
	_ = f.store.Delete(context.WithoutCancel(ctx), pendingKey(id))
}
