package gateway

// End-to-end tests of the server limits: the assembled gateway served by
// serve() on a loopback listener, with a real slapd, held by slow clients
// and by more connections than it allows.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/otpgate/otpgate/auth/slapdtest"
	"github.com/otpgate/otpgate/internal/testclock"
	"github.com/otpgate/otpgate/internal/testserver"
	"github.com/otpgate/otpgate/proxy"
)

// startServed is startEnv, but the gateway runs in serve() on a plain-HTTP
// loopback listener, with its connection caps and timeouts, in front of app.
func startServed(t *testing.T, app http.Handler, edit ...func(*Config)) (*env, string) {
	t.Helper()
	e := &env{t: t, dir: slapdtest.Start(t), sms: newSMSGateway(t), clock: testclock.Wall(), logs: &testserver.Output{}}
	e.app = httptest.NewServer(app)
	t.Cleanup(e.app.Close)
	e.config = baseConfig(e.dir, e.sms.srv.URL, e.app.URL)
	e.config.Auth.Cookie.Secure = false // plain HTTP, as behind a TLS-terminating proxy
	for _, f := range edit {
		f(&e.config)
	}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := assemble(e.config, log, io.Discard, e.clock.Now)
	if err != nil {
		t.Fatalf("assemble: %v", err)
	}
	e.metrics = a.metrics
	addr := startServe(t, a.handler, a.server, log)
	// The browser helpers need only the gateway's URL.
	e.gw = &httptest.Server{URL: "http://" + addr}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", e.logs.String())
		}
	})
	return e, addr
}

// startServe runs serve() on a loopback port until the test ends.
func startServe(t *testing.T, h http.Handler, s serverSettings, log *slog.Logger) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, h, s, log) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// plainBrowser is a browser for the plain-HTTP gateway of startServed.
func (e *env) plainBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: e.t, e: e, client: c}
}

