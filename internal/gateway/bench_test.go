package gateway

// Benchmarks of the signed-in hot path as production runs it: the gateway
// that assemble builds (server limits, access rules, identity headers,
// metrics on or off), served by serve on a loopback port, against the
// strongest baselines in the same run. `make bench` prints the ratios.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/auth/redistest"
	"github.com/otpgate/otpgate/proxy"
)

// benchRules are a typical set: a few bypasses, a deny, a group rule, and
// a host rule (so OTPGATE_HOSTS is in force too).
const benchRules = `
* /healthz bypass
* /static/** bypass
* /internal/** deny
* /admin/** two_factor groups=admins
app.example.com /api/*/private deny
`

const benchHost = "app.example.com"

// startBenchApp starts the app behind every proxy in a process of its own,
// as an app is run: its work (reading the identity headers among it) is
// then not counted as the proxy's allocations. It returns its URL.
func startBenchApp(b testing.TB) string {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), "GO_WANT_BENCH_APP=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close() // the app ends when its input does
		if err := cmd.Wait(); err != nil {
			b.Errorf("bench app: %v", err)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("bench app did not tell its address: %v", err)
	}
	return strings.TrimSpace(line)
}

// serveBenchApp is the benchmarks' app: a small answer to every request,
// on a loopback port it writes to out, until in ends.
func serveBenchApp(in io.Reader, out io.Writer) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("hello from the app\n"))
	})}
	go func() { _ = srv.Serve(ln) }()
	fmt.Fprintf(out, "http://%s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, in)
	return 0
}

// BenchmarkProxied measures signed-in requests through otpgate in
// reverse-proxy mode, fresh (no renewal due) and stale (older than the
// renewal interval, the renewed cookie never sent back), with metrics off
// and on, against bare httputil.ReverseProxys to the same app on the same
// tuned transport: as it comes, and with a pool of 32 KiB buffers. With
// the Redis store too (a real redis-server), against the bare proxy and,
// paired, against the memory store.
func BenchmarkProxied(b *testing.B) {
	redis := withRedis(redistest.Start(b))
	appURL := startBenchApp(b)
	upstream, _ := url.Parse(appURL)
	bare := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(upstream); pr.SetXForwarded() },
		Transport: proxy.NewTransport(),
	}
	pooled := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(upstream); pr.SetXForwarded() },
		Transport:  proxy.NewTransport(),
		BufferPool: benchBufferPool{},
	}
	// The bare proxies get the same request, session cookie included.
	const page = "/dashboard?tab=1"
	cookie := benchCookie(b)
	base := benchReq{serveBare(b, pooled) + page, nil, cookie}
	b.Run("bare", func(b *testing.B) { runBench(b, benchReq{serveBare(b, bare) + page, nil, cookie}) })
	b.Run("bare-pooled", func(b *testing.B) { runBench(b, base) })
	for _, bc := range []benchTarget{
		benchCase(b, "otpgate-fresh", appURL, 0, false),
		benchCase(b, "otpgate-stale", appURL, 2*time.Minute, false),
		benchCase(b, "otpgate-metrics-fresh", appURL, 0, true),
		benchCase(b, "otpgate-metrics-stale", appURL, 2*time.Minute, true),
		benchCase(b, "otpgate-redis-fresh", appURL, 0, false, redis),
		benchCase(b, "otpgate-redis-stale", appURL, 2*time.Minute, false, redis),
	} {
		otpgate := benchReq{bc.url + page, nil, bc.c}
		b.Run(bc.name, func(b *testing.B) { runBench(b, otpgate) })
		b.Run("paired-"+bc.name, func(b *testing.B) { runBench(b, base, otpgate) })
	}
	for _, age := range []struct {
		name string
		age  time.Duration
	}{{"fresh", 0}, {"stale", 2 * time.Minute}} {
		memory := benchCase(b, "", appURL, age.age, false)
		onRedis := benchCase(b, "", appURL, age.age, false, redis)
		b.Run("redis-vs-memory-"+age.name, func(b *testing.B) {
			runBench(b, benchReq{memory.url + page, nil, memory.c}, benchReq{onRedis.url + page, nil, onRedis.c})
		})
	}
}

