// Package sms delivers one-time codes by text message through pluggable
// providers: any HTTP SMS gateway, Twilio, or the console for development.
package sms

import "context"

// Sender delivers one text message to one phone number (E.164, "+15550100").
// A returned error means the message must be treated as not sent.
type Sender interface {
	Send(ctx context.Context, to, message string) error
}
