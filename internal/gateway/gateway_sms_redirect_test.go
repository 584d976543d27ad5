package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/otpgate/otpgate/auth/slapdtest"
)

// An SMS gateway that answers with a redirect has not sent the code, with
// every provider as assemble wires it from the configuration: the sign-in
// says the code could not be sent, the log says why, and the place the
// redirect points at gets nothing (following it would turn the POST into a
// bodyless GET that answers 200, and the code would count as sent).
func TestSMSRedirectIsNotFollowed(t *testing.T) {
	tests := []struct {
		name      string
		configure func(c *Config, redirector string)
	}{
		{"http", func(c *Config, u string) { c.SMS.URL = u + smsPath }},
		{"http2", func(c *Config, u string) {
			c.SMS.Provider = "http2"
			c.SMS2.URL, c.SMS2.Method, c.SMS2.Headers, c.SMS2.Payload = u+smsPath, c.SMS.Method, c.SMS.Headers, c.SMS.Payload
			c.SMS.URL, c.SMS.Headers, c.SMS.Payload = "", "", ""
		}},
		{"twilio", func(c *Config, u string) {
			c.SMS.Provider = "twilio"
			c.Twilio.AccountSID, c.Twilio.AuthToken, c.Twilio.From, c.Twilio.APIURL = testSID, testToken, "+15005550001", u
		}},
		{"http and http2 in failover", func(c *Config, u string) {
			c.SMS.Providers = []string{"http", "http2"}
			c.SMS.URL = u + smsPath
			c.SMS2.URL, c.SMS2.Method, c.SMS2.Headers, c.SMS2.Payload = u+"/second", c.SMS.Method, c.SMS.Headers, c.SMS.Payload
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var targetHits, redirects atomic.Int64
			target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				targetHits.Add(1)
				w.WriteHeader(http.StatusOK)
			}))
			t.Cleanup(target.Close)
			redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				redirects.Add(1)
				http.Redirect(w, r, target.URL+"/accepted", http.StatusFound)
			}))
			t.Cleanup(redirector.Close)

			e := startEnv(t, func(c *Config) { tt.configure(c, redirector.URL) })
			alice := slapdtest.Alice
			r := e.browser().password(alice.Username, alice.Password, "/")
			if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "The code could not be sent") {
				t.Fatalf("password step: %d, want 503 The code could not be sent:\n%s", r.status, r.body)
			}
			if redirects.Load() == 0 {
				t.Fatal("the redirecting gateway got no request: the test did not test anything")
			}
			if n := targetHits.Load(); n != 0 {
				t.Errorf("the redirect target got %d requests, want 0", n)
			}
			if msgs := e.sms.sent(); len(msgs) != 0 {
				t.Errorf("SMS sent: %+v, want none", msgs)
			}
			if got := directoryMobile(t, e, alice); got != alice.Mobile {
				t.Errorf("directory mobile = %q, want it unchanged (%q)", got, alice.Mobile)
			}
			logs := e.logs.String()
			for _, want := range []string{"sign-in: code not sent", "redirects are never followed", target.URL + "/accepted"} {
				if !strings.Contains(logs, want) {
					t.Errorf("log lacks %q:\n%s", want, logs)
				}
			}
			if strings.Contains(logs, "sign-in: code sent") {
				t.Error("log says a code was sent")
			}
		})
	}
}
