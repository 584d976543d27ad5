package sms

import (
	"context"
	"errors"
	"github.com/otpgate/otpgate/internal/setting"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/otpgate/otpgate/internal/testclock"
	"github.com/otpgate/otpgate/internal/testserver"
)

const (
	foTo   = "+15550100006"
	foMsg  = "Your sign-in code is 123456. It expires in 5 minutes."
	foCode = "123456"
)

// fakeGateway is a real HTTP SMS gateway on loopback, driven through the
// HTTP provider, that answers with a status that tests can change.
type fakeGateway struct {
	srv      *httptest.Server
	status   atomic.Int32  // 0: hang until the client gives up
	arrived  chan struct{} // gets a value per request, if there is room
	stop     chan struct{} // closed at cleanup, ends hanging requests
	mu       sync.Mutex
	received []string // message texts, in order
}

const hang = 0

func newFakeGateway(t *testing.T, status int) *fakeGateway {
	t.Helper()
	g := &fakeGateway{arrived: make(chan struct{}, 100), stop: make(chan struct{})}
	g.status.Store(int32(status))
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.received = append(g.received, r.URL.Query().Get("text"))
		g.mu.Unlock()
		select {
		case g.arrived <- struct{}{}:
		default:
		}
		st := int(g.status.Load())
		if st == hang {
			select {
			case <-r.Context().Done():
			case <-g.stop:
			}
			return
		}
		w.WriteHeader(st)
		_, _ = io.WriteString(w, "gateway says "+http.StatusText(st))
	}))
	// Cleanups run last-in first-out: hanging handlers end, then the server.
	t.Cleanup(g.srv.Close)
	t.Cleanup(func() { close(g.stop) })
	return g
}

func (g *fakeGateway) named(t *testing.T, name string) Named {
	t.Helper()
	return Named{Name: name, Sender: newHTTP(t, HTTPConfig{
		URL:    g.srv.URL + "/send?to=$ctx.num&text=$ctx.msg",
		Method: "GET",
	}, nil)}
}

func (g *fakeGateway) requests() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.received)
}

func (g *fakeGateway) texts() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.received...)
}

// refusedProvider is an HTTP provider whose gateway is gone.
func refusedProvider(t *testing.T, name string) Named {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	return Named{Name: name, Sender: newHTTP(t, HTTPConfig{URL: addr + "/send?to=$ctx.num&text=$ctx.msg", Method: "GET"}, nil)}
}

func newFailover(t *testing.T, cfg FailoverConfig, providers ...Named) (*Failover, *testserver.Output) {
	t.Helper()
	logs := &testserver.Output{}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	f, err := NewFailover(cfg, providers...)
	if err != nil {
		t.Fatalf("NewFailover: %v", err)
	}
	t.Cleanup(func() {
		if strings.Contains(logs.String(), foCode) {
			t.Errorf("the logs reveal the code:\n%s", logs)
		}
	})
	return f, logs
}

