package gateway

// End-to-end tests of several otpgate replicas sharing one Redis: three
// gateways assembled in this process, each with its own Redis client and
// its own in-memory caches, nothing shared but Redis, behind a real nginx
// that balances round-robin over TLS; a real slapd and a real
// redis-server.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/otpgate/otpgate/auth/redistest"
	"github.com/otpgate/otpgate/auth/slapdtest"
	"github.com/otpgate/otpgate/internal/testclock"
	"github.com/otpgate/otpgate/internal/testserver"
	"github.com/otpgate/otpgate/proxy/webservertest"
)

// propagation is how soon a sign-out on one replica must hold on all.
const propagation = time.Second

// replica is one otpgate process of a replica set: its own assembled
// gateway on a fixed loopback address, so that it can be restarted there.
type replica struct {
	i    int
	addr string
	logs *testserver.Output
	srv  *http.Server
	done chan struct{}
	shut func(context.Context)
}

// replicaSet is three replicas behind nginx, sharing a Redis.
type replicaSet struct {
	*env // gw is nginx's address; dir, sms, app, clock are shared by the replicas as the world is
	reps []*replica
	ca   *x509.CertPool

	mu     sync.Mutex
	served []servedBy // every request each replica answered, in order
}

type servedBy struct {
	replica      int
	method, path string
}

func startReplicaSet(t *testing.T, dirOpts []slapdtest.Option, edit ...func(*Config)) *replicaSet {
	t.Helper()
	e := &env{t: t, dir: slapdtest.Start(t, dirOpts...), sms: newSMSGateway(t), clock: testclock.Wall(), logs: &testserver.Output{}}
	e.app = httptest.NewServer(echoApp())
	t.Cleanup(e.app.Close)
	e.config = baseConfig(e.dir, e.sms.srv.URL, e.app.URL)
	e.config.Proxy.TrustedProxies = []string{"127.0.0.1/32"} // nginx
	for _, f := range edit {
		f(&e.config)
	}
	rs := &replicaSet{env: e}
	for i := range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r := &replica{i: i, addr: ln.Addr().String(), logs: &testserver.Output{}}
		rs.reps = append(rs.reps, r)
		rs.serve(r, ln)
		t.Cleanup(func() { rs.stop(r) })
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range rs.reps {
				t.Logf("replica %d log:\n%s", r.i, r.logs.String())
			}
		}
	})

	tlsDir := filepath.Join(t.TempDir(), "tls")
	caFile, certFile, keyFile, err := testserver.WriteTLSFiles(tlsDir, "replicas CA", "localhost", net.IPv4(127, 0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	rs.ca = x509.NewCertPool()
	rs.ca.AppendCertsFromPEM(caPEM)
	addr := webservertest.StartNginx(t, func(listen string) string {
		var upstream strings.Builder
		for _, r := range rs.reps {
			fmt.Fprintf(&upstream, "\tserver %s;\n", r.addr)
		}
		// Round-robin (nginx's default) over the three; each request on a
		// connection of its own, so consecutive requests of one browser
		// land on consecutive replicas.
		return fmt.Sprintf(`upstream otpgate_replicas {
%s}
server {
	listen %s ssl;
	ssl_certificate %s;
	ssl_certificate_key %s;
	location / {
		proxy_pass http://otpgate_replicas;
		proxy_set_header Host $http_host;
		proxy_set_header X-Forwarded-For $remote_addr;
		proxy_set_header X-Forwarded-Proto https;
	}
}
`, upstream.String(), listen, certFile, keyFile)
	})
	e.gw = &httptest.Server{URL: "https://" + addr}
	return rs
}

// serve assembles replica r's gateway from the set's configuration and
// serves it on ln.
func (rs *replicaSet) serve(r *replica, ln net.Listener) {
	rs.t.Helper()
	a, err := assemble(rs.config, testLogger(r.logs), io.Discard, rs.clock.Now)
	if err != nil {
		ln.Close()
		rs.t.Fatalf("replica %d: assemble: %v", r.i, err)
	}
	handler := a.handler
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rs.mu.Lock()
		rs.served = append(rs.served, servedBy{r.i, req.Method, req.URL.Path})
		rs.mu.Unlock()
		handler.ServeHTTP(w, req)
	})}
	r.shut, r.done = a.close, make(chan struct{})
	go func() {
		defer close(r.done)
		_ = r.srv.Serve(ln)
	}()
}

