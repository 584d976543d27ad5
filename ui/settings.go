package ui

import (
	"regexp"
	"strings"

	"github.com/otpgate/otpgate/internal/setting"
)

// Settings are the pages' OTPGATE_ variables.
type Settings struct {
	AllowedRedirectHosts []string `split_words:"true" desc:"comma-separated further hosts a sign-in may return to (besides COOKIE_DOMAIN)"`
}

// hostPattern is a host name, for the redirect targets sign-in may use.
var hostPattern = regexp.MustCompile(`^\.?([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// Validate checks the settings and returns the further redirect hosts,
// with every problem at once, each naming its variable (prefix + name).
func (s Settings) Validate(prefix string) ([]string, []error) {
	var hosts []string
	var p []error
	for _, h := range s.AllowedRedirectHosts {
		h = strings.TrimSpace(h)
		if !hostPattern.MatchString(h) {
			p = append(p, setting.Problemf(prefix+"ALLOWED_REDIRECT_HOSTS", "%q is not a host name", h))
			continue
		}
		if h != "" {
			hosts = append(hosts, h)
		}
	}
	return hosts, p
}
