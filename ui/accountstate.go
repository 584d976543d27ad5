package ui

import (
	"net/http"

	"github.com/otpgate/otpgate/auth"
)

// accountStateMessage is what a user is told when the directory refused
// their right password for their account's state: what is true, and what
// they can do. It names no password as wrong.
func accountStateMessage(e *auth.AccountStateError) (title, text msg) {
	switch e.State {
	case auth.AccountDisabled:
		return m("AccountDisabledTitle"), m("AccountDisabled")
	case auth.AccountExpired:
		return m("AccountExpiredTitle"), m("AccountExpired")
	case auth.AccountLockedInDir:
		return m("AccountLockedInDirTitle"), m("AccountLockedInDir")
	case auth.PasswordMustChange:
		if e.ChangeURL != "" {
			return m("ChangePasswordTitle"), m("MustChangePasswordAt", "URL", e.ChangeURL)
		}
		return m("ChangePasswordTitle"), m("MustChangePassword")
	default: // auth.PasswordExpired
		if e.ChangeURL != "" {
			return m("PasswordExpiredTitle"), m("PasswordExpiredAt", "URL", e.ChangeURL)
		}
		return m("PasswordExpiredTitle"), m("PasswordExpired")
	}
}

// accountState answers a sign-in that the directory refused for the
// account's state: the sign-in page with the message, or, when the user
// can change their password, a page with a link to do so.
func (h *Handler) accountState(w http.ResponseWriter, r *http.Request, rd, username string, e *auth.AccountStateError) error {
	title, text := accountStateMessage(e)
	if e.ChangeURL != "" && (e.State == auth.PasswordExpired || e.State == auth.PasswordMustChange) {
		return &pageError{status: http.StatusForbidden, title: title, message: []msg{text},
			next: e.ChangeURL, nextLabel: m("ChangePasswordTitle"), cause: e}
	}
	return h.renderSignIn(w, r, http.StatusForbidden, rd, username, text)
}
