package auth

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// randomID returns 256 random bits, URL-safe, for identifiers an attacker
// must not guess (sessions, pending sign-ins, CSRF tokens).
func randomID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// RandomToken is a random, URL-safe token of 128 bits, for the pages' CSRF
// tokens: the same generator as sign-in IDs.
func RandomToken() (string, error) { return randomID() }
