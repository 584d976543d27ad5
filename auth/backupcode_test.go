package auth

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

var backupCodeRE = regexp.MustCompile(`^[` + AlphanumericAlphabet + `]{4}-[` + AlphanumericAlphabet + `]{4}$`)

func TestNewBackupCodes(t *testing.T) {
	for _, n := range []int{1, 10, maxBackupCodes} {
		codes, err := NewBackupCodes(n)
		if err != nil {
			t.Fatalf("NewBackupCodes(%d): %v", n, err)
		}
		if len(codes) != n {
			t.Fatalf("NewBackupCodes(%d): got %d codes, want %d", n, len(codes), n)
		}
		seen := map[string]bool{}
		for _, c := range codes {
			if !backupCodeRE.MatchString(c) {
				t.Errorf("got %q, want the form %q", c, "7KQ4-M2XD")
			}
			if seen[c] {
				t.Errorf("got %q twice in one set", c)
			}
			seen[c] = true
		}
	}
	for _, n := range []int{0, -1, maxBackupCodes + 1} {
		if codes, err := NewBackupCodes(n); err == nil {
			t.Errorf("NewBackupCodes(%d): got %q, want an error", n, codes)
		}
	}
}

// Every alphabet character should turn up in every position: a stuck or
// biased generator would not.
func TestNewBackupCodesSpread(t *testing.T) {
	codes, err := NewBackupCodes(maxBackupCodes)
	if err != nil {
		t.Fatal(err)
	}
	more, err := NewBackupCodes(maxBackupCodes)
	if err != nil {
		t.Fatal(err)
	}
	codes = append(codes, more...)
	// 200 draws from 31 characters: each is missing with probability
	// (30/31)^200, about 1e-3; any of them, below 4%. Across 8 positions,
	// count the characters seen overall instead.
	seen := map[rune]bool{}
	for _, c := range codes {
		for _, r := range strings.ReplaceAll(c, "-", "") {
			seen[r] = true
		}
	}
	if got, want := len(seen), len(AlphanumericAlphabet); got != want {
		t.Errorf("got %d distinct characters in 1600, want all %d", got, want)
	}
	// Two sets never share a code (a repeat is about 1 in 4e7).
	first := map[string]bool{}
	for _, c := range codes[:maxBackupCodes] {
		first[c] = true
	}
	for _, c := range codes[maxBackupCodes:] {
		if first[c] {
			t.Errorf("got %q in two sets", c)
		}
	}
}

