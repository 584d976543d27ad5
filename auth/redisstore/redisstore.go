// Package redisstore is an auth.Store on Redis (or Valkey), shared by every
// otpgate replica that uses the same server and key prefix. Every method is
// one command or one Lua script, so each is atomic across replicas; every
// key gets a TTL. Sliding windows read the time from Redis (TIME inside the
// script), so replicas with skewed clocks agree.
//
// Get is answered from a client-side cache that Redis itself invalidates
// (RESP3 client tracking): the per-request checks of a session (signed
// out? last used?) cost no round trip until a replica changes the key.
// When the connection is lost the cache goes with it, so a store that
// cannot reach Redis answers errors, never stale values for long: otpgate
// fails closed.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/otpgate/otpgate/auth"
)

// cacheTTL bounds how long a cached Get is trusted without word from
// Redis. Invalidation is what keeps it right; this only caps what a lost
// invalidation could cost, and the memory of keys no longer read.
const cacheTTL = time.Minute

// cacheBytes is the client-side cache per connection: the cached values
// (sign-outs, last uses, pending sign-ins) are small, and a sidecar's
// memory is not.
const cacheBytes = 4 << 20

// reconnectEvery is how often a store that has no client yet tries again.
const reconnectEvery = time.Second

// Store is an auth.Store on Redis. Its methods are safe for concurrent use.
type Store struct {
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	client    rueidis.Client // nil until the first connection succeeds
	lastTry   time.Time
	lastErr   error
	connected atomic.Pointer[rueidis.Client]

	// now, when set, replaces Redis's TIME in the sliding windows, so the
	// contract tests can move the windows' clock; production leaves it nil.
	now func() time.Time
	// cacheHits counts Gets answered from the client-side cache.
	cacheHits atomic.Int64
	written   recentWrites
	// over is a context that is done: what a Get's context becomes once
	// the Get has returned (see lazyTimeout).
	over context.Context
}

// writtenFor is how long Get reads a key this store wrote from Redis
// rather than the cache. Redis sends the invalidation of a key to the
// connection that cached it a moment after the write's reply, and maybe on
// another connection: without this a replica might not read its own write
// at once. A second is ample; the invalidation takes microseconds.
const writtenFor = time.Second

// recentWrites remembers the keys written in the last writtenFor.
type recentWrites struct {
	mu    sync.Mutex
	at    map[string]time.Time
	swept time.Time
}

func (r *recentWrites) mark(key string) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at == nil {
		r.at = make(map[string]time.Time)
	}
	if now.Sub(r.swept) > writtenFor {
		for k, t := range r.at {
			if now.Sub(t) > writtenFor {
				delete(r.at, k)
			}
		}
		r.swept = now
	}
	r.at[key] = now
}

func (r *recentWrites) recent(key string) bool {
	r.mu.Lock()
	t, ok := r.at[key]
	r.mu.Unlock()
	return ok && time.Since(t) <= writtenFor
}

var _ auth.Store = (*Store)(nil)

// New returns a Store for opts. It tries to connect at once and reports
// why it could not, but the Store is usable either way: until Redis
// answers, every call fails (and otpgate answers 503), and it connects by
// itself as soon as Redis is there.
func New(opts Options, log *slog.Logger) (*Store, error) {
	over, cancel := context.WithCancel(context.Background())
	cancel()
	s := &Store{opts: opts, log: log, over: over}
	_, err := s.get()
	return s, err
}

// clientOption builds rueidis's options from ours.
func (s *Store) clientOption() rueidis.ClientOption {
	o := s.opts
	opt := rueidis.ClientOption{
		InitAddress: o.Addrs,
		Username:    o.Username,
		Password:    o.Password,
		SelectDB:    o.DB,
		TLSConfig:   o.TLS,
		ClientName:  "otpgate",
		Dialer:      net.Dialer{Timeout: o.Timeout, KeepAlive: time.Second},
		// A hung server is noticed within the timeout, not the default
		// ten keep-alives; the connection, and its cache, are dropped.
		ConnWriteTimeout:  max(o.Timeout, time.Second),
		CacheSizeEachConn: cacheBytes,
		ForceSingleClient: o.SentinelMaster == "",
		// One connection, not rueidis's several: what readiness's ping
		// finds is what every command gets, so once Redis is back and
		// readyz says so, no request meets a connection still broken
		// from before (the per-request reads come from the cache anyway).
		PipelineMultiplex: -1,
	}
	if o.SentinelMaster != "" {
		opt.Sentinel = rueidis.SentinelOption{
			MasterSet: o.SentinelMaster,
			Password:  o.SentinelPassword,
			TLSConfig: o.TLS,
			Dialer:    net.Dialer{Timeout: o.Timeout, KeepAlive: time.Second},
			// Besides the sentinels' +switch-master messages, which a
			// dropped connection may miss.
			TopologyRefreshInterval: 5 * time.Second,
		}
	}
	return opt
}

