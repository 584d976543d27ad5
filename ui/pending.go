package ui

import (
	"errors"
	"net/http"

	"github.com/otpgate/otpgate/auth"
)

// pendingID returns the ID of the sign-in the browser's pending cookie
// names; without one (never signed in, or the cookie outlived it) the
// answer is the "sign-in expired" page.
func (h *Handler) pendingID(r *http.Request) (string, error) {
	id, err := h.pending.Read(r)
	if err != nil || id == "" {
		return "", h.expired("")
	}
	return id, nil
}

// loadPending returns the sign-in the browser's pending cookie names.
func (h *Handler) loadPending(r *http.Request) (auth.Pending, error) {
	id, err := h.pendingID(r)
	if err != nil {
		return auth.Pending{}, err
	}
	p, err := h.cfg.Flow.Pending(r.Context(), id)
	if errors.Is(err, auth.ErrSignInExpired) {
		return auth.Pending{}, h.expired("")
	}
	return p, err
}

// signInEnded is the answer to the last wrong code (SMS or backup) a
// sign-in allows: it forgets the pending sign-in in the browser too.
func (h *Handler) signInEnded(w http.ResponseWriter) error {
	h.pending.Clear(w)
	return &pageError{status: http.StatusUnauthorized, title: m("TooManyWrongCodesTitle"),
		message: []msg{m("TooManyWrongCodes"), m("SignInAgainForCode")},
		next:    h.SignInURL("/"), nextLabel: m("SignInAgain")}
}

// finishSecondFactor ends a sign-in whose second factor (the SMS code or a
// backup code) was right: the browser forgets the pending sign-in, gets a
// two-factor session and goes on to where the sign-in began.
func (h *Handler) finishSecondFactor(w http.ResponseWriter, r *http.Request, p auth.Pending) error {
	h.pending.Clear(w)
	// A fresh session, never one the browser brought: no session fixation.
	if _, err := h.cfg.Sessions.Issue(w, p.User, 2); err != nil {
		return err
	}
	http.Redirect(w, r, h.cfg.Redirects.Safe(p.Redirect), http.StatusSeeOther)
	return nil
}