// stop ends replica r as a process that exits would: its connections
// closed, its Redis client and directory connections let go.
func (rs *replicaSet) stop(r *replica) {
	if r.srv == nil {
		return
	}
	_ = r.srv.Close()
	<-r.done
	r.shut(context.Background())
	r.srv = nil
}

// restart stops replica r and starts a new one on the same address.
func (rs *replicaSet) restart(r *replica) {
	rs.t.Helper()
	rs.stop(r)
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		rs.t.Fatalf("replica %d: listen again on %s: %v", r.i, r.addr, err)
	}
	rs.serve(r, ln)
}

// posts returns which replica answered each POST to path since from (an
// index into served), in order, and the index to continue from.
func (rs *replicaSet) posts(from int, path string) ([]int, int) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var out []int
	for _, s := range rs.served[from:] {
		if s.method == http.MethodPost && s.path == path {
			out = append(out, s.replica)
		}
	}
	return out, len(rs.served)
}

func (rs *replicaSet) mark() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return len(rs.served)
}

// browser is a cookie-keeping client of nginx, trusting its certificate.
func (rs *replicaSet) browser() *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: rs.ca, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: rs.t, e: rs.env, client: c}
}

// cookies are the browser's cookies for nginx's site.
func (rs *replicaSet) cookies(b *browser) []*http.Cookie {
	u, _ := url.Parse(rs.gw.URL)
	return b.client.Jar.Cookies(u)
}

// direct asks replica r itself for path with cookies, as nginx would
// forward the request, bypassing the balancer.
func (rs *replicaSet) direct(r *replica, path string, cookies []*http.Cookie) (response, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+r.addr+path, nil)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Accept", "text/html")
	req.Header.Set("X-Forwarded-Proto", "https")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := (&http.Transport{}).RoundTrip(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body), header: resp.Header}, nil
}

func isSignInRedirect(r response) bool {
	return r.status == http.StatusSeeOther && strings.HasPrefix(r.location, "/otpgate/signin")
}

