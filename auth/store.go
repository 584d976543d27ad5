package auth

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"
)

// ErrNotFound is returned by a Store for a key that is absent or expired.
var ErrNotFound = errors.New("not found")

// Store keeps short-lived server-side state: pending sign-ins and counters.
// Every operation is atomic, so that replayed cookies and concurrent
// requests cannot reset a counter or use a code twice. The primitives map
// one to one onto Redis (SET PX, GET, DEL, GETDEL, INCR+PEXPIRE NX, and a
// sorted set for the sliding windows), so a shared store for several
// replicas needs no change to the sign-in flow.
type Store interface {
	// Put stores value under key until ttl has passed, replacing any value.
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Get returns the value under key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Take returns the value under key and deletes it in one step: of two
	// concurrent callers, exactly one gets the value, the other ErrNotFound.
	Take(ctx context.Context, key string) ([]byte, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Incr adds one to the counter under key and returns the new count. A new
	// counter expires after ttl; later increments do not extend it.
	Incr(ctx context.Context, key string, ttl time.Duration) (int64, error)
	// Decr takes one from an existing counter, to undo an Incr whose
	// purpose was refused; a missing or expired counter stays missing.
	Decr(ctx context.Context, key string) error
	// WindowAdd records one event under key, at the store's current time
	// now, if fewer than limit events are in the sliding window (now-window,
	// now]; events that left the window are forgotten first. The check and
	// the record are one atomic step: of any number of concurrent callers,
	// at most limit are Added in any span of length window. The key lives
	// until its newest event leaves the window. A key must always be used
	// with the same window, and only with WindowAdd, WindowRemove and
	// Delete (which forgets every event). limit must be at least 1. In
	// Redis: a sorted set scored by time, in one script ZREMRANGEBYSCORE,
	// ZCARD, ZADD of a unique member when under limit, PEXPIRE.
	WindowAdd(ctx context.Context, key string, limit int64, window time.Duration) (WindowResult, error)
	// WindowRemove takes back the event id that WindowAdd recorded under
	// key, to refund an event whose purpose was refused or failed; a
	// missing key or event is not an error and creates nothing. In Redis:
	// ZREM.
	WindowRemove(ctx context.Context, key, id string) error
	// Ping checks that the store answers, for readiness probes.
	Ping(ctx context.Context) error
}

// WindowResult is the answer of Store.WindowAdd.
type WindowResult struct {
	// Added is true when the event was recorded.
	Added bool
	// Count is the number of events in the window after the call, this
	// one included when Added.
	Count int64
	// ID names the recorded event for WindowRemove; empty unless Added.
	ID string
	// Oldest is the time of the oldest event in the window (zero when
	// there is none). A refused event would fit once Oldest+window has
	// passed, if nothing else was added meanwhile.
	Oldest time.Time
}

// ErrBadWindow is returned by WindowAdd for a limit below 1 or a window
// that is not positive.
var ErrBadWindow = errors.New("window limit must be at least 1 and its length positive")

// MemoryStore is a Store for a single otpgate process.
type MemoryStore struct {
	now func() time.Time

	mu        sync.Mutex
	entries   map[string]memoryEntry
	lastSweep time.Time
	lastID    uint64 // of window events
}

type memoryEntry struct {
	value   []byte
	events  []windowEvent // a sliding window's, oldest first
	expires time.Time
}

type windowEvent struct {
	at time.Time
	id string
}

// sweepEvery bounds how long expired entries linger; sweeping is done
// inline by writers, so there is no background goroutine to manage.
const sweepEvery = time.Minute

// NewMemoryStore returns an empty MemoryStore; now is the clock (time.Now
// when nil), injectable so tests control expiry.
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{now: now, entries: make(map[string]memoryEntry)}
}

var _ Store = (*MemoryStore)(nil)

// Put implements Store.
func (s *MemoryStore) Put(_ context.Context, key string, value []byte, ttl time.Duration) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	s.entries[key] = memoryEntry{value: append([]byte(nil), value...), expires: now.Add(ttl)}
	return nil
}

// Get implements Store.
func (s *MemoryStore) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.liveLocked(key)
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte(nil), e.value...), nil
}

// Take implements Store.
func (s *MemoryStore) Take(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.liveLocked(key)
	if !ok {
		return nil, ErrNotFound
	}
	delete(s.entries, key)
	return e.value, nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entries, key)
	return nil
}

// Incr implements Store.
func (s *MemoryStore) Incr(_ context.Context, key string, ttl time.Duration) (int64, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	var n int64
	e, ok := s.liveLocked(key)
	if ok {
		var err error
		if n, err = strconv.ParseInt(string(e.value), 10, 64); err != nil {
			return 0, errors.New("incr: value is not a counter")
		}
	} else {
		e.expires = now.Add(ttl)
	}
	n++
	e.value = strconv.AppendInt(nil, n, 10)
	s.entries[key] = e
	return n, nil
}

// Decr implements Store.
func (s *MemoryStore) Decr(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.liveLocked(key)
	if !ok {
		return nil
	}
	n, err := strconv.ParseInt(string(e.value), 10, 64)
	if err != nil {
		return errors.New("decr: value is not a counter")
	}
	e.value = strconv.AppendInt(nil, n-1, 10)
	s.entries[key] = e
	return nil
}

// WindowAdd implements Store.
func (s *MemoryStore) WindowAdd(_ context.Context, key string, limit int64, window time.Duration) (WindowResult, error) {
	if limit < 1 || window <= 0 {
		return WindowResult{}, ErrBadWindow
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	e, _ := s.liveLocked(key)
	// Drop what left the window: an event at t counts while now-t < window.
	first := 0
	for first < len(e.events) && !now.Before(e.events[first].at.Add(window)) {
		first++
	}
	events := e.events[first:]
	var res WindowResult
	if int64(len(events)) < limit {
		s.lastID++
		res.Added, res.ID = true, strconv.FormatUint(s.lastID, 10)
		events = append(slices.Clip(events), windowEvent{at: now, id: res.ID})
	}
	res.Count = int64(len(events))
	if len(events) == 0 {
		delete(s.entries, key)
		return res, nil
	}
	res.Oldest = events[0].at
	s.entries[key] = memoryEntry{events: events, expires: events[len(events)-1].at.Add(window)}
	return res, nil
}

// WindowRemove implements Store.
func (s *MemoryStore) WindowRemove(_ context.Context, key, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.liveLocked(key)
	if !ok {
		return nil
	}
	i := slices.IndexFunc(e.events, func(ev windowEvent) bool { return ev.id == id })
	if i < 0 {
		return nil
	}
	e.events = slices.Delete(slices.Clone(e.events), i, i+1)
	if len(e.events) == 0 {
		delete(s.entries, key)
		return nil
	}
	s.entries[key] = e
	return nil
}

// Ping implements Store; memory is always ready.
func (s *MemoryStore) Ping(context.Context) error { return nil }

// Len returns the number of entries, expired ones included until swept.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

func (s *MemoryStore) liveLocked(key string) (memoryEntry, bool) {
	e, ok := s.entries[key]
	if !ok {
		return memoryEntry{}, false
	}
	if !s.now().Before(e.expires) {
		delete(s.entries, key)
		return memoryEntry{}, false
	}
	return e, true
}

func (s *MemoryStore) sweepLocked(now time.Time) {
	if now.Sub(s.lastSweep) < sweepEvery {
		return
	}
	s.lastSweep = now
	for k, e := range s.entries {
		if !now.Before(e.expires) {
			delete(s.entries, k)
		}
	}
}