func TestBackupCodeMatch(t *testing.T) {
	t.Parallel()
	codes := []string{"7KQ4-M2XD", "ABCD-EFGH", "2345-6789"}
	// The first hash is HashBackupCode's own; the others are of the
	// normalised codes at bcrypt's lowest cost, which matches the same
	// way and keeps the race detector's run short.
	real, err := HashBackupCode(codes[0])
	if err != nil {
		t.Fatalf("HashBackupCode: %v", err)
	}
	if strings.Contains(real, "7KQ4M2XD") {
		t.Fatalf("hash %q holds the code", real)
	}
	if cost, err := bcrypt.Cost([]byte(real)); err != nil || cost != backupCodeCost {
		t.Fatalf("hash %q: cost %d (%v), want %d", real, cost, err, backupCodeCost)
	}
	hashes := []string{real}
	for _, c := range codes[1:] {
		h, err := bcrypt.GenerateFromPassword([]byte(strings.ReplaceAll(c, "-", "")), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, string(h))
	}
	// Same code, new salt: two hashes never compare equal as strings, so
	// LDAP value deletion must use the stored hash, not a new one.
	if again, _ := HashBackupCode(codes[0]); again == hashes[0] {
		t.Errorf("hashing twice gave %q both times, want different salts", again)
	}
	// A hash claiming a cost above the limit (only its header is read, so
	// it need not be computed, which would take seconds).
	cheap, err := bcrypt.GenerateFromPassword([]byte("ZZZZZZZZ"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	slow := strings.Replace(string(cheap), fmt.Sprintf("$%02d$", bcrypt.MinCost), fmt.Sprintf("$%02d$", maxBackupCodeCost+1), 1)
	if cost, err := bcrypt.Cost([]byte(slow)); err != nil || cost != maxBackupCodeCost+1 {
		t.Fatalf("hash %q: cost %d (%v), want %d", slow, cost, err, maxBackupCodeCost+1)
	}

	for _, tc := range []struct {
		name, code string
		hashes     []string
		want       string // the matching hash, "" for no match
	}{
		{name: "first", code: "7KQ4-M2XD", hashes: hashes, want: hashes[0]},
		{name: "last", code: "2345-6789", hashes: hashes, want: hashes[2]},
		{name: "lower case with a space", code: "7kq4 m2xd", hashes: hashes, want: hashes[0]},
		{name: "no dash", code: "abcdefgh", hashes: hashes, want: hashes[1]},
		{name: "tabs and dashes", code: "\tAB-CD-EF-GH ", hashes: hashes, want: hashes[1]},
		{name: "wrong code", code: "7KQ4-M2XE", hashes: hashes},
		{name: "empty hashes", code: "7KQ4-M2XD"},
		{name: "empty code", code: "", hashes: hashes},
		{name: "too short", code: "7KQ4-M2X", hashes: hashes},
		{name: "too long", code: "7KQ4-M2XDD", hashes: hashes},
		// Letters left out of the alphabet can never be part of a code.
		{name: "confusable letters", code: "0OI1-LLLL", hashes: hashes},
		{name: "not bcrypt", code: "7KQ4-M2XD", hashes: []string{"7KQ4M2XD", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := MatchBackupCode(tc.code, tc.hashes)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("got %q, %v; want %q, %v", got, ok, tc.want, tc.want != "")
			}
		})
	}

	// Skipped, not computed. Whether it was is not told by the time taken
	// (speed is for benchmarks): a hash claiming bcrypt's highest cost, 31,
	// would take years to compute, so MatchBackupCode returning at all
	// shows it was skipped. The bound is a hang guard only.
	slowest := strings.Replace(slow, fmt.Sprintf("$%02d$", maxBackupCodeCost+1), fmt.Sprintf("$%02d$", bcrypt.MaxCost), 1)
	for _, h := range []string{slow, slowest} {
		done := make(chan bool, 1)
		go func() {
			_, ok := MatchBackupCode("ZZZZ-ZZZZ", []string{h})
			done <- ok
		}()
		select {
		case ok := <-done:
			if ok {
				t.Errorf("hash %q: got a match, want none", h)
			}
		case <-time.After(time.Minute):
			t.Fatalf("hash %q: MatchBackupCode did not return within a minute; want the hash skipped, not computed", h)
		}
	}

	for _, bad := range []string{"", "7KQ4", "7KQ4-M2X0", "héllo-wor"} {
		if h, err := HashBackupCode(bad); err == nil {
			t.Errorf("HashBackupCode(%q): got %q, want an error", bad, h)
		} else if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("HashBackupCode(%q): error %q holds the code", bad, err)
		}
	}
}

// BenchmarkMatchBackupCode measures a check against a full set of 10
// hashes (they are compared GOMAXPROCS at a time), beside one bcrypt
// comparison, so the cost per sign-in can be read as a ratio.
func BenchmarkMatchBackupCode(b *testing.B) {
	codes, err := NewBackupCodes(10)
	if err != nil {
		b.Fatal(err)
	}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		if hashes[i], err = HashBackupCode(c); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("one-comparison", func(b *testing.B) {
		for b.Loop() {
			_ = bcrypt.CompareHashAndPassword([]byte(hashes[0]), []byte("22222222"))
		}
	})
	b.Run("set-of-10", func(b *testing.B) {
		for b.Loop() {
			if _, ok := MatchBackupCode("2222-2222", hashes); ok {
				b.Fatal("a code not in the set matched")
			}
		}
	})
}
