package proxy

import (
	"net/http"
	"slices"
	"testing"

	"github.com/otpgate/otpgate/auth"
)

func TestFormatGroups(t *testing.T) {
	tests := []struct {
		names []string
		want  string
	}{
		{nil, ""},
		{[]string{"admins", "staff"}, "admins,staff"},
		{[]string{"IT Ops", "Domain Users", "Équipe"}, "IT Ops,Domain Users,Équipe"}, // as before: no quotes
		{[]string{"Sales, EMEA", "staff"}, `"Sales, EMEA",staff`},
		{[]string{`say "hi"`}, `"say \"hi\""`},
		{[]string{`a\b`, "x"}, `"a\\b",x`},
		{[]string{",", `"`, `\`}, `",","\"","\\"`},
		{[]string{"admins"}, "admins"},
		{[]string{`a"b`}, `"a\"b"`},
	}
	for _, tt := range tests {
		got := FormatGroups(tt.names)
		if got != tt.want {
			t.Errorf("FormatGroups(%q) = %s, want %s", tt.names, got, tt.want)
		}
		back, err := ParseGroups(got)
		if err != nil || !slices.Equal(back, tt.names) {
			t.Errorf("ParseGroups(%s) = %q, %v; want %q", got, back, err, tt.names)
		}
	}
}

func TestParseGroupsRefusesWhatFormatNeverWrites(t *testing.T) {
	for _, v := range []string{`"a`, `"a\"`, `"a\x"`, `"a"b`, `a"b`, `a\b`, `a,,b`, `a,`, `,a`} {
		if got, err := ParseGroups(v); err == nil {
			t.Errorf("ParseGroups(%s) = %q, want an error", v, got)
		}
	}
}

// TestIdentityHeadersEncodeGroups checks the value both modes send: the
// reverse proxy's request to the app and forward-auth's answer are made
// from the same values.
func TestIdentityHeadersEncodeGroups(t *testing.T) {
	sess := &auth.Session{User: auth.User{Username: "carol", Groups: []string{"Sales, EMEA", "staff"}}, Factors: 2}
	ih := DefaultIdentityHeaders()
	vals := identityValues(sess)
	app := http.Header{}
	setIdentityHeaders(app, ih.list(), &vals, true, false)
	if got, want := app["Remote-Groups"], `"Sales, EMEA",staff`; len(got) != 1 || got[0] != want {
		t.Errorf("reverse proxy: Remote-Groups %q, want one value %s", got, want)
	}
	g := &Gateway{cfg: Config{Identity: ih}, identity: ih.list()}
	h := http.Header{}
	g.setIdentity(h, sess)
	if v := h.Values("Remote-Groups"); len(v) != 1 || v[0] != `"Sales, EMEA",staff` {
		t.Errorf("forward-auth: Remote-Groups %q, want one value %s", v, `"Sales, EMEA",staff`)
	}
}
