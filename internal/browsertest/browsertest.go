// Package browsertest drives a real headless Chromium (Debian's chromium)
// for tests of otpgate's pages. One browser runs per test binary, started
// by the first NewTab and stopped by Close (call it from TestMain); each
// test gets its own tab, in its own browser context (no shared cookies),
// closed when the test ends.
//
// A tab records every console message of level warning or error, every
// uncaught exception and every issue Chromium reports (Content Security
// Policy violations among them), and fails its test on any: a page of
// otpgate must load without a single one. Screenshots go to
// $OTPGATE_TEST_ARTIFACTS/<test name>/, so CI can keep them, or to a
// temporary directory, whose path is logged.
//
// When chromium is not installed the test is skipped, unless
// REQUIRE_TEST_SERVERS=1, which makes it fail (see testserver.Require).
package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/audits"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/otpgate/otpgate/internal/testserver"
)

// ArtifactsEnv names the directory screenshots are saved under.
const ArtifactsEnv = "OTPGATE_TEST_ARTIFACTS"

// chromiumPath is where Debian's chromium package installs its launcher.
const chromiumPath = "/usr/bin/chromium"

// actionTimeout bounds one step in a tab, so a page that never loads
// fails its test instead of hanging the run.
const actionTimeout = 30 * time.Second

// Viewport is a window size, and for a phone, mobile emulation with touch.
type Viewport struct {
	Name          string
	Width, Height int64
	Scale         float64 // device pixels per CSS pixel
	Mobile        bool    // mobile emulation and touch events
}

var (
	// Desktop is a laptop's browser window.
	Desktop = Viewport{Name: "desktop", Width: 1280, Height: 800, Scale: 1}
	// Phone is a current phone held upright (390×844 CSS pixels, 3× density).
	Phone = Viewport{Name: "phone", Width: 390, Height: 844, Scale: 3, Mobile: true}
)

// The browser of this test binary: started once, on first use, because
// starting Chromium costs about a second and every test can share it.
var shared struct {
	mu     sync.Mutex
	ctx    context.Context // the browser's first context; tabs derive from it
	cancel context.CancelFunc
	out    testserver.Output
	err    error
}

// Close stops the test binary's browser, if one was started, and removes
// its profile. TestMain calls it after m.Run.
func Close() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cancel != nil {
		shared.cancel()
		shared.cancel, shared.ctx = nil, nil
	}
}

// browser returns the shared browser's context, starting it if needed.
func browser(path string) (context.Context, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.ctx != nil || shared.err != nil {
		return shared.ctx, shared.err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		// Chromium's own temporary profile (chromedp makes and removes it).
		// Every name but localhost resolves to nothing, so a page can
		// reach only the loopback servers of the test.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("lang", "en-GB"),
		chromedp.Flag("font-render-hinting", "none"), // the same screenshots on every machine with the same fonts
		chromedp.CombinedOutput(&shared.out),
		// The test servers' certificates are throwaway ones: the pages
		// are under test here, not TLS, and every server is on loopback.
		chromedp.IgnoreCertErrors,
	)
	// chromedp adds --no-sandbox when the tests run as root, as they do in
	// containers and CI: Chromium refuses to start its sandbox as root.
	// As any other user the sandbox stays on.
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	err := chromedp.Do(ctx)
	if err != nil {
		cancel()
		acancel()
		shared.err = fmt.Errorf("start %s: %w\n%s", path, err, shared.out.String())
		return nil, shared.err
	}
	shared.ctx = ctx
	shared.cancel = func() {
		cancel()
		acancel()
	}
	return ctx, nil
}

// Tab is one browser tab of one test.
type Tab struct {
	t        testing.TB
	ctx      context.Context
	viewport Viewport
	dir      string // where screenshots go

	mu       sync.Mutex
	problems []problem
	reported int // problems already failed on
}

// problem is one thing a page must never produce.
type problem struct {
	source log.EntrySource // for browser log entries
	url    string
	text   string
}

// NewTab opens a tab sized to vp, recording problems from its first
// moment; it is closed when the test ends, and any problem not yet
// reported fails the test then.
func NewTab(t testing.TB, vp Viewport) *Tab {
	t.Helper()
	path := testserver.Require(t, chromiumPath, "chromium")
	bctx, err := browser(path)
	if err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	// A browser context of its own: cookies and storage of one test never
	// reach another.
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	tab := &Tab{t: t, ctx: ctx, viewport: vp, dir: artifactsDir(t)}
	t.Cleanup(func() {
		tab.check()
		cancel()
	})
	if err := chromedp.Listen(ctx, tab.record); err != nil {
		t.Fatalf("browsertest: listen to the tab: %v", err)
	}
	emulate := []chromedp.EmulateViewportOption{chromedp.EmulateScale(vp.Scale)}
	if vp.Mobile {
		emulate = append(emulate, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	tab.Do(
		chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
			_, err := cdp.Call(ctx, tgt, audits.Enable, cdp.Empty{})
			return err
		}),
		chromedp.EmulateViewport(vp.Width, vp.Height, emulate...),
		// Tabs of one browser are in the background but one: without
		// this, focus and :focus-visible would differ from a real window.
		chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
			_, err := cdp.Call(ctx, tgt, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
			return err
		}),
	)
	return tab
}

