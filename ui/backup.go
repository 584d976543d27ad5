package ui

import (
	"errors"
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
		return auth.Session{}, false, &pageError{status: http.StatusForbidden, title: m("TwoFactorNeededTitle"),
			message: []msg{m("TwoFactorNeeded"), m("PasswordOnlySession")},
			next:    "/", nextLabel: m("BackToApp")}
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
	v := backupView{view: h.view(r)}
	v.Title, v.CSRF, v.User = v.T("BackupCodesTitle"), tok, s.User.Username
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
		pe := &pageError{status: http.StatusInternalServerError, title: m("BackupCodesNotMadeTitle"),
			message: []msg{m("BackupCodesNotMade"), m("TryAgainSupport")},
			next:    h.cfg.Prefix + "backup-codes", nextLabel: m("BackToBackupCodes"), cause: err}
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
	v := backupView{view: h.view(r), Codes: codes}
	v.Title, v.CSRF, v.User = v.T("NewBackupCodesTitle"), tok, s.User.Username
	h.render(w, http.StatusOK, "backupcodes", v)
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
	return h.renderBackupForm(w, r, http.StatusOK, p, msg{})
}

func (h *Handler) renderBackupForm(w http.ResponseWriter, r *http.Request, status int, p auth.Pending, problem msg) error {
	tok, err := h.csrfToken(w, r)
	if err != nil {
		return err
	}
	v := backupView{view: h.view(r)}
	v.Title, v.CSRF, v.Redirect, v.Error = v.T("BackupTitle"), tok, p.Redirect, problem.in(v.L)
	h.render(w, status, "backup", v)
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
		return h.renderBackupForm(w, r, http.StatusUnauthorized, cur, m("BackupWrong", "Count", wrong.Left))
	case errors.Is(err, auth.ErrTooManyAttempts):
		return h.signInEnded(w)
	case errors.As(err, &justUsed):
		// Another request (a double click, a second tab) finished this
		// sign-in with the same code; if it was this browser, it holds
		// the session and the link goes on to the app.
		h.pending.Clear(w)
		return &pageError{status: http.StatusConflict, title: m("BackupJustUsedTitle"),
			message: []msg{m("BackupJustUsed")},
			next:    h.SignInURL(h.cfg.Redirects.Safe(justUsed.Redirect)), nextLabel: m("Continue")}
	case errors.Is(err, auth.ErrSignInExpired):
		h.pending.Clear(w)
		return h.expired("")
	case errors.Is(err, auth.ErrDirectoryUnavailable):
		// The try was given back and the code is unspent; the sign-in
		// stays, so the user can simply send it again.
		return &pageError{status: http.StatusServiceUnavailable, title: m("BackupUncheckedTitle"),
			message: []msg{m("BackupUnchecked"), m("TryAgainInAMinute")},
			next:    h.cfg.Prefix + "backup", nextLabel: m("TryAgain"), cause: err}
	case err != nil:
		h.pending.Clear(w)
		return h.flowError(err, "")
	}
	// A backup code is the second factor, as the SMS code would have been.
	return h.finishSecondFactor(w, r, p)
}
