package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth/slapdtest"
	"github.com/otpgate/otpgate/internal/browsertest"
)

// TestMain lets a test run otpgate's real Main in a child process, so
// that a real SIGTERM reaches it, and the benchmarks their app.
func TestMain(m *testing.M) {
	if os.Getenv("GO_WANT_OTPGATE_MAIN") == "1" {
		os.Exit(Main(nil, os.Environ(), os.Stdout, os.Stderr))
	}
	if os.Getenv("GO_WANT_BENCH_APP") == "1" {
		os.Exit(serveBenchApp(os.Stdin, os.Stdout))
	}
	code := m.Run()
	browsertest.Close() // the one Chromium of the browser tests
	os.Exit(code)
}

// TestSIGTERMDrainsRequestsInFlight sends SIGTERM while a request is in
// flight: it must finish, new connections must be refused, and the
// process must exit 0.
func TestSIGTERMDrainsRequestsInFlight(t *testing.T) {
	started := make(chan struct{}, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		time.Sleep(time.Second)
		fmt.Fprint(w, "finished")
	}))
	defer app.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"GO_WANT_OTPGATE_MAIN=1",
		"OTPGATE_LISTEN_ADDR=127.0.0.1:0",
		"OTPGATE_UPSTREAM_URL="+app.URL,
		"OTPGATE_ACCESS_RULES=* /slow bypass",
		"OTPGATE_LDAP_URL=ldap://127.0.0.1:1",
		"OTPGATE_LDAP_BIND_DN=cn=otpgate,dc=example,dc=org",
		"OTPGATE_LDAP_BIND_PASSWORD=x",
		"OTPGATE_LDAP_BASE_DN=dc=example,dc=org",
		"OTPGATE_COOKIE_SECRET="+testSecret(1),
		"OTPGATE_SHUTDOWN_TIMEOUT=10s",
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addrRE := regexp.MustCompile(`"otpgate listening","addr":"([^"]+)"`)
	lines := bufio.NewScanner(stderr)
	var addr string
	for addr == "" && lines.Scan() {
		if m := addrRE.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatal("otpgate never said where it listens")
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()

	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- result{body: string(b)}
	}()
	<-started
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.body != "finished" {
		t.Fatalf("request in flight during SIGTERM: %q, %v; want it to finish", r.body, r.err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("otpgate exited with %v after SIGTERM, want status 0", err)
	}
	if _, err := http.Get("http://" + addr + "/slow"); err == nil {
		t.Fatal("otpgate still answers after it exited")
	}
}

func TestMetricsCountSignInsAndDecisions(t *testing.T) {
	e := startEnv(t, func(c *Config) { c.MetricsAddr = "127.0.0.1:0" })
	b := e.browser()
	b.password(slapdtest.Alice.Username, "wrong", "/")
	b.signIn(slapdtest.Alice, "/")
	b.appSaw("/")
	text := e.scrapeMetrics(t)
	for _, want := range []string{
		`otpgate_signins_total{result="password_failed"} 1`,
		`otpgate_signins_total{result="code_sent"} 1`,
		`otpgate_code_checks_total{result="ok"} 1`,
		`otpgate_sms_sent_total{provider="http",result="ok"} 1`,
		`otpgate_auth_decisions_total{result="allow"} 1`,
		`otpgate_sms_send_seconds_count{provider="http"} 1`,
		`otpgate_upstream_seconds_count{code="200"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestMetricsOffSkipTheRequestMetrics: without OTPGATE_METRICS_ADDR no
// request is timed or counted (nobody could read them), while sign-ins
// still are.
func TestMetricsOffSkipTheRequestMetrics(t *testing.T) {
	e := startEnv(t)
	b := e.browser()
	b.signIn(slapdtest.Alice, "/")
	b.appSaw("/")
	text := e.scrapeMetrics(t)
	for _, absent := range []string{"otpgate_upstream_seconds_count", "otpgate_auth_decisions_total{"} {
		if strings.Contains(text, absent) {
			t.Errorf("metrics off, yet they hold %q", absent)
		}
	}
	if want := `otpgate_code_checks_total{result="ok"} 1`; !strings.Contains(text, want) {
		t.Errorf("metrics lack %q", want)
	}
}

// TestUpstreamTimesByStatus: each answer of the app is timed under its own
// status, however often that status comes; a failed request is not timed.
func TestUpstreamTimesByStatus(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.WriteHeader(status)
	}))
	defer app.Close()
	m := newMetrics()
	client := &http.Client{Transport: m.transport(http.DefaultTransport)}
	for _, status := range []string{"200", "503", "200", "200", "404"} {
		resp, err := client.Get(app.URL + "/" + status)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if _, err := client.Get("http://127.0.0.1:1/"); err == nil {
		t.Fatal("a request to a closed port succeeded")
	}
	text := scrape(m)
	for _, want := range []string{`otpgate_upstream_seconds_count{code="200"} 3`, `otpgate_upstream_seconds_count{code="503"} 1`,
		`otpgate_upstream_seconds_count{code="404"} 1`} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "otpgate_upstream_seconds_count{"); n != 3 {
		t.Errorf("upstream times under %d statuses, want 3 (a failed request is not timed)", n)
	}
}
