// Package gateway is otpgate assembled: its settings read from the
// environment, its parts built and wired, the server run and drained. The
// command in the module's root only calls Main.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/auth/redisstore"
	"github.com/otpgate/otpgate/internal/reqid"
	"github.com/otpgate/otpgate/internal/setting"
	"github.com/otpgate/otpgate/internal/tracing"
	"github.com/otpgate/otpgate/internal/version"
	"github.com/otpgate/otpgate/proxy"
	"github.com/otpgate/otpgate/sms"
	"github.com/otpgate/otpgate/ui"
)

// Main is otpgate's command line: it runs until SIGINT or SIGTERM, then
// drains, and returns the exit status.
func Main(args, environ []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, environ, stdout, stderr)
}

// Exit statuses. validate uses one per stage, so a script can tell what
// failed: 2 the configuration, 3 the directory, 4 an SMS provider.
const (
	exitOK        = 0
	exitFailed    = 1
	exitConfig    = 2
	exitDirectory = 3
	exitSMS       = 4
)

// run is otpgate's whole life: it serves until ctx ends (SIGTERM), then
// drains, and returns the exit status.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	mode := "serve"
	if len(args) > 0 {
		mode = args[0]
	}
	switch mode {
	case "sessions":
		return sessionsCommand(ctx, args[1:], environ, stdout, stderr, openConfiguredStore, time.Now)
	case "serve", "demo":
	case "-h", "-help", "--help", "help":
		printHelp(stdout)
		return exitOK
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, version.Get())
		return exitOK
	case "secret":
		return printSecret(stdout, stderr)
	case "validate":
		return validateCommand(ctx, environ, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "otpgate: unknown command %q; run `otpgate help`\n", mode)
		return exitConfig
	}

	cfg, loadErr := loadConfig(environ)
	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	info := version.Get()
	log.Info("otpgate starting", "version", info.Version, "commit", info.Commit, "go", info.Go)

	var demoEnv *demoEnvironment
	if mode == "demo" {
		if loadErr != nil {
			fmt.Fprintf(stderr, "otpgate: configuration is not valid:\n%s\n", indent(loadErr))
			return exitConfig
		}
		var err error
		if demoEnv, err = startDemo(ctx, &cfg, environ, log); err != nil {
			fmt.Fprintf(stderr, "otpgate demo: %v\n", err)
			return exitFailed
		}
		defer demoEnv.Close()
	}
	// Assemble even when some values did not parse, so that every problem
	// is reported in this one run.
	a, err := assemble(cfg, log, stdout, time.Now)
	if err := errors.Join(loadErr, err); err != nil {
		fmt.Fprintf(stderr, "otpgate: configuration is not valid:\n%s\n", indent(err))
		return exitConfig
	}
	defer a.close(context.WithoutCancel(ctx))
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		fmt.Fprintf(stderr, "otpgate: OTPGATE_LISTEN_ADDR: %v\n", err)
		return exitFailed
	}
	if demoEnv != nil {
		demoEnv.PrintWelcome(stdout, ln.Addr())
	} else if !cfg.Auth.Cookie.Secure {
		log.Warn("OTPGATE_COOKIE_SECURE=false: session cookies are sent over plain HTTP; use this only for local testing")
	}
	if cfg.MetricsAddr != "" {
		if err := a.metrics.serve(ctx, cfg.MetricsAddr, log); err != nil {
			fmt.Fprintf(stderr, "otpgate: OTPGATE_METRICS_ADDR: %v\n", err)
			return exitFailed
		}
	}
	// In the background: a directory slow to answer must not hold up
	// serving, and its readiness is the probe's to tell.
	go a.checkDirectory(ctx)
	if cfg.Proxy.UpstreamURL == "" && demoEnv == nil {
		log.Info("no OTPGATE_UPSTREAM_URL: serving forward-auth and the sign-in portal only")
	}
	if err := serve(ctx, ln, a.handler, a.server, log); err != nil {
		log.Error("server stopped", "err", err)
		return exitFailed
	}
	return exitOK
}

// unreported returns the problems of more whose variable has none in
// reported. The directory checks some settings again when it is made
// (a required LDAP_URL, say), and one mistake is reported once.
func unreported(reported, more []error) []error {
	seen := map[string]bool{}
	for _, err := range reported {
		seen[variableOf(err)] = true
	}
	var out []error
	for _, err := range more {
		if !seen[variableOf(err)] {
			out = append(out, err)
		}
	}
	return out
}

// variableOf is the variable a problem names: what comes before ": ".
func variableOf(err error) string {
	name, _, _ := strings.Cut(err.Error(), ": ")
	return name
}

