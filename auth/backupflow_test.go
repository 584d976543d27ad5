package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/otpgate/otpgate/auth/slapdtest"
)

// faultyBackupDir is the real directory with backup-code reads or removals
// failing on demand, as when the directory goes away mid sign-in.
type faultyBackupDir struct {
	*LDAP
	mu                 sync.Mutex
	readErr, removeErr error
}

func (d *faultyBackupDir) fail(read, remove error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.readErr, d.removeErr = read, remove
}

func (d *faultyBackupDir) BackupCodeHashes(ctx context.Context, dn string) ([]string, error) {
	d.mu.Lock()
	err := d.readErr
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return d.LDAP.BackupCodeHashes(ctx, dn)
}

func (d *faultyBackupDir) RemoveBackupCode(ctx context.Context, dn, hash string) error {
	d.mu.Lock()
	err := d.removeErr
	d.mu.Unlock()
	if err != nil {
		return err
	}
	return d.LDAP.RemoveBackupCode(ctx, dn, hash)
}

// backupDirectory starts a slapd with the backup-code schema, shared by a
// test's cases, and returns it with an LDAP that stores codes there.
func backupDirectory(t *testing.T) (*slapdtest.Server, *LDAP) {
	t.Helper()
	s := slapdtest.Start(t, slapdtest.WithSchema(BackupCodeSchema),
		slapdtest.WithUserObjectClass(BackupCodeObjectClass), slapdtest.WithServiceWrite(BackupCodeAttribute))
	cfg := ldapConfigFor(s)
	cfg.BackupCodesAttribute = BackupCodeAttribute
	return s, newTestLDAP(t, cfg)
}

// backupFlowConfig is the defaults of the configuration, with backup codes
// on and lockout off unless a test sets it.
func backupFlowConfig() FlowConfig {
	return FlowConfig{CodeTTL: 5 * time.Minute, MaxAttempts: 3, Retry: true, MaxSends: 1,
		Message: "{code}", SendTimeout: 5 * time.Second, Policy: Policy{Mandatory: true}, BackupCodes: true}
}

type backupTestFlow struct {
	*Flow
	sms  *recordingSender
	logs *bytes.Buffer
	mu   *sync.Mutex // guards logs
}

