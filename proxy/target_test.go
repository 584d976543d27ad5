package proxy

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestReadPathRefusesAmbiguousPaths(t *testing.T) {
	for _, p := range []string{
		// dot segments, in every spelling
		"/..", "/a/..", "/a/../b", "/a/.", "/./a", "/a/./b",
		"/public/..;/admin", "/public/.;/../admin", "/public/..;x/admin", "/a/.. /b", "/a/... /b", "/a/..?x/b",
		"/public/%2e%2e;/admin", "/admin/%252e%252e/healthz", "/admin/..%252f..%252fpublic/x",
		"/a/．．/b", "/a/‥/b", "/a/%EF%BC%8E%EF%BC%8E/b",
		// escaped separators, dots and escapes
		"/a%2fb", "/a%2Fb", "/a%5cb", "/a%2eb", "/a%25", "/%252e%252e/x", "/a%", "/a%2", "/a%zz",
		// backslashes, NUL and control characters, bytes that are not UTF-8
		"/a\\b", "/a%5C..%5Cadmin", "/a%00b", "/a%0ab", "/a%7fb", "/a%c0%ae%c0%ae/b", "/a%ff",
		// characters whose compatibility form is a separator
		"/public／..／admin", "/a%EF%BC%8Fb",
		// not a path
		"", "*", "admin", "http://x/",
	} {
		got, err := ReadPath(p)
		var pe *PathError
		if !errors.As(err, &pe) {
			t.Errorf("ReadPath(%q) = %q, %v; want a PathError", p, got.Readings(), err)
		}
	}
}

