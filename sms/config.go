package sms

import (
	"errors"

	"github.com/otpgate/otpgate/internal/setting"
)

// Providers validate everything up front and return all problems joined
// with errors.Join, so an operator fixes the whole configuration in one
// pass instead of one restart per mistake. Each is a *setting.Problem whose
// Name is the setting's name after its prefix (URL, SUCCESS_MATCH, ...), so
// the caller puts its prefix before it (OTPGATE_SMS_, OTPGATE_SMS2_). The
// text never repeats the configured value: URLs and headers routinely carry
// passwords and tokens.

// configProblems collects problems while a constructor validates.
type configProblems []error

func (p *configProblems) add(name, problem string) {
	*p = append(*p, &setting.Problem{Name: name, Text: problem})
}

// err returns nil when nothing was added, so constructors can end with
// "if err := problems.err(); err != nil".
func (p configProblems) err() error { return errors.Join(p...) }
