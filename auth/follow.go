package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sessions follow the directory and the user's "sign out everywhere".
//
// Both live in the store, so that what one replica learns serves all:
//   - signedout:<username> holds the unix second of the user's last "sign
//     out everywhere"; sessions signed in at or before it are refused.
//     Every replica reads it at most once a second per user
//     (signOutCheckEvery), so it takes effect everywhere within a second.
//   - dirstate:<DN> holds what the directory last said of the user
//     (dirRecord); a session whose user was not confirmed within Refresh
//     is due, and the first request that finds it due asks the directory,
//     with dircheck:<DN> as a lock so that one replica asks per period.
//
// Between those reads a replica answers from memory (follower.users), so
// a request whose checks are not due costs a map read and no allocation.

// Errors from Sessions.Load for sessions the directory or the user ended.
var (
	// ErrUserRefused: the directory says the user is gone or disabled.
	ErrUserRefused = errors.New("the directory no longer admits this user")
	// ErrSessionUnverified: the directory could not be asked for longer
	// than the grace allows.
	ErrSessionUnverified = errors.New("the directory could not confirm this user for too long")
)

// signOutCheckEvery is how stale a replica's knowledge of a user's "sign
// out everywhere" may be.
const signOutCheckEvery = time.Second

// maxDirectoryRetry bounds how long after a failed or lost attempt a
// replica waits before asking the directory about a user again.
const maxDirectoryRetry = 30 * time.Second

func signedOutKey(username string) string { return "signedout:" + strings.ToLower(username) }

func dirKey(prefix string, u User) string {
	if u.DN != "" {
		return prefix + strings.ToLower(u.DN)
	}
	return prefix + "user:" + strings.ToLower(u.Username)
}

// dirRecord is what the directory said of a user at Checked.
type dirRecord struct {
	Checked int64    `json:"c"` // unix seconds when the directory was asked
	State   string   `json:"s,omitempty"`
	Name    string   `json:"n,omitempty"`
	Email   string   `json:"e,omitempty"`
	Groups  []string `json:"g,omitempty"`
}

// The states of a dirRecord; "" is an active user.
const (
	stateGone     = "gone"
	stateDisabled = "disabled"
)

// userView is what one replica knows of a user.
type userView struct {
	signedOut     int64     // from signedout:, unix seconds; 0: never
	signedOutRead time.Time // when signedOut was read
	rec           dirRecord // the newest record known; Checked 0: none
	nextTry       time.Time // ask the directory (or read the record) not before
}

type follower struct {
	store   Store
	dir     Directory
	refresh time.Duration // 0: the directory is not followed
	grace   time.Duration
	retry   time.Duration
	life    time.Duration
	log     *slog.Logger

	mu    sync.RWMutex
	users map[string]userView // by exact username
}

const maxFollowedUsers = 1 << 16

