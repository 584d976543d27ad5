package gateway

import (
	"net/url"
	"slices"
	"testing"

	"github.com/otpgate/otpgate/auth/slapdtest"
)

// With COOKIE_DOMAIN, only the session cookie reaches the app hosts; the
// sign-in's own cookies (CSRF, pending sign-in) stay on the portal, so no
// app below the domain can read or plant them.
func TestOnlyTheSessionCookieIsShared(t *testing.T) {
	e := startForwardAuthEnv(t)
	b := e.siteBrowser()
	b.signIn(slapdtest.Alice, "https://"+fwdAppHost+"/")
	var names []string
	for _, host := range []string{fwdAppHost, "other." + fwdDomain} {
		names = names[:0]
		for _, c := range b.jar.Cookies(&url.URL{Scheme: "http", Host: host, Path: "/"}) {
			names = append(names, c.Name)
		}
		if !slices.Equal(names, []string{fwdSessionCookie}) {
			t.Errorf("cookies sent to %s: %q, want only %q", host, names, fwdSessionCookie)
		}
	}
	portal, _ := url.Parse(e.config.PublicURL)
	names = names[:0]
	for _, c := range b.jar.Cookies(portal) {
		names = append(names, c.Name)
	}
	if !slices.Contains(names, "otpgate_csrf") {
		t.Errorf("cookies sent to the portal: %q, want the CSRF cookie among them", names)
	}
}
