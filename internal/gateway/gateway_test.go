package gateway

// End-to-end tests of the reverse-proxy mode: a real slapd, the real
// gateway over TLS, an app behind it, and an SMS gateway shaped like
// Twilio's API (the one paid service, so the one fake) that asserts the
// exact request it receives.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth/slapdtest"
	"github.com/otpgate/otpgate/internal/testclock"
	"github.com/otpgate/otpgate/internal/testserver"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "twilio-test-token"
	smsPath   = "/2010-04-01/Accounts/" + testSID + "/Messages.json"
)

// smsGateway receives what otpgate's http SMS provider sends, checks it is
// exactly the configured request, and keeps the messages.
type smsGateway struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	messages []smsMessage
	status   int           // answer with this status (0: 201)
	delay    time.Duration // answer this late
}

type smsMessage struct{ To, Body string }

func newSMSGateway(t *testing.T) *smsGateway {
	g := &smsGateway{t: t}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *smsGateway) serve(w http.ResponseWriter, r *http.Request) {
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(testSID+":"+testToken))
	if r.Method != "POST" || r.URL.Path != smsPath || r.Header.Get("Authorization") != wantAuth ||
		r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		g.t.Errorf("SMS gateway got %s %s, Authorization %q, Content-Type %q; want POST %s, %q, form",
			r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), smsPath, wantAuth)
		http.Error(w, "bad request", 400)
		return
	}
	body, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("From") != "+15005550001" || len(form) != 3 {
		g.t.Errorf("SMS gateway got body %q: want To, Body and From=+15005550001", body)
	}
	g.mu.Lock()
	status, delay := g.status, g.delay
	if status == 0 {
		g.messages = append(g.messages, smsMessage{To: form.Get("To"), Body: form.Get("Body")})
	}
	g.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 {
		http.Error(w, `{"code":20500,"message":"Internal Server Error"}`, status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, `{"sid":"SM123","status":"queued"}`)
}

func (g *smsGateway) set(status int, delay time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.status, g.delay = status, delay
}

func (g *smsGateway) sent() []smsMessage {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.messages)
}

var codeInMessage = regexp.MustCompile(`code is ([0-9A-Z]{4,10})\b`)

// lastCode returns the code of the last message, checking it went to want.
func (g *smsGateway) lastCode(to string) string {
	g.t.Helper()
	msgs := g.sent()
	if len(msgs) == 0 {
		g.t.Fatal("no SMS was sent")
	}
	m := msgs[len(msgs)-1]
	if m.To != to {
		g.t.Fatalf("SMS went to %q, want %q", m.To, to)
	}
	match := codeInMessage.FindStringSubmatch(m.Body)
	if match == nil {
		g.t.Fatalf("SMS body %q has no code", m.Body)
	}
	return match[1]
}

// env is one running gateway with everything around it.
type env struct {
	t       *testing.T
	dir     *slapdtest.Server
	sms     *smsGateway
	app     *httptest.Server
	gw      *httptest.Server
	clock   *testclock.Clock
	logs    *testserver.Output
	config  Config
	metrics *metrics
}

// echoApp answers with the request's identity headers as JSON.
func echoApp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := map[string]any{"path": r.URL.RequestURI(), "method": r.Method}
		for name, v := range r.Header {
			out[name] = v
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
}

func testSecret(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

// baseConfig is the configuration every test starts from, as an operator
// would write it, with the Twilio example of the README for the SMS.
func baseConfig(dir *slapdtest.Server, smsURL, appURL string) Config {
	c, err := loadConfig(nil)
	if err != nil {
		panic(err)
	}
	c.ListenAddr = "127.0.0.1:0"
	c.Proxy.UpstreamURL = appURL
	c.Auth.Ldap.URL = dir.URL
	c.Auth.Ldap.BindDN = dir.BindDN
	c.Auth.Ldap.BindPassword = dir.BindPassword
	c.Auth.Ldap.BaseDN = dir.BaseDN
	c.SMS.Provider = "http"
	c.SMS.URL = smsURL + smsPath
	c.SMS.Method = "POST"
	c.SMS.Headers = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(testSID+":"+testToken))
	c.SMS.Payload = "Body=$ctx.msg&To=$ctx.num&From=%2B15005550001"
	c.SMS.Timeout = 2 * time.Second
	c.Auth.Cookie.Secret = testSecret(1)
	return c
}

func startEnv(t *testing.T, edit ...func(*Config)) *env {
	t.Helper()
	return startEnvWithDirectory(t, nil, edit...)
}

