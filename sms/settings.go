package sms

import (
	"time"

	"github.com/otpgate/otpgate/internal/setting"
)

// Settings choose and tune the SMS providers, as the OTPGATE_SMS_
// variables. The first HTTP gateway's own settings (URL, METHOD, ...) sit
// beside them; a second HTTP gateway and Twilio have settings of their own
// (an HTTPConfig and a TwilioConfig).
type Settings struct {
	Provider        string        `split_words:"true" default:"console" desc:"console, http, http2 or twilio"`
	Providers       []string      `split_words:"true" desc:"ordered list for failover, e.g. twilio,http,http2 (overrides SMS_PROVIDER)"`
	BreakerFailures int           `split_words:"true" default:"3" desc:"consecutive failures after which a provider is skipped for SMS_BREAKER_OPEN_FOR"`
	BreakerOpenFor  time.Duration `split_words:"true" default:"30s" desc:"how long a failing provider is skipped before it is tried again"`
	Timeout         time.Duration `split_words:"true" default:"10s" desc:"longest wait for the SMS provider"`
	HTTPConfig
}

// Validate checks the providers' shared settings, with every problem at
// once, each naming its variable (prefix + name, e.g. OTPGATE_SMS_TIMEOUT).
// Each provider checks its own when it is made (NewHTTP, NewTwilio).
func (s Settings) Validate(prefix string) []error {
	var p []error
	if s.Timeout <= 0 || s.Timeout > time.Minute {
		p = append(p, setting.Problemf(prefix+"TIMEOUT", "%v: want between 1s and 1m", s.Timeout))
	}
	if s.BreakerFailures < 1 {
		p = append(p, setting.Problemf(prefix+"BREAKER_FAILURES", "%d: want 1 or more", s.BreakerFailures))
	}
	if s.BreakerOpenFor <= 0 {
		p = append(p, setting.Problemf(prefix+"BREAKER_OPEN_FOR", "must be positive, like 30s"))
	}
	return p
}