func indent(err error) string {
	var b []byte
	for _, line := range splitLines(err.Error()) {
		b = append(b, "  - "...)
		b = append(b, line...)
		b = append(b, '\n')
	}
	return string(b[:max(0, len(b)-1)])
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// newLogger logs in format: json, text, or "" for text when a person is
// watching a terminal and JSON otherwise. An unknown level or format is a
// configuration problem reported elsewhere; meanwhile info and JSON.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// failureFloor is the least time a refused password takes, so that an
// unknown username (refused before any bind) is not answered faster than a
// wrong password.
const failureFloor = 300 * time.Millisecond

// app is otpgate wired from its configuration.
type app struct {
	handler http.Handler
	metrics *metrics
	server  serverSettings
	store   auth.Store
	// checkDirectory compares the directory's own lockout with otpgate's
	// and logs what is wrong; run calls it once at start-up.
	checkDirectory func(ctx context.Context)
	dir            *auth.LDAP
	// close sends what tracing has not sent yet and lets go of what the
	// parts hold open (the directory's kept connections, the store's);
	// run calls it once serving has stopped. Calling it again does nothing
	// more.
	close func(ctx context.Context)
}

// assemble builds every part from cfg, gathering every problem (the
// configuration's and each part's own checks) into one error.
// now is the clock, injectable so tests can expire codes and sessions.
func assemble(cfg Config, log *slog.Logger, stdout io.Writer, now func() time.Time) (*app, error) {
	chk, problems := cfg.validate()
	m := newMetrics()
	// Every line logged with a request's context names the request's id.
	log = slog.New(reqid.NewHandler(log.Handler()))

	dir, err := auth.NewLDAP(cfg.Auth.LDAPConfig(chk.auth))
	problems = append(problems, unreported(problems, setting.Prefixed(envPrefix+"_", err))...)

	var tr *tracing.Tracing // nil: tracing off, and nothing of it installed
	if cfg.TracingEndpoint != "" {
		if tr, err = tracing.New(cfg.TracingEndpoint, version.Get().Version); err != nil {
			problems = append(problems, problem("TRACING_ENDPOINT", "%v", err))
		}
	}

	sender, senderProblems := newSender(cfg, log, stdout, m, tr)
	problems = append(problems, senderProblems...)

	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	// Until assemble succeeds, the directory is its to close.
	ok := false
	defer func() {
		if !ok {
			_ = dir.Close()
		}
	}()

	keys, err := auth.NewKeys(chk.auth.Secrets)
	if err != nil {
		return nil, problem("COOKIE_SECRET", "%v", err)
	}
	alphabet := auth.DigitAlphabet
	if cfg.Auth.Otp.Alphanumeric {
		alphabet = auth.AlphanumericAlphabet
	}
	codes, err := auth.NewCodeMaker(cfg.Auth.Otp.Length, alphabet, keys.CodeKey())
	if err != nil {
		return nil, problem("OTP_LENGTH", "%v", err)
	}
	store, closeStore := newStore(cfg, chk, log, now)
	defer func() {
		if !ok {
			closeStore()
		}
	}()
	flowCfg := cfg.Auth.FlowConfig(chk.auth)
	flowCfg.Host, flowCfg.SendTimeout, flowCfg.FailureFloor, flowCfg.Observer = cfg.publicHost(), cfg.SMS.Timeout, failureFloor, m
	var directory auth.Directory = dir
	var upstream http.RoundTripper = proxy.NewTransport()
	closeTracing := func(context.Context) {}
	if tr != nil {
		directory, upstream = tr.Directory(dir), tr.Transport(upstream)
		closeTracing = func(ctx context.Context) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := tr.Shutdown(ctx); err != nil {
				log.Warn("tracing: spans not sent", "err", err)
			}
		}
	}
	flow := auth.NewFlow(directory, sender, store, codes, flowCfg, log, now)
	if cfg.Auth.CaptureMobile && len(setting.TrimAll(cfg.Auth.Sms.AllowedCountries)) == 0 {
		log.Info("OTPGATE_CAPTURE_MOBILE: codes go only to numbers of OTPGATE_DEFAULT_REGION; list more countries in OTPGATE_SMS_ALLOWED_COUNTRIES",
			"countries", chk.auth.AllowedCountries)
	}
	if cfg.Auth.Otp.Length < 6 {
		log.Warn("OTPGATE_OTP_LENGTH below 6: short codes are easier to guess", "length", cfg.Auth.Otp.Length)
	}
	cookie := cfg.Auth.Cookie.Options()
	sessions, err := auth.NewSessions(keys, cookie, auth.SessionConfig{
		Lifetime: cfg.Auth.Session.Lifetime, Idle: cfg.Auth.Session.Idle, Store: store,
		Directory: dir, Refresh: cfg.Auth.Session.Refresh, RefreshGrace: cfg.Auth.Session.RefreshGrace, Log: log}, now)
	if err != nil {
		return nil, problem("SESSION_LIFETIME", "%v", err)
	}
	trusted := chk.proxy.Trusted
	pages, err := ui.New(ui.Config{
		Prefix: cfg.PathPrefix, Flow: flow, Sessions: sessions, Keys: keys, Cookie: cookie, Log: log,
		ClientAddr: trusted.ClientIP, PublicURL: cfg.PublicURL, Version: version.Get().Version, Now: now,
		Brand: chk.ui.Brand, Catalog: chk.ui.Catalog,
		Redirects: ui.RedirectPolicy{Domain: cookie.Domain, Hosts: chk.ui.RedirectHosts, AllowHTTP: !cfg.Auth.Cookie.Secure},
		Ready: func(ctx context.Context) error {
			if err := dir.Ping(ctx); err != nil {
				return fmt.Errorf("directory: %w", err)
			}
			return store.Ping(ctx)
		},
	})
	if err != nil {
		return nil, err
	}
	var public *url.URL
	if cfg.PublicURL != "" {
		public, _ = url.Parse(cfg.PublicURL)
	}
	// Without OTPGATE_METRICS_ADDR nobody reads the per-request metrics:
	// requests are then neither timed nor counted.
	transport := upstream
	var decision func(string)
	if cfg.MetricsAddr != "" {
		transport, decision = m.transport(transport), m.decisionCounter()
	}
	gw, err := proxy.New(proxy.Config{
		Upstream: chk.proxy.Upstream, Prefix: cfg.PathPrefix, Pages: pages, SignInURL: pages.SignInURL,
		Sessions: sessions, Log: log, Rules: chk.proxy.Rules, Trusted: trusted, PublicURL: public, Forbidden: pages.Forbidden,
		IgnoreCase: chk.proxy.IgnoreCase, Hosts: appHosts(chk.proxy.Hosts, cfg.publicHost()), Identity: chk.proxy.Identity,
		Decision: decision, Transport: liftBodyDeadline(transport),
	}, pages.CookieNames()...)
	if err != nil {
		return nil, problem("UPSTREAM_URL", "%v", err)
	}
	checkDirectory := func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, 2*cfg.Auth.Ldap.Timeout)
		defer cancel()
		checkADLockout(ctx, dir, cfg.Auth.Lockout, log)
	}
	var handler http.Handler = gw
	if cfg.Store.UseRedis() {
		handler = failClosed(gw, pages.Unavailable, cfg.PathPrefix+"signin", store.Ping, log)
	}
	// The body deadline wraps everything; the transport lifts it for the
	// requests that go to the app.
	handler = bodyDeadline(favicon(handler, sessions), cfg.BodyReadTimeout)
	if tr != nil {
		handler = tr.Handler(handler, trusted.Trusts)
	}
	if cfg.AccessLog {
		handler = accessLog(handler, log, trusted.ClientIP, time.Now)
	}
	// Outermost, so that everything below can log with the request's id.
	handler = reqid.Middleware(handler, trusted.Trusts)
	ok = true
	return &app{handler: handler, metrics: m, server: cfg.serverSettings(m, trusted), store: store,
		checkDirectory: checkDirectory, dir: dir, close: func(ctx context.Context) {
			closeTracing(ctx)
			_ = dir.Close()
			closeStore()
		}}, nil
}

