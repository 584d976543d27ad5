package ui

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/sms"
)

// maxFormBytes bounds every form body; the largest legitimate one (username,
// password, token, redirect) is well under it.
const maxFormBytes = 16 << 10

// Config wires the page handlers.
type Config struct {
	Prefix     string // path prefix, with leading and trailing slash: "/otpgate/"
	Flow       *auth.Flow
	Sessions   *auth.Sessions
	Keys       *auth.Keys
	Cookie     auth.CookieOptions
	Log        *slog.Logger
	ClientAddr func(*http.Request) string      // nil: the connection's address
	Redirects  RedirectPolicy                  // other hosts a sign-in may return to
	PublicURL  string                          // the portal, for pages shown on an app's host
	Ready      func(ctx context.Context) error // nil: always ready
}

// Handler serves every path under the prefix.
type Handler struct {
	cfg     Config
	pages   pages
	csrf    *auth.Cookie[string]
	pending *auth.Cookie[string]
	capture *auth.Cookie[[]byte] // key to the sealed password of a capture sign-in
	mux     *http.ServeMux
	root    http.Handler
	// formAction is the CSP form-action list beyond 'self'.
	formAction string

	readyMu sync.Mutex
	readyAt time.Time // last good readiness check
}

// csrfLifetime bounds how long a sign-in form stays usable.
const csrfLifetime = 12 * time.Hour

// New returns the page handler.
func New(cfg Config) (*Handler, error) {
	if !strings.HasPrefix(cfg.Prefix, "/") || !strings.HasSuffix(cfg.Prefix, "/") {
		return nil, fmt.Errorf("path prefix %q must start and end with /", cfg.Prefix)
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = RemoteHost
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	// Only the session cookie is shared with COOKIE_DOMAIN; the sign-in's
	// own cookies stay host-only on the portal (__Host-), so that no app
	// host below the domain can read or plant them.
	local := cfg.Cookie
	local.Domain = ""
	csrf, err := auth.NewCookie[string](cfg.Keys, local, "_csrf", csrfLifetime)
	if err != nil {
		return nil, err
	}
	pending, err := auth.NewCookie[string](cfg.Keys, local, "_pending", cfg.Flow.Lifetime())
	if err != nil {
		return nil, err
	}
	capture, err := auth.NewCookie[[]byte](cfg.Keys, local, "_capture", cfg.Flow.Lifetime())
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, pages: p, csrf: csrf, pending: pending, capture: capture, mux: http.NewServeMux(),
		formAction: cfg.Redirects.formActionSources()}
	pre := cfg.Prefix
	h.mux.Handle("GET "+pre+"static/", http.StripPrefix(pre+"static", staticHandler()))
	h.mux.Handle("GET "+pre+"signin", h.handle(h.signInPage))
	h.mux.Handle("POST "+pre+"signin", h.handle(h.signIn))
	h.mux.Handle("GET "+pre+"code", h.handle(h.codePage))
	h.mux.Handle("POST "+pre+"code", h.handle(h.code))
	h.mux.Handle("POST "+pre+"code/resend", h.handle(h.resend))
	h.mux.Handle("GET "+pre+"mobile", h.handle(h.mobilePage))
	h.mux.Handle("POST "+pre+"mobile", h.handle(h.mobile))
	h.mux.Handle("GET "+pre+"logout", h.handle(h.logoutPage))
	h.mux.Handle("POST "+pre+"logout", h.handle(h.logout))
	h.routeBackupCodes()
	h.mux.HandleFunc("GET "+pre+"healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	h.mux.HandleFunc("GET "+pre+"readyz", h.ready)
	h.mux.Handle(pre, h.handle(func(http.ResponseWriter, *http.Request) error {
		return &pageError{status: http.StatusNotFound, title: "Page not found",
			message: []string{"There is no such page."}, next: pre + "signin", nextLabel: "Go to sign-in"}
	}))
	// Browsers say where a form post came from; refuse cross-site posts
	// before any handler runs, in addition to the per-form CSRF token.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(h.handle(func(http.ResponseWriter, *http.Request) error {
		return &pageError{status: http.StatusForbidden, title: "Form sent from another site",
			message: []string{"This form was sent from a different website, so otpgate did not accept it."},
			next:    pre + "signin", nextLabel: "Go to sign-in", cause: errors.New("cross-origin form post refused")}
	}))
	h.root = cop.Handler(h.mux)
	return h, nil
}