func TestFailoverFirstFailsSecondDelivers(t *testing.T) {
	tests := []struct {
		name  string
		first func(t *testing.T) (Named, *fakeGateway) // gateway nil when there is none
	}{
		{"500", func(t *testing.T) (Named, *fakeGateway) {
			g := newFakeGateway(t, http.StatusInternalServerError)
			return g.named(t, "primary"), g
		}},
		{"429 rate limited", func(t *testing.T) (Named, *fakeGateway) {
			g := newFakeGateway(t, http.StatusTooManyRequests)
			return g.named(t, "primary"), g
		}},
		{"401 misconfigured credentials", func(t *testing.T) (Named, *fakeGateway) {
			g := newFakeGateway(t, http.StatusUnauthorized)
			return g.named(t, "primary"), g
		}},
		{"400 from a generic gateway", func(t *testing.T) (Named, *fakeGateway) {
			g := newFakeGateway(t, http.StatusBadRequest)
			return g.named(t, "primary"), g
		}},
		{"200 with an error body", func(t *testing.T) (Named, *fakeGateway) {
			g := newFakeGateway(t, http.StatusOK)
			return Named{Name: "primary", Sender: newHTTP(t, HTTPConfig{
				URL: g.srv.URL + "/send?to=$ctx.num&text=$ctx.msg", Method: "GET", SuccessMatch: "^OK",
			}, nil)}, g
		}},
		{"connection refused", func(t *testing.T) (Named, *fakeGateway) {
			return refusedProvider(t, "primary"), nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, firstGW := tt.first(t)
			second := newFakeGateway(t, http.StatusOK)
			f, logs := newFailover(t, FailoverConfig{Timeout: 5 * time.Second}, first, second.named(t, "backup"))

			if err := f.Send(context.Background(), foTo, foMsg); err != nil {
				t.Fatalf("Send: got %v, want nil", err)
			}
			if firstGW != nil && firstGW.requests() != 1 {
				t.Errorf("primary requests: got %d, want 1", firstGW.requests())
			}
			if got, want := second.texts(), []string{foMsg}; !reflect.DeepEqual(got, want) {
				t.Errorf("backup received: got %q, want %q", got, want)
			}
			if l := logs.String(); !strings.Contains(l, `msg="sms provider failed" provider=primary`) {
				t.Errorf("logs: got %q, want the primary's failure", l)
			}
			want := []ProviderStatus{
				{Name: "primary", State: BreakerClosed, ConsecutiveFailures: 1},
				{Name: "backup", State: BreakerClosed},
			}
			if got := f.Status(); !reflect.DeepEqual(got, want) {
				t.Errorf("Status: got %+v, want %+v", got, want)
			}
		})
	}
}

// A provider that never answers costs only its share of the budget, so the
// next one still delivers within Timeout.
func TestFailoverHangingProviders(t *testing.T) {
	const timeout = 1500 * time.Millisecond
	tests := []struct {
		name    string
		hanging int // providers that hang before the one that works
	}{
		{"one hangs", 1},
		{"two hang", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var providers []Named
			var hung []*fakeGateway
			for i := range tt.hanging {
				g := newFakeGateway(t, hang)
				hung = append(hung, g)
				providers = append(providers, g.named(t, "hangs"+string(rune('1'+i))))
			}
			good := newFakeGateway(t, http.StatusAccepted)
			providers = append(providers, good.named(t, "good"))
			f, _ := newFailover(t, FailoverConfig{Timeout: timeout}, providers...)

			start := time.Now()
			err := f.Send(context.Background(), foTo, foMsg)
			elapsed := time.Since(start)
			if err != nil {
				t.Fatalf("Send: got %v, want nil", err)
			}
			if elapsed >= timeout {
				t.Errorf("took %v, want less than the %v budget", elapsed, timeout)
			}
			// Each hanging provider had its share (an equal split) before
			// giving up; far less would mean it was cut off too early.
			if shares := timeout * time.Duration(tt.hanging) / time.Duration(tt.hanging+1); elapsed < shares*9/10 {
				t.Errorf("took %v, want about %v: the hanging providers' shares", elapsed, shares)
			}
			for _, g := range hung {
				if g.requests() != 1 {
					t.Errorf("hanging gateway requests: got %d, want 1", g.requests())
				}
			}
			if got, want := good.texts(), []string{foMsg}; !reflect.DeepEqual(got, want) {
				t.Errorf("good received: got %q, want %q", got, want)
			}
		})
	}
}

