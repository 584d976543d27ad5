// Package sms delivers one-time codes by text message through pluggable
// providers: any HTTP SMS gateway, Twilio, or the console for development;
// Failover tries several in turn.
package sms

import "context"

// Sender delivers one text message to one phone number (E.164, "+15550100").
// A returned error means the message must be treated as not sent. Send must
// return once ctx is done: Failover relies on that to bound how long a
// hanging provider holds up the next one.
type Sender interface {
	Send(ctx context.Context, to, message string) error
}