// startEnvWithDirectory is startEnv with options for the directory.
func startEnvWithDirectory(t *testing.T, dirOpts []slapdtest.Option, edit ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, dir: slapdtest.Start(t, dirOpts...), sms: newSMSGateway(t), clock: testclock.Wall(), logs: &testserver.Output{}}
	e.app = httptest.NewServer(echoApp())
	t.Cleanup(e.app.Close)
	e.config = baseConfig(e.dir, e.sms.srv.URL, e.app.URL)
	e.serve(edit, nil)
	return e
}

// serve applies edit to e.config, assembles the gateway and serves it:
// over TLS on a new port, or over plain HTTP on ln when given. Its log is
// shown when the test fails.
func (e *env) serve(edit []func(*Config), ln net.Listener) {
	e.t.Helper()
	for _, f := range edit {
		f(&e.config)
	}
	a, err := assemble(e.config, testLogger(e.logs), io.Discard, e.clock.Now)
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		e.t.Fatalf("assemble: %v", err)
	}
	e.metrics = a.metrics
	e.t.Cleanup(a.close)
	if ln == nil {
		e.gw = httptest.NewTLSServer(a.handler)
	} else {
		e.gw = &httptest.Server{Listener: ln, Config: &http.Server{Handler: a.handler}}
		e.gw.Start()
	}
	e.t.Cleanup(e.gw.Close)
	e.t.Cleanup(func() {
		if e.t.Failed() {
			e.t.Logf("gateway log:\n%s", e.logs.String())
		}
	})
}

// browser is a cookie-keeping client that does not follow redirects, so
// each step can be checked.
type browser struct {
	t      *testing.T
	e      *env
	client *http.Client
	host   string // the Host it names, when not the gateway's address
}

// browserAt is a browser that names host (host:port) in every request,
// as one that reached the gateway by that name.
func (e *env) browserAt(host string) *browser {
	b := e.browser()
	b.host = host
	return b
}

func (e *env) browser() *browser { return e.browserFrom("") }

// browserFrom is a browser whose connections come from the loopback
// address ip (127.0.0.0/8 is all loopback on Linux), to act as many
// clients; "" uses the default.
func (e *env) browserFrom(ip string) *browser {
	jar, _ := cookiejar.New(nil)
	c := new(http.Client)
	*c = *e.gw.Client() // a copy: each browser has its own jar
	c.Jar = jar
	if ip != "" {
		tr := e.gw.Client().Transport.(*http.Transport).Clone()
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		tr.DialContext = dialer.DialContext
		c.Transport = tr
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: e.t, e: e, client: c}
}

type response struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (b *browser) do(method, path string, form url.Values, header ...string) response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.gw.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Host = b.host
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1] // the client names another host
			continue
		}
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(data), header: resp.Header}
}

func (b *browser) get(path string, header ...string) response {
	return b.do("GET", path, nil, header...)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf loads a page and returns the CSRF token of its form.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	r := b.get(path)
	m := csrfField.FindStringSubmatch(r.body)
	if m == nil {
		b.t.Fatalf("GET %s: %d, no CSRF token in:\n%s", path, r.status, r.body)
	}
	return m[1]
}

// password submits the sign-in form.
func (b *browser) password(username, password, rd string) response {
	b.t.Helper()
	tok := b.csrf("/otpgate/signin?rd=" + url.QueryEscape(rd))
	return b.do("POST", "/otpgate/signin", url.Values{"csrf": {tok}, "rd": {rd}, "username": {username}, "password": {password}})
}

// code submits the code form.
func (b *browser) code(code string) response {
	b.t.Helper()
	tok := b.csrf("/otpgate/logout")
	return b.do("POST", "/otpgate/code", url.Values{"csrf": {tok}, "code": {code}})
}

// signIn goes through both steps for u and checks each.
func (b *browser) signIn(u slapdtest.User, rd string) {
	b.t.Helper()
	if r := b.password(u.Username, u.Password, rd); r.status != http.StatusSeeOther || r.location != "/otpgate/code" {
		b.t.Fatalf("password step: %d to %q, want 303 to /otpgate/code; body:\n%s", r.status, r.location, r.body)
	}
	if r := b.code(b.e.sms.lastCode(u.Mobile)); r.status != http.StatusSeeOther {
		b.t.Fatalf("code step: %d, want 303; body:\n%s", r.status, r.body)
	}
}

