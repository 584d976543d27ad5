package sms

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestValidNumber(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"+15550100006", true},
		{"+447911123456", true},
		{"+1", true},
		{"+123456789012345", true},
		{"+1234567890123456", false}, // 16 digits
		{"15550100006", false},       // no +
		{"+", false},
		{"", false},
		{"+05550100006", false},
		{"+1 555 0100006", false},
		{"+1555010000a", false},
		{"+1555\r\nX: y", false},
		{"++15550100006", false},
	}
	for _, tt := range tests {
		if got := validNumber(tt.in); got != tt.want {
			t.Errorf("validNumber(%q): got %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCleanLine(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"plain", "plain"},
		{"a\r\nb\tc", "a b c"},
		{"  many   spaces  ", "many spaces"},
		{"bell\x07here", "bell here"},
		{"del\x7fhere", "del here"},
		{"cut \xe2\x82", "cut"},     // truncated "€"
		{"c1\u0085next", "c1 next"}, // NEL is a control character too
		{"unicode ✓ stays", "unicode ✓ stays"},
	}
	for _, tt := range tests {
		if got := cleanLine(tt.in); got != tt.want {
			t.Errorf("cleanLine(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBodySnippetIsBounded(t *testing.T) {
	got := bodySnippet(strings.NewReader(strings.Repeat("x", 1000)), "msg")
	if len(got) != maxErrorBody {
		t.Errorf("got %d bytes, want %d", len(got), maxErrorBody)
	}
}

func TestBodySnippetRedactsMessage(t *testing.T) {
	const msg = `Your code is 123456 & "more" <now>`
	tests := []struct {
		name, body, want string
	}{
		{"as written", "rejected: " + msg + " (too long)", "rejected: [message] (too long)"},
		{"query-escaped", "bad request text=" + url.QueryEscape(msg) + "&to=+1555", "bad request text=[message]&to=+1555"},
		{"path-escaped", "no route /send/" + url.PathEscape(msg), "no route /send/[message]"},
		{"JSON-escaped", `{"error":"bad","text":"` + jsonEscape(msg) + `"}`, `{"error":"bad","text":"[message]"}`},
		{"XML-escaped", "<text>" + xmlEscape(msg) + "</text>", "<text>[message]</text>"},
		{"twice", msg + msg, "[message][message]"},
		// The echo starts inside the first maxErrorBody bytes and ends
		// after them: still found whole.
		{"straddling the cut", strings.Repeat("e", maxErrorBody-5) + msg, strings.Repeat("e", maxErrorBody-5) + "[mess"},
		{"no echo", "status: failed", "status: failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := bodySnippet(strings.NewReader(tt.body), msg)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if strings.Contains(got, "123456") {
				t.Errorf("snippet %q reveals the code", got)
			}
		})
	}
	if got := redactMessage("any text", ""); got != "any text" {
		t.Errorf("empty message: got %q, want %q", got, "any text")
	}
}

func TestDescribeRequestOmitsSecrets(t *testing.T) {
	u, err := url.Parse("https://user:pw@gw.example/send/$ctx.num?password=p&text=code#frag")
	if err != nil {
		t.Fatal(err)
	}
	got := describeRequest("POST", u)
	if want := "POST https://gw.example/send/$ctx.num"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTransportErrorDropsURL(t *testing.T) {
	in := &url.Error{Op: "Get", URL: "https://gw/?text=123456", Err: context.DeadlineExceeded}
	got := transportError(in)
	if !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("got %v, want context.DeadlineExceeded", got)
	}
	if strings.Contains(got.Error(), "123456") {
		t.Errorf("got %q, want no URL", got)
	}
	plain := errors.New("plain")
	if got := transportError(plain); !errors.Is(got, plain) || got.Error() != plain.Error() {
		t.Errorf("got %v, want %v", got, plain)
	}
}
