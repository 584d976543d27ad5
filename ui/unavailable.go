package ui

import (
	"net/http"
	"strings"
)

// Unavailable writes the page for a request otpgate could not decide
// because its shared store did not answer (Redis down): neither a sign-in
// nor a session can be checked, and a redirect to a sign-in that cannot
// work would help no one. The page may be shown on an app's host
// (forward-auth), so with PUBLIC_URL its stylesheet comes from the portal.
func (h *Handler) Unavailable(w http.ResponseWriter, _ *http.Request) {
	v := view{Prefix: h.cfg.Prefix, Title: "Sign-in is briefly unavailable", Paragraphs: []string{
		"otpgate cannot reach the store that keeps sign-ins right now, so it cannot check yours. Nothing was lost, and you were not signed out.",
		"Please try again in a minute. If this keeps happening, tell your IT support."}}
	if h.cfg.PublicURL != "" {
		v.Base = strings.TrimSuffix(h.cfg.PublicURL, "/")
	}
	w.Header().Set("Retry-After", "10")
	w.Header().Set("Cache-Control", "no-store")
	h.renderFrom(w, http.StatusServiceUnavailable, "message", v, v.Base)
}
