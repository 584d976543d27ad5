package sms

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// redirectPair starts a target that answers 200 to anything and counts what
// it gets, and a gateway that answers every request with status and a
// Location pointing at the target, with the code in its query.
func redirectPair(t *testing.T, status int) (gatewayURL, targetURL string, targetHits *atomic.Int64) {
	t.Helper()
	targetHits = new(atomic.Int64)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		targetHits.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(target.Close)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", target.URL+"/landing?text=code+123456&password=secretpw")
		w.WriteHeader(status)
	}))
	t.Cleanup(gw.Close)
	return gw.URL, target.URL, targetHits
}

// Every provider that speaks HTTP, each with every kind of client it can be
// given: none, a plain client (which by itself follows up to 10 redirects),
// and one whose own policy follows them explicitly. A redirect is a failed
// send whose error says where it pointed, and the target gets nothing.
func TestProvidersNeverFollowRedirects(t *testing.T) {
	providers := []struct {
		name string
		make func(t *testing.T, gatewayURL string, client *http.Client) Sender
	}{
		{"http POST form", func(t *testing.T, u string, c *http.Client) Sender {
			return newHTTP(t, HTTPConfig{URL: u + "/send", Payload: "to=$ctx.num&text=$ctx.msg"}, c)
		}},
		{"http GET (Kannel style)", func(t *testing.T, u string, c *http.Client) Sender {
			return newHTTP(t, HTTPConfig{URL: u + "/cgi-bin/sendsms?to=$ctx.num&text=$ctx.msg", Method: "GET", SuccessMatch: "^0: Accepted"}, c)
		}},
		{"http PUT JSON", func(t *testing.T, u string, c *http.Client) Sender {
			return newHTTP(t, HTTPConfig{URL: u + "/send", Method: "PUT", Payload: `{"to":"$ctx.num","text":"$ctx.msg"}`}, c)
		}},
		{"twilio", func(t *testing.T, u string, c *http.Client) Sender {
			tw, err := NewTwilio(TwilioConfig{AccountSID: "AC123", AuthToken: "token", From: "+15005550001", APIURL: u}, c)
			if err != nil {
				t.Fatalf("NewTwilio: %v", err)
			}
			return tw
		}},
	}
	clients := []struct {
		name   string
		client func() *http.Client
	}{
		{"no client", func() *http.Client { return nil }},
		{"plain client", func() *http.Client { return &http.Client{} }},
		{"client that follows", func() *http.Client {
			return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
		}},
	}
	for _, p := range providers {
		for _, c := range clients {
			for _, status := range []int{301, 302, 303, 307, 308} {
				t.Run(p.name+"/"+c.name+"/"+http.StatusText(status), func(t *testing.T) {
					gwURL, targetURL, hits := redirectPair(t, status)
					given := c.client()
					var before func(*http.Request, []*http.Request) error
					if given != nil {
						before = given.CheckRedirect
					}
					s := p.make(t, gwURL, given)
					err := s.Send(context.Background(), "+15550100006", "code 123456")
					var re *RedirectError
					if !errors.As(err, &re) || re.StatusCode != status || re.Location != targetURL+"/landing" {
						t.Fatalf("got %v, want a *RedirectError for %d to %s/landing", err, status, targetURL)
					}
					for _, want := range []string{"redirects are never followed", "nothing was sent"} {
						if !strings.Contains(err.Error(), want) {
							t.Errorf("error %q lacks %q", err, want)
						}
					}
					for _, secret := range []string{"123456", "secretpw"} {
						if strings.Contains(err.Error(), secret) {
							t.Errorf("error %q contains %q", err, secret)
						}
					}
					if n := hits.Load(); n != 0 {
						t.Errorf("the redirect target got %d requests, want 0", n)
					}
					// The caller's client is not changed behind its back.
					if given != nil && (given.CheckRedirect == nil) != (before == nil) {
						t.Error("the caller's client had its CheckRedirect changed")
					}
				})
			}
		}
	}
}

// An operator who lists a 3xx as success (a gateway that accepts and then
// points at a status page) gets a success, and still nothing is followed.
func TestHTTPListedRedirectIsSuccessNotFollowed(t *testing.T) {
	gwURL, _, hits := redirectPair(t, http.StatusFound)
	h := newHTTP(t, HTTPConfig{URL: gwURL + "/send", Payload: "to=$ctx.num&text=$ctx.msg", SuccessCodes: "2xx,302"}, &http.Client{})
	if err := h.Send(context.Background(), "+15550100006", "code 123456"); err != nil {
		t.Fatalf("got %v, want success: 302 is listed", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests, want 0", n)
	}
}

func TestRedirectErrorWithoutLocation(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusMultipleChoices)
	}))
	defer srv.Close()
	h := newHTTP(t, HTTPConfig{URL: srv.URL + "/send", Payload: "to=$ctx.num&text=$ctx.msg"}, nil)
	err := h.Send(context.Background(), "+15550100006", "code 123456")
	want := "sms http gateway POST " + srv.URL + "/send: status 300 Multiple Choices: the gateway redirects; " +
		"redirects are never followed, so nothing was sent (configure the address that takes the messages itself)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}
