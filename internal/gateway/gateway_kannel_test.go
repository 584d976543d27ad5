package gateway

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth/slapdtest"
	"github.com/otpgate/otpgate/sms/kanneltest"
)

// TestSignInThroughKannel sends the code through a real SMS gateway, the
// way otpgate reaches SMPP operators: the http provider speaks to Kannel's
// sendsms interface, and fakesmsc plays the phone network.
func TestSignInThroughKannel(t *testing.T) {
	k := kanneltest.Start(t)
	e := startEnv(t, func(c *Config) {
		c.SMS.Provider, c.SMS.URL, c.SMS.Method, c.SMS.Headers, c.SMS.Payload = "http", k.SendURL, "GET", "", ""
		c.SMS.SuccessMatch = "^0: Accepted"
	})
	b := e.browser()
	alice := slapdtest.Alice
	if r := b.password(alice.Username, alice.Password, "/"); r.location != "/otpgate/code" {
		t.Fatalf("password step: %d to %q", r.status, r.location)
	}
	msg := k.WaitMessage(t, alice.Mobile, 10*time.Second)
	m := regexp.MustCompile(`^Your sign-in code is (\d{6})\. It expires in 5 minutes\.$`).FindStringSubmatch(msg.Text)
	if m == nil {
		t.Fatalf("fakesmsc got %q", msg.Text)
	}
	if r := b.code(m[1]); r.status != http.StatusSeeOther {
		t.Fatalf("code from Kannel: %d, want 303", r.status)
	}
	b.appSaw("/")
}

// TestFailoverToSecondGateway: the first provider (Kannel, stopped) fails,
// the second (http2) delivers in the same request.
func TestFailoverToSecondGateway(t *testing.T) {
	k := kanneltest.Start(t)
	down := k.SendURL
	k.Stop()
	e := startEnv(t, func(c *Config) {
		c.SMS2.URL, c.SMS2.Method, c.SMS2.Headers, c.SMS2.Payload = c.SMS.URL, c.SMS.Method, c.SMS.Headers, c.SMS.Payload
		c.SMS.URL, c.SMS.Method, c.SMS.Headers, c.SMS.Payload = down, "GET", "", ""
		c.SMS.Providers = []string{"http", "http2"}
	})
	e.browser().signIn(slapdtest.Alice, "/")
	if n := len(e.sms.sent()); n != 1 {
		t.Fatalf("%d SMS through the second gateway, want 1", n)
	}
}