// dialFrom connects to addr from the loopback address ip (all of
// 127.0.0.0/8 is loopback on Linux), to act as many clients.
func dialFrom(t *testing.T, ip, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// answered reports whether the server answers a request on c; a
// connection over a cap is closed before it is read.
func answered(c net.Conn) bool {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /otpgate/healthz HTTP/1.1\r\nHost: gateway\r\n\r\n"); err != nil {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// raiseFileLimit makes room for n more descriptors, or fails the test
// saying how to run it.
func raiseFileLimit(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	lim.Cur = min(n, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < n {
		t.Fatalf("this test needs %d open files; the limit is %d (hard %d): raise it with `ulimit -n %d`", n, lim.Cur, lim.Max, n)
	}
}

// slowClient is one way of holding a connection open.
type slowClient struct {
	name  string
	path  string
	drip  bool // send the body one byte at a time, or nothing after the headers
	count int
	want  int // the status otpgate answers before it closes the connection
}

// TestSlowClientsAreCutWhileSignInWorks holds 1,000 connections with slow
// form bodies, posts that stop after their headers, and slow bodies to the
// app's path without a session (which otpgate answers itself), reopening
// each as soon as it is cut. Each is answered and cut once the configured
// body timeout has passed, however it trickles, and a normal sign-in
// succeeds during the attack.
func TestSlowClientsAreCutWhileSignInWorks(t *testing.T) {
	const (
		timeout = 2 * time.Second
		// How long a client waits to be cut. Without the deadline every
		// connection is held until then; with it, each is cut about when
		// the timeout has passed (logged below). The wait is long because
		// a machine busy with other race-enabled tests can delay any
		// goroutine by many seconds: an upper bound is a liveness check
		// here, not a measurement.
		giveUp = time.Minute
	)
	clients := []slowClient{
		{name: "slow form body", path: "/otpgate/signin", drip: true, count: 400, want: http.StatusBadRequest},
		{name: "headers only", path: "/otpgate/signin", count: 400, want: http.StatusBadRequest},
		{name: "slow body to the app without a session", path: "/app/upload", drip: true, count: 200, want: http.StatusUnauthorized},
	}
	raiseFileLimit(t, 4096)
	e, addr := startServed(t, echoApp(), func(c *Config) {
		c.BodyReadTimeout = timeout
		// The sign-in must not fail for a slow test machine.
		c.SMS.Timeout, c.Auth.Ldap.Timeout = 30*time.Second, 30*time.Second
	})

	type cut struct {
		client string
		held   time.Duration
		err    error
	}
	var (
		mu      sync.Mutex
		cuts    []cut
		started sync.WaitGroup
		wg      sync.WaitGroup
	)
	stop := make(chan struct{})
	n := 0
	for _, sc := range clients {
		for range sc.count {
			// Ten client addresses, as a small botnet would have.
			ip := fmt.Sprintf("127.0.1.%d", n%10+1)
			n++
			started.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				var once sync.Once
				for {
					held, err := holdOpen(ip, addr, sc, giveUp, func() { once.Do(started.Done) })
					mu.Lock()
					cuts = append(cuts, cut{client: sc.name, held: held, err: err})
					mu.Unlock()
					select {
					case <-stop:
						return
					default: // cut: hold another
					}
				}
			}()
		}
	}
	started.Wait()
	b := e.plainBrowser()
	b.client.Timeout = giveUp
	b.signIn(slapdtest.Alice, "/")
	if got := headerValues(b.appSaw("/"), "Remote-User"); len(got) != 1 || got[0] != "alice" {
		t.Errorf("app saw Remote-User %q during the attack, want [alice]", got)
	}
	close(stop)
	wg.Wait()

	held := map[string][]time.Duration{}
	for _, c := range cuts {
		if c.err != nil {
			t.Errorf("%s: %v", c.client, c.err)
			continue
		}
		// The deadline starts when the headers are in, so no connection
		// is cut before it (less the clocks' granularity).
		if c.held < timeout-50*time.Millisecond {
			t.Errorf("%s: cut after %v, before the body timeout of %v", c.client, c.held, timeout)
		}
		held[c.client] = append(held[c.client], c.held)
	}
	t.Logf("%d connections held, %d more opened as they were cut during the sign-in", n, len(cuts)-n)
	for client, d := range held {
		slices.Sort(d)
		t.Logf("%s: cut after %v (median), %v (99th percentile), %v (longest)",
			client, d[len(d)/2], d[len(d)*99/100], d[len(d)-1])
	}
}

// holdOpen opens one slow connection and returns how long after its headers
// the server cut it. sent is called once the headers are out.
func holdOpen(ip, addr string, sc slowClient, giveUp time.Duration, sent func()) (time.Duration, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: giveUp}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		sent()
		return 0, fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	// Timed from before the headers are written: the server's deadline
	// starts once they are in, so the time held can only be longer.
	start := time.Now()
	_, err = fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4096\r\n\r\n", sc.path)
	sent()
	if err != nil {
		return 0, fmt.Errorf("headers: %w", err)
	}
	_ = c.SetReadDeadline(start.Add(giveUp))
	done := make(chan struct{})
	defer close(done)
	if sc.drip {
		go func() {
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					if _, err := c.Write([]byte("a")); err != nil {
						return
					}
				}
			}
		}()
	}
	// The server must answer, then close the connection.
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	held := time.Since(start)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return held, fmt.Errorf("still open after %v", held)
	case err != nil:
		return held, fmt.Errorf("no answer before the close: %w", err)
	case resp.StatusCode != sc.want || !resp.Close:
		return held, fmt.Errorf("answered %d (closing: %v), want %d and the connection closed", resp.StatusCode, resp.Close, sc.want)
	}
	return held, nil
}

