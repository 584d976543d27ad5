package sms

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// Console "sends" messages by writing them to w, one line each, for the
// demo and for development without an SMS account. Printing the message,
// code included, is its purpose: never use it in production.
// It is safe for concurrent use.
type Console struct {
	mu sync.Mutex // keeps concurrent lines whole on writers that are not
	w  io.Writer
}

var _ Sender = (*Console)(nil)

// NewConsole returns a Console that writes to w.
func NewConsole(w io.Writer) *Console {
	return &Console{w: w}
}

// Send writes "SMS to +15550100006: <message>" and a newline. Control
// characters in the number or message become spaces and runs of
// whitespace collapse, so each message stays one line and cannot forge
// other lines in the output.
func (c *Console) Send(ctx context.Context, to, message string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sms console: %w", err)
	}
	line := "SMS to " + cleanLine(to) + ": " + cleanLine(message) + "\n"
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.w, line); err != nil {
		return fmt.Errorf("sms console: %w", err)
	}
	return nil
}
