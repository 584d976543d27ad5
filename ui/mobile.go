package ui

import (
	"errors"
	"net/http"

	"github.com/otpgate/otpgate/auth"
)

// mobilePage asks a user whose directory entry has no number for one
// (capture); a code is then sent to it.
func (h *Handler) mobilePage(w http.ResponseWriter, r *http.Request) error {
	p, err := h.loadPending(r)
	if err != nil {
		return err
	}
	if !p.Capture || p.User.Mobile != "" {
		http.Redirect(w, r, h.cfg.Prefix+"code", http.StatusSeeOther)
		return nil
	}
	return h.renderMobile(w, r, http.StatusOK, "", msg{})
}

func (h *Handler) renderMobile(w http.ResponseWriter, r *http.Request, status int, typed string, problem msg) error {
	tok, err := h.csrfToken(w, r)
	if err != nil {
		return err
	}
	v := h.view(r)
	v.Title, v.CSRF, v.Mobile, v.Error, v.Hint = v.T("MobileTitle"), tok, typed, problem.in(v.L), v.T("MobileHint")
	if region := h.cfg.Flow.Config().DefaultRegion; region != "" {
		v.Hint = v.T("MobileHintRegion", "Region", region)
	}
	if v.Error != "" {
		v.Hint = "" // the error says what to do: the number is not described twice
	}
	h.render(w, status, "mobile", v)
	return nil
}

// mobile takes the typed number and sends a code to it; the number is
// saved only once that code comes back.
func (h *Handler) mobile(w http.ResponseWriter, r *http.Request) error {
	if err := h.parseForm(w, r); err != nil {
		return err
	}
	id, err := h.pendingID(r)
	if err != nil {
		return err
	}
	typed := r.PostForm.Get("mobile")
	_, err = h.cfg.Flow.CaptureMobile(h.smsContext(r, h.catalog.For(r)), id, typed, h.cfg.ClientAddr(r))
	var bad *auth.InvalidMobileError
	if errors.As(err, &bad) {
		return h.renderMobile(w, r, http.StatusBadRequest, typed, mobileProblem(bad.Problem))
	}
	if err != nil {
		return h.flowError(err, "")
	}
	http.Redirect(w, r, h.cfg.Prefix+"code", http.StatusSeeOther)
	return nil
}

// mobileProblems are the messages that say, in one sentence each, why a typed number was not
// taken and what to do instead.
var mobileProblems = map[auth.MobileProblem]string{
	auth.MobileEmpty:          "MobileEmpty",
	auth.MobileBadCharacter:   "MobileBadCharacter",
	auth.MobileNoCountryCode:  "MobileNoCountryCode",
	auth.MobileBadCountryCode: "MobileBadCountryCode",
	auth.MobileTooShort:       "MobileTooShort",
	auth.MobileTooLong:        "MobileTooLong",
	auth.MobileBadLength:      "MobileBadLength",
	auth.MobileNotMobile:      "MobileNotMobile",
	auth.MobileRefusedRange:   "MobileRefusedRange",
}

// mobileProblem is the sentence for p, with a fallback for a reason added
// to auth later and not yet worded here.
func mobileProblem(p auth.MobileProblem) msg {
	if id, ok := mobileProblems[p]; ok {
		return m(id)
	}
	return m("MobileOther")
}
