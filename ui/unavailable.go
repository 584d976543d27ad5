package ui

import (
	"net/http"
	"strings"

	"github.com/otpgate/otpgate/internal/reqid"
)

// Unavailable writes the page for a request otpgate could not decide
// because its shared store did not answer (Redis down): neither a sign-in
// nor a session can be checked, and a redirect to a sign-in that cannot
// work would help no one. The page may be shown on an app's host
// (forward-auth), so with PUBLIC_URL its stylesheet comes from the portal.
func (h *Handler) Unavailable(w http.ResponseWriter, r *http.Request) {
	v := h.view(r)
	v.Title, v.Paragraphs = v.T("StoreUnavailableTitle"), []string{v.T("StoreUnavailable"), v.T("TryAgainInAMinuteSupport")}
	v.Reference = reqid.SetHeader(w, r)
	if h.cfg.PublicURL != "" {
		v.Base = strings.TrimSuffix(h.cfg.PublicURL, "/")
	}
	w.Header().Set("Retry-After", "10")
	w.Header().Set("Cache-Control", "no-store")
	h.renderFrom(w, http.StatusServiceUnavailable, "message", v, v.Base)
}
