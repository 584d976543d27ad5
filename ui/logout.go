package ui

import (
	"fmt"
	"net/http"
)

// logoutPage asks to confirm signing out; a GET alone must not sign out,
// or any page could do it with an image.
func (h *Handler) logoutPage(w http.ResponseWriter, r *http.Request) error {
	tok, err := h.csrfToken(w, r)
	if err != nil {
		return err
	}
	v := h.view(r)
	v.Title, v.CSRF = v.T("SignOutTitle"), tok
	if s, err := h.cfg.Sessions.Load(r); err == nil {
		v.User = s.User.Username
		v.BackupCodes = h.cfg.Flow.BackupCodesEnabled() && s.Factors == 2
	} else {
		v.Notice = v.T("NotSignedIn")
	}
	h.render(w, http.StatusOK, "logout", v)
	return nil
}

// logout ends the session everywhere and forgets any pending sign-in.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) error {
	if err := h.parseForm(w, r); err != nil {
		return err
	}
	if s, err := h.cfg.Sessions.Load(r); err == nil {
		// Revoked on the server too, so that every app behind the shared
		// cookie, and any copy of it, is signed out at once.
		if err := h.cfg.Sessions.Revoke(r, s); err != nil {
			return fmt.Errorf("revoke session: %w", err)
		}
		h.cfg.Log.Info("signed out", "user", s.User.Username, "client", h.cfg.ClientAddr(r))
	}
	if id, err := h.pending.Read(r); err == nil {
		h.cfg.Flow.Cancel(r.Context(), id)
	}
	h.cfg.Sessions.Clear(w)
	h.pending.Clear(w)
	v := h.view(r)
	v.Title, v.Paragraphs, v.NextURL, v.NextLabel = v.T("SignedOutTitle"), []string{v.T("SignedOut")}, h.SignInURL("/"), v.T("SignInButton")
	h.render(w, http.StatusOK, "message", v)
	return nil
}
