package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/otpgate/otpgate/internal/testclock"
)

// Fast tests of the sign-in flow (signin.go, policy.go, limits.go,
// capture.go, backupflow.go) against the in-memory directory and a
// recording sender: they need no server and run with -short. The slapd
// tests and the gateway's end-to-end tests remain the proof that the whole
// works against a real directory.

// More people of the in-memory directory, one per case of the policy.
var (
	memNoMobile = memUser{User: User{Username: "nomo", DN: "uid=nomo,ou=people,dc=example,dc=org"}, password: "nomo-pw"}
	memLandline = memUser{User: User{Username: "lana", DN: "uid=lana,ou=people,dc=example,dc=org", Mobile: "+44 20 7946 0018"}, password: "lana-pw"}
	memNational = memUser{User: User{Username: "nat", DN: "uid=nat,ou=people,dc=example,dc=org", Mobile: "07700 900123"}, password: "nat-pw"}
	memRobot    = memUser{User: User{Username: "robot", DN: "uid=robot,ou=services,dc=example,dc=org", Groups: []string{"Robots"}}, password: "robot-pw"}
	memOff      = memUser{User: User{Username: "offa", DN: "uid=offa,ou=people,dc=example,dc=org", SecondFactorOff: true}, password: "offa-pw"}
	memOffAdmin = memUser{User: User{Username: "ofad", DN: "uid=ofad,ou=people,dc=example,dc=org", SecondFactorOff: true, Groups: []string{"admins"}}, password: "ofad-pw"}
	memNoMoAdm  = memUser{User: User{Username: "nmad", DN: "uid=nmad,ou=people,dc=example,dc=org", Groups: []string{"admins"}}, password: "nmad-pw"}
	// erin shares alice's number.
	memErin = memUser{User: User{Username: "erin", DN: "uid=erin,ou=people,dc=example,dc=org", Mobile: "+15550100006"}, password: "erin-pw"}

	memEveryone = []memUser{memAlice, memBob, memNoMobile, memLandline, memNational, memRobot, memOff, memOffAdmin, memNoMoAdm, memErin}
)

// flowHarness is a Flow over the in-memory directory, a recording sender
// and observer, a memory store and a clock the test moves.
type flowHarness struct {
	*Flow
	dir   *memDirectory
	sms   *recordingSender
	obs   *recordingObserver
	clock *testclock.Clock
}

// testFlowConfig is a flow with retries, resends and a cooldown; the
// message is the code alone, so that the sender's last message is it.
func testFlowConfig() FlowConfig {
	return FlowConfig{CodeTTL: 5 * time.Minute, MaxAttempts: 3, Retry: true, Resend: true,
		ResendCooldown: 30 * time.Second, MaxSends: 3, Message: "{code}", SendTimeout: 5 * time.Second,
		Policy: Policy{Mandatory: true}}
}

func newFlowHarness(t *testing.T, cfg FlowConfig, dir Directory) flowHarness {
	t.Helper()
	codes, err := NewCodeMaker(6, DigitAlphabet, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	h := flowHarness{sms: &recordingSender{}, obs: &recordingObserver{}, clock: testclock.New(testclock.Start)}
	if md, ok := dir.(*memDirectory); ok {
		h.dir = md
	}
	cfg.Observer = h.obs
	h.Flow = NewFlow(dir, h.sms, NewMemoryStore(h.clock.Now), codes, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), h.clock.Now)
	return h
}

// begin passes u's password and returns the pending sign-in's ID.
func (h flowHarness) begin(t *testing.T, u memUser) string {
	t.Helper()
	res, err := h.Begin(t.Context(), u.Username, u.password, "192.0.2.1", "/app")
	if err != nil || res.Pending.ID == "" {
		t.Fatalf("Begin as %s: %+v, %v; want a pending sign-in", u.Username, res, err)
	}
	return res.Pending.ID
}

func TestPolicyNeedsCode(t *testing.T) {
	p := Policy{ExemptGroups: []string{"robots"}, RequiredGroups: []string{"Admins"}}
	for _, tc := range []struct {
		name     string
		policy   Policy
		user     User
		wantNeed bool
		wantWhy  string
		wantSkip bool // may sign in with the password alone without a usable mobile
	}{
		{"no policy", Policy{}, User{}, true, "", true},
		{"mandatory", Policy{Mandatory: true}, User{}, true, "", false},
		{"exempt group, any case", p, User{Groups: []string{"ROBOTS"}}, false, "exempt group", true},
		{"turned off in the directory", p, User{SecondFactorOff: true}, false, "second factor disabled for the user in the directory", true},
		{"required group beats the directory", p, User{SecondFactorOff: true, Groups: []string{"admins"}}, true, "", false},
		{"required group beats exemption", p, User{Groups: []string{"robots", "admins"}}, true, "", false},
		{"another group", p, User{Groups: []string{"staff"}}, true, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			need, why := tc.policy.needsCode(tc.user)
			if need != tc.wantNeed || why != tc.wantWhy {
				t.Errorf("needsCode: got %v, %q, want %v, %q", need, why, tc.wantNeed, tc.wantWhy)
			}
			if got := tc.policy.maySkipMissingMobile(tc.user); got != tc.wantSkip {
				t.Errorf("maySkipMissingMobile: got %v, want %v", got, tc.wantSkip)
			}
		})
	}
}

