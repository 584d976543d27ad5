package ui

import (
	"errors"
	"net/http"

	"github.com/otpgate/otpgate/auth"
)

// codePage asks for the code sent by SMS.
func (h *Handler) codePage(w http.ResponseWriter, r *http.Request) error {
	p, err := h.loadPending(r)
	if err != nil {
		return err
	}
	if p.Capture && p.User.Mobile == "" {
		http.Redirect(w, r, h.cfg.Prefix+"mobile", http.StatusSeeOther)
		return nil
	}
	return h.renderCode(w, r, http.StatusOK, p, msg{}, msg{})
}

func (h *Handler) renderCode(w http.ResponseWriter, r *http.Request, status int, p auth.Pending, problem, notice msg) error {
	tok, err := h.csrfToken(w, r)
	if err != nil {
		return err
	}
	flow := h.cfg.Flow
	cfg := flow.Config()
	v := h.view(r)
	v.Title, v.CSRF, v.Redirect, v.Mobile, v.TTL = v.T("CodeTitle"), tok, p.Redirect, p.MaskedMobile(cfg.MaskVisible), v.L.Duration(cfg.CodeTTL)
	v.InputMode, v.Error, v.Notice = "numeric", problem.in(v.L), notice.in(v.L)
	v.CanResend, v.BackupCodes = flow.CanResend(p), flow.BackupCodesEnabled()
	if flow.Alphanumeric() {
		v.InputMode = "text"
	}
	// During the cooldown the button is there but disabled, with the time
	// left: pages carry no script, so it cannot count down by itself.
	if next := flow.NextSendAt(p); v.CanResend && h.cfg.Now().Before(next) {
		v.ResendWait = v.T("ResendWait", "Until", h.left(next))
	} else if v.CanResend && cfg.ResendCooldown > 0 {
		v.ResendHint = v.T("ResendHint", "Wait", cfg.ResendCooldown)
	}
	h.render(w, status, "code", v)
	return nil
}

// code checks the SMS code and, when it is right, signs the browser in.
func (h *Handler) code(w http.ResponseWriter, r *http.Request) error {
	if err := h.parseForm(w, r); err != nil {
		return err
	}
	id, err := h.pendingID(r)
	if err != nil {
		return err
	}
	key, _ := h.capture.Read(r)
	p, err := h.cfg.Flow.Verify(r.Context(), id, r.PostForm.Get("code"), h.cfg.ClientAddr(r), key)
	var wrong *auth.WrongCodeError
	switch {
	case errors.As(err, &wrong):
		cur, lerr := h.loadPending(r)
		if lerr != nil {
			return lerr
		}
		return h.renderCode(w, r, http.StatusUnauthorized, cur, m("CodeWrong", "Count", wrong.Left), msg{})
	case errors.Is(err, auth.ErrTooManyAttempts):
		return h.signInEnded(w)
	case errors.Is(err, auth.ErrSignInExpired):
		h.pending.Clear(w)
		return h.expired("")
	case err != nil:
		h.pending.Clear(w)
		return h.flowError(err, "")
	}
	if key != nil {
		h.capture.Clear(w) // the captured number is saved; its key is spent
	}
	return h.finishSecondFactor(w, r, p)
}

// resend sends a new code for the pending sign-in.
func (h *Handler) resend(w http.ResponseWriter, r *http.Request) error {
	if err := h.parseForm(w, r); err != nil {
		return err
	}
	id, err := h.pendingID(r)
	if err != nil {
		return err
	}
	p, err := h.cfg.Flow.Resend(h.smsContext(r, h.catalog.For(r)), id, h.cfg.ClientAddr(r))
	if err != nil {
		return h.flowError(err, "")
	}
	return h.renderCode(w, r, http.StatusOK, p, msg{}, m("NewCodeSent"))
}
