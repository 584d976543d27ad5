package auth

import (
	"strings"
	"time"

	"github.com/otpgate/otpgate/internal/text"
)

// renderMessage replaces {code} and {ttl} in template. ttl is written for
// people ("5 minutes", "90 seconds"). Replacement is a single pass, so
// text that a value brings in is never expanded again.
func renderMessage(template string, code string, ttl time.Duration) string {
	return strings.NewReplacer("{code}", code, "{ttl}", text.HumanDuration(ttl)).Replace(template)
}