// TestBodyTimeoutIsTheConfiguredOne: one slow form body, on an otherwise
// idle gateway, is cut when BODY_READ_TIMEOUT has passed, not sooner and
// not much later, for two different settings.
func TestBodyTimeoutIsTheConfiguredOne(t *testing.T) {
	for _, timeout := range []time.Duration{time.Second, 3 * time.Second} {
		t.Run(timeout.String(), func(t *testing.T) {
			cfg, err := loadConfig(nil)
			if err != nil {
				t.Fatal(err)
			}
			// The directory is never reached: the form never arrives.
			cfg.Auth.Ldap.URL, cfg.Auth.Ldap.BindDN, cfg.Auth.Ldap.BindPassword = "ldap://127.0.0.1:1", "cn=otpgate,dc=example,dc=org", "x"
			cfg.Auth.Ldap.BaseDN, cfg.Auth.Cookie.Secret, cfg.BodyReadTimeout = "dc=example,dc=org", testSecret(1), timeout
			log := discardLogger()
			a, err := assemble(cfg, log, io.Discard, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			addr := startServe(t, a.handler, a.server, log)
			sc := slowClient{name: "slow form body", path: "/otpgate/signin", drip: true, want: http.StatusBadRequest}
			held, err := holdOpen("127.0.0.1", addr, sc, time.Minute, func() {})
			if err != nil {
				t.Fatal(err)
			}
			// Scheduling on a busy machine may add a little; a fixed or
			// default timeout (10s) would be far off for one of the two.
			if held < timeout-50*time.Millisecond || held > timeout+1500*time.Millisecond {
				t.Fatalf("slow form body cut after %v, want %v (up to 1.5s more)", held, timeout)
			}
		})
	}
}

// TestSlowSignInOutlivesTheBodyDeadline: once a form is read, the handler
// may take longer than the body timeout (a slow SMS gateway here) without
// its request being cancelled.
func TestSlowSignInOutlivesTheBodyDeadline(t *testing.T) {
	e, _ := startServed(t, echoApp(), func(c *Config) { c.BodyReadTimeout = time.Second })
	e.sms.set(0, 1500*time.Millisecond) // within SMS_TIMEOUT (2s), past BODY_READ_TIMEOUT
	b := e.plainBrowser()
	b.signIn(slapdtest.Alice, "/")
	b.appSaw("/")
}

// streamingApp takes a slow upload, and switches protocols to an echo of
// lines, as a WebSocket would.
func streamingApp(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "received %d bytes", n)
	})
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = rw.Flush()
		for {
			line, err := rw.ReadString('\n')
			if err != nil {
				return
			}
			_, _ = rw.WriteString("echo: " + line)
			_ = rw.Flush()
		}
	})
	return mux
}

// TestProxiedStreamsOutliveTheBodyDeadline: the body deadline is for what
// otpgate reads itself. A signed-in upload that trickles for three times
// the body timeout reaches the app whole, and an upgraded connection
// stays open and usable past it.
func TestProxiedStreamsOutliveTheBodyDeadline(t *testing.T) {
	const timeout = time.Second
	e, addr := startServed(t, streamingApp(t), func(c *Config) { c.BodyReadTimeout = timeout })
	b := e.plainBrowser()
	b.signIn(slapdtest.Alice, "/")

	t.Run("slow upload", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			for range 10 {
				time.Sleep(3 * timeout / 10)
				if _, err := pw.Write([]byte(strings.Repeat("x", 100))); err != nil {
					return
				}
			}
			pw.Close()
		}()
		req, _ := http.NewRequest("POST", e.gw.URL+"/upload", pr)
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatalf("slow upload: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(body) != "received 1000 bytes" {
			t.Fatalf("slow upload: %d %q, want 200 \"received 1000 bytes\"", resp.StatusCode, body)
		}
	})

	t.Run("upgraded connection", func(t *testing.T) {
		c := dialFrom(t, "127.0.0.1", addr)
		u, _ := url.Parse(e.gw.URL)
		var cookies []string
		for _, ck := range b.client.Jar.Cookies(u) {
			cookies = append(cookies, ck.String())
		}
		fmt.Fprintf(c, "GET /echo HTTP/1.1\r\nHost: gateway\r\nConnection: Upgrade\r\nUpgrade: echo\r\nCookie: %s\r\n\r\n", strings.Join(cookies, "; "))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v, %v; want 101", resp, err)
		}
		for _, msg := range []string{"first", "after three body timeouts"} {
			if msg != "first" {
				time.Sleep(3 * timeout)
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "%s\n", msg)
			got, err := br.ReadString('\n')
			if err != nil || got != "echo: "+msg+"\n" {
				t.Fatalf("upgraded connection: sent %q, got %q, %v", msg, got, err)
			}
		}
	})
}