func TestFailoverAllFail(t *testing.T) {
	const timeout = time.Second
	a := newFakeGateway(t, http.StatusInternalServerError)
	b := newFakeGateway(t, http.StatusServiceUnavailable)
	c := newFakeGateway(t, hang) // the last gets all that is left
	f, _ := newFailover(t, FailoverConfig{Timeout: timeout},
		a.named(t, "twilio"), refusedProvider(t, "http"), b.named(t, "http2"), c.named(t, "http3"))

	start := time.Now()
	err := f.Send(context.Background(), foTo, foMsg)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Send: got nil, want an error")
	}
	if elapsed > timeout+500*time.Millisecond {
		t.Errorf("took %v, want about the %v budget", elapsed, timeout)
	}
	lines := strings.Split(err.Error(), "\n")
	wantPrefixes := []string{
		"sms failover: no provider delivered",
		"provider twilio: sms http gateway GET " + a.srv.URL + "/send: status 500 Internal Server Error",
		"provider http: sms http gateway GET http://127.0.0.1:",
		"provider http2: sms http gateway GET " + b.srv.URL + "/send: status 503 Service Unavailable",
		"provider http3: sms http gateway GET " + c.srv.URL + "/send: context deadline exceeded",
	}
	if len(lines) != len(wantPrefixes) {
		t.Fatalf("got %d lines, want %d:\n%v", len(lines), len(wantPrefixes), err)
	}
	for i, want := range wantPrefixes {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d: got %q, want prefix %q", i, lines[i], want)
		}
	}
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 500 {
		t.Errorf("errors.As: got %v, want the first *StatusError (500)", se)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("got %v, want it to wrap ECONNREFUSED", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want it to wrap context.DeadlineExceeded", err)
	}
	if strings.Contains(err.Error(), foCode) {
		t.Errorf("error %q reveals the code", err)
	}
}

