package auth

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
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
		f.log.Error("backup codes not saved", "user", user.Username, "client", client, "err", err)
		return nil, fmt.Errorf("save backup codes of %q: %w", user.Username, err)
	}
	// The codes themselves never reach the log: with them, the password
	// alone would be enough to sign in.
	f.log.Info("backup codes generated", "user", user.Username, "client", client, "count", len(codes))
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

// VerifyBackupCode finishes the pending sign-in id with a backup code
// instead of the SMS code. It keeps Verify's guarantees: a locked user is
// refused, the try is counted before anything is compared, against the same
// counter and limit as SMS codes (so switching between the two gives no
// extra tries), a wrong code counts toward lockout, and of any number of
// concurrent right submissions exactly one returns the user. A backup code
// works once: it is removed from the directory before the sign-in is let
// through, and a code that is already gone counts as wrong.
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
	a, err := f.startAttempt(ctx, id, client, "backup code")
	if err != nil {
		return Pending{}, err
	}
	dn := a.p.User.DN
	hashes, err := bd.BackupCodeHashes(ctx, dn)
	if err != nil {
		// Nothing was compared, and the directory's trouble is not the
		// user's: the try is given back.
		f.releaseAttempt(ctx, a)
		a.log.Error("sign-in: backup codes not read", "err", err)
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
		a.log.Warn("sign-in: backup code already used")
		return Pending{}, f.refuseAttempt(ctx, a, "backup code")
	case err != nil:
		// The code was right but is still stored: letting the sign-in
		// through would let the code work again.
		f.releaseAttempt(ctx, a)
		a.log.Error("sign-in: backup code not removed", "err", err)
		return Pending{}, fmt.Errorf("remove backup code: %w", err)
	}
	// The code is spent from here on, even if the sign-in was meanwhile
	// finished with the SMS code or has expired: spending it before the
	// take is what keeps it from working twice.
	taken, err := f.takePending(ctx, a)
	if err != nil {
		return Pending{}, err
	}
	// A number typed at capture is not saved: only a code sent to it
	// proves it is the user's.
	a.log.Info("sign-in: backup code ok", "backup_codes_left", len(hashes)-1)
	f.succeeded(ctx, a.p.User)
	return taken, nil
}
