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