// BenchmarkForwardAuth measures otpgate answering the forward-auth
// question of Traefik and Caddy (X-Forwarded-*) and nginx's auth_request
// (X-Original-URL) for a signed-in browser, against a bare handler that
// answers 200 without checking anything: the limit of this server shape.
// Forward-auth with the Redis store too, against the bare handler and,
// paired, against the memory store.
func BenchmarkForwardAuth(b *testing.B) {
	redis := withRedis(redistest.Start(b))
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	fresh := benchCase(b, "", "", 0, false)
	stale := benchCase(b, "", "", 2*time.Minute, false)
	redisFresh := benchCase(b, "", "", 0, false, redis)
	redisStale := benchCase(b, "", "", 2*time.Minute, false, redis)
	traefik := http.Header{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"},
		"X-Forwarded-Host": {benchHost}, "X-Forwarded-Uri": {"/dashboard?tab=1"}}
	nginx := http.Header{"X-Original-Url": {"https://" + benchHost + "/dashboard?tab=1"}}
	const fa, ar = "/otpgate/authz/forward-auth", "/otpgate/authz/auth-request"
	base := benchReq{serveBare(b, ok) + fa, traefik, benchCookie(b)}
	b.Run("bare-200", func(b *testing.B) { runBench(b, base) })
	for _, bc := range []struct {
		name string
		req  benchReq
	}{
		{"otpgate-fresh", benchReq{fresh.url + fa, traefik, fresh.c}},
		{"otpgate-stale", benchReq{stale.url + fa, traefik, stale.c}},
		{"auth-request-fresh", benchReq{fresh.url + ar, nginx, fresh.c}},
		{"auth-request-stale", benchReq{stale.url + ar, nginx, stale.c}},
		{"otpgate-redis-fresh", benchReq{redisFresh.url + fa, traefik, redisFresh.c}},
		{"otpgate-redis-stale", benchReq{redisStale.url + fa, traefik, redisStale.c}},
	} {
		b.Run(bc.name, func(b *testing.B) { runBench(b, bc.req) })
		b.Run("paired-"+bc.name, func(b *testing.B) { runBench(b, base, bc.req) })
	}
	b.Run("redis-vs-memory-fresh", func(b *testing.B) {
		runBench(b, benchReq{fresh.url + fa, traefik, fresh.c}, benchReq{redisFresh.url + fa, traefik, redisFresh.c})
	})
	b.Run("redis-vs-memory-stale", func(b *testing.B) {
		runBench(b, benchReq{stale.url + fa, traefik, stale.c}, benchReq{redisStale.url + fa, traefik, redisStale.c})
	})
}

// BenchmarkForwardAuthHandler measures otpgate's own work on a signed-in
// forward-auth or auth-request question: the assembled handler called
// directly, without connections, clients or other processes; with the
// memory store and with the Redis store.
func BenchmarkForwardAuthHandler(b *testing.B) {
	redis := withRedis(redistest.Start(b))
	cookie := benchCookie(b)
	traefik := http.Header{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"},
		"X-Forwarded-Host": {benchHost}, "X-Forwarded-Uri": {"/dashboard?tab=1"}}
	nginx := http.Header{"X-Original-Url": {"https://" + benchHost + "/dashboard?tab=1"}}
	for _, bc := range []struct {
		name   string
		path   string
		header http.Header
		age    time.Duration
		opts   []func(*Config)
	}{
		{"forward-auth-fresh", "/otpgate/authz/forward-auth", traefik, 0, nil},
		{"forward-auth-stale", "/otpgate/authz/forward-auth", traefik, 2 * time.Minute, nil},
		{"auth-request-fresh", "/otpgate/authz/auth-request", nginx, 0, nil},
		{"redis-forward-auth-fresh", "/otpgate/authz/forward-auth", traefik, 0, []func(*Config){redis}},
		{"redis-forward-auth-stale", "/otpgate/authz/forward-auth", traefik, 2 * time.Minute, []func(*Config){redis}},
	} {
		a, _ := assembleBench(b, "", bc.age, false, bc.opts...)
		b.Run(bc.name, func(b *testing.B) {
			r := handlerRequest(bc.path, bc.header, cookie)
			w := &discardResponse{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				w.serve(a.handler, r)
			}
			if w.status != http.StatusOK {
				b.Fatalf("status %d, want 200", w.status)
			}
		})
	}
}

