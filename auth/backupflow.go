package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Backup codes in the sign-in flow: a signed-in user makes a set
// (NewBackupCodes), and a pending sign-in may then be finished with one of
// them instead of the SMS code (VerifyBackupCode). The codes live only in
// the user's entry in the directory, as bcrypt hashes, so the directory
// stays the one source of truth and every otpgate replica sees the same set.

// backupCodesPerSet is how many codes NewBackupCodes makes: enough to last
// through a lost phone, few enough to write down.
const backupCodesPerSet = 10

// ErrBackupCodesOff means backup codes are not turned on
// (FlowConfig.BackupCodes), or the directory cannot keep them.
var ErrBackupCodesOff = errors.New("backup codes are turned off")

// BackupCodesEnabled reports whether users may make and use backup codes:
// the flow allows them and the directory can store them.
func (f *Flow) BackupCodesEnabled() bool {
	_, err := f.backupDir()
	return err == nil
}

// backupDir returns the directory as a BackupCodeDirectory, or
// ErrBackupCodesOff.
func (f *Flow) backupDir() (BackupCodeDirectory, error) {
	if !f.cfg.BackupCodes {
		return nil, ErrBackupCodesOff
	}
	bd, ok := f.dir.(BackupCodeDirectory)
	if !ok {
		return nil, fmt.Errorf("%w: the directory cannot store them", ErrBackupCodesOff)
	}
	// LDAP has the methods whether or not an attribute is configured; ask
	// it, so that a missing attribute shows as "off" rather than as a
	// failure on every use.
	if e, ok := f.dir.(interface{ BackupCodesEnabled() bool }); ok && !e.BackupCodesEnabled() {
		return nil, fmt.Errorf("%w: no attribute to store them in", ErrBackupCodesOff)
	}
	return bd, nil
}

// NewBackupCodes makes a fresh set of backup codes for user (who must have
// signed in with two factors; the caller checks), stores their hashes in
// the user's directory entry in place of any earlier set, and returns the
// codes, to be shown once. client is only for the log.
func (f *Flow) NewBackupCodes(ctx context.Context, user User, client string) ([]string, error) {
	bd, err := f.backupDir()
	if err != nil {
		return nil, err
	}
	if user.DN == "" {
		// Sessions carry the DN from the password step; without it there is
		// no entry to write to.
		return nil, fmt.Errorf("new backup codes for %q: the session has no directory entry (DN)", user.Username)
	}
	codes, err := NewBackupCodes(backupCodesPerSet)
	if err != nil {
		return nil, err
	}
	hashes, err := hashBackupCodes(codes)
	if err != nil {
		return nil, err
	}
	if err := bd.ReplaceBackupCodes(ctx, user.DN, hashes); err != nil {
		f.log.ErrorContext(ctx, "backup codes not saved", "user", user.Username, "client", client, "err", err)
		return nil, fmt.Errorf("save backup codes of %q: %w", user.Username, err)
	}
	// The codes themselves never reach the log: with them, the password
	// alone would be enough to sign in.
	f.log.InfoContext(ctx, "backup codes generated", "user", user.Username, "client", client, "count", len(codes))
	return codes, nil
}

// BackupCodesLeft returns how many unused backup codes user has.
func (f *Flow) BackupCodesLeft(ctx context.Context, user User) (int, error) {
	bd, err := f.backupDir()
	if err != nil {
		return 0, err
	}
	hashes, err := bd.BackupCodeHashes(ctx, user.DN)
	if err != nil {
		return 0, fmt.Errorf("count backup codes of %q: %w", user.Username, err)
	}
	return len(hashes), nil
}

