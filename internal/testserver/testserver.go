// Package testserver holds what the harnesses that run real servers for
// tests (auth/slapdtest, sms/kanneltest, proxy/webservertest) have in
// common: finding the program or skipping, picking free loopback ports,
// and running a child process that cannot outlive the test binary, with
// its output kept for failure messages. It is for tests only; it is a
// normal package so that those harnesses, which are normal packages too,
// can use it.
package testserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv names the variable that turns a missing server from a skip
// into a failure, so that CI cannot pass by skipping.
const RequireEnv = "REQUIRE_TEST_SERVERS"

// short is testing.Short, replaced by this package's tests.
var short = testing.Short

// Require returns the path of a file the test needs, given as where
// Debian's package installs it: the program of that name on PATH, or else
// path itself (/usr/sbin is often not on a non-root user's PATH, and some
// programs are never on it). When neither exists it calls Missing, naming
// the package.
//
// Every harness that runs a real server calls it first, so it is also
// where `go test -short` skips the real-server tests, leaving the fast
// ones: with -short it skips, unless RequireEnv is 1, which asks for every
// real-server test to run and wins.
func Require(t testing.TB, path, debianPackage string) string {
	t.Helper()
	if short() && os.Getenv(RequireEnv) != "1" {
		t.Skipf("needs a real server (Debian package %s); -short skips it", debianPackage)
		return ""
	}
	if p, err := exec.LookPath(filepath.Base(path)); err == nil {
		return p
	}
	if _, err := os.Stat(path); err != nil {
		Missing(t, fmt.Sprintf("%s not installed (Debian package %s)", path, debianPackage))
	}
	return path
}

// Missing skips the test, saying what is missing (why should name the
// Debian package), or fails it when RequireEnv is 1.
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s; run `make test`, which installs it (%s=1 makes this a failure, not a skip)", why, RequireEnv)
	} else {
		t.Skip(why + "; `make test` installs it")
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// FreePorts returns n distinct loopback TCP ports that were free a moment
// ago. Their listeners are all open at once, so none is handed out twice
// by one call; and no port is handed out twice in one test binary, where
// parallel tests start servers side by side: the kernel may give a port
// closed a moment ago to the next caller, whose server would then find
// another test's server already answering on it. Another process may
// still take one before the server binds it: see RetryPortTaken.
func FreePorts(n int) ([]int, error) {
	handedOut.mu.Lock()
	defer handedOut.mu.Unlock()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 100*n {
			return nil, errors.New("find a free port: every port offered was handed out already")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		port := l.Addr().(*net.TCPAddr).Port
		if handedOut.ports[port] {
			continue
		}
		handedOut.ports[port] = true
		ports = append(ports, port)
	}
	return ports, nil
}

// handedOut is every port FreePorts returned in this test binary.
var handedOut = struct {
	mu    sync.Mutex
	ports map[int]bool
}{ports: make(map[int]bool)}

// ErrPortTaken is wrapped by WaitReady's error when a process exited saying
// its address was in use.
var ErrPortTaken = errors.New("port taken")

// RetryPortTaken calls start, which should pick fresh ports and start the
// server on them, until it returns anything but an error wrapping
// ErrPortTaken, at most 5 times: another process may take a free port
// between FreePort and the server's bind.
func RetryPortTaken(start func() error) error {
	var err error
	for range 5 {
		if err = start(); !errors.Is(err, ErrPortTaken) {
			break
		}
	}
	return err
}

// RetrySamePort calls start, which restarts a server on the port it had,
// until it returns anything but an error wrapping ErrPortTaken, at most 5
// times a tenth of a second apart: the port is free again at once after a
// stop, but a racing process may hold it for a moment.
func RetrySamePort(start func() error) error {
	var err error
	for range 5 {
		if err = start(); !errors.Is(err, ErrPortTaken) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// Output collects a process's output: exec copies into it from its own
// goroutine while the test may read it. It is also a log sink for tests
// whose servers log from several goroutines.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

// String returns everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Process is a started child process.
type Process struct {
	name   string
	cmd    *exec.Cmd
	out    interface{ String() string }
	exited chan struct{} // closed once cmd has been waited for
	err    error         // from cmd.Wait, set before exited is closed
}

// Start starts cmd with its standard output and error going to out, or to
// a new Output if out is nil. On Linux the kernel kills the process if the
// test binary dies without running its cleanups (a panic, `go test
// -timeout`), so that no stray server outlives the run.
func Start(cmd *exec.Cmd, out interface {
	io.Writer
	String() string
}) (*Process, error) {
	if out == nil {
		out = &Output{}
	}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &Process{name: filepath.Base(cmd.Path), cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Name is the program's file name, for messages.
func (p *Process) Name() string { return p.name }

// Output returns what the process has printed.
func (p *Process) Output() string { return p.out.String() }

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Pause freezes the process (SIGSTOP) and returns once it has stopped, or
// fails after timeout. kill(2) returns as soon as the signal is queued, not
// when the process has stopped: the kernel wakes one thread to take the
// signal, and the process's other threads go on running, and answering
// requests, until that thread has been scheduled and has stopped them. On
// a busy machine that takes long enough for a whole request to be served
// by a server that was "paused". So Pause waits until every thread is in
// the stopped state. (Where the state cannot be read, outside Linux, it
// returns once the signal is sent.)
func (p *Process) Pause(timeout time.Duration) error {
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("pause %s: %w", p.name, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("pause %s: it exited (%w)", p.name, p.err)
		default:
		}
		stopped, err := allThreadsStopped(p.cmd.Process.Pid)
		switch {
		case err != nil:
			return fmt.Errorf("pause %s: %w", p.name, err)
		case stopped:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("pause %s: not stopped %v after SIGSTOP", p.name, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// Stop ends the process and waits for it: SIGTERM, then SIGKILL if it has
// not exited after grace; with grace 0, SIGKILL at once. It waits at most 5
// seconds after SIGKILL, so that a process stuck in the kernel does not
// hang the test. Stopping an exited process does nothing.
func (p *Process) Stop(grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	if grace > 0 {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
			return
		case <-time.After(grace):
		}
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
	}
}

// WaitReady calls ready every 10ms until it returns true. It fails when
// the deadline passes, or as soon as one of procs exits, since then ready
// may never hold; the error wraps ErrPortTaken if the output of procs says
// an address was in use. The error does not include the output: callers
// add theirs.
func WaitReady(deadline time.Time, ready func() bool, procs ...*Process) error {
	wait := time.Until(deadline).Round(time.Second)
	for {
		for _, p := range procs {
			select {
			case <-p.exited:
				err := fmt.Errorf("%s exited during start-up (%w)", p.name, p.err)
				for _, q := range procs {
					if strings.Contains(strings.ToLower(q.Output()), "address already in use") {
						return fmt.Errorf("%w: %w", ErrPortTaken, err)
					}
				}
				return err
			default:
			}
		}
		if ready() {
			return nil
		}
		if time.Now().After(deadline) {
			var names []string
			for _, p := range procs {
				names = append(names, p.name)
			}
			return fmt.Errorf("%s not ready within %v", strings.Join(names, ", "), wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