// artifactsDir is the test's screenshot directory: under ArtifactsEnv when
// set, else a temporary one.
func artifactsDir(t testing.TB) string {
	root := os.Getenv(ArtifactsEnv)
	if root == "" {
		return t.TempDir()
	}
	dir := filepath.Join(root, safeName.ReplaceAllString(t.Name(), "_"))
	if err := os.MkdirAll(dir, 0o750); err != nil { //nolint:gosec // a directory the person running the tests names; the test name is made safe
		t.Fatalf("browsertest: %v", err)
	}
	return dir
}

var safeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// record keeps what the page must never produce.
func (tab *Tab) record(ev any) {
	var p problem
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			p.text = fmt.Sprintf("console.%s: %s", ev.Type, consoleArgs(ev.Args))
		}
	case *runtime.EventExceptionThrown:
		p.text = "uncaught exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			p.text += " " + ev.ExceptionDetails.Exception.Description
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
			p = problem{source: ev.Entry.Source, url: ev.Entry.URL,
				text: fmt.Sprintf("console %s (%s): %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)}
		}
	case *audits.EventIssueAdded:
		p.text = "issue " + string(ev.Issue.Code)
		if d := ev.Issue.Details; d != nil && d.ContentSecurityPolicyIssueDetails != nil {
			c := d.ContentSecurityPolicyIssueDetails
			p.text = fmt.Sprintf("Content-Security-Policy violation: %s (directive %s, blocked %s)",
				c.ContentSecurityPolicyViolationType, c.ViolatedDirective, c.BlockedURL)
		} else if d != nil {
			p.text += fmt.Sprintf(" %+v", *d)
		}
	}
	if p.text == "" {
		return
	}
	tab.mu.Lock()
	tab.problems = append(tab.problems, p)
	tab.mu.Unlock()
}

func consoleArgs(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		if len(a.Value) > 0 {
			parts = append(parts, string(a.Value))
		} else {
			parts = append(parts, a.Description)
		}
	}
	return strings.Join(parts, " ")
}

// Problems returns every problem recorded so far.
func (tab *Tab) Problems() []string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	out := make([]string, len(tab.problems))
	for i, p := range tab.problems {
		out[i] = p.text
	}
	return out
}

// check fails the test on problems not yet reported.
func (tab *Tab) check() {
	tab.t.Helper()
	tab.mu.Lock()
	fresh := tab.problems[tab.reported:]
	tab.reported = len(tab.problems)
	tab.mu.Unlock()
	for _, p := range fresh {
		tab.t.Errorf("browser (%s): %s", tab.viewport.Name, p.text)
	}
}

// Do runs actions in the tab, failing the test on an error or on any
// problem the page produced.
func (tab *Tab) Do(actions ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	Run(tab, chromedp.Steps(actions...))
}

// Run runs one action in tab and returns its value, as Do.
func Run[T any](tab *Tab, a chromedp.Action[T]) T {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tab.t.Fatalf("browser (%s): %v", tab.viewport.Name, err)
	}
	// Messages arrive asynchronously: give those of this step a moment.
	settle(tab.ctx)
	tab.check()
	return v
}

// settle waits until the tab has answered a round trip, so that the
// events the page sent before it are recorded.
func settle(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	_, _ = chromedp.Run(ctx, chromedp.Evaluate[bool]("true"))
}

// Navigate loads url and fails the test unless the page it ends on
// answers with status want. That status is no problem even when it is an
// error (Chromium logs "Failed to load resource" for it): an error page
// is expected to have one.
func (tab *Tab) Navigate(url string, want int64) {
	tab.t.Helper()
	tab.load("navigate to "+url, want, chromedp.Navigate(url))
}

// Submit runs actions that submit a form (a click, a tap, Enter) and
// fails the test unless the page it ends on answers with status want.
func (tab *Tab) Submit(want int64, actions ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	tab.load("submit", want, actions...)
}

func (tab *Tab) load(what string, want int64, actions ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, actionTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		tab.t.Fatalf("browser (%s): %s: %v", tab.viewport.Name, what, err)
	}
	settle(tab.ctx)
	if resp == nil {
		tab.t.Fatalf("browser (%s): %s: no page loaded", tab.viewport.Name, what)
	}
	if resp.Status >= 400 && resp.Status == want {
		tab.expectStatus(resp.URL, resp.Status)
	}
	tab.check()
	if resp.Status != want {
		tab.t.Fatalf("browser (%s): %s: got status %d for %s, want %d", tab.viewport.Name, what, resp.Status, resp.URL, want)
	}
}

// expectStatus forgets the log entry of the page at url answering status.
func (tab *Tab) expectStatus(url string, status int64) {
	text := fmt.Sprintf("the server responded with a status of %d ", status)
	tab.mu.Lock()
	defer tab.mu.Unlock()
	kept := tab.problems[:tab.reported]
	for _, p := range tab.problems[tab.reported:] {
		if p.source == log.EntrySourceNetwork && p.url == url && strings.Contains(p.text, text) {
			continue
		}
		kept = append(kept, p)
	}
	tab.problems = kept
}

// Screenshot saves the visible viewport as name.png (prefixed by the
// viewport's name) and returns the file's path and the PNG.
func (tab *Tab) Screenshot(name string) (string, []byte) {
	tab.t.Helper()
	png := Run(tab, chromedp.CaptureScreenshot())
	path := filepath.Join(tab.dir, tab.viewport.Name+"-"+name+".png")
	if err := os.WriteFile(path, png, 0o600); err != nil {
		tab.t.Fatalf("browsertest: save screenshot: %v", err)
	}
	tab.t.Logf("screenshot: %s", path)
	return path, png
}

// Context is the tab's chromedp context, for actions Do does not cover.
func (tab *Tab) Context() context.Context { return tab.ctx }
