package sms

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otpgate/otpgate/sms/kanneltest"
)

// kannelSuccess is the SuccessMatch to use with Kannel: it answers 202 both
// when the bearerbox has the message ("0: Accepted for delivery") and when
// it cannot reach its SMS centre ("3: Queued for later delivery"), and a
// code queued for later may arrive after it expires.
const kannelSuccess = "^0: Accepted"

func kannelProvider(t *testing.T, sendURL string) *HTTP {
	t.Helper()
	return newHTTP(t, HTTPConfig{URL: sendURL, Method: "GET", SuccessMatch: kannelSuccess}, nil)
}

// The HTTP provider, configured as an operator would for Kannel, delivers
// the text exactly, through a real Kannel to its (fake) SMS centre.
func TestKannelDelivers(t *testing.T) {
	k := kanneltest.Start(t)
	tests := []struct {
		name       string
		urlSuffix  string
		to         string
		message    string
		wantText   string
		wantCoding string
	}{
		{
			// "é" is in the GSM 7-bit alphabet, so the default coding
			// keeps it; "+", "&" and spaces must survive query escaping.
			name:       "GSM 7-bit",
			to:         "+15550100006",
			message:    "Your sign-in code is 123456. It expires in 5 minutes. Café + thé & co.",
			wantText:   "Your sign-in code is 123456. It expires in 5 minutes. Café + thé & co.",
			wantCoding: "text",
		},
		{
			// Characters outside the GSM alphabet need coding=2 (UCS-2).
			name:       "UCS-2 with coding=2",
			urlSuffix:  "&coding=2",
			to:         "+15550100007",
			message:    "Code 123456 ✓ — 認証コード 😀",
			wantText:   "Code 123456 ✓ — 認証コード 😀",
			wantCoding: "ucs-2",
		},
		{
			// Without coding=2 Kannel replaces them with "?" and still
			// reports success: an operator whose message template is not
			// GSM-only must add coding=2.
			name:       "outside GSM without coding=2 is lossy",
			to:         "+15550100008",
			message:    "Code 123456 ✓",
			wantText:   "Code 123456 ?",
			wantCoding: "text",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := kannelProvider(t, k.SendURL+tt.urlSuffix)
			if err := h.Send(context.Background(), tt.to, tt.message); err != nil {
				t.Fatalf("Send: %v\nKannel output:\n%s", err, k.Output())
			}
			got := k.WaitMessage(t, tt.to, 10*time.Second)
			if got.Text != tt.wantText {
				t.Errorf("text: got %q, want %q", got.Text, tt.wantText)
			}
			if got.Coding != tt.wantCoding {
				t.Errorf("coding: got %q, want %q", got.Coding, tt.wantCoding)
			}
			if got.From != kanneltest.Sender {
				t.Errorf("from: got %q, want %q", got.From, kanneltest.Sender)
			}
		})
	}
	if got := len(k.Messages()); got != len(tests) {
		t.Errorf("fakesmsc received %d messages, want %d: %+v", got, len(tests), k.Messages())
	}
}

func TestKannelWrongPassword(t *testing.T) {
	k := kanneltest.Start(t)
	u := strings.Replace(k.SendURL, "password="+kanneltest.Password, "password=wrong-secret", 1)
	err := kannelProvider(t, u).Send(context.Background(), "+15550100006", "Your sign-in code is 123456.")
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 403 || se.Body != "Authorization failed for sendsms" {
		t.Fatalf("got %v, want a 403 *StatusError saying the authorization failed", err)
	}
	if strings.Contains(err.Error(), "wrong-secret") || strings.Contains(err.Error(), "123456") {
		t.Errorf("error %q reveals the password or the code", err)
	}
	if msgs := k.Messages(); len(msgs) != 0 {
		t.Errorf("fakesmsc received %+v, want nothing", msgs)
	}
}

func TestKannelStopped(t *testing.T) {
	k := kanneltest.Start(t)
	k.Stop()
	err := kannelProvider(t, k.SendURL).Send(context.Background(), "+15550100006", "Your sign-in code is 123456.")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("got %v, want a connection refused error", err)
	}
	if strings.Contains(err.Error(), kanneltest.Password) || strings.Contains(err.Error(), "123456") {
		t.Errorf("error %q reveals the password or the code", err)
	}
}

// Failover between two real gateways: the first is down, the second
// delivers.
func TestKannelFailover(t *testing.T) {
	down := kanneltest.Start(t)
	down.Stop()
	up := kanneltest.Start(t)
	f, _ := newFailover(t, FailoverConfig{Timeout: 10 * time.Second},
		Named{Name: "kannel-a", Sender: kannelProvider(t, down.SendURL)},
		Named{Name: "kannel-b", Sender: kannelProvider(t, up.SendURL)})

	if err := f.Send(context.Background(), foTo, foMsg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := up.WaitMessage(t, foTo, 10*time.Second); got.Text != foMsg {
		t.Errorf("text: got %q, want %q", got.Text, foMsg)
	}
	if got := f.Status()[0].ConsecutiveFailures; got != 1 {
		t.Errorf("kannel-a failures: got %d, want 1", got)
	}
}
