// Package webservertest runs a throwaway nginx or Caddy for tests, so that
// otpgate's forward-auth endpoints can be tested behind the real proxies
// whose configuration the README shows. It is a normal package, not a _test
// file, so that the tests of every package can start one.
//
// Each server is a child process listening on a free loopback port, with
// its configuration, logs and temporary files in t.TempDir(); t.Cleanup
// stops it, and prints its logs when the test failed. When the server is
// not installed the test is skipped, unless REQUIRE_TEST_SERVERS=1, which
// makes it fail instead so that CI cannot pass by skipping (the convention
// of auth/slapdtest).
package webservertest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv names the variable that turns "server missing" from a skip
// into a failure.
const RequireEnv = "REQUIRE_TEST_SERVERS"

// The Debian packages that provide the servers, named in skip messages.
const (
	NginxPackage = "nginx" // /usr/sbin/nginx, built with the auth_request module
	CaddyPackage = "caddy" // /usr/bin/caddy
)

const (
	startTimeout = 10 * time.Second
	stopTimeout  = 5 * time.Second
	pollEvery    = 10 * time.Millisecond
	startTries   = 5 // fresh ports tried when the chosen one was taken
)

// Conf returns a server's configuration for the address it must listen on
// (127.0.0.1:PORT). It is a function rather than a text because the port is
// only known once a free one is found, and is called again with another
// port when that one was taken meanwhile.
type Conf func(listen string) string

// StartNginx runs nginx with the text conf returns as the contents of its
// http {} block: server blocks (each with `listen` on the given address),
// maps, upstreams, as in a file of /etc/nginx/conf.d/. StartNginx supplies
// the main context: no daemon, a single process (which, run as root, keeps
// running as root and so can use the temporary directory), and pid file,
// logs and temporary paths in the test's directory. It returns the address
// nginx listens on, once it accepts connections.
func StartNginx(t testing.TB, conf Conf) (addr string) {
	t.Helper()
	bin := findNginx(t)
	dir := t.TempDir()
	for _, d := range []string{"temp", "logs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatalf("webservertest: %v", err)
		}
	}
	errorLog := filepath.Join(dir, "logs", "error.log")
	main := filepath.Join(dir, "nginx.conf")
	site := filepath.Join(dir, "site.conf") // a file of its own, so nginx's errors name its lines
	if err := os.WriteFile(main, []byte(nginxMain(dir, site)), 0o600); err != nil {
		t.Fatalf("webservertest: %v", err)
	}
	s := &server{name: "nginx", bin: bin, logs: []string{errorLog, filepath.Join(dir, "logs", "access.log")}}
	return s.start(t, func(listen string) ([]string, error) {
		if err := os.WriteFile(site, []byte(conf(listen)), 0o600); err != nil {
			return nil, err
		}
		// -e: the error log for start-up, before the configuration's own
		// error_log applies; the default is /var/log/nginx, not ours.
		return []string{"-p", dir + "/", "-c", main, "-e", errorLog}, nil
	})
}

// nginxMain is the main context around the configuration under test.
func nginxMain(dir, site string) string {
	temp := filepath.Join(dir, "temp")
	return fmt.Sprintf(`# Written by webservertest: the main context around the configuration under test.
daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log notice;
events {
	worker_connections 256;
}
http {
	access_log %[1]s/logs/access.log;
	client_body_temp_path %[2]s/client_body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	include %[3]s;
}
`, dir, temp, site)
}

// StartCaddy runs Caddy with the Caddyfile conf returns, which must not have
// a global options block: StartCaddy puts its own first, turning off the
// admin endpoint (a fixed port, shared by every Caddy on the machine) and
// automatic HTTPS, binding every site to 127.0.0.1, and keeping Caddy's
// storage in the test's directory. Sites are therefore plain HTTP: give
// their addresses as http://HOST:PORT, with the port of the given address.
// It returns the address Caddy listens on, once it accepts connections.
func StartCaddy(t testing.TB, conf Conf) (addr string) {
	t.Helper()
	bin := findCaddy(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "Caddyfile")
	s := &server{name: "caddy", bin: bin,
		// Caddy writes its autosave and any certificates under these; the
		// defaults are in the user's home directory.
		env: []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + filepath.Join(dir, "config"), "XDG_DATA_HOME=" + filepath.Join(dir, "data")},
	}
	return s.start(t, func(listen string) ([]string, error) {
		text := caddyGlobal(dir) + conf(listen)
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			return nil, err
		}
		return []string{"run", "--config", file, "--adapter", "caddyfile"}, nil
	})
}

