package ui

import (
	"net/url"
	"strings"
)

// SafeRedirect returns rd when it is a path on this same site, and "/"
// otherwise. It refuses anything a browser could read as another origin:
// absolute URLs, schemes, "//host", "/\host", and control characters or
// backslashes that browsers strip or turn into slashes.
func SafeRedirect(rd string) string {
	if rd == "" || len(rd) > 2048 || rd[0] != '/' {
		return "/"
	}
	if len(rd) > 1 && (rd[1] == '/' || rd[1] == '\\') {
		return "/"
	}
	for i := 0; i < len(rd); i++ {
		if c := rd[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(rd)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	// A percent-encoded slash or backslash at the start could be decoded by
	// the app into "//host" on a later redirect of its own.
	if p := u.EscapedPath(); strings.HasPrefix(p, "/%2f") || strings.HasPrefix(p, "/%2F") || strings.HasPrefix(p, "/%5c") || strings.HasPrefix(p, "/%5C") {
		return "/"
	}
	return rd
}

// RedirectPolicy says which other hosts a sign-in may return to: with
// forward-auth, the portal serves apps on other hosts.
type RedirectPolicy struct {
	Domain    string   // COOKIE_DOMAIN: this domain and every host below it
	Hosts     []string // ALLOWED_REDIRECT_HOSTS: these hosts exactly
	AllowHTTP bool     // plain http too (only when cookies are not Secure)
}

// Safe returns rd when it is a path on this site (see SafeRedirect) or an
// absolute URL to an allowed host, and "/" otherwise.
func (p RedirectPolicy) Safe(rd string) string {
	if strings.HasPrefix(rd, "/") || rd == "" {
		return SafeRedirect(rd)
	}
	if len(rd) > 2048 {
		return "/"
	}
	for i := 0; i < len(rd); i++ {
		if c := rd[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(rd)
	if err != nil || u.User != nil || u.Opaque != "" || u.Host == "" {
		return "/"
	}
	if u.Scheme != "https" && (!p.AllowHTTP || u.Scheme != "http") {
		return "/"
	}
	if !p.hostAllowed(u.Hostname()) {
		return "/"
	}
	return u.String()
}

func (p RedirectPolicy) hostAllowed(host string) bool {
	host = strings.ToLower(host)
	if d := strings.ToLower(strings.TrimPrefix(p.Domain, ".")); d != "" && (host == d || strings.HasSuffix(host, "."+d)) {
		return true
	}
	for _, h := range p.Hosts {
		if strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

// formActionSources lists, for the CSP's form-action, the origins a form
// post may be redirected to after sign-in.
func (p RedirectPolicy) formActionSources() string {
	schemes := []string{"https"}
	if p.AllowHTTP {
		schemes = append(schemes, "http")
	}
	var out []string
	for _, s := range schemes {
		if d := strings.TrimPrefix(p.Domain, "."); d != "" {
			out = append(out, s+"://"+d, s+"://*."+d)
		}
		for _, h := range p.Hosts {
			out = append(out, s+"://"+h)
		}
	}
	return strings.Join(out, " ")
}
