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

// ErrMobileNotSaved: the code was right but the directory did not take the
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

// beginCapture starts a sign-in for a user with no usable number, who will
// enter one; no code is sent until then.
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
	log.Info("sign-in: no mobile number; asking the user for one")
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
	m, err := ParseMobile(typed, f.cfg.DefaultRegion)
	if err != nil {
		log.Info("sign-in: typed mobile number refused", "cause", err)
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
			log.Error("sign-in: captured number not saved", "err", err)
			return fmt.Errorf("%w: %w", ErrMobileNotSaved, err)
		}
	}
	if err := w.SetMobile(ctx, p.User.DN, p.User.Mobile, f.cfg.CaptureMobileBind, password); err != nil {
		log.Error("sign-in: captured number not saved", "to", p.MaskedMobile(f.cfg.MaskVisible), "err", err)
		return fmt.Errorf("%w: %w", ErrMobileNotSaved, err)
	}
	log.Info("sign-in: captured mobile number saved", "to", p.MaskedMobile(f.cfg.MaskVisible))
	return nil
}