// ServeHTTP serves the pages. Cross-origin form posts are refused before
// they reach a handler, as well as by the CSRF token each form carries.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.root.ServeHTTP(w, r)
}

// SignInURL is where a request without a session is sent, keeping rd.
func (h *Handler) SignInURL(rd string) string {
	return h.cfg.Prefix + "signin?rd=" + url.QueryEscape(rd)
}

// RemoteHost returns the host part of the connection's address.
func RemoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

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
		if pe.cause != nil || pe.status >= 500 {
			h.cfg.Log.Error("page error", "path", r.URL.Path, "status", pe.status, "client", h.cfg.ClientAddr(r), "err", pe.cause)
		}
		h.render(w, pe.status, "message", view{Prefix: h.cfg.Prefix, Title: pe.title,
			Paragraphs: pe.message, NextURL: pe.next, NextLabel: pe.nextLabel})
	})
}

// csrfToken returns the browser's CSRF token, setting a new one when it has
// none or its cookie no longer verifies.
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if tok, err := h.csrf.Read(r); err == nil && tok != "" {
		return tok, nil
	}
	tok, err := auth.RandomToken()
	if err != nil {
		return "", err
	}
	return tok, h.csrf.Write(w, tok, csrfLifetime)
}

// parseForm reads a bounded form body and checks its CSRF token against the
// cookie, in constant time.
func (h *Handler) parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &pageError{status: http.StatusRequestEntityTooLarge, title: "Form too large",
				message: []string{"What was sent is far larger than any sign-in form. Please go back and try again."},
				next:    h.cfg.Prefix + "signin", nextLabel: "Back to sign-in"}
		}
		return &pageError{status: http.StatusBadRequest, title: "Form could not be read",
			message: []string{"Please go back and try again."}, next: h.cfg.Prefix + "signin", nextLabel: "Back to sign-in", cause: err}
	}
	want, err := h.csrf.Read(r)
	got := r.PostForm.Get("csrf")
	if err != nil || want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return &pageError{status: http.StatusForbidden, title: "This form has expired",
			message: []string{"For your security, forms can only be sent from the page that showed them, and only for a while. Please try again."},
			next:    h.cfg.Prefix + "signin?rd=" + url.QueryEscape(h.cfg.Redirects.Safe(r.PostForm.Get("rd"))), nextLabel: "Back to sign-in",
			cause: fmt.Errorf("csrf token missing or wrong (cookie: %v)", err)}
	}
	return nil
}

func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request) error {
	rd := h.cfg.Redirects.Safe(r.URL.Query().Get("rd"))
	if _, err := h.cfg.Sessions.Load(r); err == nil {
		http.Redirect(w, r, rd, http.StatusSeeOther)
		return nil
	}
	return h.renderSignIn(w, r, http.StatusOK, rd, "", "")
}

