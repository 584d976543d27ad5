package ui

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/internal/reqid"
	"github.com/otpgate/otpgate/internal/text"
)

// pageError is what a handler returns when the user must be told something
// went wrong: a status and words for the user, and a cause for the log only.
type pageError struct {
	status    int
	title     string
	message   []string
	next      string
	nextLabel string
	cause     error
}

func (e *pageError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %v", e.title, e.cause)
	}
	return e.title
}

// handle adapts a handler that returns an error, so that handlers stay
// linear and users never see internal details.
func (h *Handler) handle(fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := fn(w, r)
		if err == nil {
			return
		}
		var pe *pageError
		if !errors.As(err, &pe) {
			pe = &pageError{status: http.StatusInternalServerError, title: "Something went wrong",
				message: []string{"otpgate could not finish this request. Please try again in a moment."},
				next:    h.cfg.Prefix + "signin", nextLabel: "Back to sign-in", cause: err}
		}
		// The page shows the request's id, and this line carries it, so a
		// user's "Reference" finds the cause.
		ref := reqid.SetHeader(w, r)
		if pe.cause != nil || pe.status >= 500 {
			h.cfg.Log.ErrorContext(r.Context(), "page error", "path", r.URL.Path, "status", pe.status, "client", h.cfg.ClientAddr(r), "err", pe.cause)
		} else {
			h.cfg.Log.InfoContext(r.Context(), "page shown", "title", pe.title, "path", r.URL.Path, "status", pe.status, "client", h.cfg.ClientAddr(r))
		}
		h.render(w, pe.status, "message", view{Prefix: h.cfg.Prefix, Title: pe.title,
			Paragraphs: pe.message, NextURL: pe.next, NextLabel: pe.nextLabel, Reference: ref})
	})
}

// notFound answers a path under the prefix that is no page.
func (h *Handler) notFound() *pageError {
	return &pageError{status: http.StatusNotFound, title: "Page not found",
		message: []string{"There is no such page."}, next: h.cfg.Prefix + "signin", nextLabel: "Go to sign-in"}
}

// crossOrigin answers a form post the browser says came from another site.
func (h *Handler) crossOrigin() *pageError {
	return &pageError{status: http.StatusForbidden, title: "Form sent from another site",
		message: []string{"This form was sent from a different website, so otpgate did not accept it."},
		next:    h.cfg.Prefix + "signin", nextLabel: "Go to sign-in", cause: errors.New("cross-origin form post refused")}
}

