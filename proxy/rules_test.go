package proxy

import (
	"errors"
	"slices"
	"strings"
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

func TestParseRulesGroupNames(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"bare", `* /a two_factor groups=admins,ops`, []string{"admins", "ops"}},
		{"quoted with a space", `* /a two_factor groups="IT Ops"`, []string{"IT Ops"}},
		{"quoted and bare", `* /a two_factor groups="IT Ops","Domain Admins",staff`, []string{"IT Ops", "Domain Admins", "staff"}},
		{"bare then quoted", `* /a two_factor groups=staff,"Domain Admins"`, []string{"staff", "Domain Admins"}},
		{"comma inside quotes", `* /a two_factor groups="Sales, EMEA",staff`, []string{"Sales, EMEA", "staff"}},
		{"escaped quote and backslash", `* /a two_factor groups="say \"hi\"","a\\b"`, []string{`say "hi"`, `a\b`}},
		{"; and # inside quotes", `* /a two_factor groups="a;b","c#d" # comment`, []string{"a;b", "c#d"}},
		{"tab and spaces inside quotes", "* /a two_factor groups=\"a\t b\"", []string{"a\t b"}},
		{"quoted, then another rule", `* /a two_factor groups="x y" ; * /b deny`, []string{"x y"}},
		{"quoted name that needs no quotes", `* /a two_factor groups="staff"`, []string{"staff"}},
		{"non-ASCII", `* /a two_factor groups="Équipe IT",Ünits`, []string{"Équipe IT", "Ünits"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := ParseRules(tt.text)
			if err != nil {
				t.Fatalf("ParseRules(%q): %v", tt.text, err)
			}
			if len(rules) == 0 || !slices.Equal(rules[0].Groups, tt.want) {
				t.Fatalf("ParseRules(%q) = %+v, want the first rule's groups %q", tt.text, rules, tt.want)
			}
		})
	}
}

func TestParseRulesGroupNameErrors(t *testing.T) {
	tests := []struct {
		name, text string
		line, col  int
		problem    string
	}{
		{"unquoted space", `* /a two_factor groups=IT Ops`, 1, 1, "got 5 fields"},
		{"unterminated quote", `* /a two_factor groups="IT Ops`, 1, 24, "unterminated quote"},
		{"unterminated after an escaped quote", `* /a two_factor groups="IT\"`, 1, 24, "unterminated quote"},
		{"unterminated on line 2", "* /x deny\n* /a two_factor groups=a,\"b", 2, 26, "unterminated quote"},
		{"empty quoted name", `* /a two_factor groups=""`, 1, 24, "empty group name"},
		{"empty name between commas", `* /a two_factor groups=a,,b`, 1, 26, "empty group name"},
		{"empty name after a quoted one", `* /a two_factor groups="a",`, 1, 28, "empty group name"},
		{"trailing comma", `* /a two_factor groups=a,`, 1, 26, "empty group name"},
		{"unknown escape", `* /a two_factor groups="a\nb"`, 1, 26, `\n`},
		{"text after the closing quote", `* /a two_factor groups="a"b`, 1, 27, "want a comma"},
		{"quote inside a bare name", `* /a two_factor groups=a"b"`, 1, 25, "quote the whole name"},
		{"quoted host", `"*" /a two_factor`, 1, 1, "quotes are only for group names"},
		{"quoted path", `* "/a b" two_factor`, 1, 3, "quotes are only for group names"},
		{"after a rule with quotes", `* /a two_factor groups="a b"; * /b nope`, 1, 36, "policy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRules(tt.text)
			var re *RuleError
			if !errors.As(err, &re) || re.Line != tt.line || re.Col != tt.col || !strings.Contains(re.Problem, tt.problem) {
				t.Errorf("ParseRules(%q) error = %v, want a RuleError at line %d, column %d, saying %q", tt.text, err, tt.line, tt.col, tt.problem)
			}
		})
	}
}