// get returns the client, connecting first if there is none yet, at most
// once every reconnectEvery; rueidis itself reconnects a client it has.
func (s *Store) get() (rueidis.Client, error) {
	if c := s.connected.Load(); c != nil {
		return *c, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		return s.client, nil
	}
	if !s.lastTry.IsZero() && time.Since(s.lastTry) < reconnectEvery {
		return nil, s.lastErr
	}
	s.lastTry = time.Now()
	c, err := rueidis.NewClient(s.clientOption())
	if err != nil {
		s.lastErr = fmt.Errorf("redis connect %s: %w", strings.Join(s.opts.Addrs, ","), err)
		return nil, s.lastErr
	}
	s.client = c
	s.connected.Store(&c)
	if s.log != nil {
		s.log.Info("redis store connected", "addrs", strings.Join(s.opts.Addrs, ","), "sentinel_master", s.opts.SentinelMaster)
	}
	return c, nil
}

// Close closes the connections; calls after it fail.
func (s *Store) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		s.client.Close()
	}
	s.lastTry, s.lastErr = time.Now().Add(100*365*24*time.Hour), errors.New("redis store closed")
}

// call runs fn with the client and a context bounded by the timeout.
func call[T any](s *Store, ctx context.Context, fn func(context.Context, rueidis.Client) (T, error)) (T, error) {
	c, err := s.get()
	if err != nil {
		var zero T
		return zero, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	return fn(ctx, c)
}

func (s *Store) key(k string) string { return s.opts.KeyPrefix + k }

// write is key's name in Redis, remembered as just written (see
// writtenFor); it is marked before the write, so a Get racing with it
// reads Redis too.
func (s *Store) write(k string) string {
	s.written.mark(k)
	return s.opts.KeyPrefix + k
}

// kind names a key for messages without its identifying part (a session
// or sign-in ID, a user name): "revoked:…".
func kind(k string) string {
	if i := strings.IndexByte(k, ':'); i >= 0 {
		return k[:i+1] + "…"
	}
	return k
}

// ms is d in whole milliseconds, rounded up, at least 1: Redis refuses an
// expiry of 0.
func ms(d time.Duration) int64 {
	return max(int64((d+time.Millisecond-1)/time.Millisecond), 1)
}

// do runs a write. With MinReplicas it then waits (WAIT, on the same
// connection) until that many replicas have the write, and fails if they
// do not within the timeout: a write only the master has would be lost
// if Sentinel promoted a replica now, and a lost sign-out would let a
// signed-out session in again. The write itself stays done; every write
// otpgate makes is safe to repeat or to have happened.
func (s *Store) do(ctx context.Context, c rueidis.Client, cmd rueidis.Completed) rueidis.RedisResult {
	n := int64(s.opts.MinReplicas)
	if n == 0 {
		return c.Do(ctx, cmd)
	}
	wait := s.opts.Timeout / 2
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)/2)
	}
	res := c.DoMulti(ctx, cmd, c.B().Wait().Numreplicas(n).Timeout(max(wait.Milliseconds(), 1)).Build())
	if err := res[0].Error(); err != nil {
		return res[0]
	}
	acked, err := res[1].AsInt64()
	switch {
	case err != nil:
		return res[1]
	case acked < n:
		return rueidis.NewErrorResult(fmt.Errorf("%w: %d of %d replicas have it", ErrNotReplicated, acked, n))
	}
	return res[0]
}

// ErrNotReplicated is a write that fewer than MinReplicas replicas
// acknowledged in time.
var ErrNotReplicated = errors.New("write not replicated")

