package proxy

import (
	"bufio"
	"fmt"
	"strings"
	"unicode/utf8"
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

	index   int      // 1-based place in Rules; 0 for the default rule
	segs    []string // Path's segments, without a final "/**"
	prefix  bool     // Path ends in "/**"
	anyPath bool     // Path is "/**"
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
// final "/**" matches the path and everything below it. A group name with
// spaces, commas, ";", "#" or quotes is written in double quotes, with \"
// and \\ for a quote and a backslash: groups="Domain Admins","IT Ops",staff.
func ParseRules(text string) (Rules, error) {
	var rules Rules
	sc := bufio.NewScanner(strings.NewReader(text))
	lineNo := 0
	for sc.Scan() {
		lineNo++
		parts, err := splitRuleLine(sc.Text(), lineNo)
		if err != nil {
			return nil, err
		}
		for _, fields := range parts {
			r, err := parseRule(fields, lineNo)
			if err != nil {
				return nil, err
			}
			if r != nil {
				r.index = len(rules) + 1
				rules = append(rules, *r)
			}
		}
	}
	return rules, sc.Err()
}

// ruleField is one space-separated field of a rule, as written (quotes
// and escapes included), with its 1-based column.
type ruleField struct {
	s      string
	col    int
	quoted bool // holds a double-quoted part
}

// splitRuleLine splits a line into rules (at ";") and each rule into
// fields (at spaces and tabs), ending at "#"; none of these count inside
// double quotes. A backslash inside quotes takes the next byte literally.
func splitRuleLine(line string, lineNo int) ([][]ruleField, error) {
	var parts [][]ruleField
	var fields []ruleField
	start, quoteAt := -1, -1 // the current field's and open quote's byte offsets
	quoted := false
	end := func(i int) {
		if start >= 0 {
			fields = append(fields, ruleField{line[start:i], start + 1, quoted})
			start, quoted = -1, false
		}
	}
	i := 0
scan:
	for ; i < len(line); i++ {
		c := line[i]
		if quoteAt >= 0 {
			switch c {
			case '\\':
				i++ // checked when the name is read
			case '"':
				quoteAt = -1
			}
			continue
		}
		switch c {
		case '#':
			break scan
		case ';':
			end(i)
			parts = append(parts, fields)
			fields = nil
		case ' ', '\t':
			end(i)
		default:
			if start < 0 {
				start = i
			}
			if c == '"' {
				quoteAt, quoted = i, true
			}
		}
	}
	if quoteAt >= 0 {
		return nil, &RuleError{Line: lineNo, Col: quoteAt + 1, Problem: "unterminated quote"}
	}
	end(i)
	return append(parts, fields), nil
}

func parseRule(fields []ruleField, lineNo int) (*Rule, error) {
	if len(fields) == 0 {
		return nil, nil
	}
	bad := func(f ruleField, format string, args ...any) error {
		return &RuleError{Line: lineNo, Col: f.col, Problem: fmt.Sprintf(format, args...)}
	}
	if len(fields) < 3 || len(fields) > 4 {
		return nil, bad(fields[0], "want HOST PATH POLICY [groups=...], got %d fields "+
			"(write a group name with spaces in double quotes: groups=\"IT Ops\")", len(fields))
	}
	for _, f := range fields[:3] {
		if f.quoted {
			return nil, bad(f, "%s: quotes are only for group names", f.s)
		}
	}
	r := &Rule{Host: strings.ToLower(fields[0].s), Path: fields[1].s, Line: lineNo}
	if h := r.Host; h != "*" && (strings.Contains(h[1:], "*") || (strings.HasPrefix(h, "*") && !strings.HasPrefix(h, "*.")) || strings.ContainsAny(h, "/:")) {
		return nil, bad(fields[0], "host %q: want *, a host name or *.domain", fields[0].s)
	}
	if !validRulePath(r.Path) {
		return nil, bad(fields[1], "path %q: want a path starting with /, with * for one segment and /** only at the end, "+
			"and no . or .. segment, empty segment, or any of ; ? # %% \\", fields[1].s)
	}
	base, prefix := strings.CutSuffix(r.Path, "/**")
	r.prefix, r.anyPath = prefix, prefix && base == ""
	r.segs = strings.Split(strings.Trim(base, "/"), "/")
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
		f := fields[3]
		g, ok := strings.CutPrefix(f.s, "groups=")
		if !ok || g == "" {
			return nil, bad(f, "%q: want groups=NAME[,NAME...]", f.s)
		}
		if r.Policy != PolicyTwoFactor {
			return nil, bad(f, "groups apply only to two_factor rules")
		}
		names, err := parseGroupNames(g, lineNo, f.col+len("groups="))
		if err != nil {
			return nil, err
		}
		r.Groups = names
	}
	return r, nil
}