// flowError turns a sign-in error into what the user reads.
func (h *Handler) flowError(err error, rd string) error {
	var locked *auth.LockedError
	var limited *auth.LimitError
	var addressLimited *auth.AddressLimitedError
	switch {
	case errors.As(err, &locked):
		return &pageError{status: http.StatusTooManyRequests, title: "Account locked",
			message: []string{"There were too many wrong passwords or codes for this account, so it is locked for now.",
				"Please try again " + h.timeLeft(locked.Until) + ". If it was not you, tell your IT support."},
			next: h.SignInURL(rd), nextLabel: "Back to sign-in"}
	case errors.As(err, &addressLimited):
		return &pageError{status: http.StatusTooManyRequests, title: "Too many wrong passwords",
			message: []string{"There were too many wrong passwords from your network address, so sign-in from it is paused for now.",
				"Please try again " + h.timeLeft(addressLimited.Until) + ". If this keeps happening, tell your IT support."},
			next: h.SignInURL(rd), nextLabel: "Back to sign-in"}
	case errors.As(err, &limited) && limited.Limit == auth.LimitCooldown:
		return &pageError{status: http.StatusTooManyRequests, title: "Please wait a moment",
			message: []string{"A code was sent only a moment ago. You can ask for a new one " + h.timeLeft(limited.Until) + "."},
			next:    h.cfg.Prefix + "code", nextLabel: "Back to the code"}
	case errors.As(err, &limited) && limited.Limit == auth.LimitCountry:
		return &pageError{status: http.StatusForbidden, title: "Codes cannot be sent to this number",
			message: []string{"Sign-in codes are not sent to phone numbers of its country. Ask an administrator to check the mobile number on your account."},
			next:    h.SignInURL(rd), nextLabel: "Back to sign-in"}
	case errors.As(err, &limited) && limited.Limit == auth.LimitPerSignIn:
		return &pageError{status: http.StatusTooManyRequests, title: "No more codes for this sign-in",
			message: []string{"As many codes as allowed were already sent for this sign-in. Use the last code you received, or sign in again."},
			next:    h.cfg.Prefix + "code", nextLabel: "Back to the code"}
	case errors.As(err, &limited):
		return &pageError{status: http.StatusTooManyRequests, title: "Too many codes sent",
			message: []string{"Too many sign-in codes were sent recently, so no new one was sent.",
				"Please try again " + h.timeLeft(limited.Until) + ". If this keeps happening, tell your IT support."},
			next: h.SignInURL(rd), nextLabel: "Back to sign-in"}
	case errors.Is(err, auth.ErrDirectoryUnavailable):
		return &pageError{status: http.StatusServiceUnavailable, title: "Sign-in is unavailable",
			message: []string{"otpgate cannot reach the user directory right now, so it cannot check your password.",
				"Please try again in a minute. If this keeps happening, tell your IT support."},
			next: h.SignInURL(rd), nextLabel: "Try again"}
	case errors.Is(err, auth.ErrMobileRefused):
		return &pageError{status: http.StatusForbidden, title: "Your mobile number cannot be used",
			message: []string{"Your password is right. Ask an administrator to check the mobile number on your account, then sign in again."},
			next:    h.SignInURL(rd), nextLabel: "Back to sign-in"}
	case errors.Is(err, auth.ErrNoMobile):
		return &pageError{status: http.StatusForbidden, title: "No mobile number on file",
			message: []string{"Your password is right, but your account has no mobile number to send a sign-in code to.",
				"Ask an administrator to add your mobile number to your account, then sign in again."},
			next: h.SignInURL(rd), nextLabel: "Back to sign-in"}
	case errors.Is(err, auth.ErrCodeNotSent):
		return &pageError{status: http.StatusServiceUnavailable, title: "The code could not be sent",
			message: []string{"The text message with your code could not be sent.",
				"Please try again. If this keeps happening, tell your IT support."},
			next: h.SignInURL(rd), nextLabel: "Try again"}
	case errors.Is(err, auth.ErrSignInExpired):
		return h.expired(rd)
	case errors.Is(err, auth.ErrMobileNotSaved):
		status := http.StatusForbidden
		if errors.Is(err, auth.ErrDirectoryUnavailable) {
			status = http.StatusServiceUnavailable
		}
		return &pageError{status: status, title: "Your number could not be saved",
			message: []string{"Your code was right, but the directory did not accept your mobile number, so nothing was changed and you are not signed in.",
				"Ask an administrator to add your mobile number to your account, or try again later."},
			next: h.SignInURL(rd), nextLabel: "Back to sign-in"}
	case errors.Is(err, auth.ErrResendDisabled):
		return &pageError{status: http.StatusNotFound, title: "New codes are turned off",
			message: []string{"Please use the code you received, or sign in again."}, next: h.cfg.Prefix + "code", nextLabel: "Back to the code"}
	}
	return err
}

// timeLeft says when t comes, as the time left from now ("in 45
// seconds"): a clock time means little to a user, whose time zone the
// server does not know.
func (h *Handler) timeLeft(t time.Time) string {
	return "in " + text.TimeLeft(t.Sub(h.cfg.Now()))
}

func (h *Handler) expired(rd string) *pageError {
	return &pageError{status: http.StatusGone, title: "Sign-in expired",
		message: []string{"This sign-in has expired or its code was already used. Codes are valid for " +
			text.HumanDuration(h.cfg.Flow.Config().CodeTTL) + " and only once.", "Please sign in again to get a new code."},
		next: h.SignInURL(h.cfg.Redirects.Safe(rd)), nextLabel: "Sign in again"}
}

// Forbidden writes the page for a signed-in user whom an access rule
// refuses. onAppHost: the page is shown on the app's host (forward-auth),
// so its stylesheet and links must point at the portal.
func (h *Handler) Forbidden(w http.ResponseWriter, r *http.Request, message string, onAppHost bool) {
	v := view{Prefix: h.cfg.Prefix, Title: "Not allowed", Paragraphs: []string{message},
		NextURL: h.cfg.Prefix + "logout", NextLabel: "Sign in as someone else", Reference: reqid.SetHeader(w, r)}
	if onAppHost && h.cfg.PublicURL != "" {
		v.Base = strings.TrimSuffix(h.cfg.PublicURL, "/")
		v.NextURL = v.Base + v.NextURL
	}
	h.renderFrom(w, http.StatusForbidden, "message", v, v.Base)
}
