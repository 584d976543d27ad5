package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/otpgate/otpgate/internal/testclock"
)

type lockoutTestFlow struct {
	*Flow
	dir   *memDirectory
	sms   *recordingSender
	clock *testclock.Clock
}

func newLockoutTestFlow(t *testing.T, lo Lockout, limits Limits) lockoutTestFlow {
	t.Helper()
	codes, err := NewCodeMaker(6, DigitAlphabet, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	tf := lockoutTestFlow{dir: newMemDirectory(memAlice, memBob), sms: &recordingSender{}, clock: testclock.New(testclock.Start)}
	cfg := FlowConfig{CodeTTL: 5 * time.Minute, MaxAttempts: 3, Retry: true, MaxSends: 1, Message: "{code}",
		SendTimeout: 5 * time.Second, Policy: Policy{Mandatory: true}, Lockout: lo, Limits: limits}
	tf.Flow = NewFlow(tf.dir, tf.sms, NewMemoryStore(tf.clock.Now), codes, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), tf.clock.Now)
	return tf
}

func TestNormalizeUsername(t *testing.T) {
	tests := []struct{ typed, want string }{
		{"alice", "alice"},
		{"ALICE", "alice"},
		{"ａｌｉｃｅ", "alice"}, // fullwidth
		{"ＡＬＩＣＥ", "alice"}, // fullwidth capitals
		{"ⓐⓛⓘⓒⓔ", "alice"}, // circled
		{"ALİCE", "alice"}, // dotted capital I
		{"𝐚𝐥𝐢𝐜𝐞", "alice"}, // mathematical bold
		{" alice\t", "alice"},
		{"Anna  Maria", "anna maria"},
		{"José", "jose"},
		{"straße", "strasse"},
		{"bob", "bob"},
		{"a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		if got := NormalizeUsername(tt.typed); got != tt.want {
			t.Errorf("NormalizeUsername(%q) = %q, want %q", tt.typed, got, tt.want)
		}
	}
}

func TestLockoutCountsTheIdentityWhateverFindsIt(t *testing.T) {
	tf := newLockoutTestFlow(t, Lockout{MaxFailures: 3, Window: 15 * time.Minute, Duration: 15 * time.Minute}, Limits{})
	ctx := t.Context()
	// Three spellings that fold to nothing in common, one identity.
	for i, name := range []string{"alice", "alice@example.org", "alice"} {
		_, err := tf.Begin(ctx, name, "wrong", "192.0.2.1", "/")
		var locked *LockedError
		if wantLock := i == 2; errors.As(err, &locked) != wantLock || (!wantLock && !errors.Is(err, ErrInvalidCredentials)) {
			t.Fatalf("wrong password %d as %q: %v, want locked=%v", i+1, name, err, wantLock)
		}
	}
	binds := tf.dir.binds.Load()
	for _, name := range []string{"alice", "alice@example.org", "ALICE"} {
		if _, err := tf.Begin(ctx, name, memAlice.password, "192.0.2.1", "/"); !errors.Is(err, ErrLocked) {
			t.Fatalf("right password as %q while alice is locked: %v, want ErrLocked", name, err)
		}
	}
	if got := tf.dir.binds.Load(); got != binds {
		t.Fatalf("%d binds while locked, want none", got-binds)
	}
	if n := tf.sms.count(); n != 0 {
		t.Fatalf("%d SMS while locked, want 0", n)
	}
	if _, err := tf.Begin(ctx, "bob", memBob.password, "192.0.2.1", "/"); err != nil {
		t.Fatalf("bob while alice is locked: %v", err)
	}
	tf.clock.Advance(15*time.Minute + time.Second)
	if _, err := tf.Begin(ctx, "alice@example.org", memAlice.password, "192.0.2.1", "/"); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
}

func TestLockoutFoldsUnknownNames(t *testing.T) {
	tf := newLockoutTestFlow(t, Lockout{MaxFailures: 3, Window: 15 * time.Minute, Duration: 15 * time.Minute}, Limits{})
	for i, name := range []string{"nobody", "ＮＯＢＯＤＹ", "ⓝⓞⓑⓞⓓⓨ", "NOBODY"} {
		_, err := tf.Begin(t.Context(), name, "x", "192.0.2.1", "/")
		if wantLock := i >= 2; errors.Is(err, ErrLocked) != wantLock {
			t.Fatalf("attempt %d as %q: %v, want locked=%v", i+1, name, err, wantLock)
		}
	}
}