func TestFlowBegin(t *testing.T) {
	down := fmt.Errorf("%w: connection refused", ErrDirectoryUnavailable)
	for _, tc := range []struct {
		name     string
		edit     func(*FlowConfig)
		user     memUser
		password string // "": the user's
		dirErr   error
		smsDown  bool
		want     string // "code", "one factor", "capture", or "" with wantErr
		wantErr  error
		wantTo   string // where the code went
		wantObs  string
	}{
		{name: "code sent", user: memAlice, want: "code", wantTo: "+15550100006", wantObs: "code_sent"},
		{name: "national number with a default region", user: memNational, edit: func(c *FlowConfig) { c.DefaultRegion = "GB" },
			want: "code", wantTo: "+447700900123", wantObs: "code_sent"},
		{name: "national number without one", user: memNational, wantErr: ErrMobileRefused, wantObs: "no_mobile"},
		{name: "wrong password", user: memAlice, password: "nope", wantErr: ErrInvalidCredentials, wantObs: "password_failed"},
		{name: "unknown user", user: memUser{User: User{Username: "mallory"}, password: "x"}, wantErr: ErrInvalidCredentials, wantObs: "password_failed"},
		{name: "directory down", user: memAlice, dirErr: down, wantErr: ErrDirectoryUnavailable, wantObs: "directory_error"},
		{name: "gateway down", user: memAlice, smsDown: true, wantErr: ErrCodeNotSent, wantObs: "not_sent"},
		{name: "exempt group", user: memRobot, edit: func(c *FlowConfig) { c.Policy.ExemptGroups = []string{"robots"} },
			want: "one factor", wantObs: "signed_in_one_factor"},
		{name: "second factor off in the directory", user: memOff, want: "one factor", wantObs: "signed_in_one_factor"},
		{name: "required group beats the directory", user: memOffAdmin, edit: func(c *FlowConfig) { c.Policy.RequiredGroups = []string{"admins"} },
			wantErr: ErrNoMobile, wantObs: "no_mobile"},
		{name: "no mobile, mandatory", user: memNoMobile, wantErr: ErrNoMobile, wantObs: "no_mobile"},
		{name: "no mobile, optional", user: memNoMobile, edit: func(c *FlowConfig) { c.Policy.Mandatory = false },
			want: "one factor", wantObs: "signed_in_one_factor"},
		{name: "no mobile, optional, required group", user: memNoMoAdm,
			edit:    func(c *FlowConfig) { c.Policy.Mandatory, c.Policy.RequiredGroups = false, []string{"admins"} },
			wantErr: ErrNoMobile, wantObs: "no_mobile"},
		{name: "no mobile, capture", user: memNoMobile, edit: func(c *FlowConfig) { c.CaptureMobile = true },
			want: "capture", wantObs: "capture"},
		{name: "landline is refused, never captured", user: memLandline, edit: func(c *FlowConfig) { c.CaptureMobile = true },
			wantErr: ErrMobileRefused, wantObs: "no_mobile"},
		{name: "landline, optional", user: memLandline, edit: func(c *FlowConfig) { c.Policy.Mandatory = false },
			want: "one factor", wantObs: "signed_in_one_factor"},
		{name: "country not allowed", user: memAlice, edit: func(c *FlowConfig) { c.Limits.AllowedCountries = []string{"GB"} },
			wantErr: ErrSMSLimited, wantObs: "limited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testFlowConfig()
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			h := newFlowHarness(t, cfg, newMemDirectory(memEveryone...))
			h.dir.fail(tc.dirErr, nil, nil, nil)
			h.sms.fail(tc.smsDown)
			password := tc.password
			if password == "" {
				password = tc.user.password
			}
			res, err := h.Begin(t.Context(), tc.user.Username, password, "192.0.2.1", "/app")
			if got, _ := h.obs.last(); got != tc.wantObs {
				t.Errorf("observer heard %q, want %q", got, tc.wantObs)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				if n := h.sms.count(); n != 0 {
					t.Errorf("%d SMS sent, want none", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
			var got string
			switch {
			case res.SignedIn && res.Factors == 1 && res.User.Username == tc.user.Username:
				got = "one factor"
			case res.NeedMobile && res.Pending.Capture && res.Pending.ID != "":
				got = "capture"
			case !res.SignedIn && !res.NeedMobile && res.Pending.ID != "":
				got = "code"
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %s", res, tc.want)
			}
			sent := h.sms.all()
			if tc.want != "code" {
				if len(sent) != 0 {
					t.Errorf("got SMS %q, want none", sent)
				}
				return
			}
			if len(sent) != 1 || sent[0].To != tc.wantTo || res.Pending.User.Mobile != tc.wantTo {
				t.Errorf("got SMS %q, pending for %q; want one SMS to %q", sent, res.Pending.User.Mobile, tc.wantTo)
			}
			p, err := h.Pending(t.Context(), res.Pending.ID)
			if err != nil || p.Redirect != "/app" || p.Sends != 1 || p.SentAt != h.clock.Now().Unix() {
				t.Errorf("stored pending sign-in: %+v, %v; want redirect /app, 1 send, sent now", p, err)
			}
		})
	}
}

// step is one action on a pending sign-in and what it must give.
type step struct {
	do       string // "right", "wrong", "resend", "old code", "wait"
	wait     time.Duration
	wantErr  error // nil: success
	wantLeft int   // with ErrWrongCode: tries left
	wantObs  string
}

func TestFlowVerify(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*FlowConfig)
		steps []step
	}{
		{"right code", nil, []step{
			{do: "right", wantObs: "ok"},
			{do: "right", wantErr: ErrSignInExpired, wantObs: "expired"}}},
		{"wrong codes until none are left", nil, []step{
			{do: "wrong", wantErr: ErrWrongCode, wantLeft: 2, wantObs: "wrong"},
			{do: "wrong", wantErr: ErrWrongCode, wantLeft: 1, wantObs: "wrong"},
			{do: "wrong", wantErr: ErrTooManyAttempts, wantObs: "too_many_attempts"},
			{do: "right", wantErr: ErrSignInExpired, wantObs: "expired"}}},
		{"a wrong code, then the right one", nil, []step{
			{do: "wrong", wantErr: ErrWrongCode, wantLeft: 2, wantObs: "wrong"},
			{do: "right", wantObs: "ok"}}},
		{"retry off: one wrong code ends it", func(c *FlowConfig) { c.Retry = false }, []step{
			{do: "wrong", wantErr: ErrTooManyAttempts, wantObs: "too_many_attempts"},
			{do: "right", wantErr: ErrSignInExpired, wantObs: "expired"}}},
		{"code expired", nil, []step{
			{do: "wait", wait: 5*time.Minute + time.Second},
			{do: "right", wantErr: ErrSignInExpired, wantObs: "expired"}}},
		{"just in time", nil, []step{
			{do: "wait", wait: 5*time.Minute - time.Second},
			{do: "right", wantObs: "ok"}}},
		{"lockout: wrong codes lock the user", func(c *FlowConfig) {
			c.Lockout = Lockout{MaxFailures: 2, Window: time.Hour, Duration: time.Hour}
		}, []step{
			{do: "wrong", wantErr: ErrWrongCode, wantLeft: 2, wantObs: "wrong"},
			{do: "wrong", wantErr: ErrLocked, wantObs: "locked"},
			{do: "right", wantErr: ErrSignInExpired, wantObs: "expired"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testFlowConfig()
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			h := newFlowHarness(t, cfg, newMemDirectory(memEveryone...))
			h.runSteps(t, h.begin(t, memAlice), tc.steps)
		})
	}
	t.Run("unknown sign-in", func(t *testing.T) {
		h := newFlowHarness(t, testFlowConfig(), newMemDirectory(memEveryone...))
		if _, err := h.Verify(t.Context(), "no-such-id", "123456", "192.0.2.1", nil); !errors.Is(err, ErrSignInExpired) {
			t.Errorf("got %v, want %v", err, ErrSignInExpired)
		}
	})
}

// runSteps plays steps on the pending sign-in id.
func (h flowHarness) runSteps(t *testing.T, id string, steps []step) {
	t.Helper()
	old := h.sms.code()
	for i, s := range steps {
		var err error
		switch s.do {
		case "wait":
			h.clock.Advance(s.wait)
			continue
		case "right":
			var p Pending
			p, err = h.Verify(t.Context(), id, h.sms.code(), "192.0.2.1", nil)
			if err == nil && (p.ID != id || p.User.Username != "alice" || p.Redirect != "/app") {
				t.Errorf("step %d: got %+v, want alice's sign-in %q to /app", i+1, p, id)
			}
		case "wrong":
			_, err = h.Verify(t.Context(), id, otherDigits(h.sms.code()), "192.0.2.1", nil)
		case "old code":
			_, err = h.Verify(t.Context(), id, old, "192.0.2.1", nil)
		case "resend":
			_, err = h.Resend(t.Context(), id, "192.0.2.1")
		default:
			t.Fatalf("step %d: unknown action %q", i+1, s.do)
		}
		var wrong *WrongCodeError
		switch {
		case s.wantErr == nil && err != nil:
			t.Fatalf("step %d (%s): got %v, want success", i+1, s.do, err)
		case s.wantErr != nil && !errors.Is(err, s.wantErr):
			t.Fatalf("step %d (%s): got %v, want %v", i+1, s.do, err, s.wantErr)
		case errors.Is(s.wantErr, ErrWrongCode) && (!errors.As(err, &wrong) || wrong.Left != s.wantLeft):
			t.Fatalf("step %d (%s): got %v, want %d tries left", i+1, s.do, err, s.wantLeft)
		}
		if s.do != "resend" {
			if _, got := h.obs.last(); got != s.wantObs {
				t.Errorf("step %d (%s): observer heard %q, want %q", i+1, s.do, got, s.wantObs)
			}
		}
	}
}

func TestFlowResend(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*FlowConfig)
		steps []step
	}{
		{"turned off", func(c *FlowConfig) { c.Resend = false }, []step{
			{do: "wait", wait: time.Minute},
			{do: "resend", wantErr: ErrResendDisabled},
			{do: "right", wantObs: "ok"}}},
		{"within the cooldown", nil, []step{
			{do: "wait", wait: 29 * time.Second},
			{do: "resend", wantErr: ErrSMSLimited},
			{do: "right", wantObs: "ok"}}},
		{"a new code replaces the old one", nil, []step{
			{do: "wait", wait: 30 * time.Second},
			{do: "resend"},
			{do: "old code", wantErr: ErrWrongCode, wantLeft: 2, wantObs: "wrong"},
			{do: "right", wantObs: "ok"}}},
		{"wrong tries are not reset", nil, []step{
			{do: "wrong", wantErr: ErrWrongCode, wantLeft: 2, wantObs: "wrong"},
			{do: "wrong", wantErr: ErrWrongCode, wantLeft: 1, wantObs: "wrong"},
			{do: "wait", wait: 30 * time.Second},
			{do: "resend"},
			{do: "wrong", wantErr: ErrTooManyAttempts, wantObs: "too_many_attempts"}}},
		{"codes per sign-in", nil, []step{
			{do: "wait", wait: 30 * time.Second}, {do: "resend"},
			{do: "wait", wait: 30 * time.Second}, {do: "resend"},
			{do: "wait", wait: 30 * time.Second}, {do: "resend", wantErr: ErrSMSLimited},
			{do: "right", wantObs: "ok"}}},
		{"after the sign-in is finished", nil, []step{
			{do: "right", wantObs: "ok"},
			{do: "wait", wait: 30 * time.Second},
			{do: "resend", wantErr: ErrSignInExpired}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testFlowConfig()
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			h := newFlowHarness(t, cfg, newMemDirectory(memEveryone...))
			h.runSteps(t, h.begin(t, memAlice), tc.steps)
		})
	}
}

