package proxy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// A request path can be read differently by otpgate and by the servers
// behind it: one decodes percent-escapes once, another twice; a servlet
// container drops ";params" from each segment; IIS ignores trailing dots
// and spaces; some frameworks fold Unicode compatibility forms. otpgate
// refuses a path whose readings could climb out of where it seems to be
// (dot segments in any spelling, escaped separators, escapes of escapes),
// and judges every other path by each of its readings, so that the
// strictest rule any of them selects is the one applied.

// PathError says why a request path is refused.
type PathError struct {
	Path    string
	Problem string
}

func (e *PathError) Error() string { return fmt.Sprintf("request path %q: %s", e.Path, e.Problem) }

// Path is a request path with every reading of it that otpgate judges.
// A plain path (the usual case) has exactly one reading and costs no
// allocation.
type Path struct {
	first string
	more  []string
}

// String is the path decoded once, as most servers read it.
func (p Path) String() string { return p.first }

// Readings returns every reading of the path, the decoded one first.
func (p Path) Readings() []string { return append([]string{p.first}, p.more...) }

// ReadPath reads a request path as the client sent it (escaped). It
// returns a *PathError for a path that two servers could read as
// different places:
//   - an escape that is not valid, or that encodes '.', '/', '\' or '%'
//     (servers disagree on whether %2F separates and whether %25 is
//     decoded again);
//   - a NUL, control character, backslash, or bytes that are not UTF-8;
//   - a dot segment in any spelling: ".", "..", "..;x", ".. ", "．．";
//   - a character whose compatibility form is a slash or backslash.
func ReadPath(escaped string) (Path, error) {
	if isPlainPath(escaped) {
		return Path{first: escaped}, nil
	}
	return readPathSlow(escaped)
}

func readPathSlow(escaped string) (Path, error) {
	refuse := func(problem string) (Path, error) { return Path{}, &PathError{Path: escaped, Problem: problem} }
	if escaped == "" || escaped[0] != '/' {
		return refuse("does not start with /")
	}
	dec, problem := decodeOnce(escaped)
	if problem != "" {
		return refuse(problem)
	}
	if !utf8.ValidString(dec) {
		return refuse("not UTF-8 once decoded")
	}
	for _, r := range dec {
		if r == '\\' {
			return refuse("holds a backslash, which some servers read as a slash")
		}
		if unicode.IsControl(r) || r == utf8.RuneError {
			return refuse("holds a control character")
		}
	}
	segs := strings.Split(dec[1:], "/")
	asciiOnly := true
	for _, s := range segs {
		if isDotSegment(s) {
			return refuse("holds a dot segment (., .. or a spelling of them), which servers resolve differently")
		}
		if !isASCII(s) {
			asciiOnly = false
			n := norm.NFKC.String(s)
			if strings.ContainsAny(n, "/\\") {
				return refuse("holds a character that some servers read as a slash")
			}
			if isDotSegment(n) {
				return refuse("holds a character sequence that some servers read as a dot segment")
			}
		}
	}
	return Path{first: dec, more: otherReadings(dec, asciiOnly)}, nil
}

// decodeOnce decodes percent-escapes once and says what is wrong with an
// escape that must not be decoded.
func decodeOnce(s string) (string, string) {
	if !strings.Contains(s, "%") {
		return s, ""
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", "holds a % that does not start a valid escape"
		}
		c := unhex(s[i+1])<<4 | unhex(s[i+2])
		switch c {
		case '.', '/', '\\':
			return "", fmt.Sprintf("holds %s, an escaped %q that servers read differently", s[i:i+3], c)
		case '%':
			return "", "holds %25, an escaped escape that servers which decode twice read differently"
		}
		b.WriteByte(c)
		i += 2
	}
	return b.String(), ""
}

// isDotSegment reports whether a segment is "." or ".." as some server
// would read it: after its ";params", a "?" or "#" it holds once decoded,
// and trailing dots and spaces (Windows) are set aside.
func isDotSegment(seg string) bool {
	if i := strings.IndexAny(seg, ";?#"); i >= 0 {
		seg = seg[:i]
	}
	return strings.Contains(seg, ".") && strings.Trim(seg, ". \t") == ""
}

