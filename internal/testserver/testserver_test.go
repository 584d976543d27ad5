package testserver

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestFreePortsDistinct(t *testing.T) {
	ports, err := FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v: want 4 distinct ports", ports)
		}
		seen[p] = true
	}
}

func TestOutputConcurrent(t *testing.T) {
	var o Output
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprint(&o, "x")
				_ = o.String()
			}
		})
	}
	wg.Wait()
	if got := len(o.String()); got != 800 {
		t.Fatalf("got %d bytes, want 800", got)
	}
}

// recordTB notes Skip and Fatalf instead of ending the test.
type recordTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordTB) Helper()                        {}
func (r *recordTB) Skip(args ...any)               { r.skipped = fmt.Sprint(args...) }
func (r *recordTB) Fatalf(format string, a ...any) { r.failed = fmt.Sprintf(format, a...) }

func TestRequire(t *testing.T) {
	setShort(t, false)
	if got := Require(t, "/nonexistent/sh", "dash"); !strings.HasSuffix(got, "/sh") {
		t.Errorf("Require found sh at %q", got)
	}
	for _, env := range []string{"", "1"} {
		t.Setenv(RequireEnv, env)
		r := &recordTB{TB: t}
		Require(r, "/nonexistent/otpgate-no-such-program", "some-package")
		got, other := r.skipped, r.failed
		if env == "1" {
			got, other = other, got
		}
		if !strings.Contains(got, "/nonexistent/otpgate-no-such-program not installed (Debian package some-package)") || other != "" {
			t.Errorf("%s=%q: skipped %q, failed %q", RequireEnv, env, r.skipped, r.failed)
		}
	}
}

func TestWaitReady(t *testing.T) {
	p, err := Start(exec.Command("sh", "-c", "echo started; exec sleep 30"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(time.Second)
	if err := WaitReady(time.Now().Add(5*time.Second), func() bool { return strings.Contains(p.Output(), "started") }, p); err != nil {
		t.Fatal(err)
	}
	err = WaitReady(time.Now().Add(50*time.Millisecond), func() bool { return false }, p)
	if err == nil || !strings.Contains(err.Error(), "sh not ready within") {
		t.Fatalf("got %v, want a time-out", err)
	}
}

func TestWaitReadyExit(t *testing.T) {
	for _, tt := range []struct {
		script string
		taken  bool
	}{
		{"echo oops; exit 3", false},
		{"echo 'bind: Address already in use' >&2; exit 1", true},
	} {
		p, err := Start(exec.Command("sh", "-c", tt.script), nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = WaitReady(start.Add(10*time.Second), func() bool { return false }, p)
		if err == nil || !strings.Contains(err.Error(), "sh exited during start-up") || errors.Is(err, ErrPortTaken) != tt.taken {
			t.Errorf("%s: got %v", tt.script, err)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("%s: waited for the deadline after the exit", tt.script)
		}
	}
}

func TestStopKillsAfterGrace(t *testing.T) {
	// exec keeps the ignored SIGTERM, so sleep itself ignores it.
	p, err := Start(exec.Command("sh", "-c", `trap "" TERM; exec sleep 30`), nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the trap take effect
	start := time.Now()
	p.Stop(100 * time.Millisecond)
	select {
	case <-p.exited:
	default:
		t.Fatal("still running after Stop")
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 3*time.Second {
		t.Errorf("Stop took %v, want the grace and then SIGKILL", d)
	}
	p.Stop(time.Second) // stopping again does nothing
}

func TestRetryPortTaken(t *testing.T) {
	for name, retry := range map[string]func(func() error) error{"RetryPortTaken": RetryPortTaken, "RetrySamePort": RetrySamePort} {
		calls := 0
		err := retry(func() error { calls++; return fmt.Errorf("x: %w", ErrPortTaken) })
		if !errors.Is(err, ErrPortTaken) || calls != 5 {
			t.Errorf("%s, always taken: %v after %d calls", name, err, calls)
		}
		calls = 0
		err = retry(func() error {
			if calls++; calls < 3 {
				return ErrPortTaken
			}
			return nil
		})
		if err != nil || calls != 3 {
			t.Errorf("%s, taken twice: %v after %d calls", name, err, calls)
		}
		calls = 0
		err = retry(func() error { calls++; return errors.New("other") })
		if err == nil || errors.Is(err, ErrPortTaken) || calls != 1 {
			t.Errorf("%s, another error: %v after %d calls, want it at once", name, err, calls)
		}
	}
}

// Pause returns only once the process has stopped: nothing it prints
// after that, until it is continued. A busy loop that prints all the time
// stands in for a server answering requests.
func TestPauseReturnsOnceStopped(t *testing.T) {
	p, err := Start(exec.Command("sh", "-c", "while :; do echo x; done"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(0)
	for i := range 20 {
		if err := p.Pause(5 * time.Second); err != nil {
			t.Fatalf("pause %d: %v", i+1, err)
		}
		// What it printed before it stopped may still be in the pipe to the
		// reader: let that arrive, then nothing more may.
		time.Sleep(100 * time.Millisecond)
		before := len(p.Output())
		time.Sleep(50 * time.Millisecond)
		if after := len(p.Output()); after != before {
			t.Fatalf("pause %d: printed %d bytes after Pause returned, want none", i+1, after-before)
		}
		if err := p.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPauseExited(t *testing.T) {
	p, err := Start(exec.Command("true"), nil)
	if err != nil {
		t.Fatal(err)
	}
	<-p.exited
	if err := p.Pause(time.Second); err == nil {
		t.Error("pausing an exited process: got nil, want an error")
	}
}

// setShort makes Require see -short as on or off for the test.
func setShort(t *testing.T, on bool) {
	old := short
	short = func() bool { return on }
	t.Cleanup(func() { short = old })
}

// With -short, Require skips an installed program too, unless RequireEnv
// asks for every real server to run.
func TestRequireShort(t *testing.T) {
	for _, tc := range []struct {
		name     string
		short    bool
		env      string
		path     string
		wantSkip string // part of the skip message; "" for none
		wantFail string // part of the failure message; "" for none
	}{
		{"installed, not short", false, "", "/bin/sh", "", ""},
		{"installed, short", true, "", "/bin/sh", "-short skips it", ""},
		{"installed, short, required", true, "1", "/bin/sh", "", ""},
		{"missing, short", true, "", "/nonexistent/otpgate-no-such-program", "-short skips it", ""},
		{"missing, short, required", true, "1", "/nonexistent/otpgate-no-such-program", "", "not installed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setShort(t, tc.short)
			t.Setenv(RequireEnv, tc.env)
			r := &recordTB{TB: t}
			Require(r, tc.path, "some-package")
			if (tc.wantSkip == "") != (r.skipped == "") || !strings.Contains(r.skipped, tc.wantSkip) {
				t.Errorf("got skip %q, want one containing %q", r.skipped, tc.wantSkip)
			}
			if (tc.wantFail == "") != (r.failed == "") || !strings.Contains(r.failed, tc.wantFail) {
				t.Errorf("got failure %q, want one containing %q", r.failed, tc.wantFail)
			}
		})
	}
}
