package ui

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestSignInPage(t *testing.T) {
	p := newPortal(t, flowConfig(), nil)
	pg := p.get("signin?rd=/app")
	p.want(pg, http.StatusOK, `name="password"`)
	p.want(pg, http.StatusOK, `name="rd" value="/app"`)
	if p.csrf == "" {
		t.Errorf("got no CSRF token in the form")
	}

	p.signedIn()
	pg = p.get("signin?rd=/app")
	if pg.status != http.StatusSeeOther || pg.location != "/app" {
		t.Errorf("signed in: got %d to %q, want %d to %q", pg.status, pg.location, http.StatusSeeOther, "/app")
	}
}

func TestPasswordStep(t *testing.T) {
	tests := []struct {
		name               string
		wrongFirst         int // wrong passwords before this one
		username, password string
		wantStatus         int
		wantText           string
		wantTo             string // Location of a redirect
		wantSMS            int
	}{
		{name: "right", username: "alice", password: "alice-pw",
			wantStatus: http.StatusSeeOther, wantTo: prefix + "code", wantSMS: 1},
		{name: "right, by email", username: "Alice@Example.org", password: "alice-pw",
			wantStatus: http.StatusSeeOther, wantTo: prefix + "code", wantSMS: 1},
		{name: "wrong", username: "alice", password: "guess",
			wantStatus: http.StatusUnauthorized, wantText: "The username or password is not right."},
		{name: "unknown user", username: "mallory", password: "guess",
			wantStatus: http.StatusUnauthorized, wantText: "The username or password is not right."},
		{name: "empty password", username: "alice",
			wantStatus: http.StatusBadRequest, wantText: "Enter your username and your password."},
		{name: "locked", wrongFirst: 5, username: "alice", password: "alice-pw",
			wantStatus: http.StatusTooManyRequests, wantText: "it is locked for now."},
		{name: "the wrong password that locks", wrongFirst: 4, username: "alice", password: "guess",
			wantStatus: http.StatusTooManyRequests, wantText: "Account locked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPortal(t, flowConfig(), nil)
			for range tt.wrongFirst {
				p.password("alice", "guess")
			}
			pg := p.password(tt.username, tt.password)
			p.want(pg, tt.wantStatus, tt.wantText)
			if pg.location != tt.wantTo {
				t.Errorf("got Location %q, want %q", pg.location, tt.wantTo)
			}
			if got := len(p.sms.Sent()); got != tt.wantSMS {
				t.Errorf("got %d SMS, want %d", got, tt.wantSMS)
			}
		})
	}
}

func TestPasswordStepSendsToTheDirectorysNumber(t *testing.T) {
	p := newPortal(t, flowConfig(), nil)
	p.password("alice", "alice-pw")
	sent := p.sms.Sent()
	if len(sent) != 1 || sent[0].To != alice.Mobile || len(sent[0].Text) != 6 {
		t.Errorf("got SMS %q, want one 6-digit code to %q", sent, alice.Mobile)
	}
}

func TestFormRefusedWithoutItsToken(t *testing.T) {
	p := newPortal(t, flowConfig(), nil)
	p.get("signin")
	p.csrf = "forged"
	p.want(p.post("signin", url.Values{"username": {"alice"}, "password": {"alice-pw"}}), http.StatusForbidden, "This form has expired")
	if got := len(p.sms.Sent()); got != 0 {
		t.Errorf("got %d SMS, want none", got)
	}
}

func TestFormFromAnotherSiteRefused(t *testing.T) {
	p := newPortal(t, flowConfig(), nil)
	p.get("signin")
	req, err := http.NewRequest(http.MethodPost, p.srv.URL+prefix+"signin",
		strings.NewReader(url.Values{"csrf": {p.csrf}, "username": {"alice"}, "password": {"alice-pw"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	p.want(p.do(req), http.StatusForbidden, "Form sent from another site")
}