// handlerRequest is a signed-in GET of target as a server hands it to a
// handler: origin-form target, from a loopback proxy.
func handlerRequest(target string, header http.Header, cookie *http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", "http://"+benchHost+target, nil)
	r.RequestURI = target
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("Accept", "text/html")
	for k, v := range header {
		r.Header[k] = v
	}
	r.AddCookie(cookie)
	return r
}

// discardResponse is a ResponseWriter that keeps the status alone; its
// header map is reused, as a server's is not, so that only the handler's
// own allocations are counted.
type discardResponse struct {
	header http.Header
	status int
}

// serve has h answer r afresh.
func (w *discardResponse) serve(h http.Handler, r *http.Request) {
	clear(w.header)
	w.status = 0
	h.ServeHTTP(w, r)
}

func (w *discardResponse) Header() http.Header { return w.header }
func (w *discardResponse) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}
func (w *discardResponse) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}

// benchBufferPool is the buffer pool a tuned bare proxy would have, as
// allocation-free as otpgate's.
type benchBufferPool struct{}

var benchBuffers = sync.Pool{New: func() any { return new([32 << 10]byte) }}

func (benchBufferPool) Get() []byte { return benchBuffers.Get().(*[32 << 10]byte)[:] }
func (benchBufferPool) Put(b []byte) {
	if cap(b) == 32<<10 {
		benchBuffers.Put((*[32 << 10]byte)(b[:32<<10]))
	}
}

// serveBare serves a baseline handler on a loopback port.
func serveBare(b *testing.B, h http.Handler) string {
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return srv.URL
}

type benchTarget struct {
	name string
	url  string
	c    *http.Cookie
}

// benchCase assembles otpgate as run does (for upstream, or forward-auth
// only when upstream is ""), with opts changing benchConfig, serves it
// with serve on a loopback port, and returns its URL and a signed-in
// session cookie whose last use is age ago.
func benchCase(b *testing.B, name, upstream string, age time.Duration, metricsOn bool, opts ...func(*Config)) benchTarget {
	a, cfg := assembleBench(b, upstream, age, metricsOn, opts...)
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, a.handler, a.server, discardLogger()) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	})
	return benchTarget{name: name, url: "http://" + ln.Addr().String(), c: benchCookie(b)}
}

// assembleBench assembles otpgate for upstream ("": forward-auth only)
// with benchConfig changed by opts, its clock age ahead of the one
// sessions are issued by; it closes it when tb ends.
func assembleBench(tb testing.TB, upstream string, age time.Duration, metricsOn bool, opts ...func(*Config)) (*app, Config) {
	cfg := benchConfig(tb)
	cfg.Proxy.UpstreamURL = upstream
	for _, o := range opts {
		o(&cfg)
	}
	if metricsOn {
		cfg.MetricsAddr = "127.0.0.1:0" // the wrappers are in place; nobody scrapes
	}
	now := func() time.Time { return time.Now().Add(age) }
	a, err := assemble(cfg, discardLogger(), io.Discard, now)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.close(context.Background()) })
	return a, cfg
}

