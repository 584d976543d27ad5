package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/otpgate/otpgate/auth"
)

// A shared store (Redis) can be down while otpgate runs. The parts treat a
// store error as a refusal (fail closed), but a refusal alone would send a
// signed-in user to a sign-in page that cannot work either, or show the
// generic error page. So the store given to the parts tells the request
// it serves that the store failed, and failClosed answers that request
// with a 503 page saying so instead of whatever the parts wrote. Nothing
// is let through: a request is refused either way.

type outageKey struct{}

// outage is one request's record of a store failure, found in its
// context under outageKey.
type outage interface{ set(err error) }

// reportingStore is a Store that records its failures in the request's
// outage. Absent keys and bad arguments are answers, not failures; Ping
// is readiness's to report.
type reportingStore struct{ auth.Store }

func report(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, auth.ErrNotFound) || errors.Is(err, auth.ErrBadWindow) {
		return err
	}
	if o, ok := ctx.Value(outageKey{}).(outage); ok {
		o.set(err)
	}
	return err
}

func (s reportingStore) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return report(ctx, s.Store.Put(ctx, key, value, ttl))
}

func (s reportingStore) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.Store.Get(ctx, key)
	return v, report(ctx, err)
}

func (s reportingStore) Take(ctx context.Context, key string) ([]byte, error) {
	v, err := s.Store.Take(ctx, key)
	return v, report(ctx, err)
}

func (s reportingStore) Delete(ctx context.Context, key string) error {
	return report(ctx, s.Store.Delete(ctx, key))
}

func (s reportingStore) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	n, err := s.Store.Incr(ctx, key, ttl)
	return n, report(ctx, err)
}

func (s reportingStore) Decr(ctx context.Context, key string) error {
	return report(ctx, s.Store.Decr(ctx, key))
}

func (s reportingStore) WindowAdd(ctx context.Context, key string, limit int64, window time.Duration) (auth.WindowResult, error) {
	r, err := s.Store.WindowAdd(ctx, key, limit, window)
	return r, report(ctx, err)
}

func (s reportingStore) WindowRemove(ctx context.Context, key, id string) error {
	return report(ctx, s.Store.WindowRemove(ctx, key, id))
}

// failClosed answers a request during which the store failed with
// unavailable (a 503 page) instead of the response next began, as long as
// next has not yet sent its status. The store is asked before anything is
// proxied, so that is always the case for a refused request. The sign-in
// page needs no store to be shown, so it asks ping first: nobody should
// type a password into a form that cannot work.
func failClosed(next http.Handler, unavailable func(http.ResponseWriter, *http.Request), signInPath string,
	ping func(context.Context) error, log *slog.Logger) http.Handler {
	h := &failClosedHandler{unavailable: unavailable, log: log}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// It runs on every request, so what it needs is one allocation
		// (besides the request carrying it) when the store answers.
		fc := &failClosedRequest{Context: r.Context(), w: w, h: h}
		fc.before.take(w.Header())
		r = r.WithContext(fc)
		fc.r = r
		if r.Method == http.MethodGet && r.URL.Path == signInPath {
			if err := ping(r.Context()); err != nil {
				fc.set(err)
			}
		}
		next.ServeHTTP(fc, r)
		if !fc.wroteHeader && fc.failed() != nil {
			fc.WriteHeader(http.StatusOK)
		}
	})
}

// failClosedHandler is what every request's failClosedRequest shares.
type failClosedHandler struct {
	unavailable func(http.ResponseWriter, *http.Request)
	log         *slog.Logger
}

// failClosedRequest is one request's context, holding its record of a
// store failure (the outage under outageKey), and the ResponseWriter that
// replaces the response when there was one. Both in one value, so that a
// request costs one allocation here.
type failClosedRequest struct {
	context.Context
	w      http.ResponseWriter
	r      *http.Request // as next got it
	h      *failClosedHandler
	before headerSnapshot // the header before next, restored for the 503

	mu  sync.Mutex
	err error // the first failure

	wroteHeader bool
	replaced    bool
}

// Value answers outageKey with the request's record; the rest is the
// parent's.
func (fc *failClosedRequest) Value(key any) any {
	if key == (outageKey{}) {
		return fc
	}
	return fc.Context.Value(key)
}

func (fc *failClosedRequest) set(err error) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.err == nil {
		fc.err = err
	}
}

func (fc *failClosedRequest) failed() error {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.err
}

func (fc *failClosedRequest) Header() http.Header { return fc.w.Header() }

func (fc *failClosedRequest) WriteHeader(code int) {
	if fc.wroteHeader {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Informational (103 Early Hints): the response is still to come.
		fc.w.WriteHeader(code)
		return
	}
	fc.wroteHeader = true
	err := fc.failed()
	if err == nil {
		fc.w.WriteHeader(code)
		return
	}
	fc.replaced = true
	// What next set (a redirect, a cookie that signs out) goes with its
	// response.
	fc.before.restore(fc.w.Header())
	fc.h.log.Error("store unavailable: request answered 503", "path", fc.r.URL.Path, "err", err)
	fc.h.unavailable(fc.w, fc.r)
}

func (fc *failClosedRequest) Write(b []byte) (int, error) {
	if !fc.wroteHeader {
		fc.WriteHeader(http.StatusOK)
	}
	if fc.replaced {
		return len(b), nil
	}
	return fc.w.Write(b)
}

func (fc *failClosedRequest) Flush() {
	if fc.replaced {
		return
	}
	if !fc.wroteHeader {
		fc.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(fc.w).Flush()
}

// Unwrap lets http.ResponseController reach the connection (upgrades).
func (fc *failClosedRequest) Unwrap() http.ResponseWriter { return fc.w }

// headerSnapshot keeps a response header as it was: a few fields in
// place (what the outer handlers set, a request id), more in a copy.
// Each field's values are kept as they were, not copied: http.Header's
// methods replace or append to a field's values, never change them in
// place.
type headerSnapshot struct {
	n      int
	fields [4]struct {
		name   string
		values []string
	}
	more http.Header
}

func (s *headerSnapshot) take(h http.Header) {
	if len(h) > len(s.fields) {
		s.more = h.Clone()
		return
	}
	for name, values := range h {
		s.fields[s.n].name, s.fields[s.n].values = name, values[:len(values):len(values)]
		s.n++
	}
}

// restore makes h what it was.
func (s *headerSnapshot) restore(h http.Header) {
	clear(h)
	for name, values := range s.more {
		h[name] = values
	}
	for _, f := range s.fields[:s.n] {
		h[f.name] = f.values
	}
}
