package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Session is what a signed-in browser carries in its encrypted cookie.
type Session struct {
	ID       string `json:"id"`
	User     User   `json:"user"`
	Factors  int    `json:"f"`  // 2 after password and code (or backup code), 1 where policy lets the password alone do
	AuthTime int64  `json:"at"` // unix seconds of sign-in: bounds the absolute lifetime
	LastSeen int64  `json:"ls"` // unix seconds of last use: bounds the idle time
}

// SessionConfig sets how long sessions live.
type SessionConfig struct {
	Lifetime time.Duration // absolute, from sign-in
	Idle     time.Duration // since last use
	// Store, when set, keeps what a cookie alone cannot: sessions signed
	// out (so a copied cookie stops working everywhere at once) and the
	// last use of sessions checked through forward-auth, where the proxy
	// does not pass a renewed cookie back to the browser. With a store,
	// a user can sign out everywhere (SignOutEverywhere).
	Store Store
	// With a Store, Directory and Refresh, sessions follow the directory:
	// a user it has not confirmed for Refresh is read again, and refused
	// when gone or disabled; their name, e-mail and groups are updated.
	// While it cannot be asked, sessions go on with what it last said,
	// for RefreshGrace after a read was due, then are refused.
	Directory    Directory
	Refresh      time.Duration
	RefreshGrace time.Duration
	// Log receives what following the directory finds; nil: discarded.
	Log *slog.Logger
}

// Sessions issues, checks, renews and clears session cookies.
type Sessions struct {
	cookie *Cookie[Session]
	cfg    SessionConfig
	now    func() time.Time
	// renewAfter limits cookie rewrites to one per interval per session, so
	// the idle timer is kept without re-encrypting on every request.
	renewAfter time.Duration
	decoded    *decodeCache
	follow     *follower // nil without a store
}

// Errors from Sessions.Load. Callers treat all as "not signed in".
var (
	ErrNoSession      = errors.New("no session")
	ErrSessionExpired = errors.New("session expired")
	ErrSessionRevoked = errors.New("session signed out")
)

func revokedKey(id string) string { return "revoked:" + id }
func seenKey(id string) string    { return "seen:" + id }

// NewSessions returns Sessions using keys and cookie options; now is the
// clock (time.Now when nil).
func NewSessions(keys *Keys, opts CookieOptions, cfg SessionConfig, now func() time.Time) (*Sessions, error) {
	if cfg.Lifetime <= 0 || cfg.Idle <= 0 {
		return nil, fmt.Errorf("session lifetime %v and idle %v must be positive", cfg.Lifetime, cfg.Idle)
	}
	if now == nil {
		now = time.Now
	}
	c, err := NewCookie[Session](keys, opts, "", cfg.Lifetime)
	if err != nil {
		return nil, err
	}
	renew := min(cfg.Idle/10, time.Minute)
	return &Sessions{cookie: c, cfg: cfg, now: now, renewAfter: renew, decoded: newDecodeCache(4096), follow: newFollower(cfg)}, nil
}

// CookieName returns the session cookie's name.
func (s *Sessions) CookieName() string { return s.cookie.Name() }

// Load returns the request's session if it is genuine, complete (at least
// one factor: how many is the caller's to require), within both its
// lifetime and idle time (the idle time as the store recorded it, for
// sessions used through forward-auth), and not signed out.
func (s *Sessions) Load(r *http.Request) (Session, error) {
	value, ok := s.cookie.value(r)
	if !ok {
		return Session{}, ErrNoSession
	}
	// Decrypting and verifying a cookie costs more than proxying a small
	// request; a value that verified once decodes the same way again, so
	// verified values are remembered. Time limits are checked below on
	// every request either way.
	entry, ok := s.decoded.get(value)
	if !ok {
		sess, err := s.cookie.Decode(value)
		if err != nil {
			return Session{}, fmt.Errorf("%w: %w", ErrNoSession, err)
		}
		entry = s.decoded.put(value, sess)
	}
	sess := entry.sess
	now := s.now().Unix()
	switch {
	case sess.User.Username == "" || sess.ID == "" || sess.Factors < 1:
		return Session{}, fmt.Errorf("%w: incomplete session", ErrNoSession)
	case now >= sess.AuthTime+int64(s.cfg.Lifetime/time.Second):
		return Session{}, fmt.Errorf("%w: signed in at %s, lifetime %v", ErrSessionExpired, time.Unix(sess.AuthTime, 0).UTC().Format(time.RFC3339), s.cfg.Lifetime)
	case sess.LastSeen > now+60 || sess.AuthTime > now+60:
		return Session{}, fmt.Errorf("%w: session from the future", ErrNoSession)
	}
	if now >= sess.LastSeen+int64(s.cfg.Idle/time.Second) {
		seen := s.lastSeen(r, sess.ID)
		if now >= seen+int64(s.cfg.Idle/time.Second) {
			return Session{}, fmt.Errorf("%w: idle since %s, limit %v", ErrSessionExpired, time.Unix(max(seen, sess.LastSeen), 0).UTC().Format(time.RFC3339), s.cfg.Idle)
		}
		sess.LastSeen = seen
	}
	if s.cfg.Store != nil {
		if _, err := s.cfg.Store.Get(r.Context(), entry.revokedKey); err == nil {
			return Session{}, ErrSessionRevoked
		} else if !errors.Is(err, ErrNotFound) {
			// Fail closed: a session that cannot be checked is not accepted.
			return Session{}, fmt.Errorf("%w: check sign-out: %w", ErrNoSession, err)
		}
	}
	if s.follow != nil {
		return s.follow.check(r.Context(), sess, s.now())
	}
	return sess, nil
}