func TestFailoverBreaker(t *testing.T) {
	clock := testclock.New(testclock.Start)
	broken := newFakeGateway(t, http.StatusBadGateway)
	good := newFakeGateway(t, http.StatusOK)
	f, logs := newFailover(t, FailoverConfig{
		Timeout: 5 * time.Second, FailureThreshold: 3, OpenFor: 30 * time.Second, Now: clock.Now,
	}, broken.named(t, "twilio"), good.named(t, "http"))
	send := func() {
		t.Helper()
		if err := f.Send(context.Background(), foTo, foMsg); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	check := func(what string, wantBroken, wantGood int, want ProviderStatus) {
		t.Helper()
		if got := broken.requests(); got != wantBroken {
			t.Errorf("%s: broken gateway requests: got %d, want %d", what, got, wantBroken)
		}
		if got := good.requests(); got != wantGood {
			t.Errorf("%s: good gateway requests: got %d, want %d", what, got, wantGood)
		}
		if got := f.Status()[0]; got != want {
			t.Errorf("%s: status: got %+v, want %+v", what, got, want)
		}
	}

	send()
	send()
	check("below the threshold", 2, 2, ProviderStatus{Name: "twilio", State: BreakerClosed, ConsecutiveFailures: 2})
	send()
	openedAt := clock.Now()
	check("at the threshold", 3, 3, ProviderStatus{Name: "twilio", State: BreakerOpen, ConsecutiveFailures: 3, RetryAt: openedAt.Add(30 * time.Second)})
	if l := logs.String(); !strings.Contains(l, `msg="sms provider breaker opened" provider=twilio failures=3`) {
		t.Errorf("logs: got %q, want the breaker opening", l)
	}

	for range 5 {
		send()
	}
	check("open: skipped", 3, 8, ProviderStatus{Name: "twilio", State: BreakerOpen, ConsecutiveFailures: 3, RetryAt: openedAt.Add(30 * time.Second)})

	clock.Advance(30*time.Second - time.Nanosecond)
	send()
	check("just before OpenFor", 3, 9, ProviderStatus{Name: "twilio", State: BreakerOpen, ConsecutiveFailures: 3, RetryAt: openedAt.Add(30 * time.Second)})

	// The probe fails: open again for another OpenFor.
	clock.Advance(time.Nanosecond)
	if got := f.Status()[0].State; got != BreakerHalfOpen {
		t.Errorf("after OpenFor: state: got %q, want %q", got, BreakerHalfOpen)
	}
	send()
	reopenedAt := clock.Now()
	check("failed probe", 4, 10, ProviderStatus{Name: "twilio", State: BreakerOpen, ConsecutiveFailures: 4, RetryAt: reopenedAt.Add(30 * time.Second)})
	if l := logs.String(); !strings.Contains(l, `msg="sms provider breaker opened again after a failed probe" provider=twilio failures=4`) {
		t.Errorf("logs: got %q, want the failed probe", l)
	}
	send()
	check("open again: skipped", 4, 11, ProviderStatus{Name: "twilio", State: BreakerOpen, ConsecutiveFailures: 4, RetryAt: reopenedAt.Add(30 * time.Second)})

	// The provider recovers; the next probe succeeds and closes the breaker.
	broken.status.Store(http.StatusOK)
	clock.Advance(30 * time.Second)
	send()
	check("successful probe", 5, 11, ProviderStatus{Name: "twilio", State: BreakerClosed})
	if l := logs.String(); !strings.Contains(l, `msg="sms provider breaker closed" provider=twilio`) {
		t.Errorf("logs: got %q, want the breaker closing", l)
	}
	send()
	check("closed: first again", 6, 11, ProviderStatus{Name: "twilio", State: BreakerClosed})
}

// While one Send probes a half-open provider, others skip it.
func TestFailoverOneProbeAtATime(t *testing.T) {
	clock := testclock.New(testclock.Start)
	flaky := newFakeGateway(t, http.StatusInternalServerError)
	good := newFakeGateway(t, http.StatusOK)
	f, _ := newFailover(t, FailoverConfig{
		Timeout: 10 * time.Second, FailureThreshold: 1, OpenFor: time.Minute, Now: clock.Now,
	}, flaky.named(t, "flaky"), good.named(t, "good"))
	if err := f.Send(context.Background(), foTo, foMsg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	<-flaky.arrived
	clock.Advance(time.Minute)

	// The probe hangs until it is cancelled.
	flaky.status.Store(hang)
	probeCtx, cancelProbe := context.WithCancel(context.Background())
	probeDone := make(chan error, 1)
	go func() { probeDone <- f.Send(probeCtx, foTo, foMsg) }()
	<-flaky.arrived

	if got := f.Status()[0].State; got != BreakerHalfOpen {
		t.Errorf("during the probe: state: got %q, want %q", got, BreakerHalfOpen)
	}
	for range 3 {
		if err := f.Send(context.Background(), foTo, foMsg); err != nil {
			t.Fatalf("Send during the probe: %v", err)
		}
	}
	if got := flaky.requests(); got != 2 {
		t.Errorf("flaky requests: got %d, want 2 (one failure, one probe)", got)
	}
	if got := good.requests(); got != 4 {
		t.Errorf("good requests: got %d, want 4", got)
	}

	// Cancelling the probe's caller is no verdict on the provider: the
	// next Send probes again.
	cancelProbe()
	if err := <-probeDone; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled probe: got %v, want context.Canceled", err)
	}
	want := ProviderStatus{Name: "flaky", State: BreakerHalfOpen, ConsecutiveFailures: 1, RetryAt: clock.Now()}
	if got := f.Status()[0]; got != want {
		t.Errorf("after the cancelled probe: got %+v, want %+v", got, want)
	}
	if got := good.requests(); got != 4 {
		t.Errorf("good requests after the cancelled probe: got %d, want 4 (no failover after the caller gave up)", got)
	}
}

// twilioGateway is a fake Twilio API that answers every message with
// status and a Twilio error object with code.
func twilioGateway(t *testing.T, status, code int) (Named, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"code":`+strconv.Itoa(code)+`,"message":"error `+strconv.Itoa(code)+`","status":`+strconv.Itoa(status)+`}`)
	}))
	t.Cleanup(srv.Close)
	tw, err := NewTwilio(TwilioConfig{AccountSID: "AC123", AuthToken: "token", From: "+15005550006", APIURL: srv.URL}, nil)
	if err != nil {
		t.Fatalf("NewTwilio: %v", err)
	}
	return Named{Name: "twilio", Sender: tw}, &calls
}

func TestFailoverDestinationErrors(t *testing.T) {
	tests := []struct {
		name         string
		status, code int
		wantFailover bool
	}{
		{"21211 invalid To", 400, 21211, false},
		{"21614 not a mobile number", 400, 21614, false},
		{"21610 unsubscribed recipient", 400, 21610, false},
		{"20003 bad credentials", 401, 20003, true},
		{"21408 region not enabled", 400, 21408, true},
		{"20429 too many requests", 429, 20429, true},
		{"500 without a code", 500, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw, twCalls := twilioGateway(t, tt.status, tt.code)
			backup := newFakeGateway(t, http.StatusOK)
			f, _ := newFailover(t, FailoverConfig{Timeout: 5 * time.Second, FailureThreshold: 1}, tw, backup.named(t, "http"))

			err := f.Send(context.Background(), foTo, foMsg)
			if got := twCalls.Load(); got != 1 {
				t.Errorf("twilio calls: got %d, want 1", got)
			}
			if tt.wantFailover {
				if err != nil || backup.requests() != 1 {
					t.Errorf("got %v with %d backup requests, want delivery by the backup", err, backup.requests())
				}
				return
			}
			var te *TwilioError
			if !errors.As(err, &te) || te.Code != tt.code {
				t.Fatalf("got %v, want a *TwilioError with code %d", err, tt.code)
			}
			if want := "sms failover: provider twilio: sms twilio POST "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("got %q, want prefix %q", err, want)
			}
			if backup.requests() != 0 {
				t.Errorf("backup requests: got %d, want 0", backup.requests())
			}
			// A bad number says nothing about the provider's health.
			if got := f.Status()[0]; got.State != BreakerClosed || got.ConsecutiveFailures != 0 {
				t.Errorf("status: got %+v, want closed with no failures", got)
			}
		})
	}
}

func TestFailoverRejectsInvalidNumberUpFront(t *testing.T) {
	a := newFakeGateway(t, http.StatusOK)
	b := newFakeGateway(t, http.StatusOK)
	f, _ := newFailover(t, FailoverConfig{}, a.named(t, "a"), b.named(t, "b"))
	for _, to := range []string{"", "15550100006", "+1555&to=+1666"} {
		if err := f.Send(context.Background(), to, foMsg); !errors.Is(err, errInvalidNumber) {
			t.Errorf("Send(%q): got %v, want errInvalidNumber", to, err)
		}
	}
	if a.requests()+b.requests() != 0 {
		t.Errorf("gateways got %d and %d requests, want none", a.requests(), b.requests())
	}
}

// Providers with open breakers are still tried, last, when nothing else
// delivered: with a single provider, an open breaker must not turn a
// recovered gateway into a certain failure.
func TestFailoverOpenProvidersAreLastResort(t *testing.T) {
	clock := testclock.New(testclock.Start)
	t.Run("single provider", func(t *testing.T) {
		g := newFakeGateway(t, http.StatusInternalServerError)
		f, _ := newFailover(t, FailoverConfig{FailureThreshold: 1, Now: clock.Now}, g.named(t, "only"))
		if err := f.Send(context.Background(), foTo, foMsg); err == nil {
			t.Fatal("first Send: got nil, want an error")
		}
		if got := f.Status()[0].State; got != BreakerOpen {
			t.Fatalf("state: got %q, want %q", got, BreakerOpen)
		}
		g.status.Store(http.StatusOK)
		if err := f.Send(context.Background(), foTo, foMsg); err != nil {
			t.Fatalf("Send with the breaker open: got %v, want delivery", err)
		}
		if got, want := f.Status()[0], (ProviderStatus{Name: "only", State: BreakerClosed}); got != want {
			t.Errorf("status: got %+v, want %+v", got, want)
		}
	})
	t.Run("open ones after the closed ones", func(t *testing.T) {
		open := newFakeGateway(t, http.StatusInternalServerError)
		closed := newFakeGateway(t, http.StatusOK)
		f, _ := newFailover(t, FailoverConfig{FailureThreshold: 1, Now: clock.Now}, open.named(t, "open"), closed.named(t, "closed"))
		if err := f.Send(context.Background(), foTo, foMsg); err != nil {
			t.Fatalf("Send: %v", err)
		}
		// Now "open" is open; "closed" breaks too. "open" is tried after it.
		closed.status.Store(http.StatusServiceUnavailable)
		err := f.Send(context.Background(), foTo, foMsg)
		if err == nil {
			t.Fatal("Send: got nil, want an error")
		}
		if open.requests() != 2 || closed.requests() != 2 {
			t.Errorf("requests: got open %d, closed %d, want 2 and 2", open.requests(), closed.requests())
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[1], "provider open: ") || !strings.Contains(lines[1], "status 500") ||
			!strings.HasPrefix(lines[2], "provider closed: ") || !strings.Contains(lines[2], "status 503") {
			t.Errorf("got %q, want each provider's own failure", err)
		}
	})
}

// A caller that gives up ends Send at once; nothing is counted against the
// provider and no other provider is tried.
func TestFailoverCallerCancels(t *testing.T) {
	slow := newFakeGateway(t, hang)
	next := newFakeGateway(t, http.StatusOK)
	f, _ := newFailover(t, FailoverConfig{Timeout: 10 * time.Second}, slow.named(t, "slow"), next.named(t, "next"))

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-slow.arrived
		cancel()
	}()
	start := time.Now()
	err := f.Send(ctx, foTo, foMsg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v, want an immediate return", d)
	}
	if next.requests() != 0 {
		t.Errorf("next requests: got %d, want 0", next.requests())
	}
	if got := f.Status()[0].ConsecutiveFailures; got != 0 {
		t.Errorf("slow failures: got %d, want 0", got)
	}
}

func TestFailoverConcurrent(t *testing.T) {
	clock := testclock.New(testclock.Start)
	var n atomic.Int32
	// Fails every other request, so breakers open and close while Sends
	// run in parallel.
	flakySrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(flakySrv.Close)
	flaky := Named{Name: "flaky", Sender: newHTTP(t, HTTPConfig{URL: flakySrv.URL + "/?to=$ctx.num&text=$ctx.msg", Method: "GET"}, nil)}
	good := newFakeGateway(t, http.StatusOK)
	f, _ := newFailover(t, FailoverConfig{Timeout: 10 * time.Second, FailureThreshold: 2, OpenFor: time.Millisecond, Now: clock.Now},
		flaky, good.named(t, "good"))

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 50 {
		wg.Go(func() {
			clock.Advance(time.Millisecond)
			if err := f.Send(context.Background(), foTo, foMsg); err != nil {
				errs <- err
			}
			_ = f.Status()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Send: %v", err)
	}
}

func TestNewFailoverConfig(t *testing.T) {
	ok := Named{Name: "ok", Sender: NewConsole(io.Discard)}
	tests := []struct {
		name      string
		cfg       FailoverConfig
		providers []Named
		want      []setting.Problem
	}{
		{"valid", FailoverConfig{}, []Named{ok}, nil},
		{"no providers", FailoverConfig{}, nil, []setting.Problem{{Name: "PROVIDERS", Text: "must list at least one provider"}}},
		{"negative values", FailoverConfig{Timeout: -1, FailureThreshold: -1, OpenFor: -1}, []Named{ok}, []setting.Problem{
			{Name: "TIMEOUT", Text: "must not be negative"},
			{Name: "BREAKER_FAILURES", Text: "must not be negative"},
			{Name: "BREAKER_OPEN_FOR", Text: "must not be negative"},
		}},
		{"bad providers", FailoverConfig{}, []Named{ok, {Sender: ok.Sender}, {Name: "ok", Sender: ok.Sender}, {Name: "nil"}}, []setting.Problem{
			{Name: "PROVIDERS", Text: "provider 2 has no name"},
			{Name: "PROVIDERS", Text: `the name "ok" is used twice; names must tell providers apart in logs`},
			{Name: "PROVIDERS", Text: `provider 4 ("nil") has no Sender`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFailover(tt.cfg, tt.providers...)
			var got []setting.Problem
			for _, ce := range setting.Problems(err) {
				got = append(got, *ce)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if (err == nil) != (f != nil) {
				t.Errorf("got f=%v err=%v, want exactly one", f, err)
			}
		})
	}

	f, err := NewFailover(FailoverConfig{}, ok)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{f.timeout, f.threshold, f.openFor}
	want := []any{DefaultFailoverTimeout, DefaultFailureThreshold, DefaultOpenFor}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults: got %v, want %v", got, want)
	}
}
