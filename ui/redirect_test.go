package ui

import (
	"net/url"
	"strings"
	"testing"
)

func TestSafeRedirect(t *testing.T) {
	tests := []struct {
		rd, want string
	}{
		{"", "/"},
		{"/", "/"},
		{"/app/page?x=1&y=2#top", "/app/page?x=1&y=2#top"},
		{"/a%20b", "/a%20b"},
		{"//evil.example", "/"},
		{"///evil.example", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"https://evil.example/", "/"},
		{"http:/evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"data:text/html,x", "/"},
		{"evil.example", "/"},
		{"/%2f%2fevil.example", "/"},
		{"/%5cevil.example", "/"},
		{"/ok/%2fnot-leading", "/ok/%2fnot-leading"},
		{"/" + strings.Repeat("a", 3000), "/"},
		{"/path\x7f", "/"},
		{" /leading-space", "/"},
	}
	for _, tt := range tests {
		if got := SafeRedirect(tt.rd); got != tt.want {
			t.Errorf("SafeRedirect(%q) = %q, want %q", tt.rd, got, tt.want)
		}
	}
}

// FuzzSafeRedirect checks that whatever comes in, what comes out is a path
// a browser resolves on this same origin.
func FuzzSafeRedirect(f *testing.F) {
	for _, s := range []string{"/", "//x", "/\\x", "/a?b#c", "https://x", "/%2f/x", "/\t/x", "/.//x"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://gate.example/app/")
	f.Fuzz(func(t *testing.T, rd string) {
		got := SafeRedirect(rd)
		if got != "/" && got != rd {
			t.Fatalf("SafeRedirect(%q) = %q: neither the input nor /", rd, got)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("SafeRedirect(%q) = %q does not parse: %v", rd, got, err)
		}
		if r := base.ResolveReference(u); r.Host != base.Host || r.Scheme != base.Scheme {
			t.Fatalf("SafeRedirect(%q) = %q resolves to %q, off this origin", rd, got, r)
		}
		if strings.ContainsAny(got, "\\\t\r\n") || strings.HasPrefix(got, "//") {
			t.Fatalf("SafeRedirect(%q) = %q keeps characters browsers rewrite", rd, got)
		}
	})
}

func TestRedirectPolicy(t *testing.T) {
	p := RedirectPolicy{Domain: "example.com", Hosts: []string{"tools.partner.org"}}
	tests := []struct{ rd, want string }{
		{"/local?x=1", "/local?x=1"},
		{"https://app.example.com/page?q=1", "https://app.example.com/page?q=1"},
		{"https://example.com/", "https://example.com/"},
		{"https://deep.app.example.com:8443/x", "https://deep.app.example.com:8443/x"},
		{"https://tools.partner.org/", "https://tools.partner.org/"},
		{"http://app.example.com/", "/"},
		{"https://evil.com/", "/"},
		{"https://example.com.evil.com/", "/"},
		{"https://evilexample.com/", "/"},
		{"https://app.example.com@evil.com/", "/"},
		{"https://user:pw@app.example.com/", "/"},
		{"https://app.example.com\\@evil.com/", "/"},
		{"javascript://app.example.com/%0aalert(1)", "/"},
		{"//app.example.com/", "/"},
		{"https://sub.tools.partner.org/", "/"},
	}
	for _, tt := range tests {
		if got := p.Safe(tt.rd); got != tt.want {
			t.Errorf("Safe(%q) = %q, want %q", tt.rd, got, tt.want)
		}
	}
	if got := (RedirectPolicy{Domain: "example.com", AllowHTTP: true}).Safe("http://app.example.com/"); got != "http://app.example.com/" {
		t.Errorf("with AllowHTTP, Safe(http://app.example.com/) = %q", got)
	}
	if got := (RedirectPolicy{}).Safe("https://app.example.com/"); got != "/" {
		t.Errorf("with no domain or hosts, an absolute URL was allowed: %q", got)
	}
}