// Issue writes a new session for user, signed in now with factors factors.
// It always makes a new session ID, so a session is never fixed in advance.
func (s *Sessions) Issue(w http.ResponseWriter, user User, factors int) (Session, error) {
	id, err := randomID()
	if err != nil {
		return Session{}, err
	}
	now := s.now().Unix()
	user.Mobile = "" // not needed after sign-in; keep the cookie minimal
	sess := Session{ID: id, User: user, Factors: factors, AuthTime: now, LastSeen: now}
	return sess, s.write(w, sess)
}

// lastSeen returns the last use recorded in the store, or 0.
func (s *Sessions) lastSeen(r *http.Request, id string) int64 {
	if s.cfg.Store == nil {
		return 0
	}
	b, err := s.cfg.Store.Get(r.Context(), seenKey(id))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(string(b), 10, 64)
	return n
}

// Touch renews the idle timer of a loaded session when it is due: in the
// cookie, and in the store when there is one.
func (s *Sessions) Touch(r *http.Request, w http.ResponseWriter, sess Session) error {
	now := s.now().Unix()
	if now-sess.LastSeen < int64(s.renewAfter/time.Second) {
		return nil
	}
	sess.LastSeen = now
	if s.cfg.Store != nil {
		if err := s.cfg.Store.Put(r.Context(), seenKey(sess.ID), strconv.AppendInt(nil, now, 10), s.cfg.Idle); err != nil {
			return fmt.Errorf("record session use: %w", err)
		}
	}
	// A client may keep sending the cookie it had (a forward-auth proxy
	// passes no renewed cookie back): remember the renewal against that
	// cookie, or every request after the interval would renew again.
	if value, ok := s.cookie.value(r); ok {
		s.decoded.renewed(value, now)
	}
	return s.write(w, sess)
}

// Clear ends the browser's session.
func (s *Sessions) Clear(w http.ResponseWriter) { s.cookie.Clear(w) }

// Revoke ends sess everywhere: the cookie is refused from now on, even a
// copy of it, until it would have expired anyway.
func (s *Sessions) Revoke(r *http.Request, sess Session) error {
	if s.cfg.Store == nil {
		return nil
	}
	left := time.Unix(sess.AuthTime, 0).Add(s.cfg.Lifetime).Sub(s.now())
	if left <= 0 {
		return nil
	}
	return s.cfg.Store.Put(context.WithoutCancel(r.Context()), revokedKey(sess.ID), []byte{1}, left)
}

// SignOutEverywhere ends every session of username signed in until now,
// on every replica that shares the store, within a second. Sessions
// signed in later, even within the same second, are refused too: a
// whole second is the cookie's resolution, and refusing is the safe side.
func (s *Sessions) SignOutEverywhere(ctx context.Context, username string) error {
	if s.follow == nil {
		return errors.New("sign out everywhere needs a store")
	}
	return s.follow.signOutEverywhere(ctx, username, s.now())
}

func (s *Sessions) write(w http.ResponseWriter, sess Session) error {
	left := time.Unix(sess.AuthTime, 0).Add(s.cfg.Lifetime).Sub(s.now())
	return s.cookie.Write(w, sess, left)
}

// decodeCache remembers decoded session cookies by their exact value. Only
// values that passed verification enter it, so it cannot be filled by
// forged cookies; when full it starts afresh, which bounds its memory.
type decodeCache struct {
	max int
	mu  sync.RWMutex
	m   map[string]decoded
}

// decoded is a verified session, with the store key its every use reads
// made once rather than per request.
type decoded struct {
	sess       Session
	revokedKey string
}

func newDecodeCache(max int) *decodeCache {
	return &decodeCache{max: max, m: make(map[string]decoded)}
}

func (c *decodeCache) get(value string) (decoded, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	d, ok := c.m[value]
	return d, ok
}

// renewed records that the session behind value was renewed at lastSeen.
func (c *decodeCache) renewed(value string, lastSeen int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.m[value]; ok && d.sess.LastSeen < lastSeen {
		d.sess.LastSeen = lastSeen
		c.m[value] = d
	}
}

func (c *decodeCache) put(value string, s Session) decoded {
	d := decoded{sess: s, revokedKey: revokedKey(s.ID)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		c.m = make(map[string]decoded, c.max)
	}
	c.m[value] = d
	return d
}
