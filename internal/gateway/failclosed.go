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

// outage is one request's record of a store failure.
type outage struct {
	mu  sync.Mutex
	err error // the first failure
}

func (o *outage) set(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		o.err = err
	}
}

func (o *outage) get() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// reportingStore is a Store that records its failures in the request's
// outage. Absent keys and bad arguments are answers, not failures; Ping
// is readiness's to report.
type reportingStore struct{ auth.Store }

func report(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, auth.ErrNotFound) || errors.Is(err, auth.ErrBadWindow) {
		return err
	}
	if o, ok := ctx.Value(outageKey{}).(*outage); ok {
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := &outage{}
		r = r.WithContext(context.WithValue(r.Context(), outageKey{}, o))
		if r.Method == http.MethodGet && r.URL.Path == signInPath {
			if err := ping(r.Context()); err != nil {
				o.set(err)
			}
		}
		fw := &failClosedWriter{ResponseWriter: w, o: o, header: w.Header().Clone(),
			replace: func() {
				log.Error("store unavailable: request answered 503", "path", r.URL.Path, "err", o.get())
				unavailable(w, r)
			}}
		next.ServeHTTP(fw, r)
		if !fw.wroteHeader && o.get() != nil {
			fw.WriteHeader(http.StatusOK)
		}
	})
}

// failClosedWriter replaces a response whose request saw the store fail.
type failClosedWriter struct {
	http.ResponseWriter
	o           *outage
	header      http.Header // as it was before next, restored for the 503
	replace     func()
	wroteHeader bool
	replaced    bool
}

func (w *failClosedWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Informational (103 Early Hints): the response is still to come.
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.wroteHeader = true
	if w.o.get() == nil {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.replaced = true
	// What next set (a redirect, a cookie that signs out) goes with its
	// response.
	h := w.Header()
	clear(h)
	for k, v := range w.header {
		h[k] = v
	}
	w.replace()
}

func (w *failClosedWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *failClosedWriter) Flush() {
	if w.replaced {
		return
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection (upgrades).
func (w *failClosedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
