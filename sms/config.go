package sms

import "errors"

// ConfigError reports one problem with one configuration field. Providers
// validate everything up front and return all problems joined with
// errors.Join, so an operator fixes the whole configuration in one pass
// instead of one restart per mistake. Field names the provider's config
// struct field (for example "URL" or "AuthToken") so the caller can map it
// to its own setting name, such as OTPGATE_SMS_URL; Problem is phrased to
// follow that name ("OTPGATE_SMS_URL: must be an absolute http or https URL").
// Problem never repeats the configured value, because values such as URLs
// and headers routinely carry passwords and tokens.
type ConfigError struct {
	Field   string
	Problem string
}

func (e *ConfigError) Error() string { return e.Field + ": " + e.Problem }

// ConfigErrors returns every *ConfigError inside err, in order, looking
// through errors.Join and %w wrapping. errors.As stops at the first match,
// which is not enough to report every problem of a configuration.
func ConfigErrors(err error) []*ConfigError {
	var out []*ConfigError
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if ce, ok := err.(*ConfigError); ok {
			out = append(out, ce)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// configProblems collects ConfigErrors while a constructor validates.
type configProblems []error

func (p *configProblems) add(field, problem string) {
	*p = append(*p, &ConfigError{Field: field, Problem: problem})
}

// err returns nil when nothing was added, so constructors can end with
// "if err := problems.err(); err != nil".
func (p configProblems) err() error { return errors.Join(p...) }
