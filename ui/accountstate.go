package ui

import (
	"net/http"

	"github.com/otpgate/otpgate/auth"
)

// accountStateMessage is what a user is told when the directory refused
// their right password for their account's state: what is true, and what
// they can do. It names no password as wrong.
func accountStateMessage(e *auth.AccountStateError) (title, msg string) {
	switch e.State {
	case auth.AccountDisabled:
		return "Your account is disabled", "Your account is disabled. Ask your administrator to enable it."
	case auth.AccountExpired:
		return "Your account has expired", "Your account has expired. Ask your administrator to extend it."
	case auth.AccountLockedInDir:
		return "Your account is locked", "Your account is locked in the directory, after too many wrong passwords. " +
			"Wait for the lock to end, or ask your administrator to unlock it."
	case auth.PasswordMustChange:
		if e.ChangeURL != "" {
			return "Change your password", "You must change your password before you sign in: change it at " + e.ChangeURL + ", then sign in again."
		}
		return "Change your password", "You must change your password before you sign in. Change it, then sign in again."
	default: // auth.PasswordExpired
		if e.ChangeURL != "" {
			return "Your password has expired", "Your password has expired: change it at " + e.ChangeURL + ", then sign in again."
		}
		return "Your password has expired", "Your password has expired. Change it, then sign in again."
	}
}

// accountState answers a sign-in that the directory refused for the
// account's state: the sign-in page with the message, or, when the user
// can change their password, a page with a link to do so.
func (h *Handler) accountState(w http.ResponseWriter, r *http.Request, rd, username string, e *auth.AccountStateError) error {
	title, msg := accountStateMessage(e)
	if e.ChangeURL != "" && (e.State == auth.PasswordExpired || e.State == auth.PasswordMustChange) {
		return &pageError{status: http.StatusForbidden, title: title, message: []string{msg},
			next: e.ChangeURL, nextLabel: "Change your password", cause: e}
	}
	return h.renderSignIn(w, r, http.StatusForbidden, rd, username, msg)
}