// The limit that refuses a resend says which, and until when.
func TestFlowResendLimitErrors(t *testing.T) {
	h := newFlowHarness(t, testFlowConfig(), newMemDirectory(memEveryone...))
	id := h.begin(t, memAlice)
	p, err := h.Pending(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !h.CanResend(p) {
		t.Error("CanResend after the first code: got false, want true")
	}
	h.clock.Advance(10 * time.Second)
	_, err = h.Resend(t.Context(), id, "192.0.2.1")
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "cooldown" || !le.Until.Equal(h.NextSendAt(p)) || !le.Until.Equal(testclock.Start.Add(30*time.Second)) {
		t.Errorf("within the cooldown: got %v (%+v), want the cooldown until %v", err, le, testclock.Start.Add(30*time.Second))
	}
	for range 2 {
		h.clock.Advance(30 * time.Second)
		if p, err = h.Resend(t.Context(), id, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	if h.CanResend(p) {
		t.Errorf("CanResend after %d of 3 codes: got true, want false", p.Sends)
	}
	h.clock.Advance(30 * time.Second)
	if _, err = h.Resend(t.Context(), id, "192.0.2.1"); !errors.As(err, &le) || le.Limit != "per-sign-in" {
		t.Errorf("a fourth code: got %v, want the per-sign-in limit", err)
	}
	if n := h.sms.count(); n != 3 {
		t.Errorf("%d SMS sent, want 3", n)
	}
}

func TestFlowLimits(t *testing.T) {
	type try struct {
		user      memUser
		client    string
		wantLimit Limit // "": a code is sent
	}
	a, b, e := memAlice, memBob, memErin // erin shares alice's number
	for _, tc := range []struct {
		name   string
		limits Limits
		tries  []try
	}{
		{"none", Limits{}, []try{{a, "ip1", ""}, {a, "ip1", ""}, {a, "ip1", ""}}},
		{"per user", Limits{PerNumber: 2}, []try{{a, "ip1", ""}, {a, "ip2", ""}, {a, "ip3", "per-user"}, {b, "ip1", ""}}},
		{"per number", Limits{PerNumber: 1}, []try{{a, "ip1", ""}, {e, "ip2", "per-number"}, {b, "ip3", ""}}},
		{"per address", Limits{PerIP: 2}, []try{{a, "ip1", ""}, {b, "ip1", ""}, {e, "ip1", "per-ip"}, {e, "ip2", ""}}},
		{"global", Limits{Global: 2}, []try{{a, "ip1", ""}, {b, "ip2", ""}, {e, "ip3", "global"}}},
		// A send refused by one limit is taken back from the others.
		{"refused sends are refunded", Limits{PerNumber: 1, Global: 2}, []try{
			{a, "ip1", ""}, {a, "ip1", "per-user"}, {a, "ip1", "per-user"}, {b, "ip2", ""}, {e, "ip3", "global"}}},
		{"country", Limits{AllowedCountries: []string{"GB"}}, []try{{a, "ip1", "country"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testFlowConfig()
			cfg.Limits = tc.limits
			h := newFlowHarness(t, cfg, newMemDirectory(memEveryone...))
			sent := 0
			for i, tr := range tc.tries {
				_, err := h.Begin(t.Context(), tr.user.Username, tr.user.password, tr.client, "/")
				var le *LimitError
				switch {
				case tr.wantLimit == "" && err != nil:
					t.Fatalf("try %d (%s from %s): got %v, want a code sent", i+1, tr.user.Username, tr.client, err)
				case tr.wantLimit == "":
					sent++
				case !errors.As(err, &le) || le.Limit != tr.wantLimit:
					t.Fatalf("try %d (%s from %s): got %v, want the %q limit", i+1, tr.user.Username, tr.client, err, tr.wantLimit)
				case tr.wantLimit == "country" && !le.Until.IsZero():
					t.Errorf("try %d: country limit until %v, want no end", i+1, le.Until)
				case tr.wantLimit != "country" && !le.Until.Equal(h.clock.Now().Add(time.Hour)):
					t.Errorf("try %d: limited until %v, want an hour from now", i+1, le.Until)
				}
			}
			if n := h.sms.count(); n != sent {
				t.Errorf("%d SMS sent, want %d", n, sent)
			}
		})
	}
}

func TestFlowCaptureMobile(t *testing.T) {
	refused := fmt.Errorf("%w: insufficient access", ErrDirectoryRefused)
	for _, tc := range []struct {
		name      string
		bind      BindAs
		typed     string
		noWriter  bool  // the directory cannot store numbers
		writeErr  error // the directory refuses the write
		wrongKey  bool  // the browser's capture key is not the one given
		wantErr   error // of Verify
		wantWrite []mobileWrite
	}{
		{name: "as the service account", bind: BindService, typed: "+1 555 010 0009",
			wantWrite: []mobileWrite{{memNoMobile.DN, "+15550100009", BindService}}},
		{name: "as the user", bind: BindUser, typed: "(555) 010-0009",
			wantWrite: []mobileWrite{{memNoMobile.DN, "+15550100009", BindUser}}},
		{name: "as the user, wrong key", bind: BindUser, typed: "+15550100009", wrongKey: true, wantErr: ErrMobileNotSaved},
		{name: "directory refuses", bind: BindService, typed: "+15550100009", writeErr: refused, wantErr: ErrMobileNotSaved},
		{name: "directory cannot store numbers", bind: BindService, typed: "+15550100009", noWriter: true, wantErr: ErrMobileNotSaved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testFlowConfig()
			cfg.CaptureMobile, cfg.CaptureMobileBind, cfg.DefaultRegion = true, tc.bind, "US"
			md := newMemDirectory(memEveryone...)
			var dir Directory = md
			if tc.noWriter {
				dir = struct{ Directory }{md}
			}
			h := newFlowHarness(t, cfg, dir)
			md.fail(nil, tc.writeErr, nil, nil)
			res, err := h.Begin(t.Context(), memNoMobile.Username, memNoMobile.password, "192.0.2.1", "/app")
			if err != nil || !res.NeedMobile {
				t.Fatalf("Begin: %+v, %v; want the number asked for", res, err)
			}
			if gotKey := res.CaptureKey != nil; gotKey != (tc.bind == BindUser) {
				t.Errorf("got capture key %v, want one only when writing as the user", gotKey)
			}
			if bytes.Contains(res.Pending.PasswordBox, []byte(memNoMobile.password)) {
				t.Error("the pending sign-in holds the password in the clear")
			}
			p, err := h.CaptureMobile(t.Context(), res.Pending.ID, tc.typed, "192.0.2.1")
			if err != nil || p.User.Mobile != "+15550100009" {
				t.Fatalf("CaptureMobile: %+v, %v; want a code sent to +15550100009", p, err)
			}
			if sent := h.sms.all(); len(sent) != 1 || sent[0].To != "+15550100009" {
				t.Fatalf("got SMS %q, want one to +15550100009", sent)
			}
			key := res.CaptureKey
			if tc.wrongKey {
				key = bytes.Repeat([]byte{1}, 32)
			}
			_, err = h.Verify(t.Context(), res.Pending.ID, h.sms.code(), "192.0.2.1", key)
			if (tc.wantErr == nil) != (err == nil) || !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify: got %v, want %v", err, tc.wantErr)
			}
			wantObs := "ok"
			if tc.wantErr != nil {
				wantObs = "not_saved"
			}
			if _, got := h.obs.last(); got != wantObs {
				t.Errorf("observer heard %q, want %q", got, wantObs)
			}
			if got := md.writes(); !slices.Equal(got, tc.wantWrite) {
				t.Errorf("directory writes: got %+v, want %+v", got, tc.wantWrite)
			}
		})
	}
}

// What a user types as their number is checked before any code is sent,
// and a refusal costs nothing: they may type another.
func TestFlowCaptureMobileRefusesNumbers(t *testing.T) {
	cfg := testFlowConfig()
	cfg.CaptureMobile, cfg.CaptureMobileBind = true, BindService
	cfg.Limits.AllowedCountries = []string{"US"}
	h := newFlowHarness(t, cfg, newMemDirectory(memEveryone...))
	res, err := h.Begin(t.Context(), memNoMobile.Username, memNoMobile.password, "192.0.2.1", "/app")
	if err != nil || !res.NeedMobile {
		t.Fatalf("Begin: %+v, %v; want the number asked for", res, err)
	}
	for _, tc := range []struct {
		typed       string
		wantProblem MobileProblem
	}{
		{"", MobileEmpty},
		{"call me", MobileBadCharacter},
		{"555 010 0009", MobileNoCountryCode},
		{"+44 20 7946 0018", MobileNotMobile},
		{"+44 7700 900123", MobileRefusedRange},
	} {
		_, err := h.CaptureMobile(t.Context(), res.Pending.ID, tc.typed, "192.0.2.1")
		var bad *InvalidMobileError
		if !errors.As(err, &bad) || bad.Problem != tc.wantProblem {
			t.Errorf("CaptureMobile(%q): got %v, want %v", tc.typed, err, tc.wantProblem)
		}
	}
	if n := h.sms.count(); n != 0 {
		t.Fatalf("%d SMS sent for refused numbers, want none", n)
	}
	// No cooldown was started: the next number gets its code at once.
	if _, err := h.CaptureMobile(t.Context(), res.Pending.ID, "+1 555 010 0009", "192.0.2.1"); err != nil {
		t.Fatalf("a good number after refused ones: %v", err)
	}
	// A sign-in that is not a capture takes no typed number.
	id := h.begin(t, memAlice)
	if _, err := h.CaptureMobile(t.Context(), id, "+1 555 010 0009", "192.0.2.1"); !errors.Is(err, ErrSignInExpired) {
		t.Errorf("CaptureMobile on a sign-in with a number: got %v, want %v", err, ErrSignInExpired)
	}
}

func TestFlowMessage(t *testing.T) {
	for _, tc := range []struct {
		name        string
		message     string
		host        string
		originBound bool
		want        string
		wording     *Wording // the pages' language, as ui sets it
	}{
		{"code alone", "{code}", "", false, "123456", nil},
		{"host and ttl", "{code} signs you in to {host}; it expires in {ttl}.", "sso.example.org", false,
			"123456 signs you in to sso.example.org; it expires in 5 minutes.", nil},
		{"origin-bound", "Code {code}", "sso.example.org", true, "Code 123456\n\n@sso.example.org #123456", nil},
		{"origin-bound needs a host", "Code {code}", "", true, "Code 123456", nil},
		{"wording of the request", "{code}", "sso.example.org", true,
			"Ihr Code: 123456, gültig 5 Minuten (sso.example.org)\n\n@sso.example.org #123456",
			&Wording{Template: "Ihr Code: {code}, gültig {ttl} ({host})", TTL: "5 Minuten"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testFlowConfig()
			cfg.Message, cfg.Host, cfg.OriginBound = tc.message, tc.host, tc.originBound
			h := newFlowHarness(t, cfg, newMemDirectory())
			ctx := t.Context()
			if tc.wording != nil {
				ctx = WithWording(ctx, *tc.wording)
			}
			if got := h.message(ctx, "123456"); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// cheapBackupCodes gives u a fresh set of backup codes in d, hashed at
// bcrypt's lowest cost: the flow is under test here, not the hash.
func cheapBackupCodes(t *testing.T, d *memDirectory, u memUser) []string {
	t.Helper()
	codes, err := NewBackupCodes(backupCodesPerSet)
	if err != nil {
		t.Fatal(err)
	}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		h, err := bcrypt.GenerateFromPassword([]byte(strings.ReplaceAll(c, "-", "")), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		hashes[i] = string(h)
	}
	if err := d.ReplaceBackupCodes(t.Context(), u.DN, hashes); err != nil {
		t.Fatal(err)
	}
	return codes
}

func TestFlowBackupCodeInMemory(t *testing.T) {
	down := fmt.Errorf("%w: connection refused", ErrDirectoryUnavailable)
	type try struct {
		code                 int   // index of the code; -1: a wrong one
		readErr, removeErr   error // the directory's trouble for this try
		wantErr              error // nil: success
		wantLeft, wantCodes  int   // tries left with ErrWrongCode; codes left after
		wantRedirect, wantOb string
	}
	for _, tc := range []struct {
		name  string
		tries []try
	}{
		{"right code", []try{
			{code: 3, wantCodes: 9, wantOb: "ok"},
			{code: 3, wantErr: ErrBackupCodeJustUsed, wantCodes: 9, wantRedirect: "/app", wantOb: "just_used"},
			{code: 4, wantErr: ErrSignInExpired, wantCodes: 9, wantOb: "expired"}}},
		{"wrong codes use up the tries", []try{
			{code: -1, wantErr: ErrWrongCode, wantLeft: 2, wantCodes: 10, wantOb: "wrong"},
			{code: -1, wantErr: ErrWrongCode, wantLeft: 1, wantCodes: 10, wantOb: "wrong"},
			{code: 0, wantCodes: 9, wantOb: "ok"}}},
		{"directory down is no wrong try", []try{
			{code: 0, readErr: down, wantErr: ErrDirectoryUnavailable, wantCodes: 10, wantOb: "error"},
			{code: 0, removeErr: down, wantErr: ErrDirectoryUnavailable, wantCodes: 10, wantOb: "error"},
			{code: 0, readErr: down, wantErr: ErrDirectoryUnavailable, wantCodes: 10, wantOb: "error"},
			{code: -1, wantErr: ErrWrongCode, wantLeft: 2, wantCodes: 10, wantOb: "wrong"}}},
		{"used a moment ago elsewhere", []try{
			{code: 0, removeErr: ErrBackupCodeUsed, wantErr: ErrBackupCodeJustUsed, wantCodes: 10, wantRedirect: "/app", wantOb: "just_used"},
			{code: -1, wantErr: ErrWrongCode, wantLeft: 2, wantCodes: 10, wantOb: "wrong"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testFlowConfig()
			cfg.BackupCodes = true
			h := newFlowHarness(t, cfg, newMemDirectory(memEveryone...))
			codes := cheapBackupCodes(t, h.dir, memAlice)
			id := h.begin(t, memAlice)
			for i, tr := range tc.tries {
				code := "2222-2222"
				if tr.code >= 0 {
					code = codes[tr.code]
				}
				h.dir.fail(nil, nil, tr.readErr, tr.removeErr)
				p, err := h.VerifyBackupCode(t.Context(), id, code, "192.0.2.1")
				h.dir.fail(nil, nil, nil, nil)
				var wrong *WrongCodeError
				var ju *JustUsedError
				switch {
				case tr.wantErr == nil && (err != nil || p.ID != id || p.User.Username != "alice"):
					t.Fatalf("try %d: got %+v, %v; want alice's sign-in", i+1, p, err)
				case tr.wantErr != nil && !errors.Is(err, tr.wantErr):
					t.Fatalf("try %d: got %v, want %v", i+1, err, tr.wantErr)
				case errors.Is(tr.wantErr, ErrWrongCode) && (!errors.As(err, &wrong) || wrong.Left != tr.wantLeft):
					t.Fatalf("try %d: got %v, want %d tries left", i+1, err, tr.wantLeft)
				case errors.Is(tr.wantErr, ErrBackupCodeJustUsed) && (!errors.As(err, &ju) || ju.Redirect != tr.wantRedirect):
					t.Fatalf("try %d: got %v, want just used, continuing to %q", i+1, err, tr.wantRedirect)
				}
				if _, got := h.obs.last(); got != tr.wantOb {
					t.Errorf("try %d: observer heard %q, want %q", i+1, got, tr.wantOb)
				}
				if n, err := h.BackupCodesLeft(t.Context(), memAlice.User); err != nil || n != tr.wantCodes {
					t.Errorf("try %d: %d codes left (%v), want %d", i+1, n, err, tr.wantCodes)
				}
			}
		})
	}
}

// Of simultaneous submissions of one right code, exactly one signs in and
// the others are told it was just used.
func TestFlowBackupCodeInMemoryConcurrent(t *testing.T) {
	cfg := testFlowConfig()
	cfg.BackupCodes = true
	cfg.Lockout = Lockout{MaxFailures: 2, Window: time.Hour, Duration: time.Hour}
	h := newFlowHarness(t, cfg, newMemDirectory(memEveryone...))
	codes := cheapBackupCodes(t, h.dir, memAlice)
	id := h.begin(t, memAlice)
	const racers = 8
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() { _, errs[i] = h.VerifyBackupCode(t.Context(), id, codes[0], "192.0.2.1") })
	}
	wg.Wait()
	var won, justUsed int
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, ErrBackupCodeJustUsed):
			justUsed++
		default:
			t.Errorf("got %v, want success or %v", err, ErrBackupCodeJustUsed)
		}
	}
	if won != 1 || justUsed != racers-1 {
		t.Errorf("%d signed in, %d just used; want 1, %d", won, justUsed, racers-1)
	}
	if n, _ := h.BackupCodesLeft(t.Context(), memAlice.User); n != backupCodesPerSet-1 {
		t.Errorf("%d codes left, want %d", n, backupCodesPerSet-1)
	}
}

func TestFlowNewBackupCodesInMemory(t *testing.T) {
	cfg := testFlowConfig()
	cfg.BackupCodes = true
	h := newFlowHarness(t, cfg, newMemDirectory(memEveryone...))
	if _, err := h.NewBackupCodes(t.Context(), User{Username: "alice"}, ""); err == nil {
		t.Error("NewBackupCodes without a DN: got nil, want an error")
	}
	codes, err := h.NewBackupCodes(t.Context(), memAlice.User, "192.0.2.1")
	if err != nil || len(codes) != backupCodesPerSet {
		t.Fatalf("NewBackupCodes: %d codes, %v; want %d", len(codes), err, backupCodesPerSet)
	}
	hashes, _ := h.dir.BackupCodeHashes(t.Context(), memAlice.DN)
	if len(hashes) != backupCodesPerSet {
		t.Fatalf("directory holds %d hashes, want %d", len(hashes), backupCodesPerSet)
	}
	for _, hash := range hashes {
		if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != backupCodeCost {
			t.Errorf("stored %q: cost %d (%v), want a bcrypt hash of cost %d", hash, cost, err, backupCodeCost)
		}
	}
	if _, ok := MatchBackupCode(codes[0], hashes); !ok {
		t.Errorf("code %q matches no stored hash", codes[0])
	}
}

func TestFlowBackupCodesOffInMemory(t *testing.T) {
	off := testFlowConfig()
	on := testFlowConfig()
	on.BackupCodes = true
	md := newMemDirectory(memEveryone...)
	for _, tc := range []struct {
		name string
		cfg  FlowConfig
		dir  Directory
	}{
		{"turned off", off, md},
		{"directory cannot store codes", on, struct{ Directory }{md}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newFlowHarness(t, tc.cfg, tc.dir)
			if h.BackupCodesEnabled() {
				t.Error("BackupCodesEnabled: got true, want false")
			}
			if _, err := h.BackupCodesLeft(t.Context(), memAlice.User); !errors.Is(err, ErrBackupCodesOff) {
				t.Errorf("BackupCodesLeft: got %v, want %v", err, ErrBackupCodesOff)
			}
			id := h.begin(t, memAlice)
			if _, err := h.VerifyBackupCode(t.Context(), id, "2222-2222", ""); !errors.Is(err, ErrBackupCodesOff) {
				t.Errorf("VerifyBackupCode: got %v, want %v", err, ErrBackupCodesOff)
			}
			var wrong *WrongCodeError
			if _, err := h.Verify(t.Context(), id, otherDigits(h.sms.code()), "", nil); !errors.As(err, &wrong) || wrong.Left != 2 {
				t.Errorf("wrong SMS code: got %v, want 2 tries left", err)
			}
		})
	}
}

func TestFlowCancel(t *testing.T) {
	h := newFlowHarness(t, testFlowConfig(), newMemDirectory(memEveryone...))
	id := h.begin(t, memAlice)
	h.Cancel(t.Context(), id)
	if _, err := h.Verify(t.Context(), id, h.sms.code(), "192.0.2.1", nil); !errors.Is(err, ErrSignInExpired) {
		t.Errorf("right code after Cancel: got %v, want %v", err, ErrSignInExpired)
	}
}

func TestFlowSettings(t *testing.T) {
	for _, tc := range []struct {
		name         string
		edit         func(*FlowConfig)
		alphabet     string
		wantSends    int
		wantLifetime time.Duration
		wantAlnum    bool
	}{
		{"resend on", nil, DigitAlphabet, 3, 3*5*time.Minute + 3*30*time.Second, false},
		{"resend off: one send", func(c *FlowConfig) { c.Resend = false }, DigitAlphabet, 1, 5*time.Minute + 30*time.Second, false},
		{"letters", nil, "ABCDEFGHJKMNPQRSTUVWXYZ23456789", 3, 3*5*time.Minute + 3*30*time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testFlowConfig()
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			codes, err := NewCodeMaker(6, tc.alphabet, bytes.Repeat([]byte{7}, 32))
			if err != nil {
				t.Fatal(err)
			}
			f := NewFlow(newMemDirectory(), &recordingSender{}, NewMemoryStore(nil), codes, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
			if got := f.Config().MaxSends; got != tc.wantSends {
				t.Errorf("MaxSends: got %d, want %d", got, tc.wantSends)
			}
			if got := f.Lifetime(); got != tc.wantLifetime {
				t.Errorf("Lifetime: got %v, want %v", got, tc.wantLifetime)
			}
			if got := f.Alphanumeric(); got != tc.wantAlnum {
				t.Errorf("Alphanumeric: got %v, want %v", got, tc.wantAlnum)
			}
		})
	}
}
