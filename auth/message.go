package auth

import (
	"context"
	"strings"

	"github.com/otpgate/otpgate/internal/text"
)

// Wording is the SMS text in the language of the pages that asked for the
// code: a template with {code}, {ttl} and {host}, and how {ttl} is said.
type Wording struct {
	Template string
	TTL      string
}

type wordingKey struct{}

// WithWording returns ctx carrying w, so that a code sent on behalf of
// this request is worded in the user's language; without it the flow uses
// FlowConfig.Message, with {ttl} in English.
func WithWording(ctx context.Context, w Wording) context.Context {
	return context.WithValue(ctx, wordingKey{}, w)
}

// wording returns the SMS wording for ctx.
func (f *Flow) wording(ctx context.Context) Wording {
	if w, ok := ctx.Value(wordingKey{}).(Wording); ok && w.Template != "" {
		return w
	}
	return Wording{Template: f.cfg.Message, TTL: text.HumanDuration(f.cfg.CodeTTL)}
}

// renderMessage replaces {code} and {ttl} in template. Replacement is a
// single pass, so text that a value brings in is never expanded again.
func renderMessage(template string, code string, ttl string) string {
	return strings.NewReplacer("{code}", code, "{ttl}", ttl).Replace(template)
}
