package proxy

import (
	"bufio"
	"fmt"
	"net/url"
	"path"
	"strings"
)

// Policy is what an access rule asks of a request.
type Policy int

const (
	// PolicyTwoFactor requires a complete sign-in: password and, where the
	// second-factor settings ask for one, a code. The default.
	PolicyTwoFactor Policy = iota
	// PolicyBypass lets the request through without a sign-in.
	PolicyBypass
	// PolicyDeny refuses the request, signed in or not.
	PolicyDeny
)

func (p Policy) String() string {
	switch p {
	case PolicyBypass:
		return "bypass"
	case PolicyDeny:
		return "deny"
	}
	return "two_factor"
}

// Rule is one line of OTPGATE_ACCESS_RULES.
type Rule struct {
	Host   string // "*", "app.example.com" or "*.example.com"
	Path   string // "/x" exactly, "/x/**" for /x and below, "*" for one segment
	Policy Policy
	Groups []string // with two_factor: the user must be in one of them
	Line   int
}

// Rules are matched in order; the first match wins. No match means
// two_factor with no group.
type Rules []Rule

// RuleError names the line and column of a rule that does not parse.
type RuleError struct {
	Line, Col int
	Problem   string
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Problem)
}

// ParseRules reads access rules, one per line (or separated by ";"):
//
//	HOST PATH POLICY [groups=G1,G2]
//
// "#" starts a comment. HOST is "*", a host name, or "*.domain" for every
// host below domain; PATH is a path where "*" matches one segment and a
// final "/**" matches the path and everything below it.
func ParseRules(text string) (Rules, error) {
	var rules Rules
	sc := bufio.NewScanner(strings.NewReader(text))
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		offset := 0
		for part := range strings.SplitSeq(line, ";") {
			r, err := parseRule(part, lineNo, offset)
			offset += len(part) + 1
			if err != nil {
				return nil, err
			}
			if r != nil {
				rules = append(rules, *r)
			}
		}
	}
	return rules, sc.Err()
}

func parseRule(text string, lineNo, offset int) (*Rule, error) {
	type field struct {
		s   string
		col int
	}
	var fields []field
	for i := 0; i < len(text); {
		for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
			i++
		}
		start := i
		for i < len(text) && text[i] != ' ' && text[i] != '\t' {
			i++
		}
		if start < i {
			fields = append(fields, field{text[start:i], offset + start + 1})
		}
	}
	if len(fields) == 0 {
		return nil, nil
	}
	bad := func(f field, format string, args ...any) error {
		return &RuleError{Line: lineNo, Col: f.col, Problem: fmt.Sprintf(format, args...)}
	}
	if len(fields) < 3 || len(fields) > 4 {
		return nil, bad(fields[0], "want HOST PATH POLICY [groups=...], got %d fields", len(fields))
	}
	r := &Rule{Host: strings.ToLower(fields[0].s), Path: fields[1].s, Line: lineNo}
	if h := r.Host; h != "*" && (strings.Contains(h[1:], "*") || (strings.HasPrefix(h, "*") && !strings.HasPrefix(h, "*.")) || strings.ContainsAny(h, "/:")) {
		return nil, bad(fields[0], "host %q: want *, a host name or *.domain", fields[0].s)
	}
	if !strings.HasPrefix(r.Path, "/") || strings.Contains(strings.TrimSuffix(r.Path, "/**"), "**") || strings.ContainsAny(r.Path, "?#%\\") {
		return nil, bad(fields[1], "path %q: want a path starting with /, with * for one segment and /** only at the end", fields[1].s)
	}
	switch fields[2].s {
	case "two_factor":
		r.Policy = PolicyTwoFactor
	case "bypass":
		r.Policy = PolicyBypass
	case "deny":
		r.Policy = PolicyDeny
	default:
		return nil, bad(fields[2], "policy %q: want bypass, two_factor or deny", fields[2].s)
	}
	if len(fields) == 4 {
		g, ok := strings.CutPrefix(fields[3].s, "groups=")
		if !ok || g == "" {
			return nil, bad(fields[3], "%q: want groups=NAME[,NAME...]", fields[3].s)
		}
		if r.Policy != PolicyTwoFactor {
			return nil, bad(fields[3], "groups apply only to two_factor rules")
		}
		for name := range strings.SplitSeq(g, ",") {
			if name == "" {
				return nil, bad(fields[3], "empty group name in %q", fields[3].s)
			}
			r.Groups = append(r.Groups, name)
		}
	}
	return r, nil
}

// Match returns the first rule for host and the normalised path, or the
// default rule.
func (rs Rules) Match(host, cleanPath string) Rule {
	host = strings.ToLower(host)
	for _, r := range rs {
		if matchHost(r.Host, host) && matchPath(r.Path, cleanPath) {
			return r
		}
	}
	return Rule{Host: "*", Path: "/**", Policy: PolicyTwoFactor}
}

func matchHost(pattern, host string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasPrefix(pattern, "*."):
		return strings.HasSuffix(host, pattern[1:])
	}
	return pattern == host
}

func matchPath(pattern, p string) bool {
	if base, ok := strings.CutSuffix(pattern, "/**"); ok {
		if base == "" {
			return true
		}
		if p == base {
			return true
		}
		return matchSegments(base, p, true)
	}
	return matchSegments(pattern, p, false)
}

// matchSegments matches pattern's segments against p's; with prefix, p may
// have more segments after them.
func matchSegments(pattern, p string, prefix bool) bool {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	xs := strings.Split(strings.Trim(p, "/"), "/")
	if len(xs) < len(ps) || (!prefix && len(xs) != len(ps)) {
		return false
	}
	for i, seg := range ps {
		if seg != "*" && seg != xs[i] {
			return false
		}
	}
	return true
}

// NormalizePath returns the path a request really reaches: percent-escapes
// decoded (repeatedly, since some apps decode twice), backslashes read as
// slashes, and "." and ".." resolved. ok is false for a path that cannot
// be decoded or keeps decoding: such a request is refused.
func NormalizePath(escaped string) (clean string, ok bool) {
	if isPlainPath(escaped) {
		return escaped, true // the common case, without allocating
	}
	return normalizeSlow(escaped)
}

func normalizeSlow(escaped string) (clean string, ok bool) {
	p := escaped
	for range 4 {
		dec, err := url.PathUnescape(p)
		if err != nil {
			return "", false
		}
		if dec == p {
			p = strings.ReplaceAll(p, "\\", "/")
			if strings.ContainsRune(p, 0) {
				return "", false
			}
			c := path.Clean("/" + p)
			return c, true
		}
		p = dec
	}
	return "", false
}

// isPlainPath reports whether p is already normal: rooted, and without
// escapes, backslashes, empty, "." or ".." segments, or a trailing slash.
func isPlainPath(p string) bool {
	if p == "/" {
		return true
	}
	if len(p) < 2 || p[0] != '/' || p[len(p)-1] == '/' {
		return false
	}
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) {
			switch p[i] {
			case '%', '\\', 0:
				return false
			case '/':
			default:
				continue
			}
		}
		seg := p[segStart:i]
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		segStart = i + 1
	}
	return true
}
