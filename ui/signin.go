package ui

import (
	"errors"
	"net/http"
	"strings"

	"github.com/otpgate/otpgate/auth"
)

// signInPage shows the password form, or sends a browser that already has
// a session on to rd.
func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request) error {
	rd := h.cfg.Redirects.Safe(r.URL.Query().Get("rd"))
	if _, err := h.cfg.Sessions.Load(r); err == nil {
		http.Redirect(w, r, rd, http.StatusSeeOther) //nolint:gosec // rd passed Redirects.Safe: same site only
		return nil
	}
	return h.renderSignIn(w, r, http.StatusOK, rd, "", msg{})
}

func (h *Handler) renderSignIn(w http.ResponseWriter, r *http.Request, status int, rd, username string, msg msg) error {
	tok, err := h.csrfToken(w, r)
	if err != nil {
		return err
	}
	v := h.view(r)
	v.Title, v.CSRF, v.Redirect, v.Username, v.Error = v.T("SignInTitle"), tok, rd, username, msg.in(v.L)
	if h.brand.Name != "" {
		v.Title = v.T("SignInToBrand", "Brand", h.brand.Name)
	}
	h.render(w, status, "signin", v)
	return nil
}

// signIn checks the password; then the browser is signed in, or holds a
// pending sign-in and goes on to the code page (or the mobile page first).
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) error {
	if err := h.parseForm(w, r); err != nil {
		return err
	}
	rd := h.cfg.Redirects.Safe(r.PostForm.Get("rd"))
	username := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	if username == "" || password == "" {
		return h.renderSignIn(w, r, http.StatusBadRequest, rd, username, m("SignInMissing"))
	}
	res, err := h.cfg.Flow.Begin(h.smsContext(r, h.catalog.For(r)), username, password, h.cfg.ClientAddr(r), rd)
	if errors.Is(err, auth.ErrInvalidCredentials) {
		return h.renderSignIn(w, r, http.StatusUnauthorized, rd, username, m("SignInWrong"))
	}
	if se := (*auth.AccountStateError)(nil); errors.As(err, &se) {
		return h.accountState(w, r, rd, username, se)
	}
	if err != nil {
		return h.flowError(err, rd)
	}
	if res.SignedIn {
		if _, err := h.cfg.Sessions.Issue(w, res.User, res.Factors); err != nil {
			return err
		}
		http.Redirect(w, r, rd, http.StatusSeeOther) //nolint:gosec // rd passed Redirects.Safe: same site only
		return nil
	}
	if err := h.pending.Write(w, res.Pending.ID, h.cfg.Flow.Lifetime()); err != nil {
		return err
	}
	if res.NeedMobile {
		if res.CaptureKey != nil {
			if err := h.capture.Write(w, res.CaptureKey, h.cfg.Flow.Lifetime()); err != nil {
				return err
			}
		}
		http.Redirect(w, r, h.cfg.Prefix+"mobile", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, h.cfg.Prefix+"code", http.StatusSeeOther)
	return nil
}
