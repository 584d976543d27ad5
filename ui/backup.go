package ui

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/otpgate/otpgate/auth"
)

// Backup codes: a signed-in user makes a set under {prefix}backup-codes,
// and a pending sign-in may be finished with one under {prefix}backup
// instead of the SMS code. With backup codes off, both answer the same
// "Page not found" as any unknown path.

// backupView is view plus what only the backup-code pages show.
type backupView struct {
	view
	Codes     []string // a new set, shown this once
	Left      int      // unused codes the user has
	LeftKnown bool     // Left could be read from the directory
}

// routeBackupCodes registers the backup-code pages; New calls it.
func (h *Handler) routeBackupCodes() {
	pre := h.cfg.Prefix
	h.mux.Handle("GET "+pre+"backup-codes", h.handle(h.backupCodesPage))
	h.mux.Handle("POST "+pre+"backup-codes", h.handle(h.generateBackupCodes))
	h.mux.Handle("GET "+pre+"backup", h.handle(h.backupPage))
	h.mux.Handle("POST "+pre+"backup", h.handle(h.backup))
}

// backupCodesOff is the answer of every backup-code page when they are
// turned off: the same as for a path that does not exist.
func (h *Handler) backupCodesOff() error {
	if h.cfg.Flow.BackupCodesEnabled() {
		return nil
	}
	return h.notFound()
}

// twoFactorSession returns the session of a user who may make backup
// codes. Without a session the browser is sent to sign in (and back here);
// a session that passed only the password is refused, because backup codes
// stand in for the SMS code and so must be made by someone who had it.
func (h *Handler) twoFactorSession(w http.ResponseWriter, r *http.Request) (auth.Session, bool, error) {
	s, err := h.cfg.Sessions.Load(r)
	if err != nil {
		http.Redirect(w, r, h.SignInURL(h.cfg.Prefix+"backup-codes"), http.StatusSeeOther)
		return auth.Session{}, false, nil
	}
	if s.Factors < 2 {
		return auth.Session{}, false, &pageError{status: http.StatusForbidden, title: "A two-factor sign-in is needed",
			message: []string{"Backup codes stand in for the code sent to your phone, so they can only be made after signing in with your password and such a code.",
				"You signed in with your password alone, so you cannot make backup codes."},
			next: "/", nextLabel: "Back to the app"}
	}
	return s, true, nil
}

func (h *Handler) backupCodesPage(w http.ResponseWriter, r *http.Request) error {
	if err := h.backupCodesOff(); err != nil {
		return err
	}
	s, ok, err := h.twoFactorSession(w, r)
	if !ok {
		return err
	}
	tok, err := h.csrfToken(w, r)
	if err != nil {
		return err
	}
	v := backupView{view: view{Prefix: h.cfg.Prefix, Title: "Backup codes", CSRF: tok, User: s.User.Username}}
	// The count only informs; the page works without it.
	if n, err := h.cfg.Flow.BackupCodesLeft(r.Context(), s.User); err == nil {
		v.Left, v.LeftKnown = n, true
	} else {
		h.cfg.Log.WarnContext(r.Context(), "backup codes not counted", "user", s.User.Username, "client", h.cfg.ClientAddr(r), "err", err)
	}
	h.render(w, http.StatusOK, "backupcodes", v)
	return nil
}

