package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
)

// ErrMobileRefused wraps ErrNoMobile: the directory holds a number, but
// codes are not sent to it (a landline, a refused kind or range). Such a
// user is never offered capture, which would let the password alone
// replace the number.
var ErrMobileRefused = fmt.Errorf("%w: the directory's number cannot receive codes", ErrNoMobile)

// ErrMobileNotSaved means the code was right but the directory did not take the
// captured number; no session is issued and nothing was written.
var ErrMobileNotSaved = errors.New("mobile number not saved")

// sealPassword encrypts password under a fresh key. The box is kept with
// the pending sign-in in the store and the key only in the browser's
// cookie, so that neither alone reveals the password; it is needed only to
// write the captured number as the user (CAPTURE_MOBILE_BIND=user).
func sealPassword(password string) (box, key []byte, err error) {
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, nil, fmt.Errorf("seal password: %w", err)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, fmt.Errorf("seal password: %w", err)
	}
	return aead.Seal(nonce, nonce, []byte(password), nil), key, nil
}

func openPassword(box, key []byte) (string, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	if len(box) < aead.NonceSize() {
		return "", errors.New("open password: box too short")
	}
	plain, err := aead.Open(nil, box[:aead.NonceSize()], box[aead.NonceSize():], nil)
	if err != nil {
		return "", fmt.Errorf("open password: %w", err)
	}
	return string(plain), nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("password box: %w", err)
	}
	return cipher.NewGCM(block)
}

// directoryMobile reads the user's number from the directory's value, or
// says why codes cannot go to it. A number in a country or range codes are
// not sent to is a *LimitError LimitCountry, refused here, before anything is
// counted, because the send limits' own country check lets the ranges of
// no country through when the list is empty.
func (f *Flow) directoryMobile(user User) (Mobile, error) {
	m, err := f.cfg.NumberTypes.ParseMobile(user.Mobile, f.cfg.DefaultRegion)
	if err != nil {
		return Mobile{}, err
	}
	if !CountryAllowed(f.cfg.Limits.AllowedCountries, m.Region) {
		return Mobile{}, &LimitError{Limit: LimitCountry}
	}
	return m, nil
}

// noUsableMobile answers a right password of a user the directory gives no
// number codes can go to (err says why). Only a user with no number at all
// may enter one (capture): a number that exists but is refused is the
// administrator's to fix, and capture would let the password alone replace
// it. Where policy lets users without a usable number in with the password
// alone, both kinds are.
func (f *Flow) noUsableMobile(ctx context.Context, user User, password, redirect string, err error, log *slog.Logger) (Result, error) {
	var limited *LimitError
	if errors.As(err, &limited) {
		log.WarnContext(ctx, "sign-in: code not sent, limit reached", "limit", limited.Limit, "to", maskNumber(user.Mobile, f.cfg.MaskVisible))
		return Result{}, err
	}
	var bad *InvalidMobileError
	missing := errors.As(err, &bad) && bad.Problem == MobileEmpty
	if missing && f.cfg.CaptureMobile {
		return f.beginCapture(ctx, user, password, redirect, log)
	}
	if f.cfg.Policy.maySkipMissingMobile(user) {
		log.WarnContext(ctx, "sign-in: signed in with one factor, no usable mobile number", "cause", err)
		f.succeeded(ctx, user)
		return Result{SignedIn: true, User: user, Factors: 1}, nil
	}
	if missing {
		log.WarnContext(ctx, "sign-in: refused, no mobile number", "cause", err)
		return Result{}, ErrNoMobile
	}
	log.WarnContext(ctx, "sign-in: refused, the directory's mobile number cannot receive codes", "cause", err)
	return Result{}, fmt.Errorf("%w: %w", ErrMobileRefused, err)
}

// beginCapture starts a sign-in for a user with no number, who will enter
// one; no code is sent until then.
func (f *Flow) beginCapture(ctx context.Context, user User, password, redirect string, log *slog.Logger) (Result, error) {
	id, err := randomID()
	if err != nil {
		return Result{}, err
	}
	p := Pending{ID: id, User: user, Redirect: redirect, Created: f.now().Unix(), Capture: true}
	p.User.Mobile = ""
	var key []byte
	if f.cfg.CaptureMobileBind == BindUser {
		if p.PasswordBox, key, err = sealPassword(password); err != nil {
			return Result{}, err
		}
	}
	if err := f.putPending(ctx, p); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrCodeNotSent, err)
	}
	log.InfoContext(ctx, "sign-in: no mobile number; asking the user for one")
	return Result{Pending: p, NeedMobile: true, CaptureKey: key}, nil
}

// CaptureMobile takes the number a user typed for the pending sign-in id,
// checks it, and sends a code to it. The number is written to the
// directory only once that code comes back (Verify).
func (f *Flow) CaptureMobile(ctx context.Context, id, typed, client string) (Pending, error) {
	p, err := f.Pending(ctx, id)
	if err != nil {
		return Pending{}, err
	}
	if !p.Capture {
		return Pending{}, ErrSignInExpired
	}
	log := f.log.With("user", p.User.Username, "client", client)
	if err := f.userLocked(ctx, p.User); err != nil {
		return Pending{}, err
	}
	m, err := f.cfg.NumberTypes.ParseMobile(typed, f.cfg.DefaultRegion)
	if err == nil && !CountryAllowed(f.cfg.Limits.AllowedCountries, m.Region) {
		// Refused before sendCode, so that the try costs no send and no
		// cooldown: the user simply types another number.
		err = &InvalidMobileError{Problem: MobileRefusedRange}
	}
	if err != nil {
		log.InfoContext(ctx, "sign-in: typed mobile number refused", "cause", err)
		return Pending{}, err
	}
	p.User.Mobile = m.E164
	if err := f.sendCode(ctx, &p, m.Region, client, log); err != nil {
		return Pending{}, err
	}
	return p, nil
}

// saveCaptured writes the verified number to the directory.
func (f *Flow) saveCaptured(ctx context.Context, p Pending, key []byte, log *slog.Logger) error {
	w, ok := f.dir.(MobileWriter)
	if !ok {
		return fmt.Errorf("%w: the directory cannot store numbers", ErrMobileNotSaved)
	}
	var password string
	if f.cfg.CaptureMobileBind == BindUser {
		var err error
		if password, err = openPassword(p.PasswordBox, key); err != nil {
			log.ErrorContext(ctx, "sign-in: captured number not saved", "err", err)
			return fmt.Errorf("%w: %w", ErrMobileNotSaved, err)
		}
	}
	if err := w.SetMobile(ctx, p.User.DN, p.User.Mobile, f.cfg.CaptureMobileBind, password); err != nil {
		log.ErrorContext(ctx, "sign-in: captured number not saved", "to", p.MaskedMobile(f.cfg.MaskVisible), "err", err)
		return fmt.Errorf("%w: %w", ErrMobileNotSaved, err)
	}
	log.InfoContext(ctx, "sign-in: captured mobile number saved", "to", p.MaskedMobile(f.cfg.MaskVisible))
	return nil
}
