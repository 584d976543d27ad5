package ui

import (
	"errors"
	"net/http"

	"github.com/otpgate/otpgate/auth"
)

// loadPending returns the sign-in the browser's pending cookie names.
func (h *Handler) loadPending(r *http.Request) (auth.Pending, error) {
	id, err := h.pending.Read(r)
	if err != nil || id == "" {
		return auth.Pending{}, h.expired("")
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
	return &pageError{status: http.StatusUnauthorized, title: "Too many wrong codes",
		message: []string{"That code was not right, and no more tries are allowed. For your security this sign-in has ended.",
			"Please sign in again to get a new code."},
		next: h.SignInURL("/"), nextLabel: "Sign in again"}
}
