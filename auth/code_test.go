package auth

import (
	"bytes"
	"strings"
	"testing"
)

var testKey = bytes.Repeat([]byte{7}, 32)

func TestCodeMakerNew(t *testing.T) {
	tests := []struct {
		length   int
		alphabet string
	}{
		{6, DigitAlphabet},
		{10, DigitAlphabet},
		{8, AlphanumericAlphabet},
	}
	for _, tt := range tests {
		m, err := NewCodeMaker(tt.length, tt.alphabet, testKey)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for range 200 {
			c, err := m.New()
			if err != nil {
				t.Fatal(err)
			}
			if len(c) != tt.length {
				t.Fatalf("code %q has length %d, want %d", c, len(c), tt.length)
			}
			if strings.Trim(c, tt.alphabet) != "" {
				t.Fatalf("code %q has characters outside %q", c, tt.alphabet)
			}
			seen[c] = true
		}
		if len(seen) < 190 {
			t.Errorf("only %d distinct codes of length %d in 200", len(seen), tt.length)
		}
	}
}

func TestCodeMakerDigitsAreUniform(t *testing.T) {
	m, _ := NewCodeMaker(10, DigitAlphabet, testKey)
	counts := map[rune]int{}
	const n = 4000
	for range n {
		c, _ := m.New()
		for _, r := range c {
			counts[r]++
		}
	}
	// 40,000 digits: each should be near 4,000; a modulo bias or a stuck
	// digit would show far outside this band.
	for _, d := range DigitAlphabet {
		if c := counts[d]; c < 3600 || c > 4400 {
			t.Errorf("digit %c drawn %d times in %d, want about %d", d, c, n*10, n)
		}
	}
}

func TestCodeMakerHashBindsCodeToSignIn(t *testing.T) {
	m, _ := NewCodeMaker(6, DigitAlphabet, testKey)
	h := m.Hash("pending-a", "123456")
	tests := []struct {
		name, pending, code string
		want                bool
	}{
		{"same code, same sign-in", "pending-a", "123456", true},
		{"typed with spaces", "pending-a", " 123 456 ", true},
		{"typed with a dash", "pending-a", "123-456", true},
		{"other sign-in", "pending-b", "123456", false},
		{"wrong code", "pending-a", "123457", false},
		{"empty", "pending-a", "", false},
	}
	for _, tt := range tests {
		if got := m.Matches(tt.pending, tt.code, h); got != tt.want {
			t.Errorf("%s: Matches(%q, %q) = %v, want %v", tt.name, tt.pending, tt.code, got, tt.want)
		}
	}
	if strings.Contains(h, "123456") {
		t.Fatalf("hash %q contains the code", h)
	}
	other, _ := NewCodeMaker(6, DigitAlphabet, bytes.Repeat([]byte{8}, 32))
	if other.Matches("pending-a", "123456", h) {
		t.Fatal("a code hashed under one key matched under another")
	}
}

func TestNewCodeMakerRefusesBadSettings(t *testing.T) {
	tests := []struct {
		length   int
		alphabet string
		key      []byte
	}{
		{3, DigitAlphabet, testKey},
		{11, DigitAlphabet, testKey},
		{6, "01", testKey},
		{6, DigitAlphabet, []byte("short")},
	}
	for _, tt := range tests {
		if _, err := NewCodeMaker(tt.length, tt.alphabet, tt.key); err == nil {
			t.Errorf("NewCodeMaker(%d, %q, %d-byte key) = nil error, want one", tt.length, tt.alphabet, len(tt.key))
		}
	}
}
