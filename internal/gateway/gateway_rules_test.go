package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/otpgate/otpgate/auth/slapdtest"
)

// The access rules hold in reverse-proxy mode too, on every reading of the path.
func TestAccessRulesInReverseProxyMode(t *testing.T) {
	e := startEnv(t, func(c *Config) {
		c.Proxy.AccessRules = "* /health bypass\n* /internal/** deny\n* /admin/** two_factor groups=admins"
	})
	anon := e.browser()
	if seen := anon.appSaw("/health", "Remote-User", "mallory"); len(headerValues(seen, "Remote-User")) != 0 {
		t.Errorf("bypass path: the app got Remote-User %q from the client", headerValues(seen, "Remote-User"))
	}
	if r := anon.get("/health/more"); r.status != http.StatusSeeOther {
		t.Errorf("/health/more (not covered by the exact bypass): %d, want 303 to sign in", r.status)
	}
	alice, carol := e.browser(), e.browser()
	alice.signIn(slapdtest.Alice, "/")
	carol.signIn(slapdtest.Carol, "/")
	for path, want := range map[string]int{
		"/internal/x": http.StatusForbidden, "/internal": http.StatusForbidden, "/%69nternal/x": http.StatusForbidden,
		"/internal;x": http.StatusForbidden, "/INTERNAL/x": http.StatusForbidden, "/internal.": http.StatusForbidden,
		// Read two ways by two servers: refused outright.
		"/a/../internal/x": http.StatusBadRequest, "/public/..%2Finternal/x": http.StatusBadRequest,
	} {
		if r := alice.get(path); r.status != want {
			t.Errorf("alice GET %s (deny rule): %d, want %d", path, r.status, want)
		}
	}
	if r := carol.get("/admin/users"); r.status != http.StatusForbidden || !strings.Contains(r.body, "only for members of admins") {
		t.Errorf("carol on /admin (groups=admins): %d, want 403 saying why", r.status)
	}
	if seen := alice.appSaw("/admin/users"); seen["path"] != "/admin/users" {
		t.Errorf("alice on /admin/users: app saw %v", seen["path"])
	}
}