// wantEveryReplica fails unless, on every replica, a request with cookies
// for path gets an answer that ok accepts within within (0: at once).
func (rs *replicaSet) wantEveryReplica(what, path string, cookies []*http.Cookie, within time.Duration, ok func(response) bool) {
	rs.t.Helper()
	deadline := time.Now().Add(within)
	for _, r := range rs.reps {
		for {
			got, err := rs.direct(r, path, cookies)
			if err == nil && ok(got) {
				break
			}
			if time.Now().After(deadline) {
				rs.t.Fatalf("%s: replica %d: GET %s: %d to %q (err %v) after %v", what, r.i, path, got.status, got.location, err, within)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func isApp(r response) bool { return r.status == http.StatusOK && strings.Contains(r.body, `"path"`) }

// waitAllReady waits until every replica's readyz answers 200.
func (rs *replicaSet) waitAllReady() {
	rs.t.Helper()
	rs.wantEveryReplica("ready", "/otpgate/readyz", nil, 15*time.Second, func(r response) bool { return r.status == http.StatusOK })
}

// spread fails unless the replicas that answered cover all three.
func spread(t *testing.T, what string, replicas []int, want int) {
	t.Helper()
	distinct := slices.Compact(slices.Sorted(slices.Values(replicas)))
	if len(distinct) != want {
		t.Fatalf("%s landed on replicas %v: want %d different ones", what, replicas, want)
	}
}

// TestReplicasShareRedis: three replicas behind a round-robin nginx share
// one Redis and so act as one otpgate.
func TestReplicasShareRedis(t *testing.T) {
	redis := redistest.Start(t)
	rs := startReplicaSet(t, []slapdtest.Option{slapdtest.WithLDIF(usLDIF(4))}, withRedis(redis), func(c *Config) {
		c.Auth.Sms.LimitPerNumber = 3
		// The cooldown is a Redis key's lifetime, which the test's clock
		// cannot advance; the flow's own tests cover it.
		c.Auth.Otp.ResendCooldown = 0
	})
	alice, bob, carol := slapdtest.Alice, slapdtest.Bob, slapdtest.Carol

	t.Run("sign-in steps on different replicas", func(t *testing.T) {
		b := rs.browser()
		from := rs.mark()
		if r := b.password(alice.Username, alice.Password, "/app/"); r.status != http.StatusSeeOther || r.location != "/otpgate/code" {
			t.Fatalf("password: %d to %q, want 303 to /otpgate/code", r.status, r.location)
		}
		first := rs.sms.lastCode(alice.Mobile)
		if r := b.resend(); r.status != http.StatusSeeOther && r.status != http.StatusOK {
			t.Fatalf("resend: %d, want the code page again; body:\n%s", r.status, r.body)
		}
		second := rs.sms.lastCode(alice.Mobile)
		if n := len(rs.sms.sent()); n != 2 || first == second {
			t.Fatalf("%d SMS with codes %q then %q: want 2 different ones", n, first, second)
		}
		if r := b.code(second); r.status != http.StatusSeeOther || r.location != "/app/" {
			t.Fatalf("code: %d to %q, want 303 to /app/; body:\n%s", r.status, r.location, r.body)
		}
		pw, _ := rs.posts(from, "/otpgate/signin")
		rsnd, _ := rs.posts(from, "/otpgate/code/resend")
		code, _ := rs.posts(from, "/otpgate/code")
		spread(t, "password, resend and code", slices.Concat(pw, rsnd, code), 3)
		rs.wantEveryReplica("signed in", "/app/", rs.cookies(b), 0, isApp)
	})

	t.Run("5 wrong passwords in all lock the user", func(t *testing.T) {
		b := rs.browser()
		from := rs.mark()
		for i := range 5 {
			r := b.password(bob.Username, "wrong", "/app/")
			if last := i == 4; isLocked(r) != last || (!last && r.status != http.StatusUnauthorized) {
				t.Fatalf("wrong password %d: %d, want %s; body:\n%s", i+1, r.status, map[bool]string{false: "401", true: "429 Account locked"}[last], r.body)
			}
		}
		posts, _ := rs.posts(from, "/otpgate/signin")
		spread(t, "the 5 wrong passwords", posts, 3)
		for i := range 3 { // the right one, on each replica in turn
			if r := rs.browser().password(bob.Username, bob.Password, "/app/"); !isLocked(r) {
				t.Fatalf("right password %d after 5 wrong ones: %d, want 429 Account locked; body:\n%s", i+1, r.status, r.body)
			}
		}
		if n := len(rs.sms.sent()); n != 2 {
			t.Errorf("%d SMS in all, want still 2: a locked user got a code", n)
		}
	})

	t.Run("SMS budget is global", func(t *testing.T) {
		u := usUser(1)
		from := rs.mark()
		for i := range 4 {
			before := len(rs.sms.sent())
			r := rs.browser().password(u.Username, u.Password, "/app/")
			sent := len(rs.sms.sent()) > before
			if want := i < 3; sent != want || (!sent && !strings.Contains(r.body, "Too many codes sent")) {
				t.Fatalf("sign-in %d: sent=%v (%d), want sent=%v; body:\n%s", i+1, sent, r.status, want, r.body)
			}
		}
		posts, _ := rs.posts(from, "/otpgate/signin")
		spread(t, "the 4 sign-ins", posts, 3)
		n := 0
		for _, m := range rs.sms.sent() {
			if m.To == u.Mobile {
				n++
			}
		}
		if n != 3 {
			t.Fatalf("%d SMS to %s, want exactly 3 (OTPGATE_SMS_LIMIT_PER_NUMBER)", n, u.Mobile)
		}
	})

	t.Run("sign-out on one replica refuses the copied cookie on all", func(t *testing.T) {
		out, other := rs.browser(), rs.browser()
		out.signIn(carol, "/app/")
		other.signIn(carol, "/app/")
		copied := rs.cookies(out)
		rs.wantEveryReplica("before sign-out", "/app/", copied, 0, isApp)
		if r := out.do("POST", "/otpgate/logout", url.Values{"csrf": {out.csrf("/otpgate/logout")}}); r.status != http.StatusOK {
			t.Fatalf("sign-out: %d", r.status)
		}
		rs.wantEveryReplica("the signed-out cookie", "/app/", copied, propagation, isSignInRedirect)
		rs.wantEveryReplica("carol's other session", "/app/", rs.cookies(other), 0, isApp)
	})

	t.Run("sessions revoke reaches every replica", func(t *testing.T) {
		u, bystander := usUser(2), usUser(3)
		phone, laptop, other := rs.browser(), rs.browser(), rs.browser()
		phone.signIn(u, "/app/")
		laptop.signIn(u, "/app/")
		other.signIn(bystander, "/app/")
		var stdout, stderr bytes.Buffer
		environ := []string{"OTPGATE_STORE=redis", "OTPGATE_REDIS_URL=" + redis.URL,
			"OTPGATE_REDIS_USERNAME=" + redistest.Username, "OTPGATE_REDIS_PASSWORD=" + redistest.Password}
		if code := run(context.Background(), []string{"sessions", "revoke", u.Username}, environ, &stdout, &stderr); code != exitOK {
			t.Fatalf("otpgate sessions revoke: exit %d, want 0; stderr: %s", code, stderr.String())
		}
		for _, b := range []*browser{phone, laptop} {
			rs.wantEveryReplica("a revoked session", "/app/", rs.cookies(b), propagation, isSignInRedirect)
		}
		rs.wantEveryReplica("another user's session", "/app/", rs.cookies(other), 0, isApp)
	})

	t.Run("a restarted replica loses nothing", func(t *testing.T) {
		u := usUser(3)
		signedIn, pending := rs.browser(), rs.browser()
		signedIn.signIn(u, "/app/")
		if r := pending.password(u.Username, u.Password, "/app/"); r.status != http.StatusSeeOther {
			t.Fatalf("password of a pending sign-in: %d, want 303", r.status)
		}
		code := rs.sms.lastCode(u.Mobile)
		for _, r := range rs.reps {
			rs.restart(r)
		}
		rs.wantEveryReplica("a session after every replica restarted", "/app/", rs.cookies(signedIn), 0, isApp)
		if r := pending.code(code); r.status != http.StatusSeeOther || r.location != "/app/" {
			t.Fatalf("the pending sign-in's code after the restarts: %d to %q, want 303 to /app/; body:\n%s", r.status, r.location, r.body)
		}
		rs.wantEveryReplica("the sign-in finished after the restarts", "/app/", rs.cookies(pending), 0, isApp)
	})

	t.Run("a Redis restart loses nothing", func(t *testing.T) {
		u := usUser(4)
		in, out := rs.browser(), rs.browser()
		in.signIn(u, "/app/")
		out.signIn(u, "/app/")
		copied := rs.cookies(out)
		if r := out.do("POST", "/otpgate/logout", url.Values{"csrf": {out.csrf("/otpgate/logout")}}); r.status != http.StatusOK {
			t.Fatalf("sign-out: %d", r.status)
		}
		redis.Kill()
		redis.Restart()
		rs.waitAllReady()
		rs.wantEveryReplica("a session", "/app/", rs.cookies(in), 0, isApp)
		rs.wantEveryReplica("a signed-out cookie", "/app/", copied, 0, isSignInRedirect)
		for i := range 3 {
			if r := rs.browser().password(bob.Username, bob.Password, "/app/"); !isLocked(r) {
				t.Fatalf("bob, locked before the Redis restart, try %d: %d, want 429 Account locked", i+1, r.status)
			}
		}
	})
}

// readsOf counts slapd's reads of the entry dn by its DN (the sessions'
// re-read: a base-scope search), once slapd has printed everything up to
// now: the test's own search of a marker entry, which slapd logs after
// every operation before it.
func readsOf(t *testing.T, e *env, dn string, marker int) int {
	t.Helper()
	base := fmt.Sprintf("cn=marker-%d,%s", marker, e.dir.BaseDN)
	_, _ = e.dir.Conn(t).Search(ldap.NewSearchRequest(base, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false, "(objectClass=*)", nil, nil))
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(e.dir.Output(), `SRCH base="`+base+`"`) {
		if time.Now().After(deadline) {
			t.Fatalf("slapd's log lacks the marker search %q:\n%s", base, e.dir.Output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return strings.Count(strings.ToLower(e.dir.Output()), strings.ToLower(`SRCH base="`+dn+`" scope=0`))
}

// TestReplicasFollowTheDirectoryOnce: a user an administrator disables in
// slapd is refused by every replica within SESSION_REFRESH, and the three
// replicas ask the directory about the user once per period in all, what
// one learns serving the others through Redis.
func TestReplicasFollowTheDirectoryOnce(t *testing.T) {
	redis := redistest.Start(t)
	rs := startReplicaSet(t, []slapdtest.Option{slapdtest.WithPasswordPolicy(), slapdtest.WithStatsLog()}, withRedis(redis), following)
	alice := slapdtest.Alice
	b := rs.browser()
	b.signIn(alice, "/app/")
	cookies := rs.cookies(b)
	everyReplicaTwice := func(what string, ok func(response) bool) {
		t.Helper()
		for range 2 {
			rs.wantEveryReplica(what, "/app/", cookies, 0, ok)
		}
	}
	everyReplicaTwice("signed in", isApp)
	before := readsOf(t, rs.env, alice.DN, 1)

	rs.clock.Advance(e2eRefresh)
	everyReplicaTwice("refresh due, user active", isApp)
	if n := readsOf(t, rs.env, alice.DN, 2) - before; n != 1 {
		t.Fatalf("slapd was asked about alice %d times by three replicas in one period, want 1", n)
	}

	// The replica that asked holds a lock in Redis for a real-time
	// min(30s, SESSION_REFRESH/4), which the test's clock cannot advance:
	// it lapses here as it would in the period.
	if n, err := redis.Do("DEL", e2eLockKey(alice.DN)); err != nil || n != "1" {
		t.Fatalf("DEL the directory check's lock: %q, %v; want 1: one replica took it", n, err)
	}
	m := ldap.NewModifyRequest(alice.DN, []ldap.Control{relax})
	m.Replace("pwdAccountLockedTime", []string{"000001010000Z"}) // an administrator's lock
	if err := rs.dir.Conn(t).Modify(m); err != nil {
		t.Fatal(err)
	}
	before = readsOf(t, rs.env, alice.DN, 3)
	rs.clock.Advance(e2eRefresh - 10*time.Second)
	everyReplicaTwice("disabled, refresh not yet due", isApp)
	rs.clock.Advance(10 * time.Second)
	for _, r := range rs.reps {
		// The first asks the directory; the others may read the record
		// before Redis has told their client-side caches it changed, and
		// then look again a second later.
		if _, err := rs.direct(r, "/app/", cookies); err != nil {
			t.Fatal(err)
		}
	}
	rs.clock.Advance(propagation)
	for range 2 {
		rs.wantEveryReplica("disabled, refresh due a second ago", "/app/", cookies, propagation, isSignInRedirect)
	}
	if n := readsOf(t, rs.env, alice.DN, 4) - before; n != 1 {
		t.Fatalf("slapd was asked about alice %d times by three replicas in one period, want 1", n)
	}
}

// e2eLockKey is the Redis key of the lock that lets one replica ask the
// directory about dn (auth's dircheck:), under the default key prefix.
func e2eLockKey(dn string) string { return "otpgate:dircheck:" + strings.ToLower(dn) }

// withSentinels keeps the gateway's state in the Sentinel set's master,
// each write waiting for the replica.
func withSentinels(set *redistest.Sentinels) func(*Config) {
	return func(c *Config) {
		c.Store.Store = "redis"
		c.Store.Redis.SentinelMaster = redistest.MasterName
		c.Store.Redis.SentinelAddrs = set.Addrs
		c.Store.Redis.SentinelPassword = redistest.SentinelPassword
		c.Store.Redis.Username = redistest.Username
		c.Store.Redis.Password = redistest.Password
		c.Store.Redis.Timeout = 2 * time.Second
		c.Store.Redis.MinReplicas = 1
	}
}

// fetch is one request of a browser that may run in any goroutine: it
// returns errors rather than failing the test.
func (b *browser) fetch(method, path string, form url.Values) (response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.gw.URL+path, body)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(data), header: resp.Header}, nil
}

// trySignIn signs u in through the steps, stopping at the first answer
// that is not the next step: it returns "signed in", or what stopped it
// with the answer, which must be the unavailable page.
func (rs *replicaSet) trySignIn(b *browser, u slapdtest.User) (string, response, error) {
	page, err := b.fetch("GET", "/otpgate/signin?rd=%2Fapp%2F", nil)
	if err != nil || isUnavailable(page) {
		return "sign-in page", page, err
	}
	m := csrfField.FindStringSubmatch(page.body)
	if m == nil {
		return "sign-in page without a form", page, nil
	}
	sentBefore := len(rs.sms.sent())
	r, err := b.fetch("POST", "/otpgate/signin", url.Values{"csrf": {m[1]}, "rd": {"/app/"}, "username": {u.Username}, "password": {u.Password}})
	if err != nil || r.status != http.StatusSeeOther || r.location != "/otpgate/code" {
		return "password", r, err
	}
	var code string
	for _, msg := range rs.sms.sent()[sentBefore:] {
		if msg.To == u.Mobile {
			if c := codeInMessage.FindStringSubmatch(msg.Body); c != nil {
				code = c[1]
			}
		}
	}
	page, err = b.fetch("GET", "/otpgate/logout", nil)
	if m = csrfField.FindStringSubmatch(page.body); err != nil || m == nil {
		return "code page", page, err
	}
	r, err = b.fetch("POST", "/otpgate/code", url.Values{"csrf": {m[1]}, "code": {code}})
	if err != nil || r.status != http.StatusSeeOther || r.location != "/app/" {
		return "code", r, err
	}
	return "signed in", r, nil
}

// TestReplicasThroughSentinelFailover: a Sentinel failover during a
// stream of sign-ins and proxied requests on three replicas loses no
// session, lets no signed-out session through, and every answer is the
// app's (valid sessions), the next sign-in step, or the clear 503 page.
func TestReplicasThroughSentinelFailover(t *testing.T) {
	set := redistest.StartSentinels(t)
	rs := startReplicaSet(t, []slapdtest.Option{slapdtest.WithLDIF(usLDIF(6))}, withSentinels(set), func(c *Config) {
		// Sign-ins go on all through the stream, past any hourly budget.
		c.Auth.Sms.LimitPerNumber, c.Auth.Sms.LimitPerIP, c.Auth.Sms.LimitGlobal = 0, 0, 0
	})
	var signedIn []*browser
	for _, u := range []slapdtest.User{slapdtest.Alice, slapdtest.Carol, usUser(6)} {
		b := rs.browser()
		b.signIn(u, "/app/")
		signedIn = append(signedIn, b)
	}
	out := rs.browser()
	out.signIn(slapdtest.Alice, "/app/")
	revoked := rs.cookies(out)
	if r := out.do("POST", "/otpgate/logout", url.Values{"csrf": {out.csrf("/otpgate/logout")}}); r.status != http.StatusOK {
		t.Fatalf("sign-out: %d", r.status)
	}
	revokedBrowser := rs.browser()
	u, _ := url.Parse(rs.gw.URL)
	revokedBrowser.client.Jar.SetCookies(u, revoked)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	count := func(what string) { mu.Lock(); counts[what]++; mu.Unlock() }
	for _, b := range signedIn {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := b.fetch("GET", fmt.Sprintf("/app/%d", i), nil)
				switch {
				case err != nil:
					t.Errorf("signed-in request: %v", err)
				case isApp(r):
					count("app")
				case isUnavailable(r):
					count("unavailable")
				default:
					t.Errorf("signed-in request during the failover: %d to %q, want the app or the 503 page", r.status, r.location)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r, err := revokedBrowser.fetch("GET", fmt.Sprintf("/app/revoked/%d", i), nil)
			switch {
			case err != nil:
				t.Errorf("signed-out request: %v", err)
			case isSignInRedirect(r) || isUnavailable(r):
			default:
				t.Errorf("a signed-out session during the failover: %d to %q, want the sign-in page or the 503 page", r.status, r.location)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	for i := 1; i <= 3; i++ {
		user := usUser(i) // one each: a sign-in's code is told apart by its number
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				step, r, err := rs.trySignIn(rs.browser(), user)
				switch {
				case err != nil:
					t.Errorf("sign-in of %s, %s: %v", user.Username, step, err)
				case step == "signed in":
					count("signed in")
				case isUnavailable(r):
					count("sign-in unavailable")
				default:
					t.Errorf("sign-in of %s during the failover, %s: %d to %q, want the next step or the 503 page; body:\n%s", user.Username, step, r.status, r.location, r.body)
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	set.Failover()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("during the failover: %v", counts)
	if counts["app"] == 0 || counts["signed in"] == 0 {
		t.Errorf("counts %v: the stream did not run", counts)
	}

	rs.waitAllReady()
	for i, b := range signedIn {
		rs.wantEveryReplica(fmt.Sprintf("session %d after the failover", i), "/app/", rs.cookies(b), 5*time.Second, isApp)
	}
	rs.wantEveryReplica("the signed-out session after the failover", "/app/", revoked, 0, isSignInRedirect)
	// Writes wait for a replica, which the old master becomes once it has
	// synced with the new one: until then sign-ins get the 503 page.
	deadline := time.Now().Add(15 * time.Second)
	for {
		step, r, err := rs.trySignIn(rs.browser(), slapdtest.Carol)
		if step == "signed in" {
			break
		}
		if err != nil || !isUnavailable(r) || time.Now().After(deadline) {
			t.Fatalf("a sign-in after the failover stopped at %s: %d to %q, %v; want it signed in, or the 503 page until the new master has a replica", step, r.status, r.location, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