// TestLockoutHoldsUnderConcurrentGuesses: however many wrong guesses come
// at once, no more than the limit reach the directory, and the user or the
// address is refused afterwards even with the right password. A per-user
// lock may stop a guess or two short of the limit: a guess counted just
// as the lock is set is refused rather than checked.
func TestLockoutHoldsUnderConcurrentGuesses(t *testing.T) {
	tests := []struct {
		name     string
		lo       Lockout
		minBinds int32
		maxBinds int32
		refused  error
	}{
		{"per user", Lockout{MaxFailures: 5, Window: 15 * time.Minute, Duration: 15 * time.Minute}, 1, 5, ErrLocked},
		{"per address", Lockout{MaxFailures: 100, Window: 15 * time.Minute, Duration: 15 * time.Minute, MaxFailuresPerIP: 7}, 7, 7, ErrAddressLimited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tf := newLockoutTestFlow(t, tt.lo, Limits{})
			var wg sync.WaitGroup
			for i := range 60 {
				wg.Go(func() {
					name := []string{"alice", "alice@example.org", "ALICE"}[i%3]
					_, _ = tf.Begin(t.Context(), name, fmt.Sprint("guess-", i), "192.0.2.1", "/")
				})
			}
			wg.Wait()
			if got := tf.dir.binds.Load(); got < tt.minBinds || got > tt.maxBinds {
				t.Fatalf("60 concurrent wrong guesses made %d binds, want %d to %d", got, tt.minBinds, tt.maxBinds)
			}
			if _, err := tf.Begin(t.Context(), "alice", memAlice.password, "192.0.2.1", "/"); !errors.Is(err, tt.refused) {
				t.Fatalf("the right password after the guesses: %v, want %v", err, tt.refused)
			}
		})
	}
}

func TestAddressLimitCountsWrongPasswordsInASlidingWindow(t *testing.T) {
	tf := newLockoutTestFlow(t, Lockout{MaxFailures: 100, Window: 10 * time.Minute, Duration: 10 * time.Minute, MaxFailuresPerIP: 3}, Limits{})
	ctx := t.Context()
	steps := []struct {
		at       time.Duration
		client   string
		user, pw string
		want     error // nil: a code is sent
	}{
		{0, "192.0.2.1", "alice", "x", ErrInvalidCredentials},
		{time.Minute, "192.0.2.1", "bob", "x", ErrInvalidCredentials},
		{2 * time.Minute, "192.0.2.1", "alice", memAlice.password, nil}, // a right password is no failure
		{3 * time.Minute, "192.0.2.1", "carol", "x", ErrInvalidCredentials},
		{4 * time.Minute, "192.0.2.1", "bob", memBob.password, ErrAddressLimited}, // even the right one
		{4 * time.Minute, "192.0.2.2", "bob", memBob.password, nil},               // another address
		{10 * time.Minute, "192.0.2.1", "dave", "x", ErrInvalidCredentials},       // the failure at 0 left
		{10 * time.Minute, "192.0.2.1", "erin", "x", ErrAddressLimited},
		{11 * time.Minute, "192.0.2.1", "alice", memAlice.password, nil},
	}
	start := tf.clock.Now()
	for i, s := range steps {
		tf.clock.Advance(start.Add(s.at).Sub(tf.clock.Now()))
		_, err := tf.Begin(ctx, s.user, s.pw, s.client, "/")
		if (s.want == nil) != (err == nil) || (s.want != nil && !errors.Is(err, s.want)) {
			t.Fatalf("step %d (%s from %s at %v): %v, want %v", i+1, s.user, s.client, s.at, err, s.want)
		}
		var limited *AddressLimitedError
		if errors.As(err, &limited) && !limited.Until.After(tf.clock.Now()) {
			t.Fatalf("step %d: limited until %v, which has passed", i+1, limited.Until)
		}
	}
	if n := tf.sms.count(); n != 3 {
		t.Fatalf("%d SMS, want 3 (one per right password let through)", n)
	}
}

func TestSMSBudgetsSlideAndRefundFailedSends(t *testing.T) {
	tf := newLockoutTestFlow(t, Lockout{}, Limits{PerNumber: 2, PerIP: 100, Global: 100})
	ctx := t.Context()
	begin := func() error {
		_, err := tf.Begin(ctx, "alice", memAlice.password, "192.0.2.1", "/")
		return err
	}
	tf.sms.fail(true)
	for i := range 10 {
		if err := begin(); !errors.Is(err, ErrCodeNotSent) {
			t.Fatalf("send %d with the gateway down: %v, want ErrCodeNotSent", i+1, err)
		}
	}
	tf.sms.fail(false)
	start := tf.clock.Now()
	steps := []struct {
		at    time.Duration
		sent  bool
		until time.Duration // of the refusal, since start
	}{
		{0, true, 0},
		{59 * time.Minute, true, 0},
		{59*time.Minute + 59*time.Second, false, 60 * time.Minute}, // the send at 0 is still in the window
		{60 * time.Minute, true, 0},                                // now it has left
		{61 * time.Minute, false, 119 * time.Minute},
		{118 * time.Minute, false, 119 * time.Minute}, // a fixed hour from 60m would have let two through
	}
	for i, s := range steps {
		tf.clock.Advance(start.Add(s.at).Sub(tf.clock.Now()))
		err := begin()
		var limited *LimitError
		switch {
		case s.sent && err != nil:
			t.Fatalf("step %d at %v: %v, want a code sent", i+1, s.at, err)
		case !s.sent && (!errors.As(err, &limited) || limited.Limit != "per-user" || !limited.Until.Equal(start.Add(s.until))):
			t.Fatalf("step %d at %v: %v (%+v), want the per-user limit until %v", i+1, s.at, err, limited, s.until)
		}
	}
	if n := tf.sms.count(); n != 3 {
		t.Fatalf("%d SMS sent, want 3", n)
	}
}
