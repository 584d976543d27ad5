package sms

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRenderURL(t *testing.T) {
	tests := []struct {
		name, tmpl, num, msg, want string
	}{
		{
			"query",
			"http://h/send?to=$ctx.num&text=$ctx.msg",
			"+15550100006", "a b&c=d",
			"http://h/send?to=%2B15550100006&text=a+b%26c%3Dd",
		},
		{
			"path",
			"https://h/to/$ctx.num/$ctx.msg",
			"+15550100006", "a b/c?d",
			"https://h/to/+15550100006/a%20b%2Fc%3Fd",
		},
		{
			"path and query",
			"https://h/$ctx.num?m=$ctx.msg",
			"+1", "x?y",
			"https://h/+1?m=x%3Fy",
		},
		{
			"template text untouched",
			"https://h/a%2Fb?from=%2B1&to=$ctx.num",
			"+2", "",
			"https://h/a%2Fb?from=%2B1&to=%2B2",
		},
		{
			"no recursive expansion",
			"https://h/?a=$ctx.msg&b=$ctx.num",
			"+1", "$ctx.num",
			"https://h/?a=%24ctx.num&b=%2B1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := renderURL(tt.tmpl, tt.num, tt.msg); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBodyEscaping(t *testing.T) {
	tests := []struct {
		kind    bodyKind
		in, out string
	}{
		{bodyForm, "a b+c&d=é", "a+b%2Bc%26d%3D%C3%A9"},
		{bodyJSON, "say \"hi\"\\\n<&>", `say \"hi\"\\\n<&>`},
		{bodyJSON, "tab\tnul\x00", `tab\tnul\u0000`},
		{bodyXML, `<a href="x">&'`, "&lt;a href=&#34;x&#34;&gt;&amp;&#39;"},
		{bodyRaw, "as is & <raw>", "as is & <raw>"},
	}
	for _, tt := range tests {
		if got := tt.kind.escape(tt.in); got != tt.out {
			t.Errorf("%v escape(%q): got %q, want %q", tt.kind, tt.in, got, tt.out)
		}
	}
}

func TestKindForContentType(t *testing.T) {
	tests := []struct {
		ct   string
		want bodyKind
	}{
		{"application/json", bodyJSON},
		{"application/vnd.api+json; charset=utf-8", bodyJSON},
		{"Application/X-WWW-Form-Urlencoded", bodyForm},
		{"application/x-www-form-urlencoded; charset=UTF-8", bodyForm},
		{"text/xml", bodyXML},
		{"application/soap+xml", bodyXML},
		{"text/plain", bodyRaw},
	}
	for _, tt := range tests {
		if got := kindForContentType(tt.ct); got != tt.want {
			t.Errorf("kindForContentType(%q): got %v, want %v", tt.ct, got, tt.want)
		}
	}
}

func TestGuessBody(t *testing.T) {
	tests := []struct {
		payload  string
		wantKind bodyKind
		wantCT   string
	}{
		{`{"to":"$ctx.num"}`, bodyJSON, "application/json"},
		{"  \n[1]", bodyJSON, "application/json"},
		{"to=$ctx.num", bodyForm, "application/x-www-form-urlencoded"},
		{"", bodyForm, "application/x-www-form-urlencoded"},
	}
	for _, tt := range tests {
		kind, ct := guessBody(tt.payload)
		if kind != tt.wantKind || ct != tt.wantCT {
			t.Errorf("guessBody(%q): got %v %q, want %v %q", tt.payload, kind, ct, tt.wantKind, tt.wantCT)
		}
	}
}

func TestHasControl(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"Bearer abc", false},
		{"tab\tok", false},
		{"é ✓", false},
		{"a\rb", true},
		{"a\nb", true},
		{"a\x00b", true},
		{"a\x7fb", true},
	}
	for _, tt := range tests {
		if got := hasControl(tt.in); got != tt.want {
			t.Errorf("hasControl(%q): got %v, want %v", tt.in, got, tt.want)
		}
	}
}

// FuzzRenderPayload checks that whatever the number and message, the
// rendered form, JSON and URL decode back to exactly the inputs: escaping
// must never let a value break out of its place in the template.
func FuzzRenderPayload(f *testing.F) {
	seeds := [][2]string{
		{"+15550100006", "Your code is 123456 & more"},
		{"+1", ""},
		{"", "a=b&c=d"},
		{"+%2B", "100% + 50%"},
		{"$ctx.msg", "$ctx.num"},
		{`"}`, `","injected":"x`},
		{"\\", "line1\nline2\r\n\ttab"},
		{"\x00", "\u2028\u2029 <script>&amp;"},
		{"é", "日本語 😀"},
		{"#frag", "?q=1;x=2"},
		{"/../", "a/b%2Fc"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, num, msg string) {
		form := render("to=$ctx.num&msg=$ctx.msg", bodyForm.escape, num, msg)
		q, err := url.ParseQuery(form)
		if err != nil {
			t.Fatalf("form %q: %v", form, err)
		}
		if got := q.Get("to"); got != num || len(q["to"]) != 1 {
			t.Errorf("form to: got %q, want %q", q["to"], num)
		}
		if got := q.Get("msg"); got != msg || len(q["msg"]) != 1 {
			t.Errorf("form msg: got %q, want %q", q["msg"], msg)
		}
		if len(q) != 2 {
			t.Errorf("form: got keys %q, want to and msg", q)
		}

		u, err := url.Parse(renderURL("https://gw.example/p/$ctx.num?to=$ctx.num&msg=$ctx.msg", num, msg))
		if err != nil {
			t.Fatalf("url: %v", err)
		}
		if u.Host != "gw.example" {
			t.Errorf("url host: got %q, want %q", u.Host, "gw.example")
		}
		seg, err := url.PathUnescape(strings.TrimPrefix(u.EscapedPath(), "/p/"))
		if err != nil || seg != num {
			t.Errorf("url path: got %q (%v), want %q", seg, err, num)
		}
		if uq := u.Query(); uq.Get("to") != num || uq.Get("msg") != msg || len(uq) != 2 {
			t.Errorf("url query: got %q, want to=%q msg=%q", uq, num, msg)
		}

		if !utf8.ValidString(num) || !utf8.ValidString(msg) {
			return // JSON cannot carry invalid UTF-8; it becomes U+FFFD
		}
		body := render(`{"to":"$ctx.num","msg":"$ctx.msg"}`, bodyJSON.escape, num, msg)
		var v map[string]string
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("json %q: %v", body, err)
		}
		if v["to"] != num || v["msg"] != msg || len(v) != 2 {
			t.Errorf("json: got %q, want to=%q msg=%q", v, num, msg)
		}
	})
}