// parseGroupNames reads the comma-separated names after "groups=", which
// start at column col: each bare (no quote, comma or space) or in double
// quotes, where \" is a quote and \\ a backslash.
func parseGroupNames(s string, lineNo, col int) ([]string, error) {
	bad := func(i int, format string, args ...any) error {
		return &RuleError{Line: lineNo, Col: col + i, Problem: fmt.Sprintf(format, args...)}
	}
	var names []string
	for i := 0; ; {
		start := i
		var name string
		if i < len(s) && s[i] == '"' {
			var b strings.Builder
			for i++; s[i] != '"'; i++ { // splitRuleLine saw the closing quote
				if s[i] == '\\' {
					i++
					if s[i] != '"' && s[i] != '\\' {
						c, _ := utf8.DecodeRuneInString(s[i:])
						return nil, bad(i-1, "\\%c: in a quoted group name, write \\\" for a quote and \\\\ for a backslash", c)
					}
				}
				b.WriteByte(s[i])
			}
			i++
			if i < len(s) && s[i] != ',' {
				return nil, bad(i, "want a comma after the quoted group name %q", b.String())
			}
			name = b.String()
		} else {
			for i < len(s) && s[i] != ',' {
				if s[i] == '"' {
					return nil, bad(i, "quote inside the group name %q: quote the whole name", s[start:])
				}
				i++
			}
			name = s[start:i]
		}
		if name == "" {
			return nil, bad(start, "empty group name")
		}
		names = append(names, name)
		if i == len(s) {
			return names, nil
		}
		i++ // the comma
		if i == len(s) {
			return nil, bad(i, "empty group name after the last comma")
		}
	}
}

// Verdict is what the rules ask of a request: the strictest rule any
// reading of its path selects, and every group requirement among the
// rules its readings select, each of which the user must meet.
type Verdict struct {
	Rule Rule
	// Also holds further two_factor rules with groups that other readings
	// selected; empty in the usual case of a plain path.
	Also []Rule
}

// Policy is the verdict's policy: deny if any reading is denied, bypass
// only if every reading is bypassed, otherwise two_factor.
func (v Verdict) Policy() Policy { return v.Rule.Policy }

// Admits reports whether a user in groups meets every group requirement.
func (v Verdict) Admits(groups []string) bool {
	if !inAnyGroup(groups, v.Rule.Groups) {
		return false
	}
	for _, r := range v.Also {
		if !inAnyGroup(groups, r.Groups) {
			return false
		}
	}
	return true
}

// Groups lists the group requirements, for messages: one group of each
// list is needed.
func (v Verdict) Groups() [][]string {
	var out [][]string
	for _, r := range append([]Rule{v.Rule}, v.Also...) {
		if len(r.Groups) > 0 {
			out = append(out, r.Groups)
		}
	}
	return out
}

// strictness orders policies: bypass < two_factor < deny.
func strictness(p Policy) int {
	switch p {
	case PolicyBypass:
		return 0
	case PolicyDeny:
		return 2
	}
	return 1
}

// and combines the verdict with the rule another reading selects.
func (v Verdict) and(r Rule) Verdict {
	if r.index == v.Rule.index {
		return v
	}
	a, b := strictness(r.Policy), strictness(v.Rule.Policy)
	switch {
	case a > b:
		// A deny outweighs every group requirement, and two_factor a bypass.
		return Verdict{Rule: r}
	case a == b && r.Policy == PolicyTwoFactor && len(r.Groups) > 0:
		if len(v.Rule.Groups) == 0 {
			// The rule with groups leads, so messages name its groups.
			return Verdict{Rule: r, Also: v.Also}
		}
		for _, x := range v.Also {
			if x.index == r.index {
				return v
			}
		}
		return Verdict{Rule: v.Rule, Also: append(v.Also[:len(v.Also):len(v.Also)], r)}
	}
	return v
}