func TestReadPathReadings(t *testing.T) {
	tests := []struct {
		in   string
		want []string // every reading, the decoded path first
	}{
		{"/", []string{"/"}},
		{"/a/b", []string{"/a/b"}},
		{"/a/b/", []string{"/a/b/"}},
		{"/Admin", []string{"/Admin"}},
		{"/a.b/c..d/.e", []string{"/a.b/c..d/.e"}},
		{"/%61dmin", []string{"/admin"}},
		{"/admin;x", []string{"/admin;x", "/admin"}},
		{"/admin;jsessionid=1/x", []string{"/admin;jsessionid=1/x", "/admin/x"}},
		{"/admin.", []string{"/admin.", "/admin"}},
		{"/admin%20", []string{"/admin ", "/admin"}},
		{"/admin. . ", nil}, // checked below: holds /admin
		{"//admin", []string{"//admin", "/admin"}},
		{"/a//b", []string{"/a//b", "/a/b"}},
		{"/admin%3fx/y", []string{"/admin?x/y", "/admin"}},
		{"/ａｄｍｉｎ", []string{"/ａｄｍｉｎ", "/admin"}},
	}
	for _, tt := range tests {
		p, err := ReadPath(tt.in)
		if err != nil {
			t.Errorf("ReadPath(%q): %v", tt.in, err)
			continue
		}
		got := p.Readings()
		if tt.want == nil {
			if !slices.Contains(got, "/admin") {
				t.Errorf("ReadPath(%q) readings %q, want /admin among them", tt.in, got)
			}
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ReadPath(%q) readings %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzReadPath checks the properties every answer must have: the
// allocation-free fast path agrees with the full reading, and no reading of
// an accepted path holds a dot segment or a backslash.
func FuzzReadPath(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "/a//b", "/a/./b", "/%2e%2e/x", "/a\\b", "/a/", "/..", "/a.b/.c",
		"/public/..;/admin", "/admin;x", "/admin.", "/ａｄｍｉｎ", "/a%3f/..", "/%252e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ReadPath(s)
		if isPlainPath(s) {
			slow, serr := readPathSlow(s)
			if err != nil || serr != nil || !slices.Equal(slow.Readings(), []string{s}) {
				t.Fatalf("fast path kept %q, full reading gives %q, %v", s, slow.Readings(), serr)
			}
		}
		if err != nil {
			return
		}
		for _, r := range p.Readings() {
			if !strings.HasPrefix(r, "/") || strings.Contains(r, "\\") {
				t.Fatalf("ReadPath(%q) reading %q: not rooted, or holds a backslash", s, r)
			}
			for seg := range strings.SplitSeq(r, "/") {
				if seg == "." || seg == ".." || isDotSegment(seg) {
					t.Fatalf("ReadPath(%q) reading %q holds a dot segment", s, r)
				}
			}
		}
	})
}

func TestCanonicalHost(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"app.example.test", "app.example.test", true},
		{"APP.Example.Test:8443", "app.example.test", true},
		{"app.example.test.", "app.example.test", true},
		{"app.example.test..", "app.example.test", true},
		{"app.example.test.:443", "app.example.test", true},
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1:80", "127.0.0.1", true},
		{"[::1]:8080", "[::1]", true},
		{"[0:0::1]", "[::1]", true},
		{"my_host", "my_host", true},
		{"", "", false},
		{".", "", false},
		{"a..b", "", false},
		{".example.test", "", false},
		{"app.example.test,evil", "", false},
		{"app.example.test?x", "", false},
		{"app.example.test#x", "", false},
		{"alice@app.example.test", "", false},
		{"app example.test", "", false},
		{"app.example.test/x", "", false},
		{"app.example.test\\x", "", false},
		{"app.example.test:", "", false},
		{"app.example.test:0", "", false},
		{"app.example.test:99999", "", false},
		{"app.example.test:+80", "", false},
		{"app.example.test:80:80", "", false},
		{"[::1", "", false},
		{"[fe80::1%eth0]", "", false},
		{"[127.0.0.1]", "", false},
		{"ａｐｐ.example.test", "", false},
		{"app%2eexample.test", "", false},
		{strings.Repeat("a", 64) + ".test", "", false},
	}
	for _, tt := range tests {
		got, ok := CanonicalHost(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("CanonicalHost(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// decide reads a path and judges it, for tests.
func decideFor(t *testing.T, rules Rules, host, escaped string, ignoreCase bool) (Verdict, error) {
	t.Helper()
	p, err := ReadPath(escaped)
	if err != nil {
		return Verdict{}, err
	}
	return rules.Decide(host, p, ignoreCase), nil
}

// TestDecideTakesTheStrictestReading holds the paths found to walk around
// rules: each must be refused, or judged by the strictest rule that any
// server's reading of it selects.
func TestDecideTakesTheStrictestReading(t *testing.T) {
	rules, err := ParseRules(`
* /healthz bypass
* /public/** bypass
* /internal/** deny
* /admin/** two_factor groups=admins
* /staff/** two_factor groups=staff
app.example.test /ops/** two_factor groups=ops
`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path       string
		ignoreCase bool
		policy     Policy // ignored when refused
		groups     [][]string
		refused    bool
	}{
		{path: "/healthz", policy: PolicyBypass},
		{path: "/public/x", policy: PolicyBypass},
		{path: "/app", policy: PolicyTwoFactor},
		{path: "/admin/%252e%252e/healthz", refused: true},
		{path: "/admin/%2e%2e/healthz", refused: true},
		{path: "/admin/%252e%252e/%252e%252e/public/x", refused: true},
		{path: "/admin/..%252f..%252fpublic/x", refused: true},
		{path: "/public/..;/admin", refused: true},
		{path: "/public/.;/../admin", refused: true},
		{path: "/public/%2e%2e;/admin", refused: true},
		{path: "/public/..%3b/admin", refused: true},
		// A servlet container reads /admin;x as /admin, IIS /admin. and
		// /admin%20 as /admin: a deny or group rule must hold for them.
		{path: "/internal;x", policy: PolicyDeny},
		{path: "/internal.", policy: PolicyDeny},
		{path: "/internal%20", policy: PolicyDeny},
		{path: "/internal%20.", policy: PolicyDeny},
		{path: "/internal;x/y", policy: PolicyDeny},
		{path: "/public;x/../admin", refused: true},
		{path: "/admin;x", policy: PolicyTwoFactor, groups: [][]string{{"admins"}}},
		{path: "/admin.", policy: PolicyTwoFactor, groups: [][]string{{"admins"}}},
		{path: "//internal", policy: PolicyDeny},
		{path: "/ｉｎｔｅｒｎａｌ", policy: PolicyDeny},
		// A bypass holds only when every reading is bypassed.
		{path: "/public;x/y", policy: PolicyTwoFactor},
		{path: "/healthz;x", policy: PolicyTwoFactor},
		// Case: only with ignoreCase, and then the stricter reading wins.
		{path: "/INTERNAL", policy: PolicyTwoFactor},
		{path: "/INTERNAL", ignoreCase: true, policy: PolicyDeny},
		{path: "/Admin/x", ignoreCase: true, policy: PolicyTwoFactor, groups: [][]string{{"admins"}}},
		{path: "/PUBLIC/x", ignoreCase: true, policy: PolicyTwoFactor},
		{path: "/public/x", ignoreCase: true, policy: PolicyBypass},
		{path: "/admin;/staff", policy: PolicyTwoFactor, groups: [][]string{{"admins"}}},
	}
	for _, tt := range tests {
		v, err := decideFor(t, rules, "app.example.test", tt.path, tt.ignoreCase)
		if tt.refused {
			if err == nil {
				t.Errorf("%s: judged %v by line %d, want refused", tt.path, v.Policy(), v.Rule.Line)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: refused (%v), want %v", tt.path, err, tt.policy)
			continue
		}
		if v.Policy() != tt.policy || !slices.EqualFunc(v.Groups(), tt.groups, slices.Equal) {
			t.Errorf("%s (ignoreCase %v): %v with groups %q, want %v with %q", tt.path, tt.ignoreCase, v.Policy(), v.Groups(), tt.policy, tt.groups)
		}
	}
}

func TestVerdictNeedsEveryGroupRequirement(t *testing.T) {
	rules, err := ParseRules("* /a/** two_factor groups=admins\n* /b/** two_factor groups=staff,ops\n")
	if err != nil {
		t.Fatal(err)
	}
	// Two readings that select these two rules.
	v := Verdict{Rule: rules[0]}.and(rules[1])
	for _, tt := range []struct {
		groups []string
		want   bool
	}{
		{[]string{"admins"}, false},
		{[]string{"staff"}, false},
		{[]string{"admins", "ops"}, true},
		{[]string{"Admins", "STAFF"}, true},
		{nil, false},
	} {
		if got := v.Admits(tt.groups); got != tt.want {
			t.Errorf("Admits(%q) = %v, want %v", tt.groups, got, tt.want)
		}
	}
	if got := forbiddenGroupsMessage("carol", v); !strings.Contains(got, "members of admins, and of staff or ops") {
		t.Errorf("message %q does not name both requirements", got)
	}
	if d := v.and(Rule{Policy: PolicyDeny, index: 9}); d.Policy() != PolicyDeny || len(d.Also) != 0 {
		t.Errorf("a deny reading: %v with %d more, want deny alone", d.Policy(), len(d.Also))
	}
	if b := v.and(Rule{Policy: PolicyBypass, index: 8}); b.Policy() != PolicyTwoFactor || len(b.Groups()) != 2 {
		t.Errorf("a bypass reading weakened the verdict: %v with %q", b.Policy(), b.Groups())
	}
}
