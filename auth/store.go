package auth

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"
)

// ErrNotFound is returned by a Store for a key that is absent or expired.
var ErrNotFound = errors.New("not found")

// Store keeps short-lived server-side state: pending sign-ins and counters.
// Every operation is atomic, so that replayed cookies and concurrent
// requests cannot reset a counter or use a code twice. The primitives map
// one to one onto Redis (SET PX, GET, DEL, GETDEL, INCR+PEXPIRE NX), so a
// shared store for several replicas needs no change to the sign-in flow.
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
	// Ping checks that the store answers, for readiness probes.
	Ping(ctx context.Context) error
}

// MemoryStore is a Store for a single otpgate process.
type MemoryStore struct {
	now func() time.Time

	mu        sync.Mutex
	entries   map[string]memoryEntry
	lastSweep time.Time
}

type memoryEntry struct {
	value   []byte
	expires time.Time
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

func (s *MemoryStore) Put(_ context.Context, key string, value []byte, ttl time.Duration) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	s.entries[key] = memoryEntry{value: append([]byte(nil), value...), expires: now.Add(ttl)}
	return nil
}

func (s *MemoryStore) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.liveLocked(key)
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte(nil), e.value...), nil
}

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

func (s *MemoryStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entries, key)
	return nil
}

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
