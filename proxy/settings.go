package proxy

import (
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/otpgate/otpgate/internal/setting"
)

// Settings are the proxy's OTPGATE_ variables: the app, the proxies in
// front, the access rules and the identity headers.
type Settings struct {
	UpstreamURL           string                 `split_words:"true" desc:"the app behind otpgate, e.g. http://127.0.0.1:3000; empty: forward-auth and portal only"`
	TrustedProxies        []string               `split_words:"true" default:"127.0.0.0/8,::1/128" desc:"addresses or CIDRs of the proxies in front of otpgate, whose X-Forwarded-*/X-Original-* headers are believed (name your ingress or load balancer here)"`
	Hosts                 []string               `split_words:"true" desc:"reverse-proxy mode: host names the app is served on, besides PUBLIC_URL's; other hosts get 421 (required when ACCESS_RULES name a host)"`
	AccessRules           string                 `split_words:"true" file:"true" desc:"access rules, one per line or ;-separated: HOST PATH bypass|two_factor|deny [groups=G,\"G H\",...]"`
	AccessRulesIgnoreCase bool                   `split_words:"true" default:"true" desc:"also judge each path in any letter case, the stricter verdict winning (for apps on servers that ignore case)"`
	IdentityHeader        IdentityHeaderSettings `split_words:"true"`
}

// IdentityHeaderSettings name the headers that carry the identity
// (OTPGATE_IDENTITY_HEADER_...).
type IdentityHeaderSettings struct {
	User      []string `split_words:"true" default:"Remote-User" desc:"request headers (comma-separated) that carry the username to the app"`
	Name      []string `split_words:"true" default:"Remote-Name" desc:"headers that carry the display name (empty: not sent)"`
	Email     []string `split_words:"true" default:"Remote-Email" desc:"headers that carry the e-mail address (empty: not sent)"`
	Groups    []string `split_words:"true" default:"Remote-Groups" desc:"headers that carry the group names, comma-separated, a name with a comma, quote or backslash in double quotes (empty: not sent)"`
	AuthLevel []string `split_words:"true" default:"Remote-Auth-Level" desc:"headers that carry 2 (password and code) or 1 (password alone) (empty: not sent)"`
}

// Checked is what Settings say, parsed and checked.
type Checked struct {
	Upstream   *url.URL // nil: forward-auth and the portal only
	Trusted    TrustedProxies
	Rules      Rules
	IgnoreCase bool
	Hosts      []string
	Identity   IdentityHeaders
}

// Validate checks the settings and returns them parsed, with every problem
// at once, each naming its variable (prefix + name, e.g. OTPGATE_HOSTS).
func (s Settings) Validate(prefix string) (Checked, []error) {
	var p []error
	bad := func(name, format string, args ...any) { p = append(p, setting.Problemf(prefix+name, format, args...)) }
	c := Checked{IgnoreCase: s.AccessRulesIgnoreCase, Hosts: setting.TrimAll(s.Hosts), Identity: s.IdentityHeader.headers()}
	if s.UpstreamURL != "" {
		u, err := url.Parse(s.UpstreamURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("UPSTREAM_URL", "%q is not an http:// or https:// URL with a host", s.UpstreamURL)
		} else {
			c.Upstream = u
		}
	}
	var err error
	if c.Trusted, err = ParseTrustedProxies(s.TrustedProxies); err != nil {
		bad("TRUSTED_PROXIES", "%v", err)
	}
	if c.Rules, err = ParseRules(s.AccessRules); err != nil {
		bad("ACCESS_RULES", "%v", err)
	} else if s.UpstreamURL != "" && len(c.Hosts) == 0 {
		for _, r := range c.Rules {
			if r.Host != "*" {
				bad("HOSTS", "required in reverse-proxy mode because ACCESS_RULES line %d names host %q: "+
					"list the host names the app is served on, so host rules are matched on them and other hosts are refused", r.Line, r.Host)
				break
			}
		}
	}
	for _, h := range s.Hosts {
		if host, ok := CanonicalHost(strings.TrimSpace(h)); !ok || strings.Contains(h, ":") || host != strings.ToLower(strings.TrimSpace(h)) {
			bad("HOSTS", "%q is not a host name (without port)", h)
		}
	}
	p = append(p, s.IdentityHeader.check(prefix)...)
	return c, p
}

func (s IdentityHeaderSettings) headers() IdentityHeaders {
	return IdentityHeaders{User: setting.TrimAll(s.User), Name: setting.TrimAll(s.Name), Email: setting.TrimAll(s.Email), Groups: setting.TrimAll(s.Groups), AuthLevel: setting.TrimAll(s.AuthLevel)}
}

var headerNamePattern = regexp.MustCompile(`^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$`)

// reservedHeaders are set by otpgate or by HTTP itself, never as identity.
var reservedHeaders = []string{"Host", "Cookie", "Set-Cookie", "Connection", "Content-Length", "Content-Type", "Transfer-Encoding",
	"Upgrade", "Te", "Trailer", "Authorization", "Proxy-Authorization", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}

// check refuses header names an app could read two ways (only letters,
// digits and single dashes are read the same by every server), names used
// twice, and headers HTTP or otpgate own.
func (s IdentityHeaderSettings) check(prefix string) []error {
	var p []error
	ih := s.headers()
	if len(ih.User) == 0 {
		p = append(p, setting.Problemf(prefix+"IDENTITY_HEADER_USER", "must name at least one header, like Remote-User"))
	}
	seen := map[string]string{}
	for _, f := range []struct {
		variable string
		names    []string
	}{{"IDENTITY_HEADER_USER", ih.User}, {"IDENTITY_HEADER_NAME", ih.Name}, {"IDENTITY_HEADER_EMAIL", ih.Email},
		{"IDENTITY_HEADER_GROUPS", ih.Groups}, {"IDENTITY_HEADER_AUTH_LEVEL", ih.AuthLevel}} {
		for _, n := range f.names {
			key := strings.ToLower(n)
			switch {
			case !headerNamePattern.MatchString(n):
				p = append(p, setting.Problemf(prefix+f.variable, "%q: use letters, digits and single dashes only; apps read _ and . as -", n))
			case slices.ContainsFunc(reservedHeaders, func(r string) bool { return strings.EqualFold(r, n) }):
				p = append(p, setting.Problemf(prefix+f.variable, "%q is a header HTTP or otpgate sets; choose another name", n))
			case seen[key] != "":
				p = append(p, setting.Problemf(prefix+f.variable, "%q is also named in %s%s; each header carries one value", n, prefix, seen[key]))
			default:
				seen[key] = f.variable
			}
		}
	}
	return p
}