func caddyGlobal(dir string) string {
	return fmt.Sprintf(`# Written by webservertest: global options for a throwaway Caddy.
{
	admin off
	auto_https off
	default_bind 127.0.0.1
	storage file_system {
		root %s
	}
}

`, filepath.Join(dir, "data"))
}

// findNginx returns nginx's path, or skips (fails when RequireEnv is set)
// naming the package.
func findNginx(t testing.TB) string {
	t.Helper()
	bin, err := lookPath("nginx", "/usr/sbin/nginx")
	if err != nil {
		missing(t, "nginx", fmt.Sprintf("nginx not installed (Debian package %s)", NginxPackage))
	}
	nginxModules.once.Do(func() {
		out, err := exec.Command(bin, "-V").CombinedOutput()
		nginxModules.ok = err == nil && bytes.Contains(out, []byte("--with-http_auth_request_module"))
	})
	if !nginxModules.ok {
		missing(t, "nginx", fmt.Sprintf("%s was built without the auth_request module (Debian package %s has it)", bin, NginxPackage))
	}
	return bin
}

var nginxModules struct {
	once sync.Once
	ok   bool
}

func findCaddy(t testing.TB) string {
	t.Helper()
	bin, err := lookPath("caddy", "/usr/bin/caddy")
	if err != nil {
		missing(t, "caddy", fmt.Sprintf("caddy not installed (Debian package %s)", CaddyPackage))
	}
	return bin
}

// lookPath finds name on PATH or at fallback (/usr/sbin is often not on a
// non-root user's PATH).
func lookPath(name, fallback string) (string, error) {
	if bin, err := exec.LookPath(name); err == nil {
		return bin, nil
	}
	if _, err := os.Stat(fallback); err != nil {
		return "", err
	}
	return fallback, nil
}

func missing(t testing.TB, name, why string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s not usable: run `make test`, which installs it (%s)", name, why)
	}
	t.Skip(why + "; `make test` installs it")
}

// server is one running nginx or Caddy.
type server struct {
	name string
	bin  string
	env  []string // added to the test's environment
	logs []string // log files to show when the test fails, besides the output

	out     *syncBuffer // standard output and error
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
	waitErr error
}

// start runs the server on a free port, trying another when it turns out
// taken, and stops it when the test ends. args writes the configuration
// for a listen address and returns the command's arguments.
func (s *server) start(t testing.TB, args func(listen string) ([]string, error)) string {
	t.Helper()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("%s", s.output())
		}
	})
	var err error
	for range startTries {
		var port int
		if port, err = freePort(); err != nil {
			break
		}
		listen := "127.0.0.1:" + strconv.Itoa(port)
		var a []string
		if a, err = args(listen); err != nil {
			break
		}
		if err = s.run(listen, a); !errors.Is(err, errPortTaken) {
			if err == nil {
				return listen
			}
			break
		}
	}
	t.Fatalf("webservertest: %v", err)
	return ""
}

var errPortTaken = errors.New("port taken")

// run starts the server and waits until listen accepts connections.
func (s *server) run(listen string, args []string) error {
	s.out = &syncBuffer{}
	for _, f := range s.logs {
		_ = os.Remove(f) // a failed try's log would confuse the next one's
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdout = s.out
	cmd.Stderr = s.out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		s.waitErr = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			s.cmd = nil
			out := s.output()
			if strings.Contains(strings.ToLower(out), "address already in use") {
				return fmt.Errorf("%w: %s", errPortTaken, listen)
			}
			return fmt.Errorf("%s exited during start-up (%v):\n%s", s.name, s.waitErr, out)
		default:
		}
		if c, err := net.DialTimeout("tcp", listen, time.Second); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("%s did not accept connections on %s within %v:\n%s", s.name, listen, startTimeout, s.output())
		}
		time.Sleep(pollEvery)
	}
}

// stop ends the server: SIGTERM (both exit promptly on it), then SIGKILL
// after a grace period.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// output is what the server printed and wrote to its log files.
func (s *server) output() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s output:\n%s", s.name, s.out.String())
	for _, f := range s.logs {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "\n%s:\n%s", f, data)
	}
	return b.String()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer collects a server's output; exec copies into it from its own
// goroutine while the test may read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	if b == nil {
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
