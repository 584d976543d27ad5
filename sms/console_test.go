package sms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestConsoleSend(t *testing.T) {
	tests := []struct {
		to, msg, want string
	}{
		{"+15550100006", "Your sign-in code is 123456.", "SMS to +15550100006: Your sign-in code is 123456.\n"},
		{"+15550100006", "two\nlines\r\nforged", "SMS to +15550100006: two lines forged\n"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if err := NewConsole(&buf).Send(context.Background(), tt.to, tt.msg); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if got := buf.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestConsoleConcurrentLinesStayWhole(t *testing.T) {
	var buf bytes.Buffer // not safe for concurrent use on its own
	c := NewConsole(&buf)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Send(context.Background(), "+15550100006", fmt.Sprintf("code %06d", i)); err != nil {
				t.Errorf("Send: %v", err)
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 50 {
		t.Fatalf("got %d lines, want 50", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "SMS to +15550100006: code ") || len(l) != len("SMS to +15550100006: code 000000") {
			t.Errorf("got %q, want a whole line", l)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestConsoleErrors(t *testing.T) {
	if err := NewConsole(failWriter{}).Send(context.Background(), "+1", "x"); err == nil || err.Error() != "sms console: disk full" {
		t.Errorf("got %v, want %q", err, "sms console: disk full")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var buf bytes.Buffer
	if err := NewConsole(&buf).Send(ctx, "+1", "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if buf.Len() != 0 {
		t.Errorf("got output %q after cancel, want none", buf.String())
	}
}
