// Package redistest runs throwaway Redis servers for tests: one
// redis-server, or a Sentinel set (a master, a replica and three
// redis-sentinels), each on free loopback ports with its data in
// t.TempDir(), persisted to an append-only file so that a restart keeps
// what was acknowledged. Clients authenticate as an ACL user (Username,
// Password); the default user has a password no test uses. t.Cleanup stops every process.
//
// When redis-server is not installed the test is skipped, unless
// REQUIRE_TEST_SERVERS=1, which makes it fail (see testserver.Require).
package redistest

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
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

	"github.com/otpgate/otpgate/internal/testserver"
)

// The ACL user every server and sentinel is set up with.
const (
	Username = "otpgate"
	Password = "redistest-password"
	// SentinelPassword is what the sentinels themselves ask for.
	SentinelPassword = "redistest-sentinel-password"
	// MasterName is the name the sentinels monitor the master under.
	MasterName = "otpgate-master"
	// defaultPassword locks the default user away from the tests.
	defaultPassword = "redistest-default-unused"
)

const (
	startTimeout = 15 * time.Second
	stopTimeout  = 5 * time.Second
)

// Server is one running redis-server. Its exported fields are fixed for its
// life, across Stop and Restart.
type Server struct {
	Addr string // 127.0.0.1:PORT
	URL  string // redis://127.0.0.1:PORT, or rediss:// with WithTLS
	// With WithTLS: the CA that signed the server's certificate, and a
	// client certificate and key (signed by the same CA) that the server
	// requires.
	CAFile, CertFile, KeyFile string

	t    testing.TB
	bin  string
	dir  string
	conf string
	tls  *tls.Config

	mu   sync.Mutex
	proc *testserver.Process
	up   bool
}

type config struct {
	tls       bool
	replicaOf string
}

// Option changes how Start sets up the server.
type Option func(*config)

// WithTLS makes the server speak only TLS, with a certificate for
// 127.0.0.1 and localhost, and require a client certificate.
func WithTLS() Option { return func(c *config) { c.tls = true } }

func withReplicaOf(addr string) Option { return func(c *config) { c.replicaOf = addr } }

// Start runs a redis-server for the test and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	bin := testserver.Require(t, "/usr/bin/redis-server", "redis-server")
	s := &Server{t: t, bin: bin, dir: t.TempDir()}
	if cfg.tls {
		var err error
		s.CAFile, s.CertFile, s.KeyFile, err = testserver.WriteTLSFiles(filepath.Join(s.dir, "tls"), "redistest CA", "localhost", net.IPv4(127, 0, 0, 1))
		if err != nil {
			t.Fatalf("redistest: TLS files: %v", err)
		}
		if s.tls, err = clientTLS(s.CAFile, s.CertFile, s.KeyFile); err != nil {
			t.Fatalf("redistest: %v", err)
		}
	}
	t.Cleanup(s.Stop)
	err := testserver.RetryPortTaken(func() error {
		port, err := testserver.FreePort()
		if err != nil {
			return err
		}
		s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		s.URL = "redis://" + s.Addr
		if cfg.tls {
			s.URL = "rediss://" + s.Addr
		}
		s.conf = filepath.Join(s.dir, "redis.conf")
		if err := os.WriteFile(s.conf, []byte(serverConf(s, port, cfg)), 0o600); err != nil {
			return err
		}
		return s.start()
	})
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return s
}

func serverConf(s *Server, port int, cfg config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "bind 127.0.0.1\ndir %s\ndaemonize no\nlogfile \"\"\nloglevel warning\n", s.dir)
	// Every write is on disk before it is acknowledged, so a killed server
	// loses nothing a client was told was stored. No RDB snapshots: the
	// append-only file is the one source.
	b.WriteString("appendonly yes\nappendfsync always\nsave \"\"\n")
	// The default user stays on, behind a password no client knows: Redis
	// 7.0 replays a script's writes from the append-only file as the
	// default user, and with it off refuses them (NOPERM), losing them.
	fmt.Fprintf(&b, "user default on >%s ~* &* +@all\nuser %s on >%s ~* &* +@all\n", defaultPassword, Username, Password)
	if cfg.tls {
		fmt.Fprintf(&b, "port 0\ntls-port %d\ntls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\ntls-auth-clients yes\ntls-replication yes\n",
			port, s.CertFile, s.KeyFile, s.CAFile)
	} else {
		fmt.Fprintf(&b, "port %d\n", port)
	}
	// Every server may become a replica (Sentinel turns a former master
	// into one), so each knows how to authenticate to a master.
	fmt.Fprintf(&b, "masteruser %s\nmasterauth %s\n", Username, Password)
	// A replica's first sync starts at once, not after the diskless
	// sync's default 5s delay, so that a set is replicated when ready.
	b.WriteString("repl-diskless-sync-delay 0\n")
	if cfg.replicaOf != "" {
		host, p, _ := net.SplitHostPort(cfg.replicaOf)
		fmt.Fprintf(&b, "replicaof %s %s\n", host, p)
	}
	return b.String()
}

func clientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.up {
		return nil
	}
	p, err := testserver.Start(exec.Command(s.bin, s.conf), nil)
	if err != nil {
		return err
	}
	s.proc, s.up = p, true
	ready := func() bool {
		// A server still loading its append-only file answers -LOADING.
		r, err := s.do("PING")
		return err == nil && r == "PONG"
	}
	if err := testserver.WaitReady(time.Now().Add(startTimeout), ready, p); err != nil {
		s.stopLocked(0)
		return fmt.Errorf("%w (%s); its output:\n%s", err, s.Addr, p.Output())
	}
	return nil
}

// Stop shuts the server down (SIGTERM: it finishes writing its files),
// keeping its data for Restart. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(stopTimeout)
}

// Kill ends the server at once (SIGKILL), as a crash would: what it
// acknowledged is in its append-only file, fsynced, and nothing else.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(0)
}

func (s *Server) stopLocked(grace time.Duration) {
	if !s.up {
		return
	}
	s.up = false
	_ = s.proc.Signal(syscall.SIGCONT)
	s.proc.Stop(grace)
}

// Restart starts the server again on the same port with the same data,
// stopping it first if it runs.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := testserver.RetrySamePort(s.start); err != nil {
		s.t.Fatalf("redistest: restart: %v", err)
	}
}

// Output returns what the server printed since it was last started.
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return ""
	}
	return s.proc.Output()
}

// Do sends one command as the ACL user and returns the reply, flattened to
// text (see Do). It fails the test on a connection error, not on a Redis
// error reply, which it returns.
func (s *Server) Do(args ...string) (string, error) {
	s.t.Helper()
	r, err := s.do(args...)
	var re ReplyError
	if err != nil && !errors.As(err, &re) {
		s.t.Fatalf("redistest: %s: %v", strings.Join(args, " "), err)
	}
	return r, err
}

func (s *Server) do(args ...string) (string, error) {
	return Do(s.Addr, s.tls, []string{"AUTH", Username, Password}, args...)
}

// ReplyError is an error reply from Redis.
type ReplyError string

func (e ReplyError) Error() string { return string(e) }

// Do connects to addr (with TLS when tlsConfig is set), sends auth first
// when it is not empty, then args, and returns args' reply: a status,
// string or integer as its text, nil as "", an array as its elements
// joined by newlines (nested arrays flattened). It is a test's small
// client: one connection per call.
func Do(addr string, tlsConfig *tls.Config, auth []string, args ...string) (string, error) {
	d := net.Dialer{Timeout: time.Second}
	var conn net.Conn
	var err error
	if tlsConfig != nil {
		conn, err = tls.DialWithDialer(&d, "tcp", addr, tlsConfig)
	} else {
		conn, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	w := bufio.NewWriter(conn)
	r := bufio.NewReader(conn)
	if len(auth) > 0 {
		writeCommand(w, auth)
	}
	writeCommand(w, args)
	if err := w.Flush(); err != nil {
		return "", err
	}
	if len(auth) > 0 {
		if _, err := readReply(r); err != nil {
			return "", fmt.Errorf("auth: %w", err)
		}
	}
	lines, err := readReply(r)
	return strings.Join(lines, "\n"), err
}

func writeCommand(w *bufio.Writer, args []string) {
	fmt.Fprintf(w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(w, "$%d\r\n%s\r\n", len(a), a)
	}
}

// readReply reads one RESP2 reply; an error reply is a ReplyError.
func readReply(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty reply line")
	}
	switch line[0] {
	case '+', ':':
		return []string{line[1:]}, nil
	case '-':
		return nil, ReplyError(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return []string{""}, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return []string{string(buf[:n])}, nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return nil, err
		}
		var out []string
		var firstErr error
		for range n {
			el, err := readReply(r)
			var re ReplyError
			if err != nil && !errors.As(err, &re) {
				return nil, err
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
			out = append(out, el...)
		}
		return out, firstErr
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}