func newBackupTestFlow(t *testing.T, dir Directory, cfg FlowConfig) backupTestFlow {
	t.Helper()
	codes, err := NewCodeMaker(6, DigitAlphabet, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	tf := backupTestFlow{sms: &recordingSender{}, logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	log := slog.New(slog.NewJSONHandler(lockedWriter{tf.mu, tf.logs}, nil))
	tf.Flow = NewFlow(dir, tf.sms, NewMemoryStore(nil), codes, cfg, log, nil)
	return tf
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// begin passes alice's password and returns the pending sign-in's ID.
func (tf backupTestFlow) begin(t *testing.T) string {
	t.Helper()
	alice := slapdtest.Alice
	res, err := tf.Begin(t.Context(), alice.Username, alice.Password, "192.0.2.1", "/")
	if err != nil || res.Pending.ID == "" {
		t.Fatalf("Begin: %+v, %v; want a pending sign-in", res, err)
	}
	return res.Pending.ID
}

// generate makes a fresh set of backup codes for alice.
func (tf backupTestFlow) generate(t *testing.T) []string {
	t.Helper()
	codes, err := tf.NewBackupCodes(t.Context(), User{Username: "alice", DN: slapdtest.Alice.DN}, "192.0.2.1")
	if err != nil {
		t.Fatalf("NewBackupCodes: %v", err)
	}
	return codes
}

// seedBackupCodes gives alice a fresh set of codes stored as bcrypt
// hashes of the lowest cost, written as the root DN: real hashing (as in
// NewBackupCodes) takes a second for a set under the race detector, and
// most tests here are about the flow, not the hash.
func seedBackupCodes(t *testing.T, s *slapdtest.Server) []string {
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
	setAttr(t, s, slapdtest.Alice.DN, BackupCodeAttribute, hashes...)
	return codes
}

func (tf backupTestFlow) left(t *testing.T) int {
	t.Helper()
	n, err := tf.BackupCodesLeft(t.Context(), User{Username: "alice", DN: slapdtest.Alice.DN})
	if err != nil {
		t.Fatalf("BackupCodesLeft: %v", err)
	}
	return n
}

func TestFlowBackupCodes(t *testing.T) {
	t.Parallel()
	s, d := backupDirectory(t)
	tf := newBackupTestFlow(t, d, backupFlowConfig())
	if !tf.BackupCodesEnabled() {
		t.Fatal("BackupCodesEnabled: got false, want true")
	}
	codes := tf.generate(t)
	if len(codes) != backupCodesPerSet {
		t.Fatalf("got %d codes, want %d", len(codes), backupCodesPerSet)
	}
	stored := attrValues(t, s, slapdtest.Alice.DN, BackupCodeAttribute)
	if len(stored) != backupCodesPerSet {
		t.Fatalf("directory holds %d values, want %d", len(stored), backupCodesPerSet)
	}
	for _, h := range stored {
		if !strings.HasPrefix(h, "$2a$") {
			t.Errorf("directory holds %q, want only bcrypt hashes", h)
		}
		for _, c := range codes {
			if strings.Contains(h, strings.ReplaceAll(c, "-", "")) {
				t.Errorf("directory value %q contains the code %q", h, c)
			}
		}
	}

	// Typed as people do: lower case, a space for the dash.
	id := tf.begin(t)
	typed := strings.ToLower(strings.Replace(codes[3], "-", " ", 1))
	p, err := tf.VerifyBackupCode(t.Context(), id, typed, "192.0.2.1")
	if err != nil {
		t.Fatalf("VerifyBackupCode with a right code: %v", err)
	}
	if p.User.Username != "alice" || p.User.DN != slapdtest.Alice.DN || p.ID != id {
		t.Errorf("got user %q, DN %q, ID %q; want alice, %q, %q", p.User.Username, p.User.DN, p.ID, slapdtest.Alice.DN, id)
	}
	if got := tf.left(t); got != backupCodesPerSet-1 {
		t.Errorf("after one use: got %d codes left, want %d", got, backupCodesPerSet-1)
	}
	// The sign-in is finished: neither factor works for it again.
	if _, err := tf.VerifyBackupCode(t.Context(), id, codes[4], "192.0.2.1"); !errors.Is(err, ErrSignInExpired) {
		t.Errorf("second backup code for a finished sign-in: got %v, want %v", err, ErrSignInExpired)
	}
	if _, err := tf.Verify(t.Context(), id, tf.sms.code(), "192.0.2.1", nil); !errors.Is(err, ErrSignInExpired) {
		t.Errorf("SMS code for a sign-in finished with a backup code: got %v, want %v", err, ErrSignInExpired)
	}

	// A new set replaces the old one whole. (That a used code is wrong is
	// checked with cheap hashes in TestFlowBackupCodeSharedTries, and that
	// old hashes go in TestLDAPBackupCodes: a comparison at the real cost
	// takes most of a second under -race.)
	fresh := tf.generate(t)
	if got := tf.left(t); got != backupCodesPerSet {
		t.Errorf("after a new set: got %d codes left, want %d", got, backupCodesPerSet)
	}

	tf.mu.Lock()
	logs := tf.logs.String()
	tf.mu.Unlock()
	for _, c := range append(codes, fresh...) {
		if strings.Contains(logs, c) || strings.Contains(logs, strings.ReplaceAll(c, "-", "")) {
			t.Errorf("the log contains the backup code %q", c)
		}
	}
	for _, event := range []string{"backup codes generated", "sign-in: backup code ok"} {
		if !strings.Contains(logs, event) {
			t.Errorf("the log lacks %q", event)
		}
	}
}

// SMS codes and backup codes share one count of tries per sign-in.
func TestFlowBackupCodeSharedTries(t *testing.T) {
	t.Parallel()
	s, d := backupDirectory(t)
	type try struct {
		kind string // "sms", "backup", "used backup"
		// want: -1 too many, -2 expired, 0 success, n > 0 wrong with n left
		want int
	}
	const tooMany, expired = -1, -2
	for _, tc := range []struct {
		name  string
		retry bool
		tries []try
	}{
		{"two wrong backup codes, then a wrong SMS code", true,
			[]try{{"wrong backup", 2}, {"wrong backup", 1}, {"wrong sms", tooMany}, {"backup", expired}}},
		{"two wrong SMS codes, then a wrong backup code", true,
			[]try{{"wrong sms", 2}, {"wrong sms", 1}, {"wrong backup", tooMany}, {"sms", expired}}},
		{"wrong of each, then the last try is a backup code", true,
			[]try{{"wrong sms", 2}, {"wrong backup", 1}, {"backup", 0}}},
		{"a used backup code is a wrong try", true,
			[]try{{"used backup", 2}, {"used backup", 1}, {"used backup", tooMany}}},
		{"retry off: one wrong backup code ends the sign-in", false,
			[]try{{"wrong backup", tooMany}, {"sms", expired}}},
		{"junk is a wrong try too", true,
			[]try{{"junk", 2}, {"sms", 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := backupFlowConfig()
			cfg.Retry = tc.retry
			tf := newBackupTestFlow(t, d, cfg)
			codes := seedBackupCodes(t, s)
			used := codes[9]
			if _, err := tf.VerifyBackupCode(t.Context(), tf.begin(t), used, "192.0.2.1"); err != nil {
				t.Fatalf("using a code: %v", err)
			}
			id := tf.begin(t)
			for i, tr := range tc.tries {
				var err error
				switch tr.kind {
				case "sms":
					_, err = tf.Verify(t.Context(), id, tf.sms.code(), "192.0.2.1", nil)
				case "wrong sms":
					_, err = tf.Verify(t.Context(), id, otherDigits(tf.sms.code()), "192.0.2.1", nil)
				case "backup":
					_, err = tf.VerifyBackupCode(t.Context(), id, codes[i], "192.0.2.1")
				case "wrong backup":
					_, err = tf.VerifyBackupCode(t.Context(), id, "2222-2222", "192.0.2.1")
				case "used backup":
					_, err = tf.VerifyBackupCode(t.Context(), id, used, "192.0.2.1")
				case "junk":
					_, err = tf.VerifyBackupCode(t.Context(), id, "12", "192.0.2.1")
				}
				var wrong *WrongCodeError
				switch {
				case tr.want == 0 && err != nil:
					t.Fatalf("try %d (%s): got %v, want success", i+1, tr.kind, err)
				case tr.want == tooMany && !errors.Is(err, ErrTooManyAttempts):
					t.Fatalf("try %d (%s): got %v, want %v", i+1, tr.kind, err, ErrTooManyAttempts)
				case tr.want == expired && !errors.Is(err, ErrSignInExpired):
					t.Fatalf("try %d (%s): got %v, want %v", i+1, tr.kind, err, ErrSignInExpired)
				case tr.want > 0 && (!errors.As(err, &wrong) || wrong.Left != tr.want):
					t.Fatalf("try %d (%s): got %v, want a wrong code with %d tries left", i+1, tr.kind, err, tr.want)
				}
			}
		})
	}
}

// otherDigits returns a code of the same length that is not code.
func otherDigits(code string) string {
	if strings.HasPrefix(code, "0") {
		return "1" + code[1:]
	}
	return "0" + code[1:]
}

func TestFlowBackupCodeLockout(t *testing.T) {
	t.Parallel()
	s, d := backupDirectory(t)
	cfg := backupFlowConfig()
	cfg.Lockout = Lockout{MaxFailures: 2, Window: time.Hour, Duration: time.Hour}
	tf := newBackupTestFlow(t, d, cfg)
	codes := seedBackupCodes(t, s)
	id := tf.begin(t)
	if _, err := tf.VerifyBackupCode(t.Context(), id, "2222-2222", "192.0.2.1"); !errors.Is(err, ErrWrongCode) {
		t.Fatalf("first wrong backup code: got %v, want %v", err, ErrWrongCode)
	}
	var locked *LockedError
	if _, err := tf.VerifyBackupCode(t.Context(), id, "2222-2223", "192.0.2.1"); !errors.As(err, &locked) {
		t.Fatalf("second wrong backup code: got %v, want the user locked out", err)
	}
	// Locked means locked for backup codes too, and the code is not spent.
	if _, err := tf.VerifyBackupCode(t.Context(), id, codes[0], "192.0.2.1"); err == nil {
		t.Fatal("a right backup code signed a locked-out user in")
	}
	if got := tf.left(t); got != backupCodesPerSet {
		t.Errorf("after a refused sign-in: got %d codes left, want %d", got, backupCodesPerSet)
	}
}

// Of simultaneous right submissions for one sign-in, exactly one signs in,
// whether they carry the same code or different ones, with the default
// tries and a lockout that two wrong tries would trigger: the others are
// told the code was just used (same code) or the sign-in is over
// (different codes), only the winner's code is spent, and nothing counts
// as a wrong try.
func TestFlowBackupCodeConcurrent(t *testing.T) {
	t.Parallel()
	s, d := backupDirectory(t)
	for _, same := range []bool{true, false} {
		t.Run(fmt.Sprintf("same code %v", same), func(t *testing.T) {
			cfg := backupFlowConfig()
			cfg.Lockout = Lockout{MaxFailures: 2, Window: time.Hour, Duration: time.Hour}
			tf := newBackupTestFlow(t, d, cfg)
			codes := seedBackupCodes(t, s)
			id := tf.begin(t)
			const racers = 10
			errs := make([]error, racers)
			var wg sync.WaitGroup
			for i := range racers {
				code := codes[0]
				if !same {
					code = codes[i]
				}
				wg.Go(func() { _, errs[i] = tf.VerifyBackupCode(t.Context(), id, code, "192.0.2.1") })
			}
			wg.Wait()
			var won, justUsed, expired int
			for _, err := range errs {
				var ju *JustUsedError
				switch {
				case err == nil:
					won++
				case errors.As(err, &ju) && ju.Redirect == "/":
					justUsed++
				case errors.Is(err, ErrSignInExpired):
					expired++
				default:
					t.Errorf("got %v, want success, %v or %v", err, ErrBackupCodeJustUsed, ErrSignInExpired)
				}
			}
			wantJustUsed, wantExpired := racers-1, 0
			if !same {
				wantJustUsed, wantExpired = 0, racers-1
			}
			if won != 1 || justUsed != wantJustUsed || expired != wantExpired {
				t.Errorf("%d signed in, %d just used, %d expired; want 1, %d, %d", won, justUsed, expired, wantJustUsed, wantExpired)
			}
			if got := tf.left(t); got != backupCodesPerSet-1 {
				t.Errorf("%d codes left, want %d: only the winner's is spent", got, backupCodesPerSet-1)
			}
			// No wrong try was counted: two would have locked alice out.
			tf.begin(t)
		})
	}
}

// A directory that cannot be asked is not the user's fault: no try is
// used up, nothing is spent, and the error says the directory is away.
func TestFlowBackupCodeDirectoryDown(t *testing.T) {
	t.Parallel()
	s, d := backupDirectory(t)
	down := fmt.Errorf("%w: connection refused", ErrDirectoryUnavailable)
	for _, tc := range []struct {
		name         string
		read, remove error
	}{
		{"read fails", down, nil},
		{"remove fails", nil, down},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fd := &faultyBackupDir{LDAP: d}
			tf := newBackupTestFlow(t, fd, backupFlowConfig())
			codes := seedBackupCodes(t, s)
			id := tf.begin(t)
			fd.fail(tc.read, tc.remove)
			for range 4 { // more than the 3 tries
				if _, err := tf.VerifyBackupCode(t.Context(), id, codes[0], "192.0.2.1"); !errors.Is(err, ErrDirectoryUnavailable) {
					t.Fatalf("got %v, want %v", err, ErrDirectoryUnavailable)
				}
			}
			fd.fail(nil, nil)
			if got := tf.left(t); got != backupCodesPerSet {
				t.Errorf("got %d codes left, want all %d", got, backupCodesPerSet)
			}
			if _, err := tf.VerifyBackupCode(t.Context(), id, codes[0], "192.0.2.1"); err != nil {
				t.Fatalf("once the directory is back: %v", err)
			}
		})
	}
}

func TestFlowBackupCodesOff(t *testing.T) {
	t.Parallel()
	s, d := backupDirectory(t)
	noAttr := newTestLDAP(t, ldapConfigFor(s))
	off := backupFlowConfig()
	off.BackupCodes = false
	for _, tc := range []struct {
		name string
		dir  Directory
		cfg  FlowConfig
	}{
		{"turned off", d, off},
		{"no attribute configured", noAttr, backupFlowConfig()},
		{"directory cannot store codes", struct{ Directory }{d}, backupFlowConfig()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tf := newBackupTestFlow(t, tc.dir, tc.cfg)
			if tf.BackupCodesEnabled() {
				t.Error("BackupCodesEnabled: got true, want false")
			}
			if _, err := tf.NewBackupCodes(t.Context(), User{Username: "alice", DN: slapdtest.Alice.DN}, ""); !errors.Is(err, ErrBackupCodesOff) {
				t.Errorf("NewBackupCodes: got %v, want %v", err, ErrBackupCodesOff)
			}
			id := tf.begin(t)
			if _, err := tf.VerifyBackupCode(t.Context(), id, "2222-2222", ""); !errors.Is(err, ErrBackupCodesOff) {
				t.Errorf("VerifyBackupCode: got %v, want %v", err, ErrBackupCodesOff)
			}
			// Nothing was counted: all the SMS code's tries are left.
			var wrong *WrongCodeError
			if _, err := tf.Verify(t.Context(), id, otherDigits(tf.sms.code()), "", nil); !errors.As(err, &wrong) || wrong.Left != 2 {
				t.Errorf("wrong SMS code: got %v, want 2 tries left", err)
			}
		})
	}
	if got := attrValues(t, s, slapdtest.Alice.DN, BackupCodeAttribute); got != nil {
		t.Errorf("directory holds %q, want nothing", got)
	}
}

func TestFlowNewBackupCodesNeedsDN(t *testing.T) {
	t.Parallel()
	_, d := backupDirectory(t)
	tf := newBackupTestFlow(t, d, backupFlowConfig())
	if codes, err := tf.NewBackupCodes(t.Context(), User{Username: "alice"}, ""); err == nil {
		t.Fatalf("no DN: got %q, want an error", codes)
	}
}
