package ui

import (
	"regexp"
	"strings"

	"github.com/otpgate/otpgate/internal/setting"
)

// Settings are the pages' OTPGATE_ variables.
type Settings struct {
	AllowedRedirectHosts []string `split_words:"true" desc:"comma-separated further hosts a sign-in may return to (besides COOKIE_DOMAIN)"`

	BrandName     string `split_words:"true" desc:"your organisation's or app's name, in page titles and headings (\"Sign in to Acme\"); empty: neutral wording (\"Sign in\")"`
	BrandLogoFile string `split_words:"true" desc:"PNG, JPEG, WebP or SVG logo (at most 512 KiB) shown on every page, served by otpgate"`
	BrandColor    string `split_words:"true" desc:"accent colour #rrggbb of buttons, links and the focus ring; needs 4.5:1 contrast with white"`
	BrandHelpText string `split_words:"true" desc:"a line at the foot of every page, e.g. \"Problems? Call the service desk on 1234.\""`
	BrandHelpURL  string `split_words:"true" desc:"help link at the foot of every page: https://..., tel:+... or mailto:..."`

	Language        string   `desc:"one language for every page and SMS, e.g. de; empty: each browser's Accept-Language"`
	Languages       []string `desc:"comma-separated languages offered, the first when none matches (e.g. de,en); empty: all, English first"`
	TranslationsDir string   `split_words:"true" desc:"directory of message files (de.toml, pt-BR.toml) that add languages or override messages and SMS texts"`
}

// Checked is what the settings say, read and checked.
type Checked struct {
	RedirectHosts []string
	Brand         Brand
	Catalog       *Catalog
}

// hostPattern is a host name, for the redirect targets sign-in may use.
var hostPattern = regexp.MustCompile(`^\.?([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// Validate checks the settings, reads the brand's files and the message
// catalogues, and returns every problem at once, each naming its variable
// (prefix + name).
func (s Settings) Validate(prefix string) (Checked, []error) {
	var c Checked
	var p []error
	for _, h := range s.AllowedRedirectHosts {
		h = strings.TrimSpace(h)
		if !hostPattern.MatchString(h) {
			p = append(p, setting.Problemf(prefix+"ALLOWED_REDIRECT_HOSTS", "%q is not a host name", h))
			continue
		}
		if h != "" {
			c.RedirectHosts = append(c.RedirectHosts, h)
		}
	}
	var pp []error
	c.Brand, pp = checkBrand(s)
	p = append(p, prefixed(prefix, pp)...)
	c.Catalog, pp = NewCatalog(CatalogOptions{Dir: s.TranslationsDir, Languages: s.Languages, Force: strings.TrimSpace(s.Language)})
	p = append(p, prefixed(prefix, pp)...)
	return c, p
}

// prefixed turns the brand's and catalogue's problems into settings
// problems under prefix.
func prefixed(prefix string, problems []error) []error {
	out := make([]error, len(problems))
	for i, e := range problems {
		if cp, ok := e.(catalogProblem); ok { //nolint:errorlint // made just above, never wrapped
			e = setting.Problemf(prefix+cp.Var, "%s", cp.Text)
		}
		out[i] = e
	}
	return out
}