// hashBackupCodes hashes codes, GOMAXPROCS at a time: each bcrypt run takes
// tens of milliseconds, and the user waits for all of them.
func hashBackupCodes(codes []string) ([]string, error) {
	hashes := make([]string, len(codes))
	errs := make([]error, len(codes))
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for i, c := range codes {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			hashes[i], errs[i] = HashBackupCode(c)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return hashes, nil
}

// ErrBackupCodeJustUsed is wrapped by *JustUsedError.
var ErrBackupCodeJustUsed = errors.New("backup code was just used")

// JustUsedError says a right backup code was used a moment before by
// another request (a double click, two tabs, a retrying client): the
// sign-in it finished is not this request's to finish again, and the try
// did not count as wrong.
type JustUsedError struct {
	Redirect string // where the sign-in was going, for a "continue" link
}

func (e *JustUsedError) Error() string { return ErrBackupCodeJustUsed.Error() }
func (e *JustUsedError) Unwrap() error { return ErrBackupCodeJustUsed }

func backupLockKey(id string) string { return "backuplock:" + id }
func backupUsedKey(id string) string { return "backupused:" + id }

const (
	// backupLockTTL bounds how long one backup-code check holds its
	// sign-in (two directory requests and the bcrypt comparisons take far
	// less), so that a lost holder cannot block it for longer.
	backupLockTTL = 30 * time.Second
	// backupLockPoll is how often a waiting check asks again.
	backupLockPoll = 20 * time.Millisecond
)

// usedBackupCode is what a backup code that finished a sign-in leaves
// behind, so that later submissions of the same code are told so.
type usedBackupCode struct {
	Hash     string `json:"h"`
	Redirect string `json:"rd"`
}

// VerifyBackupCode finishes the pending sign-in id with a backup code
// instead of the SMS code. It keeps Verify's guarantees: a locked user is
// refused, the try is counted before anything is compared, against the same
// counter and limit as SMS codes (so switching between the two gives no
// extra tries), a wrong code counts toward lockout, and of any number of
// concurrent right submissions exactly one returns the user. A backup code
// works once: it is removed from the directory before the sign-in is let
// through. Concurrent submissions for one sign-in are checked one at a
// time, so that right ones do not use up each other's tries: after one
// has finished the sign-in, the others get a *JustUsedError when they carry
// the same code, and nothing counts as a wrong try.
func (f *Flow) VerifyBackupCode(ctx context.Context, id, code, client string) (Pending, error) {
	p, err := f.verifyBackupCode(ctx, id, code, client)
	f.cfg.Observer.CodeCheck(checkResult(err))
	return p, err
}

func (f *Flow) verifyBackupCode(ctx context.Context, id, code, client string) (Pending, error) {
	bd, err := f.backupDir()
	if err != nil {
		return Pending{}, err
	}
	unlock, err := f.lockBackupCheck(ctx, id)
	if err != nil {
		return Pending{}, err
	}
	defer unlock()
	a, err := f.startAttempt(ctx, id, client, "backup code")
	if errors.Is(err, ErrSignInExpired) {
		// Nothing is left to guard: the waiting checks compare with the
		// used code side by side.
		unlock()
		return Pending{}, f.justUsed(ctx, id, code, client)
	}
	if err != nil {
		return Pending{}, err
	}
	dn := a.p.User.DN
	hashes, err := bd.BackupCodeHashes(ctx, dn)
	if err != nil {
		// Nothing was compared, and the directory's trouble is not the
		// user's: the try is given back.
		f.releaseAttempt(ctx, a)
		a.log.ErrorContext(ctx, "sign-in: backup code not read", "err", err)
		return Pending{}, fmt.Errorf("read backup codes: %w", err)
	}
	hash, ok := MatchBackupCode(code, hashes)
	if !ok {
		return Pending{}, f.refuseAttempt(ctx, a, "backup code")
	}
	// Removing the hash is the once-only check: of several removals of one
	// code, from any replica, the directory lets exactly one succeed.
	switch err := bd.RemoveBackupCode(ctx, dn, hash); {
	case errors.Is(err, ErrBackupCodeUsed):
		// It matched a moment ago, so it was right: another sign-in (or
		// replica) used it in between. Not a guess, so not a wrong try.
		f.releaseAttempt(ctx, a)
		a.log.WarnContext(ctx, "sign-in: backup code used by another sign-in at the same moment")
		return Pending{}, &JustUsedError{Redirect: a.p.Redirect}
	case err != nil:
		// The code was right but is still stored: letting the sign-in
		// through would let the code work again.
		f.releaseAttempt(ctx, a)
		a.log.ErrorContext(ctx, "sign-in: backup code not removed", "err", err)
		return Pending{}, fmt.Errorf("remove backup code: %w", err)
	}
	f.rememberUsed(ctx, id, usedBackupCode{Hash: hash, Redirect: a.p.Redirect})
	// The code is spent from here on, even if the sign-in was meanwhile
	// finished with the SMS code or has expired: spending it before the
	// take is what keeps it from working twice.
	taken, err := f.takePending(ctx, a)
	if err != nil {
		return Pending{}, err
	}
	// A number typed at capture is not saved: only a code sent to it
	// proves it is the user's.
	a.log.InfoContext(ctx, "sign-in: backup code ok", "backup_codes_left", len(hashes)-1)
	f.succeeded(ctx, a.p.User)
	return taken, nil
}

// lockBackupCheck waits until this request alone checks backup codes for
// the sign-in id, and returns the function that lets the next one in (it
// may be called more than once). The lock is a store counter, so it holds
// across replicas sharing a store: whoever takes it from nothing holds it.
// Waiting ends with ctx; a holder that is lost (a replica that died) holds
// it for backupLockTTL at most, and one that takes longer than that (a
// directory far slower than its timeouts) lets the next check in beside
// it, which the directory's once-only removal still makes safe.
func (f *Flow) lockBackupCheck(ctx context.Context, id string) (func(), error) {
	key := backupLockKey(id)
	for {
		n, err := f.store.Incr(ctx, key, backupLockTTL)
		if err != nil {
			return nil, fmt.Errorf("lock backup code check: %w", err)
		}
		if n == 1 {
			var once sync.Once
			return func() { once.Do(func() { _ = f.store.Delete(context.WithoutCancel(ctx), key) }) }, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lock backup code check: %w", ctx.Err())
		case <-time.After(backupLockPoll):
		}
	}
}

// rememberUsed keeps, for the sign-in's lifetime, which code finished it.
func (f *Flow) rememberUsed(ctx context.Context, id string, u usedBackupCode) {
	b, err := json.Marshal(u)
	if err == nil {
		err = f.store.Put(context.WithoutCancel(ctx), backupUsedKey(id), b, f.lifetime())
	}
	if err != nil {
		// Only the wording for a repeat submission depends on it.
		f.log.WarnContext(ctx, "sign-in: used backup code not remembered", "err", err)
	}
}

// justUsed answers a backup code for a sign-in that is gone: a
// *JustUsedError when the code is the one that finished it, otherwise
// ErrSignInExpired. Nothing is counted: a finished sign-in has nothing
// left to guess, and the one code that matches is already spent.
func (f *Flow) justUsed(ctx context.Context, id, code, client string) error {
	b, err := f.store.Get(ctx, backupUsedKey(id))
	if err != nil {
		return ErrSignInExpired
	}
	var u usedBackupCode
	if err := json.Unmarshal(b, &u); err != nil {
		return ErrSignInExpired
	}
	if _, ok := MatchBackupCode(code, []string{u.Hash}); !ok {
		return ErrSignInExpired
	}
	f.log.InfoContext(ctx, "sign-in: backup code submitted again after it finished the sign-in", "client", client)
	return &JustUsedError{Redirect: u.Redirect}
}
