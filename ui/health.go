package ui

import (
	"context"
	"net/http"
	"time"
)

// healthz says the process serves requests, for a liveness probe, and
// which release it is (Config.Version), so that a rollout can be watched.
func (h *Handler) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	body := "ok\n"
	if h.cfg.Version != "" {
		body += "otpgate " + h.cfg.Version + "\n"
	}
	_, _ = w.Write([]byte(body))
}

// ready also asks the directory and the store (Config.Ready), so that a
// load balancer can route around an instance that cannot sign anyone in.
func (h *Handler) ready(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if h.cfg.Ready != nil {
		if err := h.checkReady(r.Context()); err != nil {
			h.cfg.Log.WarnContext(r.Context(), "not ready", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
			return
		}
	}
	_, _ = w.Write([]byte("ok\n"))
}

// readyFor is how long a good readiness check is reused: probes from
// several sources every second then cost the directory one bind a second.
const readyFor = time.Second

// checkReady runs the readiness check, one at a time, reusing a recent
// success; a failure is never reused, so recovery shows at once.
func (h *Handler) checkReady(ctx context.Context) error {
	h.readyMu.Lock()
	defer h.readyMu.Unlock()
	if time.Since(h.readyAt) < readyFor {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := h.cfg.Ready(ctx); err != nil {
		return err
	}
	h.readyAt = time.Now()
	return nil
}
