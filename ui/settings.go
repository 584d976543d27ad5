package ui

// Settings are the pages' OTPGATE_ variables.
type Settings struct {
	AllowedRedirectHosts []string `split_words:"true" desc:"comma-separated further hosts a sign-in may return to (besides COOKIE_DOMAIN)"`
}