func (h *Handler) generateBackupCodes(w http.ResponseWriter, r *http.Request) error {
	if err := h.backupCodesOff(); err != nil {
		return err
	}
	if err := h.parseForm(w, r); err != nil {
		return err
	}
	s, ok, err := h.twoFactorSession(w, r)
	if !ok {
		return err
	}
	codes, err := h.cfg.Flow.NewBackupCodes(r.Context(), s.User, h.cfg.ClientAddr(r))
	if err != nil {
		// ReplaceBackupCodes is one modify request, applied whole or not
		// at all: whatever failed, the earlier codes are unchanged.
		pe := &pageError{status: http.StatusInternalServerError, title: "No new backup codes were made",
			message: []string{"The new codes could not be saved in the user directory. Your earlier backup codes, if you had any, still work.",
				"Please try again later. If this keeps happening, tell your IT support."},
			next: h.cfg.Prefix + "backup-codes", nextLabel: "Back to backup codes", cause: err}
		if errors.Is(err, auth.ErrDirectoryUnavailable) {
			pe.status = http.StatusServiceUnavailable
		}
		return pe
	}
	tok, err := h.csrfToken(w, r)
	if err != nil {
		return err
	}
	// The page renderer sends Cache-Control: no-store, so the codes stay
	// out of the browser's cache and history.
	h.render(w, http.StatusOK, "backupcodes", backupView{
		view:  view{Prefix: h.cfg.Prefix, Title: "Your new backup codes", CSRF: tok, User: s.User.Username},
		Codes: codes})
	return nil
}

func (h *Handler) backupPage(w http.ResponseWriter, r *http.Request) error {
	if err := h.backupCodesOff(); err != nil {
		return err
	}
	p, err := h.loadPending(r)
	if err != nil {
		return err
	}
	return h.renderBackupForm(w, r, http.StatusOK, p, "")
}

func (h *Handler) renderBackupForm(w http.ResponseWriter, r *http.Request, status int, p auth.Pending, msg string) error {
	tok, err := h.csrfToken(w, r)
	if err != nil {
		return err
	}
	h.render(w, status, "backup", backupView{view: view{Prefix: h.cfg.Prefix, Title: "Use a backup code",
		CSRF: tok, Redirect: p.Redirect, Error: msg}})
	return nil
}

func (h *Handler) backup(w http.ResponseWriter, r *http.Request) error {
	if err := h.backupCodesOff(); err != nil {
		return err
	}
	if err := h.parseForm(w, r); err != nil {
		return err
	}
	id, err := h.pendingID(r)
	if err != nil {
		return err
	}
	p, err := h.cfg.Flow.VerifyBackupCode(r.Context(), id, r.PostForm.Get("backup_code"), h.cfg.ClientAddr(r))
	var wrong *auth.WrongCodeError
	var justUsed *auth.JustUsedError
	switch {
	case errors.As(err, &wrong):
		cur, lerr := h.loadPending(r)
		if lerr != nil {
			return lerr
		}
		return h.renderBackupForm(w, r, http.StatusUnauthorized, cur,
			fmt.Sprintf("That backup code is not right, or it was used already. You have %d %s left.", wrong.Left, plural(wrong.Left, "try", "tries")))
	case errors.Is(err, auth.ErrTooManyAttempts):
		return h.signInEnded(w)
	case errors.As(err, &justUsed):
		// Another request (a double click, a second tab) finished this
		// sign-in with the same code; if it was this browser, it holds
		// the session and the link goes on to the app.
		h.pending.Clear(w)
		return &pageError{status: http.StatusConflict, title: "This backup code was just used",
			message: []string{"This backup code finished this sign-in a moment ago, from this or another window, so it cannot be used again; this try did not count as a wrong code."},
			next:    h.SignInURL(h.cfg.Redirects.Safe(justUsed.Redirect)), nextLabel: "Continue"}
	case errors.Is(err, auth.ErrSignInExpired):
		h.pending.Clear(w)
		return h.expired("")
	case errors.Is(err, auth.ErrDirectoryUnavailable):
		// The try was given back and the code is unspent; the sign-in
		// stays, so the user can simply send it again.
		return &pageError{status: http.StatusServiceUnavailable, title: "Your backup code could not be checked",
			message: []string{"otpgate cannot reach the user directory right now. Your backup code was not used up, and this try did not count.",
				"Please try again in a minute."},
			next: h.cfg.Prefix + "backup", nextLabel: "Try again", cause: err}
	case err != nil:
		h.pending.Clear(w)
		return h.flowError(err, "")
	}
	// A backup code is the second factor, as the SMS code would have been.
	return h.finishSecondFactor(w, r, p)
}
