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
	return h.renderMobile(w, r, http.StatusOK, "", "")
}

func (h *Handler) renderMobile(w http.ResponseWriter, r *http.Request, status int, typed, msg string) error {
	tok, err := h.csrfToken(w, r)
	if err != nil {
		return err
	}
	hint := "Write it in international form, with + and the country code, for example +44 7700 900123."
	if region := h.cfg.Flow.Config().DefaultRegion; region != "" {
		hint = "Numbers without a country code are read as " + region + " numbers; for another country, start with + and its code."
	}
	if msg != "" {
		hint = "" // the error says what to do: the number is not described twice
	}
	h.render(w, status, "mobile", view{Prefix: h.cfg.Prefix, Title: "Add your mobile number",
		CSRF: tok, Mobile: typed, Error: msg, Hint: hint})
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
	_, err = h.cfg.Flow.CaptureMobile(r.Context(), id, typed, h.cfg.ClientAddr(r))
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

// mobileProblems say, in one sentence each, why a typed number was not
// taken and what to do instead.
var mobileProblems = map[auth.MobileProblem]string{
	auth.MobileEmpty:          "Enter your mobile number.",
	auth.MobileBadCharacter:   "Use only digits, spaces, dashes, dots, brackets and a leading +.",
	auth.MobileNoCountryCode:  "Add the country code: write the number in international form, for example +44 7700 900123.",
	auth.MobileBadCountryCode: "No country has the code after the +; check those digits.",
	auth.MobileTooShort:       "That number is too short for a mobile number of its country.",
	auth.MobileTooLong:        "That number is too long for a mobile number of its country.",
	auth.MobileBadLength:      "That number does not have the right number of digits for a mobile number of its country.",
	auth.MobileNotMobile:      "That is not a mobile number (it is a landline, a toll-free number or another kind that takes no text messages); enter your mobile number.",
	auth.MobileRefusedRange:   "Sign-in codes are not sent to numbers in that country or range; enter a mobile number of another country, or ask an administrator.",
}

// mobileProblem is the sentence for p, with a fallback for a reason added
// to auth later and not yet worded here.
func mobileProblem(p auth.MobileProblem) string {
	if s, ok := mobileProblems[p]; ok {
		return s
	}
	return "Sign-in codes cannot be sent to that number; enter your mobile number."
}
