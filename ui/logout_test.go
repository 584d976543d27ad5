package ui

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestLogout(t *testing.T) {
	p := newPortal(t, flowConfig(), nil)
	p.want(p.get("logout"), http.StatusOK, "You are not signed in.")

	p.signedIn()
	p.want(p.get("logout"), http.StatusOK, "You are signed in as <strong>alice</strong>.")
	p.want(p.post("logout", url.Values{}), http.StatusOK, "You are signed out")
	p.want(p.get("logout"), http.StatusOK, "You are not signed in.")
	// Without a session the sign-in form shows again instead of a redirect.
	p.want(p.get("signin?rd=/app"), http.StatusOK, `name="password"`)
}

func TestLogoutForgetsPendingSignIn(t *testing.T) {
	p := newPortal(t, flowConfig(), nil)
	p.password("alice", "alice-pw")
	p.get("logout")
	p.want(p.post("logout", url.Values{}), http.StatusOK, "You are signed out")
	p.want(p.get("code"), http.StatusGone, "Sign-in expired")
}

func TestLogoutEverywhere(t *testing.T) {
	p := newPortal(t, flowConfig(), nil)
	p.signedIn()
	u, _ := url.Parse(p.srv.URL)
	other := p.web.Jar.Cookies(u) // a session as another browser would hold it
	p.clock.Advance(time.Minute)
	p.signedIn()
	p.want(p.get("logout"), http.StatusOK, "Sign out everywhere")
	p.want(p.post("logout", url.Values{"everywhere": {"1"}}), http.StatusOK, "You are signed out everywhere")
	p.web.Jar.SetCookies(u, other)
	p.want(p.get("logout"), http.StatusOK, "You are not signed in.")
	if strings.Contains(p.get("logout").body, "Sign out everywhere") {
		t.Error("the sign-out page offers to sign out everywhere with no session")
	}
}

func TestLogoutHereOnly(t *testing.T) {
	p := newPortal(t, flowConfig(), nil)
	p.signedIn()
	u, _ := url.Parse(p.srv.URL)
	other := p.web.Jar.Cookies(u)
	p.clock.Advance(time.Minute)
	p.signedIn()
	p.get("logout")
	p.want(p.post("logout", url.Values{}), http.StatusOK, "You are signed out")
	p.web.Jar.SetCookies(u, other)
	p.want(p.get("logout"), http.StatusOK, "You are signed in as <strong>alice</strong>.")
}
