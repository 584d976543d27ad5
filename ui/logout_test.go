package ui

import (
	"net/http"
	"net/url"
	"testing"
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
