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
// of auth/slapdtest); `go test -short` skips it too, unless
// REQUIRE_TEST_SERVERS=1.
package webservertest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otpgate/otpgate/internal/testserver"
)

// RequireEnv names the variable that turns "server missing" from a skip
// into a failure.
const RequireEnv = testserver.RequireEnv

// The Debian packages that provide the servers, named in skip messages.
const (
	NginxPackage = "nginx" // /usr/sbin/nginx, built with the auth_request module
	CaddyPackage = "caddy" // /usr/bin/caddy
)

const (
	startTimeout = 10 * time.Second
	stopTimeout  = 5 * time.Second
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
	bin := testserver.Require(t, "/usr/sbin/nginx", NginxPackage)
	nginxModules.once.Do(func() {
		out, err := exec.Command(bin, "-V").CombinedOutput()
		nginxModules.ok = err == nil && bytes.Contains(out, []byte("--with-http_auth_request_module"))
	})
	if !nginxModules.ok {
		testserver.Missing(t, fmt.Sprintf("%s was built without the auth_request module (Debian package %s has it)", bin, NginxPackage))
	}
	return bin
}

var nginxModules struct {
	once sync.Once
	ok   bool
}

func findCaddy(t testing.TB) string {
	t.Helper()
	return testserver.Require(t, "/usr/bin/caddy", CaddyPackage)
}

// server is one running nginx or Caddy.
type server struct {
	name string
	bin  string
	env  []string // added to the test's environment
	logs []string // log files to show when the test fails, besides the output

	proc *testserver.Process // of the last try
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
	var listen string
	err := testserver.RetryPortTaken(func() error {
		port, err := testserver.FreePort()
		if err != nil {
			return err
		}
		listen = "127.0.0.1:" + strconv.Itoa(port)
		a, err := args(listen)
		if err != nil {
			return err
		}
		return s.run(listen, a)
	})
	if err != nil {
		t.Fatalf("webservertest: %v", err)
	}
	return listen
}

// run starts the server and waits until listen accepts connections.
func (s *server) run(listen string, args []string) error {
	for _, f := range s.logs {
		_ = os.Remove(f) // a failed try's log would confuse the next one's
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Env = append(os.Environ(), s.env...)
	p, err := testserver.Start(cmd, nil)
	if err != nil {
		return err
	}
	s.proc = p
	accepts := func() bool {
		c, err := net.DialTimeout("tcp", listen, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	if err := testserver.WaitReady(time.Now().Add(startTimeout), accepts, p); err != nil {
		s.stop()
		return fmt.Errorf("%w (listening on %s):\n%s", err, listen, s.output())
	}
	return nil
}

// stop ends the server: SIGTERM (both exit promptly on it), then SIGKILL
// after a grace period.
func (s *server) stop() {
	if s.proc != nil {
		s.proc.Stop(stopTimeout)
	}
}

// output is what the server printed and wrote to its log files.
func (s *server) output() string {
	var out string
	if s.proc != nil {
		out = s.proc.Output()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s output:\n%s", s.name, out)
	for _, f := range s.logs {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "\n%s:\n%s", f, data)
	}
	return b.String()
}