// appSaw fetches path through the gateway and returns what the app received.
func (b *browser) appSaw(path string, header ...string) map[string]any {
	b.t.Helper()
	r := b.get(path, header...)
	if r.status != http.StatusOK {
		b.t.Fatalf("GET %s: %d to %q, want 200 from the app", path, r.status, r.location)
	}
	var seen map[string]any
	if err := json.Unmarshal([]byte(r.body), &seen); err != nil {
		b.t.Fatalf("app answer %q: %v", r.body, err)
	}
	return seen
}

func headerValues(seen map[string]any, name string) []string {
	v, _ := seen[name].([]any)
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = fmt.Sprint(s)
	}
	return out
}

func TestSignInFlowEndToEnd(t *testing.T) {
	e := startEnv(t)
	b := e.browser()
	alice := slapdtest.Alice

	r := b.get("/app/page?x=1&y=2")
	if r.status != http.StatusSeeOther || r.location != "/otpgate/signin?rd=%2Fapp%2Fpage%3Fx%3D1%26y%3D2" {
		t.Fatalf("anonymous request: %d to %q, want 303 to the sign-in page with rd", r.status, r.location)
	}
	page := b.get(r.location)
	for _, want := range []string{`name="username"`, `name="password"`, `autocomplete="current-password"`, `name="rd" value="/app/page?x=1&amp;y=2"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("sign-in page lacks %q", want)
		}
	}
	if len(e.sms.sent()) != 0 {
		t.Fatal("an SMS was sent before any password")
	}
	r = b.password(alice.Username, alice.Password, "/app/page?x=1&y=2")
	if r.status != http.StatusSeeOther || r.location != "/otpgate/code" {
		t.Fatalf("right password: %d to %q, want 303 to /otpgate/code", r.status, r.location)
	}
	msgs := e.sms.sent()
	if len(msgs) != 1 || msgs[0].To != alice.Mobile || !strings.HasSuffix(msgs[0].Body, "It expires in 5 minutes.") {
		t.Fatalf("SMS sent: %+v; want one to %s with the default message", msgs, alice.Mobile)
	}
	code := e.sms.lastCode(alice.Mobile)

	page = b.get("/otpgate/code")
	for _, want := range []string{"+1 ••• ••• 0006", `name="code"`, `autocomplete="one-time-code"`, `inputmode="numeric"`} {
		if !strings.Contains(html.UnescapeString(page.body), want) {
			t.Errorf("code page lacks %q:\n%s", want, page.body)
		}
	}
	if text := html.UnescapeString(page.body); strings.Contains(text, alice.Mobile) || strings.Contains(text, code) {
		t.Error("code page shows the whole number or the code")
	}

	r = b.code(code)
	if r.status != http.StatusSeeOther || r.location != "/app/page?x=1&y=2" {
		t.Fatalf("right code: %d to %q, want 303 back to /app/page?x=1&y=2", r.status, r.location)
	}
	seen := b.appSaw("/app/page?x=1&y=2")
	want := map[string]string{"Remote-User": "alice", "Remote-Name": alice.Name, "Remote-Email": alice.Email, "Remote-Groups": "admins,staff"}
	for name, v := range want {
		got := headerValues(seen, name)
		if name == "Remote-Groups" && len(got) == 1 {
			groups := strings.Split(got[0], ",")
			slices.Sort(groups)
			got = []string{strings.Join(groups, ",")}
		}
		if len(got) != 1 || got[0] != v {
			t.Errorf("app got %s = %q, want [%q]", name, got, v)
		}
	}
	if got := headerValues(seen, "X-Forwarded-Proto"); len(got) != 1 || got[0] != "https" {
		t.Errorf("app got X-Forwarded-Proto %q, want [https]", got)
	}
	if cookies := headerValues(seen, "Cookie"); len(cookies) != 0 {
		t.Errorf("app received otpgate's cookies: %q", cookies)
	}
	logs := e.logs.String()
	for _, secret := range []string{alice.Password, code, alice.Mobile, e.config.Auth.Cookie.Secret} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains a secret %q", secret)
		}
	}
	for _, event := range []string{"sign-in: password ok", "sign-in: code sent", "sign-in: code ok"} {
		if !strings.Contains(logs, event) {
			t.Errorf("log lacks the event %q", event)
		}
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testLogger logs JSON at debug level without the clock readings (time,
// duration): tests search the log for codes and numbers, and a timestamp's
// digits must not be mistaken for them.
func testLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Value.Kind() == slog.KindDuration || a.Key == "duration" {
				return slog.Attr{}
			}
			return a
		}}))
}
