package ui

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/internal/reqid"
)

// msg is a catalogue message and its arguments (see Localizer.T), written
// in the user's language when the page is rendered; raw is text from
// elsewhere, shown as it is.
type msg struct {
	id   string
	args []any
	raw  string
}

// m is the catalogue's message id with args, pairs of a name and a value.
func m(id string, args ...any) msg { return msg{id: id, args: args} }

func (x msg) in(l *Localizer) string {
	if x.id == "" {
		return x.raw
	}
	return l.T(x.id, x.args...)
}

// pageError is what a handler returns when the user must be told something
// went wrong: a status and words for the user, and a cause for the log only.
type pageError struct {
	status    int
	title     msg
	message   []msg
	next      string
	nextLabel msg
	cause     error
}

func (e *pageError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %v", e.title.id, e.cause)
	}
	return e.title.id
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
			pe = &pageError{status: http.StatusInternalServerError, title: m("ErrorTitle"),
				message: []msg{m("ErrorText")}, next: h.cfg.Prefix + "signin", nextLabel: m("BackToSignIn"), cause: err}
		}
		// The page shows the request's id, and this line carries it, so a
		// user's "Reference" finds the cause.
		ref := reqid.SetHeader(w, r)
		if pe.cause != nil || pe.status >= 500 {
			h.cfg.Log.ErrorContext(r.Context(), "page error", "path", r.URL.Path, "status", pe.status, "client", h.cfg.ClientAddr(r), "err", pe.cause)
		} else {
			h.cfg.Log.InfoContext(r.Context(), "page shown", "title", pe.title.id, "path", r.URL.Path, "status", pe.status, "client", h.cfg.ClientAddr(r))
		}
		v := h.view(r)
		v.Title, v.NextURL, v.NextLabel, v.Reference = pe.title.in(v.L), pe.next, pe.nextLabel.in(v.L), ref
		for _, p := range pe.message {
			v.Paragraphs = append(v.Paragraphs, p.in(v.L))
		}
		h.render(w, pe.status, "message", v)
	})
}

// notFound answers a path under the prefix that is no page.
func (h *Handler) notFound() *pageError {
	return &pageError{status: http.StatusNotFound, title: m("NotFoundTitle"),
		message: []msg{m("NotFound")}, next: h.cfg.Prefix + "signin", nextLabel: m("GoToSignIn")}
}

// crossOrigin answers a form post the browser says came from another site.
func (h *Handler) crossOrigin() *pageError {
	return &pageError{status: http.StatusForbidden, title: m("CrossOriginTitle"),
		message: []msg{m("CrossOrigin")},
		next:    h.cfg.Prefix + "signin", nextLabel: m("GoToSignIn"), cause: errors.New("cross-origin form post refused")}
}

