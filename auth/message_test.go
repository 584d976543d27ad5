package auth

import (
	"testing"
	"time"

	"github.com/otpgate/otpgate/internal/text"
)

func TestRenderMessage(t *testing.T) {
	const defaultMessage = "Your sign-in code is {code}. It expires in {ttl}." // OTPGATE_SMS_MESSAGE's default
	tests := []struct {
		tmpl, code string
		ttl        time.Duration
		want       string
	}{
		{defaultMessage, "123456", 5 * time.Minute, "Your sign-in code is 123456. It expires in 5 minutes."},
		{defaultMessage, "000042", time.Minute, "Your sign-in code is 000042. It expires in 1 minute."},
		{"{code} ({ttl}) {code}", "1", 90 * time.Second, "1 (90 seconds) 1"},
		{"no placeholders", "1", time.Minute, "no placeholders"},
		{"{code}", "{ttl}", time.Minute, "{ttl}"}, // values are not expanded again
		{"{CODE} {ttl", "1", time.Minute, "{CODE} {ttl"},
	}
	for _, tt := range tests {
		if got := renderMessage(tt.tmpl, tt.code, text.HumanDuration(tt.ttl)); got != tt.want {
			t.Errorf("renderMessage(%q, %q, %v): got %q, want %q", tt.tmpl, tt.code, tt.ttl, got, tt.want)
		}
	}
}
