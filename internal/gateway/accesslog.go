package gateway

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/otpgate/otpgate/internal/reqid"
)

// accessLog logs one line per request once it is answered (ACCESS_LOG).
// The path is logged without its query, which may hold tokens; no header,
// cookie or form value is logged. The user is the one the session names,
// for requests otpgate let through or refused as a signed-in user.
func accessLog(next http.Handler, log *slog.Logger, clientIP func(*http.Request) string, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := now()
		// The id is needed for the line anyway: make it now, so that the
		// response carries it too.
		reqid.SetHeader(w, r)
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK // nothing written: net/http answers 200
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "access",
			slog.String("method", r.Method),
			slog.String("host", r.Host),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", now().Sub(start)),
			slog.String("user", reqid.User(r.Context())),
			slog.String("client", clientIP(r)),
		)
	})
}

// recorder notes the status and body size of a response. Unwrap lets
// http.ResponseController reach the connection under it (flushes,
// deadlines, WebSocket hijacks).
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 && (status >= 200 || status == http.StatusSwitchingProtocols) {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
