package proxy

import (
	"errors"
	"testing"
)

func TestParseRulesAndMatch(t *testing.T) {
	rules, err := ParseRules(`
# health checks and assets stay open
*                 /healthz          bypass
*.example.com     /static/**        bypass
app.example.com   /admin/**         two_factor groups=admins,ops
*                 /internal/**      deny ; *  /api/*/private  deny
`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host, path string
		policy     Policy
		groups     int
	}{
		{"app.example.com", "/healthz", PolicyBypass, 0},
		{"app.example.com", "/healthz/x", PolicyTwoFactor, 0},
		{"app.example.com", "/static", PolicyBypass, 0},
		{"app.example.com", "/static/css/x.css", PolicyBypass, 0},
		{"example.com", "/static/x", PolicyTwoFactor, 0},
		{"APP.example.com", "/admin", PolicyTwoFactor, 2},
		{"app.example.com", "/admin/users", PolicyTwoFactor, 2},
		{"app.example.com", "/administrator", PolicyTwoFactor, 0},
		{"other.example.com", "/admin", PolicyTwoFactor, 0},
		{"x", "/internal", PolicyDeny, 0},
		{"x", "/internal/a/b", PolicyDeny, 0},
		{"x", "/api/v1/private", PolicyDeny, 0},
		{"x", "/api/v1/public", PolicyTwoFactor, 0},
		{"x", "/api/v1/v2/private", PolicyTwoFactor, 0},
	}
	for _, tt := range tests {
		r := rules.Match(tt.host, tt.path)
		if r.Policy != tt.policy || len(r.Groups) != tt.groups {
			t.Errorf("Match(%q, %q) = %v with %d groups, want %v with %d", tt.host, tt.path, r.Policy, len(r.Groups), tt.policy, tt.groups)
		}
	}
}

func TestParseRulesErrors(t *testing.T) {
	tests := []struct {
		text      string
		line, col int
	}{
		{"* /x allow", 1, 6},
		{"\n\n*  /x", 3, 1},
		{"* x bypass", 1, 3},
		{"* /a/**/b bypass", 1, 3},
		{"* /x?y=1 bypass", 1, 3},
		{"a*b.com /x bypass", 1, 1},
		{"* /x bypass groups=admins", 1, 13},
		{"* /x two_factor members=admins", 1, 17},
		{"* /ok bypass; * /x nope", 1, 20},
	}
	for _, tt := range tests {
		_, err := ParseRules(tt.text)
		var re *RuleError
		if !errors.As(err, &re) || re.Line != tt.line || re.Col != tt.col {
			t.Errorf("ParseRules(%q) error = %v, want a RuleError at line %d, column %d", tt.text, err, tt.line, tt.col)
		}
	}
}