// The ways servers read a decoded path differently; otherReadings applies
// every combination of those that change this path.
var readingSteps = []func(segs []string) []string{
	// Servlet containers drop ";params" from each segment.
	func(segs []string) []string {
		return mapSegments(segs, func(s string) string { s, _, _ = strings.Cut(s, ";"); return s })
	},
	// Windows servers ignore trailing dots and spaces.
	func(segs []string) []string {
		return mapSegments(segs, func(s string) string { return strings.TrimRight(s, ". ") })
	},
	// Servers that merge slashes drop empty segments.
	func(segs []string) []string {
		out := make([]string, 0, len(segs))
		for i, s := range segs {
			if s != "" || i == len(segs)-1 {
				out = append(out, s)
			}
		}
		return out
	},
	// An app that decodes, then parses the result as a URL again, ends the
	// path at a decoded '?' or '#'.
	func(segs []string) []string {
		for i, s := range segs {
			if j := strings.IndexAny(s, "?#"); j >= 0 {
				return append(append([]string(nil), segs[:i]...), s[:j])
			}
		}
		return segs
	},
	// Some frameworks fold Unicode compatibility forms ("ａｄｍｉｎ" is "admin").
	func(segs []string) []string { return mapSegments(segs, norm.NFKC.String) },
}

func otherReadings(dec string, asciiOnly bool) []string {
	first := strings.Split(dec[1:], "/")
	seen := map[string]bool{dec: true}
	var out []string
	steps := readingSteps
	if asciiOnly {
		steps = steps[:len(steps)-1]
	}
	for mask := 1; mask < 1<<len(steps); mask++ {
		segs := first
		for i, step := range steps {
			if mask&(1<<i) != 0 {
				segs = step(segs)
			}
		}
		r := "/" + strings.Join(segs, "/")
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

func mapSegments(segs []string, f func(string) string) []string {
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = f(s)
	}
	return out
}

// isPlainPath reports whether every server reads p the same way: rooted,
// of unreserved ASCII characters only, with no escape, ';', empty or dot
// segment, and no segment ending in a dot.
func isPlainPath(p string) bool {
	if p == "/" {
		return true
	}
	if len(p) < 2 || p[0] != '/' {
		return false
	}
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) {
			c := p[i]
			if c != '/' {
				if !plainByte[c] {
					return false
				}
				continue
			}
		}
		seg := p[segStart:i]
		if (seg == "" && i < len(p)) || (seg != "" && seg[len(seg)-1] == '.') {
			return false
		}
		segStart = i + 1
	}
	return true
}

// plainByte marks the bytes a plain path segment may hold: letters,
// digits, and the unreserved and sub-delimiter characters but ';'.
var plainByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~!$&'()*+,=:@" {
		t[c] = true
	}
	return t
}()

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// CanonicalHost reads a Host header or X-Forwarded-Host value (host or
// host:port) as a lower-case host name or IP address, without port or
// trailing dots. ok is false for anything else: a list, a user part,
// characters that are not in host names.
func CanonicalHost(hostport string) (host string, ok bool) {
	host = hostport
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return "", false
		}
		if rest := host[end+1:]; rest != "" && !validPort(strings.TrimPrefix(rest, ":"), rest) {
			return "", false
		}
		a, err := netip.ParseAddr(host[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", false
		}
		return "[" + a.String() + "]", true
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		if !validPort(host[i+1:], host[i:]) {
			return "", false
		}
		host = host[:i]
	}
	host = strings.TrimRight(host, ".")
	if host == "" || len(host) > 253 {
		return "", false
	}
	label := 0
	lower := true
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case c == '.':
			if label == 0 {
				return "", false
			}
			label = 0
			continue
		case 'A' <= c && c <= 'Z':
			lower = false
		case ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '-' || c == '_':
		default:
			return "", false
		}
		if label++; label > 63 {
			return "", false
		}
	}
	if !lower {
		host = strings.ToLower(host)
	}
	return host, true
}

// validPort reports whether p is a port number; withColon is p with its
// leading colon, which must be there.
func validPort(p, withColon string) bool {
	if len(withColon) == 0 || withColon[0] != ':' || p == "" || len(p) > 5 {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536 && p[0] != '+' && p[0] != '-'
}