// Put implements auth.Store.
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	_, err := call(s, ctx, func(ctx context.Context, c rueidis.Client) (struct{}, error) {
		if ttl <= 0 {
			// Expired as soon as written: as if never there.
			return struct{}{}, s.do(ctx, c, c.B().Del().Key(s.write(key)).Build()).Error()
		}
		return struct{}{}, s.do(ctx, c, c.B().Set().Key(s.write(key)).Value(rueidis.BinaryString(value)).PxMilliseconds(ms(ttl)).Build()).Error()
	})
	if err != nil {
		return fmt.Errorf("redis set %s: %w", kind(key), err)
	}
	return nil
}

// Get implements auth.Store, from the client-side cache when Redis has
// not invalidated it. Absent keys are cached too (rueidis caches the nil
// reply), which is the common answer: not signed out. Every signed-in
// request asks, so a cached answer costs no timer (see lazyTimeout).
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	c, err := s.get()
	if err != nil {
		return nil, fmt.Errorf("redis get %s: %w", kind(key), err)
	}
	bounded := &lazyTimeout{Context: ctx, deadline: time.Now().Add(s.opts.Timeout), over: s.over}
	defer bounded.stop()
	var res rueidis.RedisResult
	if s.written.recent(key) {
		res = c.Do(bounded, c.B().Get().Key(s.key(key)).Build())
	} else {
		res = c.DoCache(bounded, c.B().Get().Key(s.key(key)).Cache(), cacheTTL)
		if res.IsCacheHit() {
			s.cacheHits.Add(1)
		}
	}
	b, err := res.AsBytes()
	switch {
	case rueidis.IsRedisNil(err):
		return nil, auth.ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("redis get %s: %w", kind(key), err)
	}
	return b, nil
}

// lazyTimeout is its parent context with the store's timeout, whose timer
// is made only when the context is first waited on. rueidis answers from
// its cache without looking at the context, so a cached Get costs one
// small allocation instead of context.WithDeadline's timer and closures;
// a Get that goes to Redis is bounded as any other call.
type lazyTimeout struct {
	context.Context
	deadline time.Time
	over     context.Context

	once   sync.Once
	armed  context.Context
	cancel context.CancelFunc
}

func (c *lazyTimeout) arm() context.Context {
	c.once.Do(func() { c.armed, c.cancel = context.WithDeadline(c.Context, c.deadline) })
	return c.armed
}

// Deadline is the sooner of the parent's and the timeout's, without a
// timer.
func (c *lazyTimeout) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

func (c *lazyTimeout) Done() <-chan struct{} { return c.arm().Done() }
func (c *lazyTimeout) Err() error            { return c.arm().Err() }

// stop releases the timer, if one was made; a context never waited on is
// from then on done, as a canceled one is, with no timer made for it.
func (c *lazyTimeout) stop() {
	c.once.Do(func() { c.armed = c.over })
	if c.cancel != nil {
		c.cancel()
	}
}

// Take implements auth.Store with GETDEL.
func (s *Store) Take(ctx context.Context, key string) ([]byte, error) {
	b, err := call(s, ctx, func(ctx context.Context, c rueidis.Client) ([]byte, error) {
		return s.do(ctx, c, c.B().Getdel().Key(s.write(key)).Build()).AsBytes()
	})
	switch {
	case rueidis.IsRedisNil(err):
		return nil, auth.ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("redis getdel %s: %w", kind(key), err)
	}
	return b, nil
}

// Delete implements auth.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	_, err := call(s, ctx, func(ctx context.Context, c rueidis.Client) (struct{}, error) {
		return struct{}{}, s.do(ctx, c, c.B().Del().Key(s.write(key)).Build()).Error()
	})
	if err != nil {
		return fmt.Errorf("redis del %s: %w", kind(key), err)
	}
	return nil
}

// incrScript starts a counter with its TTL only when it is new, then adds
// one: later increments never extend it.
const incrScript = `
redis.call('SET', KEYS[1], '0', 'PX', ARGV[1], 'NX')
return redis.call('INCR', KEYS[1])`

