// Package reqid gives every request otpgate serves an id that links what
// the user sees (an error page's "Reference", the X-Request-Id header) to
// the log lines of that request.
//
// The id is made lazily: a request that logs nothing and fails nowhere
// (the common, signed-in, proxied one) never pays for it. Middleware puts
// a slot for it in the request's context; ID fills the slot on first use.
package reqid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"sync"
)

// Header is the header the id is taken from (from a trusted proxy) and
// sent back in.
const Header = "X-Request-Id"

// maxLen bounds an id taken from a proxy, so that a log line stays short.
const maxLen = 64

// slot is the request's context, holding its id once made. It is the
// context itself (not a value inside a context.WithValue), so that a
// request costs one allocation for it.
type slot struct {
	context.Context
	once    sync.Once
	id      string
	req     *http.Request
	trusted func(*http.Request) bool
	user    string // who the session says made the request, for the access log
}

type slotKey struct{}

func (s *slot) Value(key any) any {
	if key == (slotKey{}) {
		return s
	}
	return s.Context.Value(key)
}

func (s *slot) get() string {
	s.once.Do(func() {
		if s.trusted != nil && s.trusted(s.req) {
			if v := s.req.Header.Get(Header); WellFormed(v) {
				s.id = v
				return
			}
		}
		s.id = New()
	})
	return s.id
}

// ID returns the id of the request ctx belongs to, making it on first use;
// "" when ctx is no request's.
func ID(ctx context.Context) string {
	if s, ok := ctx.Value(slotKey{}).(*slot); ok {
		return s.get()
	}
	return ""
}

// SetUser notes who made the request (their session's username), for the
// access log; it does nothing when ctx is no request's. It is called on
// the request's own goroutine.
func SetUser(ctx context.Context, user string) {
	if s, ok := ctx.Value(slotKey{}).(*slot); ok {
		s.user = user
	}
}

// User returns what SetUser noted, or "".
func User(ctx context.Context) string {
	if s, ok := ctx.Value(slotKey{}).(*slot); ok {
		return s.user
	}
	return ""
}

// New returns a fresh id: 16 hex digits from crypto/rand, short enough to
// read out over the phone, unique enough across replicas.
func New() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// WellFormed reports whether v may be used as an id taken from a proxy:
// 1 to 64 letters, digits, '-', '_' or '.', which covers UUIDs and the ids
// of nginx, Traefik and Envoy, and keeps anything that could forge a log
// line or a header out.
func WellFormed(v string) bool {
	if v == "" || len(v) > maxLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !idByte(v[i]) {
			return false
		}
	}
	return true
}

func idByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '-' || c == '_' || c == '.'
}

// Middleware gives each request a slot for its id. trusted says whether a
// request comes from a proxy whose X-Request-Id is believed; a well-formed
// one is then used instead of a new id (nil: never). The client's own
// X-Request-Id is never used: it could make one user's reference point at
// another's log lines.
func Middleware(next http.Handler, trusted func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(&slot{Context: r.Context(), req: r, trusted: trusted}))
	})
}

// SetHeader sends the request's id in the X-Request-Id response header,
// making it if need be, and returns it. Callers call it before they write
// the status.
func SetHeader(w http.ResponseWriter, r *http.Request) string {
	id := ID(r.Context())
	if id != "" {
		w.Header()[Header] = []string{id}
	}
	return id
}

// Handler adds the request id (request_id) to every log record made with
// a request's context (the slog ...Context methods).
type Handler struct{ next slog.Handler }

// NewHandler wraps next.
func NewHandler(next slog.Handler) *Handler { return &Handler{next: next} }

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if id := ID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler { return &Handler{next: h.next.WithGroup(name)} }