// newStore builds the store OTPGATE_STORE names, and what closes it. A
// Redis that does not answer yet is no reason not to start: every sign-in
// and session is refused with a 503 page and readiness fails until it
// answers, and the store connects by itself.
func newStore(cfg Config, chk checked, log *slog.Logger, now func() time.Time) (auth.Store, func()) {
	if !cfg.Store.UseRedis() {
		return auth.NewMemoryStore(now), func() {}
	}
	s, err := redisstore.New(chk.redis, log)
	if err != nil {
		log.Error("redis store: cannot connect yet; sign-ins and sessions are refused (503) until it answers", "err", err)
	}
	return reportingStore{s}, s.Close
}

// newSender builds the configured SMS providers: one, or several tried in
// order with a circuit breaker each (SMS_PROVIDERS).
func newSender(cfg Config, log *slog.Logger, stdout io.Writer, m *metrics, tr *tracing.Tracing) (sms.Sender, []error) {
	names := setting.TrimAll(cfg.SMS.Providers)
	if len(names) == 0 {
		names = []string{cfg.SMS.Provider}
	}
	var problems []error
	var named []sms.Named
	for _, name := range names {
		s, errs := newProvider(name, cfg, log, stdout)
		problems = append(problems, errs...)
		if s != nil {
			s = m.sender(name, s)
			if tr != nil {
				s = tr.Sender(name, s)
			}
			named = append(named, sms.Named{Name: name, Sender: s})
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	if len(named) == 1 {
		return named[0].Sender, nil
	}
	f, err := sms.NewFailover(sms.FailoverConfig{Timeout: cfg.SMS.Timeout, FailureThreshold: cfg.SMS.BreakerFailures,
		OpenFor: cfg.SMS.BreakerOpenFor, Log: log}, named...)
	if err != nil {
		return nil, []error{problem("SMS_PROVIDERS", "%v", err)}
	}
	return f, nil
}

// newProvider builds one SMS provider by name.
func newProvider(name string, cfg Config, log *slog.Logger, stdout io.Writer) (sms.Sender, []error) {
	// The sms package makes its own copy of this client that never follows
	// redirects (a 3xx is a failed send), whatever is set here.
	return newProviderWith(name, cfg, log, stdout, &http.Client{Timeout: cfg.SMS.Timeout})
}

// newProviderWith is newProvider sending with client.
func newProviderWith(name string, cfg Config, log *slog.Logger, stdout io.Writer, client *http.Client) (sms.Sender, []error) {
	switch name {
	case "console":
		if host, _, err := net.SplitHostPort(cfg.ListenAddr); err == nil && !isLoopback(host) {
			log.Warn("OTPGATE_SMS_PROVIDER=console prints codes to standard output and delivers nothing; " +
				"do not use it on a non-loopback address (" + cfg.ListenAddr + ") outside development")
		}
		return sms.NewConsole(stdout), nil
	case "http":
		s, err := sms.NewHTTP(cfg.SMS.HTTPConfig, client)
		if err != nil {
			return nil, setting.Prefixed(envPrefix+"_SMS_", err)
		}
		return s, nil
	case "http2":
		s, err := sms.NewHTTP(cfg.SMS2, client)
		if err != nil {
			return nil, setting.Prefixed(envPrefix+"_SMS2_", err)
		}
		return s, nil
	case "twilio":
		s, err := sms.NewTwilio(cfg.Twilio, client)
		if err != nil {
			return nil, setting.Prefixed(envPrefix+"_TWILIO_", err)
		}
		return s, nil
	}
	variable := "SMS_PROVIDER"
	if len(cfg.SMS.Providers) > 0 {
		variable = "SMS_PROVIDERS"
	}
	return nil, []error{problem(variable, "%q: want console, http, http2 or twilio", name)}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serverSettings are the server's own settings, beyond its handler.
type serverSettings struct {
	idleTimeout     time.Duration
	shutdownTimeout time.Duration
	conns           connLimits
}

func (c *Config) serverSettings(m *metrics, trusted proxy.TrustedProxies) serverSettings {

	return serverSettings{idleTimeout: c.IdleTimeout, shutdownTimeout: c.ShutdownTimeout, conns: connLimits{
		Max: c.MaxConnections, MaxPerIP: c.MaxConnectionsPerIP, Refused: m.ConnectionRefused,
		// A trusted reverse proxy carries every client's connections from
		// one address; capping it per address would cap the whole site.
		Exempt: func(a netip.Addr) bool {
			return trusted.Trusts(&http.Request{RemoteAddr: netip.AddrPortFrom(a, 0).String()})
		},
	}}
}

// serve runs the server until ctx ends, then lets requests in flight
// finish within the shutdown timeout.
//
// There is no ReadTimeout or WriteTimeout: they would cut proxied uploads,
// downloads and WebSockets. Bodies otpgate reads itself have a deadline
// of their own (bodyDeadline), and connections are capped.
func serve(ctx context.Context, ln net.Listener, h http.Handler, s serverSettings, log *slog.Logger) error {
	ln = newConnLimiter(ln, s.conns, log, time.Now)
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       s.idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("otpgate listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", s.shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// favicon answers /favicon.ico with otpgate's icon for a browser without a
// session: browsers ask for it on every page, the sign-in pages too, and
// it needs no sign-in. With a session the request goes on as any other,
// so an app behind otpgate keeps its own icon.
func favicon(next http.Handler, sessions *auth.Sessions) http.Handler {
	icon := ui.Favicon()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			if _, err := sessions.Load(r); err != nil {
				icon.ServeHTTP(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