// benchConfig is the configuration of every benchmarked gateway, with
// the rules and host in force; no request reaches the directory: a
// signed-in request never asks it, so its address is one where nothing
// listens.
func benchConfig(b testing.TB) Config {
	cfg, err := loadConfig(nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.Proxy.AccessRules = benchRules
	cfg.Proxy.Hosts = []string{benchHost}
	cfg.Auth.Ldap.URL = "ldap://127.0.0.1:1"
	cfg.Auth.Ldap.BindDN = "cn=otpgate,dc=example,dc=org"
	cfg.Auth.Ldap.BindPassword = "unused"
	cfg.Auth.Ldap.BaseDN = "ou=people,dc=example,dc=org"
	cfg.Auth.Cookie.Secret = testSecret(1)
	return cfg
}

// benchCookie signs alice in (password and code) with benchConfig's
// secret, now.
func benchCookie(b testing.TB) *http.Cookie {
	cfg := benchConfig(b)
	chk, problems := cfg.validate()
	if len(problems) > 0 {
		b.Fatal(problems)
	}
	keys, err := auth.NewKeys(chk.auth.Secrets)
	if err != nil {
		b.Fatal(err)
	}
	sessions, err := auth.NewSessions(keys, cfg.Auth.Cookie.Options(), auth.SessionConfig{
		Lifetime: cfg.Auth.Session.Lifetime, Idle: cfg.Auth.Session.Idle}, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if _, err := sessions.Issue(rec, auth.User{Username: "alice", Name: "Alice Liddell", Email: "alice@example.org",
		Groups: []string{"admins", "staff"}}, 2); err != nil {
		b.Fatal(err)
	}
	return rec.Result().Cookies()[0]
}

// benchReq is one signed-in GET, as a browser (or the proxy asking)
// sends it, naming benchHost.
type benchReq struct {
	url    string
	header http.Header
	cookie *http.Cookie
}

// runBench sends each of reqs in turn from parallel clients and checks
// each answer is 200. With one, it reports the 99th percentile of the
// requests' times (p99-µs) beside the mean. With two, a baseline and
// otpgate, requests to both alternate, so both see the same load on a
// shared machine, and it reports otpgate's mean and p99 (ns/req, p99-µs),
// the baseline's (base-ns/req, base-p99-µs), and the ratios: speed (the
// baseline's mean time over otpgate's) and p99-ratio (otpgate's p99 over
// the baseline's).
func runBench(b *testing.B, reqs ...benchReq) {
	client := &http.Client{Transport: proxy.NewTransport()}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	times := make([][]time.Duration, len(reqs))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		own := make([][]time.Duration, len(reqs))
		sent := make([]*http.Request, len(reqs))
		for i, r := range reqs {
			own[i] = make([]time.Duration, 0, b.N/len(reqs)+1)
			req, _ := http.NewRequest("GET", r.url, nil)
			req.Host = benchHost
			req.Header.Set("Accept", "text/html")
			for k, v := range r.header {
				req.Header[k] = v
			}
			if r.cookie != nil {
				req.AddCookie(r.cookie)
			}
			sent[i] = req
		}
		for n := 0; pb.Next(); n++ {
			i := n % len(reqs)
			start := time.Now()
			resp, err := client.Do(sent[i])
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			own[i] = append(own[i], time.Since(start))
			if resp.StatusCode != http.StatusOK {
				b.Errorf("%s: status %d, want 200", reqs[i].url, resp.StatusCode)
				return
			}
		}
		mu.Lock()
		for i := range own {
			times[i] = append(times[i], own[i]...)
		}
		mu.Unlock()
	})
	b.StopTimer()
	mean := make([]float64, len(times))
	p99 := make([]float64, len(times))
	for i, t := range times {
		if len(t) == 0 {
			return
		}
		slices.Sort(t)
		var sum time.Duration
		for _, d := range t {
			sum += d
		}
		mean[i] = float64(sum.Nanoseconds()) / float64(len(t))
		p99[i] = float64(t[len(t)*99/100].Nanoseconds()) / 1e3
	}
	last := len(times) - 1
	b.ReportMetric(p99[last], "p99-µs")
	if len(times) == 2 {
		b.ReportMetric(mean[1], "ns/req")
		b.ReportMetric(mean[0], "base-ns/req")
		b.ReportMetric(p99[0], "base-p99-µs")
		b.ReportMetric(mean[0]/mean[1], "speed")
		b.ReportMetric(p99[1]/p99[0], "p99-ratio")
	}
}
