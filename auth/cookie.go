package auth

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

// MinSecretLen is the shortest cookie secret accepted, in bytes.
const MinSecretLen = 32

// Keys holds the keys otpgate derives from its configured secrets. The first
// secret signs and encrypts; the others only verify and decrypt, so a secret
// can be rotated without signing everyone out.
type Keys struct {
	secrets [][]byte
}

// NewKeys checks the secrets (at least one, each at least MinSecretLen
// bytes) and returns the keys derived from them.
func NewKeys(secrets [][]byte) (*Keys, error) {
	if len(secrets) == 0 {
		return nil, errors.New("no secret given")
	}
	for i, s := range secrets {
		if len(s) < MinSecretLen {
			return nil, fmt.Errorf("secret %d is %d bytes, want at least %d", i+1, len(s), MinSecretLen)
		}
	}
	return &Keys{secrets: secrets}, nil
}

// derive returns a key for one purpose, so that no two uses of a secret
// (signing, encrypting, hashing codes) share key material.
func derive(secret []byte, purpose string, n int) []byte {
	key, err := hkdf.Key(sha256.New, secret, nil, "otpgate "+purpose, n)
	if err != nil {
		// Only possible for n > 255*32, a programming error.
		panic(fmt.Sprintf("derive %s key: %v", purpose, err))
	}
	return key
}

// CodeKey returns the key for hashing one-time codes.
func (k *Keys) CodeKey() []byte { return derive(k.secrets[0], "code hmac", 32) }

// codecs returns securecookie codecs for every secret, newest first, with a
// JSON serializer (much cheaper to decode than gob on every request).
func (k *Keys) codecs(maxAge time.Duration) []securecookie.Codec {
	codecs := make([]securecookie.Codec, len(k.secrets))
	for i, s := range k.secrets {
		c := securecookie.New(derive(s, "cookie hmac", 64), derive(s, "cookie aes", 32))
		c.SetSerializer(securecookie.JSONEncoder{})
		c.MaxAge(int(maxAge / time.Second))
		c.MaxLength(8192)
		codecs[i] = c
	}
	return codecs
}

// CookieOptions are the attributes shared by every otpgate cookie.
type CookieOptions struct {
	Name   string // base name; a __Host- or __Secure- prefix is added when Secure
	Secure bool
	Domain string // empty: host-only cookie
}

// fullName returns name with the prefix browsers use to pin a cookie to a
// secure origin, so that a sibling host or plain-HTTP page cannot plant one.
func (o CookieOptions) fullName(suffix string) string {
	name := o.Name + suffix
	switch {
	case o.Secure && o.Domain == "":
		return "__Host-" + name
	case o.Secure:
		return "__Secure-" + name
	}
	return name
}

// Cookie reads and writes one signed and encrypted cookie holding a T.
type Cookie[T any] struct {
	name    string
	opts    CookieOptions
	maxAge  time.Duration
	codecs  []securecookie.Codec
	primary securecookie.Codec
	// For value: whether net/http would read a cookie of this name at
	// all, and whether GODEBUG moves its cap on cookies per request.
	token, capMoved bool
}

// NewCookie returns a Cookie named opts.Name+suffix whose values are
// refused once older than maxAge.
func NewCookie[T any](keys *Keys, opts CookieOptions, suffix string, maxAge time.Duration) (*Cookie[T], error) {
	c := &Cookie[T]{name: opts.fullName(suffix), opts: opts, maxAge: maxAge, codecs: keys.codecs(maxAge)}
	c.token, c.capMoved = isCookieToken(c.name), strings.Contains(os.Getenv("GODEBUG"), "httpcookiemaxnum")
	c.primary = c.codecs[0]
	// securecookie falls back silently to a later key pair when one fails
	// to encode; prove the signing pair works now rather than at sign-in.
	var zero T
	if _, err := c.primary.Encode(c.name, zero); err != nil {
		return nil, fmt.Errorf("cookie %s: encode check: %w", c.name, err)
	}
	return c, nil
}

// Name returns the cookie's name as the browser sees it.
func (c *Cookie[T]) Name() string { return c.name }

// Read decodes the cookie from r; any tampering, expiry or absence is an
// error and the caller treats the request as having no such cookie.
func (c *Cookie[T]) Read(r *http.Request) (T, error) {
	hc, err := r.Cookie(c.name)
	if err != nil {
		var zero T
		return zero, err
	}
	return c.Decode(hc.Value)
}

// Decode verifies, decrypts and decodes one cookie value.
func (c *Cookie[T]) Decode(value string) (T, error) {
	var v T
	if err := securecookie.DecodeMulti(c.name, value, &v, c.codecs...); err != nil {
		return v, fmt.Errorf("cookie %s: %w", c.name, err)
	}
	return v, nil
}

// Write sets the cookie to v for at most lifetime (at most the codec's max age).
func (c *Cookie[T]) Write(w http.ResponseWriter, v T, lifetime time.Duration) error {
	encoded, err := c.primary.Encode(c.name, v)
	if err != nil {
		return fmt.Errorf("cookie %s: encode: %w", c.name, err)
	}
	if lifetime > c.maxAge || lifetime <= 0 {
		lifetime = c.maxAge
	}
	http.SetCookie(w, sessions.NewCookie(c.name, encoded, c.options(int(lifetime/time.Second))))
	return nil
}

// Clear tells the browser to forget the cookie.
func (c *Cookie[T]) Clear(w http.ResponseWriter) {
	http.SetCookie(w, sessions.NewCookie(c.name, "", c.options(-1)))
}

func (c *Cookie[T]) options(maxAge int) *sessions.Options {
	// Every attribute is set here: gorilla's defaults (30 days, readable by
	// scripts, SameSite unset) are wrong for an authentication cookie.
	return &sessions.Options{
		Path:     "/",
		Domain:   c.opts.Domain,
		MaxAge:   maxAge,
		Secure:   c.opts.Secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// value is r.Cookie(c.Name()).Value, read by net/http's rules (the first
// cookie of that name whose value is valid, quotes removed) without
// r.Cookie's allocations, which every signed-in request would pay. Where
// those rules depend on more than the header (a count of cookies beyond
// net/http's cap, or a cap set with GODEBUG=httpcookiemaxnum), r.Cookie
// itself answers.
func (c *Cookie[T]) value(r *http.Request) (string, bool) {
	lines := r.Header["Cookie"]
	if len(lines) == 0 || !c.token {
		return "", false
	}
	count := 0
	for _, line := range lines {
		count += strings.Count(line, ";") + 1
	}
	if count > maxCookies || c.capMoved {
		hc, err := r.Cookie(c.name)
		if err != nil {
			return "", false
		}
		return hc.Value, true
	}
	for _, line := range lines {
		line = textproto.TrimString(line)
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			n, v, _ := strings.Cut(textproto.TrimString(part), "=")
			if textproto.TrimString(n) != c.name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if validCookieValue(v) {
				return v, true
			}
		}
	}
	return "", false
}

// maxCookies is net/http's cap on the cookies of a request: with more, it
// reads none.
const maxCookies = 3000

// isCookieToken reports whether name is an RFC 7230 token, as net/http
// requires of a cookie name it reads.
func isCookieToken(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validCookieValue reports whether net/http accepts v (unquoted) as a
// cookie's value.
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}
