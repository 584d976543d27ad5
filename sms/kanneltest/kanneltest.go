// Package kanneltest runs a throwaway Kannel SMS gateway for tests: the
// bearerbox, an smsbox taking HTTP sendsms requests, and fakesmsc standing in
// for the operator's SMS centre and recording every message it is handed.
// It is a normal package, not a _test file, so that the tests of every
// package can start one.
//
// Each Kannel is three child processes on free loopback ports, configured
// in t.TempDir(); t.Cleanup stops them. When Kannel is not installed the
// test is skipped, unless REQUIRE_TEST_SERVERS=1, which makes it fail
// instead so that CI cannot pass by skipping. `go test -short` skips it
// too, unless REQUIRE_TEST_SERVERS=1 (see testserver.Require).
//
// What fakesmsc shows is what Kannel would hand a real SMS centre, with
// Kannel's quirks:
//   - sendsms text is taken as UTF-8 (SendURL says so with charset=UTF-8)
//     and, by default, sent in the GSM 7-bit alphabet: characters outside it
//     ("✓", emoji, most non-Latin scripts) silently become "?", while those
//     in it ("é", "ü", "£") pass. Add "&coding=2" to the URL to send UCS-2,
//     which keeps every character, at 70 characters per SMS instead of 160.
//   - fakesmsc's protocol is one message per line, so a line break in a
//     text ends the message there, and fakesmsc prints the rest as a
//     message of its own, which Messages drops unless it happens to look
//     like one. Keep test messages on one line.
//   - Kannel answers a sendsms request with 202 "0: Accepted for delivery"
//     once the bearerbox has the message, or 202 "3: Queued for later
//     delivery" when it cannot reach the SMS centre; both are 202.
package kanneltest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/otpgate/otpgate/internal/testserver"
)

// Where Debian's packages install the programs: bearerbox and smsbox come
// with kannel, fakesmsc with kannel-extras.
const (
	BearerboxPath = "/usr/sbin/bearerbox"
	SmsboxPath    = "/usr/sbin/smsbox"
	FakesmscPath  = "/usr/lib/kannel/test/fakesmsc"
)

// RequireEnv names the variable that turns "Kannel missing" from a skip
// into a failure.
const RequireEnv = testserver.RequireEnv

// The sendsms account and the sender number of every message.
const (
	Username = "otpgate"
	Password = "kannel-test-pw"
	Sender   = "12345" // smsbox's global-sender
)

const (
	adminPassword = "kannel-admin-pw"
	startTimeout  = 10 * time.Second
)

// Message is one SMS that fakesmsc received from Kannel.
type Message struct {
	From string
	To   string
	// Text is the message decoded to UTF-8 from fakesmsc's line:
	// "text" as is, "data" (8-bit) and "ucs-2" (UTF-16BE) URL-decoded.
	Text string
	// Coding is fakesmsc's name for the message type: "text" (GSM 7-bit),
	// "data" (8-bit) or "ucs-2". Messages with a UDH (concatenated parts,
	// which this configuration never makes) are not recorded.
	Coding string
}

// Kannel is one running gateway. Its exported fields are fixed for its
// life.
type Kannel struct {
	// SendURL is a template for sms.HTTPConfig with Method GET: Kannel's
	// sendsms URL with the account, charset=UTF-8, and $ctx.num and
	// $ctx.msg in "to" and "text".
	SendURL string
	// StatusURL is the bearerbox's plain-text status page.
	StatusURL string

	bins  binaries
	dir   string
	conf  string
	ports ports
	sms   *smsLog
	mu    sync.Mutex
	procs []*testserver.Process // of the last start, in start order; kept after Stop for Output
	up    bool                  // procs are running
}

type binaries struct{ bearerbox, smsbox, fakesmsc string }

type ports struct{ admin, box, smsc, sendsms int }

// Start runs a Kannel for the test and stops it when the test ends.
func Start(t testing.TB) *Kannel {
	t.Helper()
	k := &Kannel{bins: findPrerequisites(t), dir: t.TempDir(), sms: newSMSLog()}
	k.conf = filepath.Join(k.dir, "kannel.conf")
	t.Cleanup(k.Stop)

	err := testserver.RetryPortTaken(func() error {
		p, err := testserver.FreePorts(4)
		if err != nil {
			return err
		}
		k.ports = ports{admin: p[0], box: p[1], smsc: p[2], sendsms: p[3]}
		if err := os.WriteFile(k.conf, []byte(kannelConf(k.ports)), 0o600); err != nil {
			return err
		}
		return k.start()
	})
	if err != nil {
		t.Fatalf("kanneltest: %v", err)
	}
	k.SendURL = fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/sendsms?username=%s&password=%s&charset=UTF-8&to=$ctx.num&text=$ctx.msg",
		k.ports.sendsms, Username, Password)
	return k
}

