package ui

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/otpgate/otpgate/auth"
)

// maxFormBytes bounds every form body; the largest legitimate one (username,
// password, token, redirect) is well under it.
const maxFormBytes = 16 << 10

// csrfLifetime bounds how long a sign-in form stays usable.
const csrfLifetime = 12 * time.Hour

// csrfToken returns the browser's CSRF token, setting a new one when it has
// none or its cookie no longer verifies.
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if tok, err := h.csrf.Read(r); err == nil && tok != "" {
		return tok, nil
	}
	tok, err := auth.RandomToken()
	if err != nil {
		return "", err
	}
	return tok, h.csrf.Write(w, tok, csrfLifetime)
}

// parseForm reads a bounded form body and checks its CSRF token against the
// cookie, in constant time.
func (h *Handler) parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &pageError{status: http.StatusRequestEntityTooLarge, title: m("FormTooLargeTitle"),
				message: []msg{m("FormTooLarge")},
				next:    h.cfg.Prefix + "signin", nextLabel: m("BackToSignIn")}
		}
		return &pageError{status: http.StatusBadRequest, title: m("FormUnreadableTitle"),
			message: []msg{m("GoBackAndTryAgain")}, next: h.cfg.Prefix + "signin", nextLabel: m("BackToSignIn"), cause: err}
	}
	want, err := h.csrf.Read(r)
	got := r.PostForm.Get("csrf")
	if err != nil || want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return &pageError{status: http.StatusForbidden, title: m("FormExpiredTitle"),
			message: []msg{m("FormExpired")},
			next:    h.cfg.Prefix + "signin?rd=" + url.QueryEscape(h.cfg.Redirects.Safe(r.PostForm.Get("rd"))), nextLabel: m("BackToSignIn"),
			cause: fmt.Errorf("csrf token missing or wrong (cookie: %w)", err)}
	}
	return nil
}
