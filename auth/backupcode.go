package auth

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Backup codes stand in for the SMS code when the phone is lost. Each is
// 8 characters of AlphanumericAlphabet (31^8, about 40 random bits), shown
// as "7KQ4-M2XD" and usable once. Only their hashes are kept (see
// LDAP.ReplaceBackupCodes), and a backup code replaces only the SMS step:
// the password is still needed.
//
// The hash is bcrypt rather than argon2id. bcrypt hashes are
// self-describing strings ("$2a$09$...", cost and salt inside) that
// x/crypto compares directly; x/crypto/argon2 is only the raw function, so
// we would define and parse our own encoding. argon2id's strength is its
// memory cost, and ten comparisons per sign-in, several sign-ins at once,
// would each claim tens of MiB on what is meant to be a small gateway. The
// secret is random, not a human password, and the hashes sit in a
// directory only the service account reads, so bcrypt's CPU cost is enough.
const (
	backupCodeLength = 8
	// backupCodeCost is bcrypt's work factor. One comparison at cost 9 takes
	// about 30ms on a 2020s server core (cost 10: 60ms, 11: 130ms).
	// MatchBackupCode compares against every hash, GOMAXPROCS at a time, so
	// 10 codes take about 160ms on 2 cores and about 310ms on one; cost 10
	// would take 300ms on 2 cores with no headroom for slower machines.
	backupCodeCost = 9
	// maxBackupCodeCost bounds the cost MatchBackupCode accepts in a
	// stored hash: a hash written by hand with cost 31 would take days to
	// check.
	maxBackupCodeCost = 12
	maxBackupCodes    = 100
)

// backupCodes draws and normalises codes. Only CodeMaker's New and
// Normalize are used, which need no key.
var backupCodes = &CodeMaker{length: backupCodeLength, alphabet: AlphanumericAlphabet}

// NewBackupCodes returns n distinct fresh codes like "7KQ4-M2XD", from
// crypto/rand.
func NewBackupCodes(n int) ([]string, error) {
	if n < 1 || n > maxBackupCodes {
		return nil, fmt.Errorf("new backup codes: n = %d, want 1 to %d", n, maxBackupCodes)
	}
	codes := make([]string, 0, n)
	seen := make(map[string]bool, n)
	for len(codes) < n {
		c, err := backupCodes.New()
		if err != nil {
			return nil, fmt.Errorf("new backup codes: %w", err)
		}
		// A repeat is unlikely (n²/2 in 8.5e11) but would make the set
		// shorter than promised once the first copy is used.
		if seen[c] {
			continue
		}
		seen[c] = true
		codes = append(codes, c[:4]+"-"+c[4:])
	}
	return codes, nil
}

// HashBackupCode returns the bcrypt hash of the normalised code (upper
// case, without spaces or dashes), to be stored in its place.
func HashBackupCode(code string) (string, error) {
	norm, ok := normalizeBackupCode(code)
	if !ok {
		// The code itself stays out of the error: it may be a real one,
		// mistyped.
		return "", errors.New("hash backup code: not a backup code (8 characters of the code alphabet)")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(norm), backupCodeCost)
	if err != nil {
		return "", fmt.Errorf("hash backup code: %w", err)
	}
	return string(h), nil
}

// MatchBackupCode reports whether code matches one of hashes, and which.
// It compares with every hash even after a match, so the time it takes
// does not tell which position matched, or whether a code matched at all.
// Input that cannot be a code ("1234", "") returns at once: the format is
// no secret, and junk should not cost ten bcrypt runs. Hashes that are not
// bcrypt, or whose cost is above maxBackupCodeCost, never match.
func MatchBackupCode(code string, hashes []string) (hash string, ok bool) {
	norm, valid := normalizeBackupCode(code)
	if !valid || len(hashes) == 0 {
		return "", false
	}
	matched := make([]bool, len(hashes))
	// Comparisons run in parallel, up to a core each; every one writes its
	// own slot, so they need no lock.
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for i, h := range hashes {
		if cost, err := bcrypt.Cost([]byte(h)); err != nil || cost > maxBackupCodeCost {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			matched[i] = bcrypt.CompareHashAndPassword([]byte(h), []byte(norm)) == nil
		})
	}
	wg.Wait()
	for i, h := range hashes {
		if matched[i] && !ok {
			hash, ok = h, true
		}
	}
	return hash, ok
}

// normalizeBackupCode forgives lower case, spaces and dashes, and tells
// whether what is left has the shape of a backup code.
func normalizeBackupCode(code string) (string, bool) {
	norm := backupCodes.Normalize(code)
	if len(norm) != backupCodeLength {
		return "", false
	}
	for i := range len(norm) {
		if !strings.ContainsRune(AlphanumericAlphabet, rune(norm[i])) {
			return "", false
		}
	}
	return norm, true
}