// findPrerequisites returns the programs' paths, or skips (fails when
// RequireEnv is set) naming what is missing.
func findPrerequisites(t testing.TB) binaries {
	t.Helper()
	return binaries{
		bearerbox: testserver.Require(t, BearerboxPath, "kannel"),
		smsbox:    testserver.Require(t, SmsboxPath, "kannel"),
		fakesmsc:  testserver.Require(t, FakesmscPath, "kannel-extras"),
	}
}

// kannelConf is the configuration of all three programs. Every listener is
// on loopback and only takes loopback clients.
func kannelConf(p ports) string {
	return fmt.Sprintf(`group = core
admin-port = %d
admin-interface = 127.0.0.1
admin-password = %s
admin-allow-ip = 127.0.0.1
smsbox-port = %d
smsbox-interface = 127.0.0.1
box-deny-ip = "*.*.*.*"
box-allow-ip = 127.0.0.1

group = smsc
smsc = fake
smsc-id = FAKE
port = %d
our-host = 127.0.0.1
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = %d
sendsms-port = %d
sendsms-interface = 127.0.0.1
global-sender = %s

group = sendsms-user
username = %s
password = %s
user-allow-ip = 127.0.0.1
max-messages = 10
`, p.admin, adminPassword, p.box, p.smsc, p.box, p.sendsms, Sender, Username, Password)
}

// start runs the three programs in the order they depend on each other
// (smsbox and fakesmsc exit at once if the bearerbox is not listening) and
// waits until messages flow: both connected to the bearerbox.
func (k *Kannel) start() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.up {
		return nil
	}
	k.procs, k.up = nil, true
	k.StatusURL = fmt.Sprintf("http://127.0.0.1:%d/status.txt?password=%s", k.ports.admin, adminPassword)
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	var status string // the last status page seen, for failure messages
	statusOK := func() bool {
		s, ok := k.status(client)
		status = s
		return ok
	}
	fail := func(err error) error {
		k.stopLocked()
		return fmt.Errorf("%w (ports %+v); status:\n%s\noutput:\n%s", err, k.ports, status, k.outputLocked())
	}

	// -v 1: info and up, enough to explain a failure without drowning it.
	bb, err := testserver.Start(k.command(k.bins.bearerbox, "-v", "1", k.conf), nil)
	if err != nil {
		return fail(err)
	}
	k.procs = append(k.procs, bb)
	if err := testserver.WaitReady(deadline, statusOK, bb); err != nil {
		return fail(err)
	}

	// fakesmsc prints each message it receives at debug level, its
	// default. -m 0: send no messages of its own; the last argument is a
	// required but unused template for them.
	fs, err := testserver.Start(k.command(k.bins.fakesmsc,
		"-H", "127.0.0.1", "-r", strconv.Itoa(k.ports.smsc), "-m", "0", "1 2 text unused"), k.sms)
	if err != nil {
		return fail(err)
	}
	k.procs = append(k.procs, fs)
	sb, err := testserver.Start(k.command(k.bins.smsbox, "-v", "1", k.conf), nil)
	if err != nil {
		return fail(err)
	}
	k.procs = append(k.procs, sb)

	sendsms := net.JoinHostPort("127.0.0.1", strconv.Itoa(k.ports.sendsms))
	ready := func() bool { return statusOK() && connected(status) && listening(sendsms) }
	if err := testserver.WaitReady(deadline, ready, k.procs...); err != nil {
		return fail(err)
	}
	return nil
}

// command is a Kannel program to run in k.dir. The programs log to
// stderr.
func (k *Kannel) command(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir = k.dir
	return cmd
}

// status fetches the bearerbox's status page.
func (k *Kannel) status(client *http.Client) (string, bool) {
	resp, err := client.Get(k.StatusURL)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err == nil && resp.StatusCode == http.StatusOK
}

// connected reports whether a status page shows the smsbox connected and
// the fake SMS centre online (fakesmsc connected). Before, they read
// "Box connections:\n    (none)" and "FAKE[FAKE] FAKE:port (connecting, ...".
func connected(status string) bool {
	var box, smsc bool
	for _, line := range strings.Split(status, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "smsbox:") && strings.Contains(line, "(on-line"):
			box = true
		case strings.HasPrefix(line, "FAKE[FAKE]") && strings.Contains(line, "(online"):
			smsc = true
		}
	}
	return box && smsc
}

