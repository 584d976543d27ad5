package ui

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestCodePage(t *testing.T) {
	p := newPortal(t, flowConfig(), nil)
	p.password("alice", "alice-pw")
	pg := p.get("code")
	for _, want := range []string{"We sent a code to <strong>+1 ••• ••• 0006</strong>. It expires in 5 minutes.",
		`inputmode="numeric"`, `autocomplete="one-time-code"`, `<label for="code">`} {
		p.want(pg, http.StatusOK, want)
	}
}

// "Send a new code" is disabled, saying for how long, while the cooldown
// runs, and offered once it is over.
func TestCodePageResendCooldown(t *testing.T) {
	p := newPortal(t, flowConfig(), nil) // a 30 s cooldown
	p.password("alice", "alice-pw")
	tests := []struct {
		after    time.Duration // since the second the code was sent in
		want     string
		disabled bool
	}{
		{time.Second, "You can ask for a new code in 29 seconds. Reload this page then.", true},
		{15*time.Second + 500*time.Millisecond, "You can ask for a new code in 15 seconds.", true},
		{29 * time.Second, "You can ask for a new code in 1 second.", true},
		{30 * time.Second, "You can ask for a new code 30 seconds after the last one.", false},
	}
	start := p.clock.Now().Truncate(time.Second) // sign-ins note the second of a send
	for _, tt := range tests {
		p.clock.AdvanceTo(start.Add(tt.after))
		pg := p.get("code")
		p.want(pg, http.StatusOK, tt.want)
		disabled := strings.Contains(pg.body, `<button type="submit" class="link" disabled aria-describedby="resend-wait">Send a new code</button>`)
		enabled := strings.Contains(pg.body, `<button type="submit" class="link">Send a new code</button>`)
		if disabled != tt.disabled || enabled == tt.disabled {
			t.Errorf("%v after the send: got disabled %t, enabled %t; want disabled %t", tt.after, disabled, enabled, tt.disabled)
		}
	}
}

func TestCodeStep(t *testing.T) {
	tests := []struct {
		name       string
		wrongFirst int           // wrong codes before this one
		wait       time.Duration // time between sending the code and this one
		wrong      bool          // send a wrong code
		wantStatus int
		wantText   string
		wantTo     string
	}{
		{name: "right", wantStatus: http.StatusSeeOther, wantTo: "/app"},
		{name: "right, just in time", wait: 5*time.Minute - time.Second, wantStatus: http.StatusSeeOther, wantTo: "/app"},
		{name: "wrong", wrong: true, wantStatus: http.StatusUnauthorized, wantText: "That code is not right. You have 2 tries left."},
		{name: "wrong, last try left", wrongFirst: 1, wrong: true, wantStatus: http.StatusUnauthorized, wantText: "You have 1 try left."},
		{name: "wrong, no try left", wrongFirst: 2, wrong: true, wantStatus: http.StatusUnauthorized, wantText: "Too many wrong codes"},
		{name: "right after the tries ran out", wrongFirst: 3, wantStatus: http.StatusGone, wantText: "Sign-in expired"},
		{name: "expired", wait: 5*time.Minute + time.Second, wantStatus: http.StatusGone,
			wantText: "This sign-in has expired or its code was already used. Codes are valid for 5 minutes and only once."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPortal(t, flowConfig(), nil)
			p.password("alice", "alice-pw")
			p.get("code")
			code := p.lastCode()
			for range tt.wrongFirst {
				p.post("code", url.Values{"code": {wrongCode(code)}})
			}
			p.clock.Advance(tt.wait)
			if tt.wrong {
				code = wrongCode(code)
			}
			pg := p.post("code", url.Values{"code": {code}})
			p.want(pg, tt.wantStatus, tt.wantText)
			if pg.location != tt.wantTo {
				t.Errorf("got Location %q, want %q", pg.location, tt.wantTo)
			}
		})
	}
}

// wrongCode is a code of the same length that is not code.
func wrongCode(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

func TestCodeSignsIn(t *testing.T) {
	p := newPortal(t, flowConfig(), nil)
	p.signedIn()
	p.want(p.get("logout"), http.StatusOK, "You are signed in as <strong>alice</strong>.")
	// The pending sign-in is spent: its code cannot be sent again.
	p.get("signin")
	p.want(p.post("code", url.Values{"code": {p.lastCode()}}), http.StatusGone, "Sign-in expired")
}

func TestCodeWithoutSignIn(t *testing.T) {
	p := newPortal(t, flowConfig(), nil)
	p.want(p.get("code"), http.StatusGone, "Sign-in expired")
	p.get("signin")
	p.want(p.post("code", url.Values{"code": {"123456"}}), http.StatusGone, "Sign-in expired")
	p.want(p.post("code/resend", url.Values{}), http.StatusGone, "Sign-in expired")
}

func TestResend(t *testing.T) {
	p := newPortal(t, flowConfig(), nil)
	p.password("alice", "alice-pw")
	p.get("code")
	first := p.lastCode()

	p.want(p.post("code/resend", url.Values{}), http.StatusTooManyRequests, "A code was sent only a moment ago. You can ask for a new one in 30 seconds.")
	if got := len(p.sms.Sent()); got != 1 {
		t.Errorf("within the cooldown: got %d SMS, want 1", got)
	}

	p.clock.Advance(30 * time.Second)
	p.want(p.post("code/resend", url.Values{}), http.StatusOK, "A new code is on its way. The earlier code no longer works.")
	if got := len(p.sms.Sent()); got != 2 {
		t.Fatalf("after the cooldown: got %d SMS, want 2", got)
	}
	if second := p.lastCode(); second != first {
		p.want(p.post("code", url.Values{"code": {first}}), http.StatusUnauthorized, "That code is not right.")
	}
	p.want(p.post("code", url.Values{"code": {p.lastCode()}}), http.StatusSeeOther, "")
}

func TestResendCap(t *testing.T) {
	cfg := flowConfig()
	cfg.MaxSends = 2
	p := newPortal(t, cfg, nil)
	p.password("alice", "alice-pw")
	p.get("code")
	p.clock.Advance(30 * time.Second)
	p.want(p.post("code/resend", url.Values{}), http.StatusOK, "A new code is on its way.")
	p.clock.Advance(30 * time.Second)
	p.want(p.post("code/resend", url.Values{}), http.StatusTooManyRequests, "No more codes for this sign-in")
}

func TestResendOff(t *testing.T) {
	cfg := flowConfig()
	cfg.Resend = false
	p := newPortal(t, cfg, nil)
	p.password("alice", "alice-pw")
	pg := p.get("code")
	if pg.status != http.StatusOK || strings.Contains(pg.body, "Send a new code") {
		t.Errorf("got %d offering a new code, want %d without", pg.status, http.StatusOK)
	}
	p.want(p.post("code/resend", url.Values{}), http.StatusNotFound, "New codes are turned off")
}