// flowError turns a sign-in error into what the user reads.
func (h *Handler) flowError(err error, rd string) error {
	var locked *auth.LockedError
	var limited *auth.LimitError
	var addressLimited *auth.AddressLimitedError
	switch {
	case errors.As(err, &locked):
		return &pageError{status: http.StatusTooManyRequests, title: m("AccountLockedTitle"),
			message: []msg{m("AccountLocked"), m("AccountLockedNext", "Until", h.left(locked.Until))},
			next:    h.SignInURL(rd), nextLabel: m("BackToSignIn")}
	case errors.As(err, &addressLimited):
		return &pageError{status: http.StatusTooManyRequests, title: m("AddressLimitedTitle"),
			message: []msg{m("AddressLimited"), m("TryAfterThat", "Until", h.left(addressLimited.Until))},
			next:    h.SignInURL(rd), nextLabel: m("BackToSignIn")}
	case errors.As(err, &limited) && limited.Limit == auth.LimitCooldown:
		return &pageError{status: http.StatusTooManyRequests, title: m("CooldownTitle"),
			message: []msg{m("Cooldown", "Until", h.left(limited.Until))},
			next:    h.cfg.Prefix + "code", nextLabel: m("BackToCode")}
	case errors.As(err, &limited) && limited.Limit == auth.LimitCountry:
		return &pageError{status: http.StatusForbidden, title: m("CountryRefusedTitle"),
			message: []msg{m("CountryRefused"), m("AskToCheckMobile")},
			next:    h.SignInURL(rd), nextLabel: m("BackToSignIn")}
	case errors.As(err, &limited) && limited.Limit == auth.LimitPerSignIn:
		return &pageError{status: http.StatusTooManyRequests, title: m("PerSignInLimitTitle"),
			message: []msg{m("PerSignInLimit")},
			next:    h.cfg.Prefix + "code", nextLabel: m("BackToCode")}
	case errors.As(err, &limited):
		return &pageError{status: http.StatusTooManyRequests, title: m("TooManyCodesTitle"),
			message: []msg{m("TooManyCodes"), m("TooManyCodesNext", "Until", h.left(limited.Until))},
			next:    h.SignInURL(rd), nextLabel: m("BackToSignIn")}
	case errors.Is(err, auth.ErrDirectoryUnavailable):
		return &pageError{status: http.StatusServiceUnavailable, title: m("UnavailableTitle"),
			message: []msg{m("Unavailable"), m("TryAgainInAMinuteSupport")},
			next:    h.SignInURL(rd), nextLabel: m("TryAgain")}
	case errors.Is(err, auth.ErrMobileRefused):
		return &pageError{status: http.StatusForbidden, title: m("MobileRefusedTitle"),
			message: []msg{m("MobileRefused"), m("AskToCheckMobileThenSignIn")},
			next:    h.SignInURL(rd), nextLabel: m("BackToSignIn")}
	case errors.Is(err, auth.ErrNoMobile):
		return &pageError{status: http.StatusForbidden, title: m("NoMobileTitle"),
			message: []msg{m("NoMobile"), m("AskToAddMobile")},
			next:    h.SignInURL(rd), nextLabel: m("BackToSignIn")}
	case errors.Is(err, auth.ErrCodeNotSent):
		return &pageError{status: http.StatusServiceUnavailable, title: m("CodeNotSentTitle"),
			message: []msg{m("CodeNotSent"), m("TryAgainSupport")},
			next:    h.SignInURL(rd), nextLabel: m("TryAgain")}
	case errors.Is(err, auth.ErrSignInExpired):
		return h.expired(rd)
	case errors.Is(err, auth.ErrMobileNotSaved):
		status := http.StatusForbidden
		if errors.Is(err, auth.ErrDirectoryUnavailable) {
			status = http.StatusServiceUnavailable
		}
		return &pageError{status: status, title: m("MobileNotSavedTitle"),
			message: []msg{m("MobileNotSaved"), m("MobileNotSavedNext")},
			next:    h.SignInURL(rd), nextLabel: m("BackToSignIn")}
	case errors.Is(err, auth.ErrResendDisabled):
		return &pageError{status: http.StatusNotFound, title: m("ResendOffTitle"),
			message: []msg{m("ResendOff")}, next: h.cfg.Prefix + "code", nextLabel: m("BackToCode")}
	}
	return err
}

func (h *Handler) expired(rd string) *pageError {
	return &pageError{status: http.StatusGone, title: m("ExpiredTitle"),
		message: []msg{m("Expired", "TTL", h.cfg.Flow.Config().CodeTTL), m("SignInAgainForCode")},
		next:    h.SignInURL(h.cfg.Redirects.Safe(rd)), nextLabel: m("SignInAgain")}
}

// Forbidden writes the page for a signed-in user whom an access rule
// refuses. onAppHost: the page is shown on the app's host (forward-auth),
// so its stylesheet and links must point at the portal.
func (h *Handler) Forbidden(w http.ResponseWriter, r *http.Request, message string, onAppHost bool) {
	v := h.view(r)
	v.Title, v.Paragraphs = v.T("NotAllowedTitle"), []string{message}
	v.NextURL, v.NextLabel = h.cfg.Prefix+"logout", v.T("SignInAsSomeoneElse")
	if onAppHost && h.cfg.PublicURL != "" {
		v.Base = strings.TrimSuffix(h.cfg.PublicURL, "/")
		v.NextURL = v.Base + v.NextURL
	}
	h.renderFrom(w, http.StatusForbidden, "message", v, v.Base)
}

// left is the wait until t, by the flow's clock, for a page to write in
// its language (timeLeft).
func (h *Handler) left(t time.Time) timeLeft { return timeLeft(t.Sub(h.cfg.Now())) }
