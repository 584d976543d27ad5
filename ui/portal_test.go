package ui

import (
	"bytes"
	"context"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/auth/authtest"
	"github.com/otpgate/otpgate/internal/testclock"
)

// The handler tests run the pages against a real auth.Flow with a
// directory, an SMS sender and a clock in memory: no slapd, no gateway.

var alice = authtest.User{User: auth.User{Username: "alice", DN: "uid=alice,ou=people,dc=example,dc=org",
	Email: "alice@example.org", Mobile: "+15550100006"}, Password: "alice-pw"}

const prefix = "/otpgate/"

// portal is the page handler served over HTTP to one browser, with a
// cookie jar that follows no redirect, so that tests see each answer.
type portal struct {
	t     *testing.T
	srv   *httptest.Server
	web   *http.Client
	sms   *authtest.Sender
	clock *testclock.Clock
	csrf  string // the token of the last form a page showed
	lang  string // the browser's Accept-Language; "": none sent
}

// flowConfig is the sign-in the tests run, changed by each test as needed:
// a 6-digit code valid 5 minutes, 3 tries, up to 3 codes 30 seconds apart,
// and a lock after 5 wrong passwords or codes.
func flowConfig() auth.FlowConfig {
	return auth.FlowConfig{CodeTTL: 5 * time.Minute, MaxAttempts: 3, Retry: true,
		Resend: true, ResendCooldown: 30 * time.Second, MaxSends: 3, Message: "{code}",
		MaskVisible: 4, SendTimeout: 5 * time.Second, Policy: auth.Policy{Mandatory: true},
		Lockout: auth.Lockout{MaxFailures: 5, Window: time.Hour, Duration: 15 * time.Minute}}
}

// newPortal serves the pages for a directory of alice and users.
func newPortal(t *testing.T, flowCfg auth.FlowConfig, ready func(context.Context) error, users ...authtest.User) *portal {
	t.Helper()
	return newPortalWith(t, flowCfg, ready, func(*Config) {}, users...)
}

// newPortalWith is newPortal with the page handler's Config changed by setup.
func newPortalWith(t *testing.T, flowCfg auth.FlowConfig, ready func(context.Context) error, setup func(*Config), users ...authtest.User) *portal {
	t.Helper()
	p := &portal{t: t, sms: &authtest.Sender{}, clock: testclock.New(time.Now())}
	keys, err := auth.NewKeys([][]byte{bytes.Repeat([]byte{1}, auth.MinSecretLen)})
	if err != nil {
		t.Fatal(err)
	}
	codes, err := auth.NewCodeMaker(6, auth.DigitAlphabet, keys.CodeKey())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	store := auth.NewMemoryStore(p.clock.Now)
	flow := auth.NewFlow(authtest.NewDirectory(append([]authtest.User{alice}, users...)...), p.sms, store, codes, flowCfg, log, p.clock.Now)
	cookie := auth.CookieOptions{Name: "_otpgate"}
	sessions, err := auth.NewSessions(keys, cookie, auth.SessionConfig{Lifetime: 12 * time.Hour, Idle: time.Hour, Store: store}, p.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Prefix: prefix, Flow: flow, Sessions: sessions, Keys: keys, Cookie: cookie, Log: log, Ready: ready, Now: p.clock.Now}
	setup(&cfg)
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.srv = httptest.NewServer(h)
	t.Cleanup(p.srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	p.web = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return p
}

// page is one answer, its body as text.
type page struct {
	status   int
	body     string
	location string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (p *portal) do(req *http.Request) page {
	p.t.Helper()
	if p.lang != "" {
		req.Header.Set("Accept-Language", p.lang)
	}
	resp, err := p.web.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	body := html.UnescapeString(string(b))
	if m := csrfField.FindStringSubmatch(body); m != nil {
		p.csrf = m[1]
	}
	return page{status: resp.StatusCode, body: body, location: resp.Header.Get("Location")}
}

// get fetches path, which is below the prefix.
func (p *portal) get(path string) page {
	p.t.Helper()
	req, err := http.NewRequest(http.MethodGet, p.srv.URL+prefix+path, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.do(req)
}

// post sends form to path with the CSRF token of the last form shown.
func (p *portal) post(path string, form url.Values) page {
	p.t.Helper()
	form.Set("csrf", p.csrf)
	req, err := http.NewRequest(http.MethodPost, p.srv.URL+prefix+path, strings.NewReader(form.Encode()))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return p.do(req)
}

// password shows the sign-in form and sends username and password, asking
// to come back to /app.
func (p *portal) password(username, password string) page {
	p.t.Helper()
	p.get("signin?rd=/app")
	return p.post("signin", url.Values{"username": {username}, "password": {password}, "rd": {"/app"}})
}

// lastCode is the code in the last SMS (the message is the bare code).
func (p *portal) lastCode() string {
	p.t.Helper()
	sent := p.sms.Sent()
	if len(sent) == 0 {
		p.t.Fatal("no SMS sent")
	}
	return sent[len(sent)-1].Text
}

// signedIn runs the whole sign-in of alice.
func (p *portal) signedIn() {
	p.t.Helper()
	p.want(p.password(alice.Username, alice.Password), http.StatusSeeOther, "")
	p.get("code")
	p.want(p.post("code", url.Values{"code": {p.lastCode()}}), http.StatusSeeOther, "")
}

// want fails the test unless pg has status and its body contains text.
func (p *portal) want(pg page, status int, text string) {
	p.t.Helper()
	if pg.status != status {
		p.t.Errorf("got status %d, want %d; body:\n%s", pg.status, status, pg.body)
	}
	if !strings.Contains(pg.body, text) {
		p.t.Errorf("got body without %q:\n%s", text, pg.body)
	}
}

var errNotReady = errors.New("directory: connection refused")
