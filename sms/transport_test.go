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
	got := bodySnippet(strings.NewReader(strings.Repeat("x", 1000)))
	if len(got) != maxErrorBody {
		t.Errorf("got %d bytes, want %d", len(got), maxErrorBody)
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
	if got := transportError(plain); got != plain {
		t.Errorf("got %v, want %v", got, plain)
	}
}