// defaultRule applies where no rule matches.
var defaultRule = Rule{Host: "*", Path: "/**", Policy: PolicyTwoFactor, anyPath: true}

// Decide judges a request for host (canonical, see CanonicalHost) and
// path by every reading of the path and, with ignoreCase, by every
// reading in any letter case too: the verdict is the strictest.
func (rs Rules) Decide(host string, p Path, ignoreCase bool) Verdict {
	v := Verdict{Rule: rs.match(host, p.first, false)}
	if ignoreCase && (rs.caseMatters() || !isLowerASCII(p.first)) {
		v = v.and(rs.match(host, p.first, true))
	}
	for _, reading := range p.more {
		v = v.and(rs.match(host, reading, false))
		if ignoreCase {
			v = v.and(rs.match(host, reading, true))
		}
	}
	return v
}

// Match returns the first rule for host and one path reading, or the
// default rule.
func (rs Rules) Match(host, path string) Rule { return rs.match(strings.ToLower(host), path, false) }

func (rs Rules) match(host, path string, fold bool) Rule {
	for i := range rs {
		if matchHost(rs[i].Host, host) && rs[i].matchPath(path, fold) {
			return rs[i]
		}
	}
	return defaultRule
}

// caseMatters reports whether some rule's path has a letter other than
// lower-case ASCII, so that folding could change a lower-case path's match.
func (rs Rules) caseMatters() bool {
	for i := range rs {
		if !isLowerASCII(rs[i].Path) {
			return true
		}
	}
	return false
}

func isLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; ('A' <= c && c <= 'Z') || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
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

// matchPath matches one path reading segment by segment, without
// allocating: "*" is any one segment, a final "/**" the rest.
func (r *Rule) matchPath(p string, fold bool) bool {
	if r.anyPath {
		return true
	}
	p = strings.Trim(p, "/")
	i := 0 // start of the next segment; len(p)+1 once p is used up
	for _, want := range r.segs {
		if i > len(p) {
			return false
		}
		var seg string
		if j := strings.IndexByte(p[i:], '/'); j >= 0 {
			seg, i = p[i:i+j], i+j+1
		} else {
			seg, i = p[i:], len(p)+1
		}
		if want != "*" && seg != want && (!fold || !equalFold(seg, want)) {
			return false
		}
	}
	return r.prefix || i > len(p)
}

// equalFold reports whether two segments are equal as case-insensitive
// servers compare them: under Unicode case folding (strings.EqualFold),
// and with the dotless "ı" and dotted "İ" taken for "i", as Java's
// equalsIgnoreCase and Python's re.IGNORECASE take them, though folding
// does not. No other characters' simple upper or lower cases meet
// outside folding.
func equalFold(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	if !strings.ContainsAny(a, "ıİ") && !strings.ContainsAny(b, "ıİ") {
		return false
	}
	return strings.EqualFold(turkishI.Replace(a), turkishI.Replace(b))
}

var turkishI = strings.NewReplacer("ı", "i", "İ", "i")

// validRulePath reports whether a rule's path names the place it seems
// to: requests with dot segments, escapes or ';' are refused or judged by
// every reading, so a rule written with them would never match as meant.
func validRulePath(p string) bool {
	base := strings.TrimSuffix(p, "/**")
	if !strings.HasPrefix(p, "/") || strings.Contains(base, "**") || strings.ContainsAny(p, "?#%\\;") {
		return false
	}
	if base == "" || base == "/" {
		return true
	}
	for _, seg := range strings.Split(strings.TrimSuffix(base[1:], "/"), "/") {
		if seg == "" || isDotSegment(seg) {
			return false
		}
	}
	return true
}

// inAnyGroup reports whether have includes one of want; no want is true.
func inAnyGroup(have, want []string) bool {
	if len(want) == 0 {
		return true
	}
	for _, w := range want {
		for _, h := range have {
			if strings.EqualFold(h, w) {
				return true
			}
		}
	}
	return false
}