// TestConnectionCaps opens connections from several client addresses and
// checks which the server answers and which it closes at once.
func TestConnectionCaps(t *testing.T) {
	tests := []struct {
		name       string
		max, perIP int
		trusted    []string
		held       []string // opened first, all answered and kept open
		refused    []string // then each closed at once
		reason     string
		accepted   []string // then each still answered
		afterClose string   // with held[0] closed, answered again
	}{
		{name: "in all", max: 3, perIP: 0, held: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"},
			refused: []string{"127.0.0.5", "127.0.0.2"}, reason: "total", afterClose: "127.0.0.5"},
		{name: "per address", max: 10, perIP: 2, held: []string{"127.0.0.2", "127.0.0.2"},
			refused: []string{"127.0.0.2", "127.0.0.2"}, reason: "per_address", accepted: []string{"127.0.0.3"}, afterClose: "127.0.0.2"},
		{name: "trusted proxy not capped per address", max: 10, perIP: 2, trusted: []string{"127.0.0.9"},
			held:    []string{"127.0.0.9", "127.0.0.9", "127.0.0.9", "127.0.0.9", "127.0.0.2", "127.0.0.2"},
			refused: []string{"127.0.0.2"}, reason: "per_address", accepted: []string{"127.0.0.9"}, afterClose: "127.0.0.9"},
		{name: "trusted proxy capped in all", max: 3, perIP: 2, trusted: []string{"127.0.0.9"},
			held:    []string{"127.0.0.9", "127.0.0.9", "127.0.0.9"},
			refused: []string{"127.0.0.9"}, reason: "total", afterClose: "127.0.0.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(nil)
			if err != nil {
				t.Fatal(err)
			}
			cfg.MaxConnections, cfg.MaxConnectionsPerIP, cfg.Proxy.TrustedProxies = tt.max, tt.perIP, tt.trusted
			m := newMetrics()
			trusted, err := proxy.ParseTrustedProxies(cfg.Proxy.TrustedProxies)
			if err != nil {
				t.Fatal(err)
			}
			logs := &testserver.Output{}
			addr := startServe(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "ok\n")
			}), cfg.serverSettings(m, trusted), slog.New(slog.NewJSONHandler(logs, nil)))

			var held []net.Conn
			for i, ip := range tt.held {
				c := dialFrom(t, ip, addr)
				if !answered(c) {
					t.Fatalf("connection %d from %s was refused, want it answered", i+1, ip)
				}
				held = append(held, c)
			}
			for _, ip := range tt.refused {
				if answered(dialFrom(t, ip, addr)) {
					t.Errorf("connection from %s answered, want it closed at once (over the %s cap)", ip, tt.reason)
				}
			}
			for _, ip := range tt.accepted {
				if !answered(dialFrom(t, ip, addr)) {
					t.Errorf("connection from %s refused, want it answered", ip)
				}
			}
			if want := fmt.Sprintf(`otpgate_connections_refused_total{reason=%q} %d`, tt.reason, len(tt.refused)); !strings.Contains(scrape(m), want) {
				t.Errorf("metrics lack %q:\n%s", want, scrape(m))
			}
			// Many refusals within the logging interval make one line.
			if got := strings.Count(logs.String(), "connection refused: too many open connections"); got != 1 {
				t.Errorf("%d log lines about refused connections, want 1:\n%s", got, logs.String())
			}
			if !strings.Contains(logs.String(), `"reason":"`+tt.reason+`"`) {
				t.Errorf("log does not name the %s cap:\n%s", tt.reason, logs.String())
			}

			// The server notices the close when it next reads; until then
			// the place is still taken.
			held[0].Close()
			deadline := time.Now().Add(10 * time.Second)
			for !answered(dialFrom(t, tt.afterClose, addr)) {
				if time.Now().After(deadline) {
					t.Fatalf("a connection from %s is still refused after one held connection was closed", tt.afterClose)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// scrape returns the metrics as Prometheus reads them.
func scrape(m *metrics) string {
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// TestRefusedConnectionsAreLoggedAtMostEveryTenSeconds: a flood of refused
// connections makes one log line per interval, counting those it left out.
func TestRefusedConnectionsAreLoggedAtMostEveryTenSeconds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clock := testclock.Wall()
	logs := &testserver.Output{}
	refusals := make(chan string, 100)
	l := newConnLimiter(ln, connLimits{Max: 1, Refused: func(r string) { refusals <- r }},
		slog.New(slog.NewJSONHandler(logs, nil)), clock.Now)
	accepted := make(chan net.Conn, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		l.Close()
		(<-accepted).Close()
	})
	dialFrom(t, "127.0.0.1", ln.Addr().String()) // takes the one place
	refuse := func(n int) {
		for range n {
			dialFrom(t, "127.0.0.1", ln.Addr().String())
			if r := <-refusals; r != "total" {
				t.Fatalf("refused for %q, want total", r)
			}
		}
	}
	refuse(5)
	clock.Advance(refusalLogEvery - time.Second)
	refuse(3)
	if got := strings.Count(logs.String(), "connection refused"); got != 1 {
		t.Fatalf("%d log lines for 8 refusals within %v, want 1:\n%s", got, refusalLogEvery, logs.String())
	}
	clock.Advance(time.Second)
	refuse(1)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"refused_unlogged":7`) {
		t.Fatalf("log after the interval:\n%s\nwant a second line counting the 7 refusals left out", logs.String())
	}
}

func TestConfigRefusesBadServerLimits(t *testing.T) {
	tests := []struct{ name, value, want string }{
		{"OTPGATE_IDLE_TIMEOUT", "0s", "OTPGATE_IDLE_TIMEOUT: 0s: want between 1s and 1h"},
		{"OTPGATE_IDLE_TIMEOUT", "2h", "OTPGATE_IDLE_TIMEOUT: 2h0m0s: want between 1s and 1h"},
		{"OTPGATE_BODY_READ_TIMEOUT", "500ms", "OTPGATE_BODY_READ_TIMEOUT: 500ms: want between 1s and 1m"},
		{"OTPGATE_BODY_READ_TIMEOUT", "5m", "OTPGATE_BODY_READ_TIMEOUT: 5m0s: want between 1s and 1m"},
		{"OTPGATE_MAX_CONNECTIONS", "0", "OTPGATE_MAX_CONNECTIONS: 0: want 1 or more"},
		{"OTPGATE_MAX_CONNECTIONS_PER_IP", "-1", "OTPGATE_MAX_CONNECTIONS_PER_IP: -1: want 0 (no limit) to MAX_CONNECTIONS (10000)"},
		{"OTPGATE_MAX_CONNECTIONS_PER_IP", "10001", "OTPGATE_MAX_CONNECTIONS_PER_IP: 10001: want 0 (no limit) to MAX_CONNECTIONS (10000)"},
		{"OTPGATE_MAX_CONNECTIONS", "many", `OTPGATE_MAX_CONNECTIONS: "many" is not a valid whole number`},
		{"OTPGATE_MAX_CONNECTIONS_PER_IP", "0", ""},
		{"OTPGATE_BODY_READ_TIMEOUT", "1s", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			env := validEnv()
			env[tt.name] = tt.value
			cfg, err := loadConfig(setEnv(t, env))
			if err == nil {
				_, err = assemble(cfg, discardLogger(), io.Discard, nil)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("%s=%q: %v, want no error", tt.name, tt.value, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%s=%q: error %v, want it to contain %q", tt.name, tt.value, err, tt.want)
			}
		})
	}
}