func newFollower(cfg SessionConfig) *follower {
	if cfg.Store == nil {
		return nil
	}
	f := &follower{store: cfg.Store, grace: cfg.RefreshGrace, life: cfg.Lifetime, log: cfg.Log, users: make(map[string]userView)}
	if cfg.Directory != nil && cfg.Refresh > 0 {
		f.dir, f.refresh = cfg.Directory, cfg.Refresh
		f.retry = min(maxDirectoryRetry, max(cfg.Refresh/4, time.Second))
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	return f
}

// check refuses sess when its user signed out everywhere after it began,
// or the directory no longer admits them; otherwise it returns sess with
// the name, e-mail and groups the directory last gave, when newer than
// the sign-in.
func (f *follower) check(ctx context.Context, sess Session, now time.Time) (Session, error) {
	f.mu.RLock()
	v, ok := f.users[sess.User.Username]
	f.mu.RUnlock()
	if !ok || now.Sub(v.signedOutRead) >= signOutCheckEvery || f.due(v, sess, now) {
		var err error
		if v, err = f.update(ctx, sess, now); err != nil {
			return Session{}, err
		}
	}
	return f.apply(v, sess, now)
}

// lastConfirmed is when the directory last vouched for the user: its
// last record, or the sign-in itself, whichever is newer.
func lastConfirmed(v userView, sess Session) int64 { return max(v.rec.Checked, sess.AuthTime) }

func (f *follower) due(v userView, sess Session, now time.Time) bool {
	return f.refresh > 0 && now.Unix() >= lastConfirmed(v, sess)+int64(f.refresh/time.Second)
}

func (f *follower) apply(v userView, sess Session, now time.Time) (Session, error) {
	if sess.AuthTime <= v.signedOut {
		return Session{}, fmt.Errorf("%w: every session of %q signed out at %s", ErrSessionRevoked, sess.User.Username, unixUTC(v.signedOut))
	}
	if f.refresh == 0 {
		return sess, nil
	}
	if v.rec.Checked >= sess.AuthTime {
		// A record older than the sign-in says less than the sign-in did.
		if v.rec.State != "" {
			return Session{}, fmt.Errorf("%w: %q is %s (directory read at %s)", ErrUserRefused, sess.User.Username, v.rec.State, unixUTC(v.rec.Checked))
		}
		sess.User.Name, sess.User.Email, sess.User.Groups = v.rec.Name, v.rec.Email, v.rec.Groups
	}
	if last := lastConfirmed(v, sess); now.Unix() >= last+int64((f.refresh+f.grace)/time.Second) {
		return Session{}, fmt.Errorf("%w: %q last confirmed at %s, refresh %v, grace %v", ErrSessionUnverified,
			sess.User.Username, unixUTC(last), f.refresh, f.grace)
	}
	return sess, nil
}

// update reads what is stale of the user's view from the store, asks the
// directory when it is due and no other request or replica is asking,
// and remembers the result.
func (f *follower) update(ctx context.Context, sess Session, now time.Time) (userView, error) {
	f.mu.RLock()
	v := f.users[sess.User.Username]
	f.mu.RUnlock()
	if now.Sub(v.signedOutRead) >= signOutCheckEvery {
		at, err := f.signedOut(ctx, sess.User.Username, now)
		if err != nil {
			// Fail closed: a session that cannot be checked is not accepted.
			return userView{}, err
		}
		v.signedOut, v.signedOutRead = at, now
		f.save(sess.User.Username, func(w *userView) { w.signedOut, w.signedOutRead = v.signedOut, v.signedOutRead })
	}
	if !f.due(v, sess, now) || now.Before(v.nextTry) {
		return v, nil
	}
	// Other requests of this user on this replica go on with what is
	// known while this one asks.
	v.nextTry = now.Add(f.retry)
	f.save(sess.User.Username, func(w *userView) { w.nextTry = v.nextTry })

	if rec, err := f.record(ctx, sess.User); err != nil {
		return userView{}, err
	} else if rec.Checked > v.rec.Checked {
		v.rec = rec
	}
	if f.due(v, sess, now) {
		rec, answer, err := f.ask(ctx, sess, now, lastConfirmed(v, sess))
		switch {
		case err != nil:
			return userView{}, err
		case answer == answered:
			v.rec = rec
		case answer == otherAsks:
			// Its record is in the store in a moment.
			v.nextTry = now.Add(time.Second)
		}
	}
	f.save(sess.User.Username, func(w *userView) {
		if v.rec.Checked > w.rec.Checked {
			w.rec = v.rec
		}
		w.nextTry = v.nextTry
	})
	return v, nil
}

// What came of asking the directory.
type answer int

const (
	answered   answer = iota
	otherAsks         // another request or replica holds the lock
	unanswered        // the directory could not be asked
)

// ask asks the directory about the user, unless another replica holds the
// lock, and stores the answer; ok is false when there is no answer.
func (f *follower) ask(ctx context.Context, sess Session, now time.Time, last int64) (dirRecord, answer, error) {
	n, err := f.store.Incr(ctx, dirKey("dircheck:", sess.User), f.retry)
	if err != nil {
		return dirRecord{}, unanswered, fmt.Errorf("%w: directory check lock: %w", ErrNoSession, err)
	}
	if n != 1 {
		return dirRecord{}, otherAsks, nil
	}
	rec := dirRecord{Checked: now.Unix()}
	u, err := f.dir.Lookup(ctx, sess.User)
	var state *AccountStateError
	switch {
	case err == nil:
		rec.Name, rec.Email, rec.Groups = u.Name, u.Email, u.Groups
	case errors.Is(err, ErrUserGone):
		rec.State = stateGone
	case errors.As(err, &state):
		rec.State = stateDisabled
	default:
		// The lock stays until it expires, so that no replica asks a
		// directory that cannot answer more than once per retry period.
		f.log.Warn("session refresh: directory unreachable; sessions go on with what it last said until the grace ends",
			"user", sess.User.Username, "last_confirmed", unixUTC(last),
			"refused_from", unixUTC(last+int64((f.refresh+f.grace)/time.Second)), "err", err)
		return dirRecord{}, unanswered, nil
	}
	if rec.State != "" {
		f.log.Info("session refresh: user "+rec.State+" in the directory; their sessions end", "user", sess.User.Username, "err", err)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return dirRecord{}, unanswered, fmt.Errorf("encode directory record: %w", err)
	}
	if err := f.store.Put(context.WithoutCancel(ctx), dirKey("dirstate:", sess.User), b, f.refresh+f.grace); err != nil {
		return dirRecord{}, unanswered, fmt.Errorf("%w: store directory record: %w", ErrNoSession, err)
	}
	return rec, answered, nil
}

// record returns the user's record in the store; none is a zero record.
func (f *follower) record(ctx context.Context, u User) (dirRecord, error) {
	var rec dirRecord
	b, err := f.store.Get(ctx, dirKey("dirstate:", u))
	switch {
	case errors.Is(err, ErrNotFound):
		return rec, nil
	case err != nil:
		return rec, fmt.Errorf("%w: read directory record: %w", ErrNoSession, err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		// A record this version cannot read is as good as none: the
		// directory is asked again.
		return dirRecord{}, nil
	}
	return rec, nil
}

// signedOut returns the user's last "sign out everywhere", or 0.
func (f *follower) signedOut(ctx context.Context, username string, now time.Time) (int64, error) {
	b, err := f.store.Get(ctx, signedOutKey(username))
	switch {
	case errors.Is(err, ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("%w: check sign-out everywhere: %w", ErrNoSession, err)
	}
	at, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		// Unreadable: refuse every session this record could cover.
		return now.Unix(), nil
	}
	return at, nil
}

// save changes the view of username under the lock.
func (f *follower) save(username string, change func(*userView)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.users[username]
	if !ok && len(f.users) >= maxFollowedUsers {
		// Forgetting costs only store reads: everything is read again.
		f.users = make(map[string]userView)
	}
	change(&v)
	f.users[username] = v
}

// signOutEverywhere records that every session of username signed in by
// now is to be refused.
func (f *follower) signOutEverywhere(ctx context.Context, username string, now time.Time) error {
	if err := SignOutEverywhere(ctx, f.store, username, now, f.life); err != nil {
		return err
	}
	at := now.Unix()
	f.save(username, func(v *userView) { v.signedOut, v.signedOutRead = max(v.signedOut, at), now })
	return nil
}

// SignOutEverywhere records in store that every session of username (as
// apps receive it; letter case does not matter) signed in at or before
// now is refused, by every otpgate that shares store, within a second.
// lifetime is SESSION_LIFETIME: no session outlives it, nor the record.
func SignOutEverywhere(ctx context.Context, store Store, username string, now time.Time, lifetime time.Duration) error {
	if strings.TrimSpace(username) == "" {
		return errors.New("sign out everywhere: no username")
	}
	if err := store.Put(ctx, signedOutKey(username), strconv.AppendInt(nil, now.Unix(), 10), lifetime+time.Minute); err != nil {
		return fmt.Errorf("record sign-out everywhere of %q: %w", username, err)
	}
	return nil
}

func unixUTC(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }
