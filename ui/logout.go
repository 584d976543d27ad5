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

// logout ends the session everywhere and forgets any pending sign-in;
// with everywhere=1, it ends every session of the user too, in every
// browser.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) error {
	if err := h.parseForm(w, r); err != nil {
		return err
	}
	everywhere := false
	if s, err := h.cfg.Sessions.Load(r); err == nil {
		// Revoked on the server too, so that every app behind the shared
		// cookie, and any copy of it, is signed out at once.
		if err := h.cfg.Sessions.Revoke(r, s); err != nil {
			return fmt.Errorf("revoke session: %w", err)
		}
		if r.PostFormValue("everywhere") == "1" {
			if err := h.cfg.Sessions.SignOutEverywhere(r.Context(), s.User.Username); err != nil {
				return fmt.Errorf("sign out everywhere: %w", err)
			}
			everywhere = true
		}
		h.cfg.Log.InfoContext(r.Context(), "signed out", "user", s.User.Username, "everywhere", everywhere, "client", h.cfg.ClientAddr(r))
	}
	if id, err := h.pending.Read(r); err == nil {
		h.cfg.Flow.Cancel(r.Context(), id)
	}
	h.cfg.Sessions.Clear(w)
	h.pending.Clear(w)
	v := h.view(r)
	v.Title, v.Paragraphs, v.NextURL, v.NextLabel = v.T("SignedOutTitle"), []string{v.T("SignedOut")}, h.SignInURL("/"), v.T("SignInButton")
	if everywhere {
		v.Title, v.Paragraphs = v.T("SignedOutEverywhereTitle"), []string{v.T("SignedOutEverywhere"), v.T("SignedOut")}
	}
	h.render(w, http.StatusOK, "message", v)
	return nil
}