// Incr implements auth.Store.
func (s *Store) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	n, err := call(s, ctx, func(ctx context.Context, c rueidis.Client) (int64, error) {
		return s.do(ctx, c, c.B().Eval().Script(incrScript).Numkeys(1).Key(s.write(key)).Arg(strconv.FormatInt(ms(ttl), 10)).Build()).AsInt64()
	})
	if err != nil {
		return 0, fmt.Errorf("redis incr %s: %w", kind(key), err)
	}
	return n, nil
}

// decrScript takes one from a counter that exists; a missing one stays
// missing (DECR alone would create it at -1, without a TTL).
const decrScript = `
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0`

// Decr implements auth.Store.
func (s *Store) Decr(ctx context.Context, key string) error {
	_, err := call(s, ctx, func(ctx context.Context, c rueidis.Client) (int64, error) {
		return s.do(ctx, c, c.B().Eval().Script(decrScript).Numkeys(1).Key(s.write(key)).Build()).AsInt64()
	})
	if err != nil {
		return fmt.Errorf("redis decr %s: %w", kind(key), err)
	}
	return nil
}

// windowScript is WindowAdd: a sorted set of events scored by their time
// in microseconds. ARGV: limit, window (µs), and a time in µs that replaces
// Redis's clock ("" in production). An event at t counts while
// now-t < window. Members are "time-n", unique within the set. Returns
// {id or "", count, oldest time or 0}.
const windowScript = `
local now
if ARGV[3] ~= '' then
  now = tonumber(ARGV[3])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local id = ''
if count < tonumber(ARGV[1]) then
  local n = redis.call('ZCOUNT', KEYS[1], now, now)
  repeat
    id = string.format('%d-%d', now, n)
    n = n + 1
  until not redis.call('ZSCORE', KEYS[1], id)
  redis.call('ZADD', KEYS[1], now, id)
  count = count + 1
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
end
local oldest = 0
if count > 0 then
  oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
end
return {id, count, oldest}`

// WindowAdd implements auth.Store.
func (s *Store) WindowAdd(ctx context.Context, key string, limit int64, window time.Duration) (auth.WindowResult, error) {
	if limit < 1 || window <= 0 {
		return auth.WindowResult{}, auth.ErrBadWindow
	}
	at := ""
	if s.now != nil {
		at = strconv.FormatInt(s.now().UnixMicro(), 10)
	}
	window = max(window, time.Microsecond)
	vals, err := call(s, ctx, func(ctx context.Context, c rueidis.Client) ([]rueidis.RedisMessage, error) {
		return s.do(ctx, c, c.B().Eval().Script(windowScript).Numkeys(1).Key(s.write(key)).
			Arg(strconv.FormatInt(limit, 10), strconv.FormatInt(window.Microseconds(), 10), at).Build()).ToArray()
	})
	if err == nil && len(vals) != 3 {
		err = fmt.Errorf("script answered %d values, want 3", len(vals))
	}
	if err != nil {
		return auth.WindowResult{}, fmt.Errorf("redis window add %s: %w", kind(key), err)
	}
	var r auth.WindowResult
	r.ID, err = vals[0].ToString()
	if err == nil {
		r.Count, err = vals[1].AsInt64()
	}
	var oldest int64
	if err == nil {
		oldest, err = vals[2].AsInt64()
	}
	if err != nil {
		return auth.WindowResult{}, fmt.Errorf("redis window add %s: %w", kind(key), err)
	}
	r.Added = r.ID != ""
	if oldest > 0 {
		r.Oldest = time.UnixMicro(oldest)
	}
	return r, nil
}

// WindowRemove implements auth.Store with ZREM; Redis deletes a set that
// becomes empty.
func (s *Store) WindowRemove(ctx context.Context, key, id string) error {
	_, err := call(s, ctx, func(ctx context.Context, c rueidis.Client) (struct{}, error) {
		return struct{}{}, s.do(ctx, c, c.B().Zrem().Key(s.write(key)).Member(id).Build()).Error()
	})
	if err != nil {
		return fmt.Errorf("redis window remove %s: %w", kind(key), err)
	}
	return nil
}

// Ping implements auth.Store.
func (s *Store) Ping(ctx context.Context) error {
	_, err := call(s, ctx, func(ctx context.Context, c rueidis.Client) (struct{}, error) {
		return struct{}{}, c.Do(ctx, c.B().Ping().Build()).Error()
	})
	if err != nil {
		return fmt.Errorf("redis ping: %w", err)
	}
	return nil
}