func (h *Handler) renderSignIn(w http.ResponseWriter, r *http.Request, status int, rd, username, msg string) error {
	tok, err := h.csrfToken(w, r)
	if err != nil {
		return err
	}
	h.render(w, status, "signin", view{Prefix: h.cfg.Prefix, Title: "Sign in", CSRF: tok,
		Redirect: rd, Username: username, Error: msg})
	return nil
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) error {
	if err := h.parseForm(w, r); err != nil {
		return err
	}
	rd := h.cfg.Redirects.Safe(r.PostForm.Get("rd"))
	username := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	if username == "" || password == "" {
		return h.renderSignIn(w, r, http.StatusBadRequest, rd, username, "Enter your username and your password.")
	}
	res, err := h.cfg.Flow.Begin(r.Context(), username, password, h.cfg.ClientAddr(r), rd)
	if errors.Is(err, auth.ErrInvalidCredentials) {
		return h.renderSignIn(w, r, http.StatusUnauthorized, rd, username, "The username or password is not right. Please try again.")
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
		http.Redirect(w, r, rd, http.StatusSeeOther)
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
	h.render(w, status, "mobile", view{Prefix: h.cfg.Prefix, Title: "Add your mobile number",
		CSRF: tok, Mobile: typed, Error: msg, Hint: hint})
	return nil
}

func (h *Handler) mobile(w http.ResponseWriter, r *http.Request) error {
	if err := h.parseForm(w, r); err != nil {
		return err
	}
	id, err := h.pending.Read(r)
	if err != nil || id == "" {
		return h.expired("")
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

// flowError turns a sign-in error into what the user reads.
func (h *Handler) flowError(err error, rd string) error {
	var locked *auth.LockedError
	var limited *auth.LimitError
	var addressLimited *auth.AddressLimitedError
	switch {
	case errors.As(err, &locked):
		return &pageError{status: http.StatusTooManyRequests, title: "Account locked",
			message: []string{"There were too many wrong passwords or codes for this account, so it is locked until " +
				clock(locked.Until) + ".", "Please try again after that. If it was not you, tell your IT support."},
			next: h.SignInURL(rd), nextLabel: "Back to sign-in"}
	case errors.As(err, &addressLimited):
		return &pageError{status: http.StatusTooManyRequests, title: "Too many wrong passwords",
			message: []string{"There were too many wrong passwords from your network address, so sign-in from it is paused until " +
				clock(addressLimited.Until) + ".", "Please try again after that. If this keeps happening, tell your IT support."},
			next: h.SignInURL(rd), nextLabel: "Back to sign-in"}
	case errors.As(err, &limited) && limited.Limit == "cooldown":
		return &pageError{status: http.StatusTooManyRequests, title: "Please wait a moment",
			message: []string{"A code was sent only a moment ago. You can ask for a new one after " + clock(limited.Until) + "."},
			next:    h.cfg.Prefix + "code", nextLabel: "Back to the code"}
	case errors.As(err, &limited) && limited.Limit == "country":
		return &pageError{status: http.StatusForbidden, title: "Codes cannot be sent to this number",
			message: []string{"Sign-in codes are not sent to phone numbers in your number's country.",
				"Ask an administrator to check the mobile number on your account."},
			next: h.SignInURL(rd), nextLabel: "Back to sign-in"}
	case errors.As(err, &limited) && limited.Limit == "per-sign-in":
		return &pageError{status: http.StatusTooManyRequests, title: "No more codes for this sign-in",
			message: []string{"As many codes as allowed were already sent for this sign-in. Use the last code you received, or sign in again."},
			next:    h.cfg.Prefix + "code", nextLabel: "Back to the code"}
	case errors.As(err, &limited):
		return &pageError{status: http.StatusTooManyRequests, title: "Too many codes sent",
			message: []string{"Too many sign-in codes were sent recently, so no new one was sent.",
				"Please try again after " + clock(limited.Until) + ". If this keeps happening, tell your IT support."},
			next: h.SignInURL(rd), nextLabel: "Back to sign-in"}
	case errors.Is(err, auth.ErrDirectoryUnavailable):
		return &pageError{status: http.StatusServiceUnavailable, title: "Sign-in is unavailable",
			message: []string{"otpgate cannot reach the user directory right now, so it cannot check your password.",
				"Please try again in a minute. If this keeps happening, tell your IT support."},
			next: h.SignInURL(rd), nextLabel: "Try again"}
	case errors.Is(err, auth.ErrMobileRefused):
		return &pageError{status: http.StatusForbidden, title: "Your mobile number cannot be used",
			message: []string{"Your password is right, but sign-in codes cannot be sent to the mobile number on your account.",
				"Ask an administrator to check the mobile number on your account, then sign in again."},
			next: h.SignInURL(rd), nextLabel: "Back to sign-in"}
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

// clock writes t for a person: the time of day in UTC and how far off.
func clock(t time.Time) string {
	left := time.Until(t).Round(time.Second)
	if left < 0 {
		left = 0
	}
	return fmt.Sprintf("%s UTC (in %s)", t.UTC().Format("15:04:05"), sms.HumanDuration(left.Round(time.Minute)))
}

func (h *Handler) resend(w http.ResponseWriter, r *http.Request) error {
	if err := h.parseForm(w, r); err != nil {
		return err
	}
	id, err := h.pending.Read(r)
	if err != nil || id == "" {
		return h.expired("")
	}
	p, err := h.cfg.Flow.Resend(r.Context(), id, h.cfg.ClientAddr(r))
	if err != nil {
		return h.flowError(err, "")
	}
	return h.renderCode(w, r, http.StatusOK, p, "", "A new code is on its way. The earlier code no longer works.")
}

// loadPending returns the sign-in the browser's pending cookie names.
func (h *Handler) loadPending(r *http.Request) (auth.Pending, error) {
	id, err := h.pending.Read(r)
	if err != nil || id == "" {
		return auth.Pending{}, h.expired("")
	}
	p, err := h.cfg.Flow.Pending(r.Context(), id)
	if errors.Is(err, auth.ErrSignInExpired) {
		return auth.Pending{}, h.expired("")
	}
	return p, err
}

// signInEnded is the answer to the last wrong code (SMS or backup) a
// sign-in allows: it forgets the pending sign-in in the browser too.
func (h *Handler) signInEnded(w http.ResponseWriter) error {
	h.pending.Clear(w)
	return &pageError{status: http.StatusUnauthorized, title: "Too many wrong codes",
		message: []string{"That code was not right, and no more tries are allowed. For your security this sign-in has ended.",
			"Please sign in again to get a new code."},
		next: h.SignInURL("/"), nextLabel: "Sign in again"}
}

func (h *Handler) expired(rd string) *pageError {
	return &pageError{status: http.StatusGone, title: "Sign-in expired",
		message: []string{"This sign-in has expired or its code was already used. Codes are valid for " +
			sms.HumanDuration(h.cfg.Flow.Config().CodeTTL) + " and only once.", "Please sign in again to get a new code."},
		next: h.SignInURL(h.cfg.Redirects.Safe(rd)), nextLabel: "Sign in again"}
}

func (h *Handler) codePage(w http.ResponseWriter, r *http.Request) error {
	p, err := h.loadPending(r)
	if err != nil {
		return err
	}
	if p.Capture && p.User.Mobile == "" {
		http.Redirect(w, r, h.cfg.Prefix+"mobile", http.StatusSeeOther)
		return nil
	}
	return h.renderCode(w, r, http.StatusOK, p, "", "")
}

func (h *Handler) renderCode(w http.ResponseWriter, r *http.Request, status int, p auth.Pending, msg, notice string) error {
	tok, err := h.csrfToken(w, r)
	if err != nil {
		return err
	}
	flow := h.cfg.Flow
	cfg := flow.Config()
	v := view{Prefix: h.cfg.Prefix, Title: "Enter your code", CSRF: tok,
		Redirect: p.Redirect, Mobile: p.MaskedMobile(cfg.MaskVisible), TTL: sms.HumanDuration(cfg.CodeTTL),
		InputMode: "numeric", Error: msg, Notice: notice, CanResend: flow.CanResend(p), BackupCodes: flow.BackupCodesEnabled()}
	if flow.Alphanumeric() {
		v.InputMode = "text"
	}
	if v.CanResend && cfg.ResendCooldown > 0 {
		v.ResendHint = "You can ask for a new code " + sms.HumanDuration(cfg.ResendCooldown) + " after the last one."
	}
	h.render(w, status, "code", v)
	return nil
}

func (h *Handler) code(w http.ResponseWriter, r *http.Request) error {
	if err := h.parseForm(w, r); err != nil {
		return err
	}
	id, err := h.pending.Read(r)
	if err != nil || id == "" {
		return h.expired("")
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
		return h.renderCode(w, r, http.StatusUnauthorized, cur, fmt.Sprintf("That code is not right. You have %d %s left.", wrong.Left, plural(wrong.Left, "try", "tries")), "")
	case errors.Is(err, auth.ErrTooManyAttempts):
		return h.signInEnded(w)
	case errors.Is(err, auth.ErrSignInExpired):
		h.pending.Clear(w)
		return h.expired("")
	case err != nil:
		h.pending.Clear(w)
		return h.flowError(err, "")
	}
	h.pending.Clear(w)
	if key != nil {
		h.capture.Clear(w)
	}
	// A fresh session, never one the browser brought: no session fixation.
	if _, err := h.cfg.Sessions.Issue(w, p.User, 2); err != nil {
		return err
	}
	http.Redirect(w, r, h.cfg.Redirects.Safe(p.Redirect), http.StatusSeeOther)
	return nil
}

func (h *Handler) logoutPage(w http.ResponseWriter, r *http.Request) error {
	tok, err := h.csrfToken(w, r)
	if err != nil {
		return err
	}
	v := view{Prefix: h.cfg.Prefix, Title: "Sign out", CSRF: tok}
	if s, err := h.cfg.Sessions.Load(r); err == nil {
		v.User = s.User.Username
		v.BackupCodes = h.cfg.Flow.BackupCodesEnabled() && s.Factors == 2
	} else {
		v.Notice = "You are not signed in."
	}
	h.render(w, http.StatusOK, "logout", v)
	return nil
}

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
	h.render(w, http.StatusOK, "message", view{Prefix: h.cfg.Prefix, Title: "You are signed out",
		Paragraphs: []string{"Close this window, or sign in again."}, NextURL: h.SignInURL("/"), NextLabel: "Sign in"})
	return nil
}

func (h *Handler) ready(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if h.cfg.Ready != nil {
		if err := h.checkReady(r.Context()); err != nil {
			h.cfg.Log.Warn("not ready", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
			return
		}
	}
	_, _ = w.Write([]byte("ok\n"))
}

// readyFor is how long a good readiness check is reused: probes from
// several sources every second then cost the directory one bind a second.
const readyFor = time.Second

// checkReady runs the readiness check, one at a time, reusing a recent
// success; a failure is never reused, so recovery shows at once.
func (h *Handler) checkReady(ctx context.Context) error {
	h.readyMu.Lock()
	defer h.readyMu.Unlock()
	if time.Since(h.readyAt) < readyFor {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := h.cfg.Ready(ctx); err != nil {
		return err
	}
	h.readyAt = time.Now()
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// CookieNames returns the names of every cookie otpgate sets, so the
// reverse proxy can keep them from the app.
func (h *Handler) CookieNames() []string {
	return []string{h.cfg.Sessions.CookieName(), h.csrf.Name(), h.pending.Name(), h.capture.Name()}
}

// Forbidden writes the page for a signed-in user whom an access rule
// refuses. onAppHost: the page is shown on the app's host (forward-auth),
// so its stylesheet and links must point at the portal.
func (h *Handler) Forbidden(w http.ResponseWriter, r *http.Request, message string, onAppHost bool) {
	v := view{Prefix: h.cfg.Prefix, Title: "Not allowed", Paragraphs: []string{message},
		NextURL: h.cfg.Prefix + "logout", NextLabel: "Sign in as someone else"}
	if onAppHost && h.cfg.PublicURL != "" {
		v.Base = strings.TrimSuffix(h.cfg.PublicURL, "/")
		v.NextURL = v.Base + v.NextURL
	}
	h.renderFrom(w, http.StatusForbidden, "message", v, v.Base)
}
