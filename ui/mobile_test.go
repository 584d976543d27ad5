package ui

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/auth/authtest"
)

// carol has no mobile number in the directory.
var carol = authtest.User{User: auth.User{Username: "carol", DN: "uid=carol,ou=people,dc=example,dc=org"}, Password: "carol-pw"}

func TestCaptureMobile(t *testing.T) {
	cfg := flowConfig()
	cfg.CaptureMobile, cfg.CaptureMobileBind = true, auth.BindUser
	p := newPortal(t, cfg, nil, carol)

	pg := p.password("carol", "carol-pw")
	if pg.status != http.StatusSeeOther || pg.location != prefix+"mobile" {
		t.Fatalf("password: got %d to %q, want %d to %q", pg.status, pg.location, http.StatusSeeOther, prefix+"mobile")
	}
	p.want(p.get("code"), http.StatusSeeOther, "") // no number yet: not the code page
	p.want(p.get("mobile"), http.StatusOK, "Add your mobile number")
	p.want(p.post("mobile", url.Values{"mobile": {"7700 900123"}}), http.StatusBadRequest, "Add the country code")
	p.want(p.post("mobile", url.Values{"mobile": {"+44 20 7946 0018"}}), http.StatusBadRequest, "That is not a mobile number")
	if got := len(p.sms.Sent()); got != 0 {
		t.Errorf("numbers refused: got %d SMS, want none", got)
	}

	pg = p.post("mobile", url.Values{"mobile": {"+44 7700 900123"}})
	if pg.status != http.StatusSeeOther || pg.location != prefix+"code" {
		t.Fatalf("number: got %d to %q, want %d to %q", pg.status, pg.location, http.StatusSeeOther, prefix+"code")
	}
	p.want(p.get("code"), http.StatusOK, "We sent a code to <strong>+44 ••• ••• 0123</strong>.")
	p.want(p.post("code", url.Values{"code": {p.lastCode()}}), http.StatusSeeOther, "")

	// The number was saved: the next sign-in sends the code to it.
	p.want(p.post("logout", url.Values{}), http.StatusOK, "You are signed out")
	p.want(p.password("carol", "carol-pw"), http.StatusSeeOther, "")
	if sent := p.sms.Sent(); len(sent) != 2 || sent[1].To != "+447700900123" {
		t.Errorf("next sign-in: got SMS %q, want the second to +447700900123", sent)
	}
}