func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// Stop stops every Kannel process, so tests can see the gateway go away.
// Stopping a stopped Kannel does nothing.
func (k *Kannel) Stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stopLocked()
}

// stopLocked kills the processes outright. A graceful SIGTERM buys nothing
// here (there is no store file or log file to flush) and costs a second, the
// bearerbox's shutdown poll, in every test that starts a Kannel.
func (k *Kannel) stopLocked() {
	if !k.up {
		return
	}
	k.up = false
	for _, p := range k.procs {
		p.Stop(0)
	}
}

// Output returns what the programs printed since they were started, each
// line prefixed with its program's name, for failure messages.
func (k *Kannel) Output() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.outputLocked()
}

func (k *Kannel) outputLocked() string {
	var b strings.Builder
	for _, p := range k.procs {
		for _, line := range strings.Split(strings.TrimRight(p.Output(), "\n"), "\n") {
			if line != "" {
				fmt.Fprintf(&b, "%s: %s\n", p.Name(), line)
			}
		}
	}
	return b.String()
}

// Messages returns every message fakesmsc has received, in order.
func (k *Kannel) Messages() []Message {
	msgs, _ := k.sms.snapshot()
	return msgs
}

// WaitMessage returns the first message to the number to that no earlier
// WaitMessage call has returned, waiting up to timeout for it to arrive. It
// fails the test if none does.
func (k *Kannel) WaitMessage(t testing.TB, to string, timeout time.Duration) Message {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		m, ok, changed := k.sms.take(to)
		if ok {
			return m
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("kanneltest: no message to %s within %v; fakesmsc received %+v; output:\n%s",
				to, timeout, k.Messages(), k.Output())
			return Message{}
		}
	}
}

// smsLog is fakesmsc's output sink. It keeps the raw output and parses each
// complete line as it arrives, so WaitMessage wakes as soon as a message is
// printed.
type smsLog struct {
	mu      sync.Mutex
	raw     bytes.Buffer
	partial []byte // the start of a line not yet ended
	msgs    []Message
	taken   []bool        // per message: returned by WaitMessage
	changed chan struct{} // closed and replaced when a message arrives
}

func newSMSLog() *smsLog { return &smsLog{changed: make(chan struct{})} }

func (l *smsLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.raw.Write(p)
	l.partial = append(l.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		if m, ok := parseLine(line); ok {
			l.msgs = append(l.msgs, m)
			l.taken = append(l.taken, false)
			added = true
		}
	}
	if added {
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(p), nil
}

func (l *smsLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.raw.String()
}

func (l *smsLog) snapshot() ([]Message, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Message(nil), l.msgs...), l.changed
}

// take marks and returns the first untaken message to to; otherwise it
// returns a channel that is closed when more messages arrive.
func (l *smsLog) take(to string) (Message, bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, m := range l.msgs {
		if m.To == to && !l.taken[i] {
			l.taken[i] = true
			return m, true, nil
		}
	}
	return Message{}, false, l.changed
}

// parseLine reads a message from one line of fakesmsc's output:
//
//	2026-01-02 03:04:05 [123] [0] DEBUG: Got message 1: <12345 +15550100006 text Hello there>
//
// that is "<from to type data>". Only the types Kannel uses for plain
// messages are taken (text, data, ucs-2); that also drops most tails of
// texts that had a line break, which fakesmsc prints as messages of their
// own ("Got message 2: <rest of the text>").
func parseLine(line string) (Message, bool) {
	_, rest, ok := strings.Cut(line, "] DEBUG: Got message ")
	if !ok {
		return Message{}, false
	}
	_, rest, ok = strings.Cut(rest, ": <")
	if !ok || !strings.HasSuffix(rest, ">") {
		return Message{}, false
	}
	fields := strings.SplitN(strings.TrimSuffix(rest, ">"), " ", 4)
	if len(fields) < 3 {
		return Message{}, false
	}
	m := Message{From: fields[0], To: fields[1], Coding: fields[2]}
	if len(fields) == 4 {
		m.Text = fields[3]
	}
	switch m.Coding {
	case "text":
	case "data":
		b, err := url.QueryUnescape(m.Text)
		if err != nil {
			return Message{}, false
		}
		m.Text = b
	case "ucs-2":
		b, err := url.QueryUnescape(m.Text)
		if err != nil || len(b)%2 != 0 {
			return Message{}, false
		}
		units := make([]uint16, len(b)/2)
		for i := range units {
			units[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
		m.Text = string(utf16.Decode(units))
	default:
		return Message{}, false
	}
	return m, true
}
