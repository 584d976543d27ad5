package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Alphabets for one-time codes. The alphanumeric one leaves out characters
// that are easily confused when read off a phone (0/O, 1/I/L).
const (
	DigitAlphabet        = "0123456789"
	AlphanumericAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
)

// CodeMaker makes one-time codes and the keyed hashes that are stored in
// their place, so a leaked store does not reveal codes that are still valid.
type CodeMaker struct {
	length   int
	alphabet string
	key      []byte
}

// NewCodeMaker returns a CodeMaker for codes of length characters drawn from
// alphabet; key keys the HMAC and must be secret.
func NewCodeMaker(length int, alphabet string, key []byte) (*CodeMaker, error) {
	if length < 4 || length > 10 {
		return nil, fmt.Errorf("code length %d: want 4 to 10", length)
	}
	if len(alphabet) < 10 {
		return nil, fmt.Errorf("code alphabet %q: want at least 10 characters", alphabet)
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("code key: %d bytes, want at least 32", len(key))
	}
	return &CodeMaker{length: length, alphabet: alphabet, key: key}, nil
}

// New returns a fresh uniformly random code.
func (m *CodeMaker) New() (string, error) {
	var b strings.Builder
	b.Grow(m.length)
	// rand.Text-style rejection sampling keeps every character equally likely.
	limit := 256 - 256%len(m.alphabet)
	buf := make([]byte, 2*m.length)
	for b.Len() < m.length {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("read random bytes for code: %w", err)
		}
		for _, c := range buf {
			if int(c) >= limit {
				continue
			}
			b.WriteByte(m.alphabet[int(c)%len(m.alphabet)])
			if b.Len() == m.length {
				break
			}
		}
	}
	return b.String(), nil
}

// Hash returns the keyed hash of code, bound to the pending sign-in it was
// sent for, so a code can never be used for another sign-in.
func (m *CodeMaker) Hash(pendingID, code string) string {
	mac := hmac.New(sha256.New, m.key)
	mac.Write([]byte(pendingID))
	mac.Write([]byte{0})
	mac.Write([]byte(m.Normalize(code)))
	return hex.EncodeToString(mac.Sum(nil))
}

// Matches reports in constant time whether code hashes to want.
func (m *CodeMaker) Matches(pendingID, code, want string) bool {
	return hmac.Equal([]byte(m.Hash(pendingID, code)), []byte(want))
}

// Normalize forgives what people do when typing a code from a text message:
// spaces, dashes and lower case.
func (m *CodeMaker) Normalize(code string) string {
	code = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '\t':
			return -1
		}
		return r
	}, code)
	return strings.ToUpper(code)
}
