package sms

import (
	"fmt"
	"strings"
)

// header is one configured request header. value may hold placeholders.
type header struct {
	name  string
	value string
}

// parseHeaders reads the Headers setting: one "Name: value" per line.
// Several headers on one line, separated by ", ", are accepted as WSO2
// allows, but a line is split only where what follows ", " looks like a
// header name and a colon. So "Accept: text/html, application/json" stays
// one header while "Authorization: Basic abc, Content-Type: application/json"
// is two. It returns every problem found; problems name the line but never
// quote it, because header lines usually carry credentials.
func parseHeaders(s string) ([]header, []string) {
	var headers []header
	var problems []string
	for n, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line) // also drops the \r of CRLF files
		if line == "" {
			continue
		}
		for _, part := range splitHeaderLine(line) {
			name, value, ok := strings.Cut(part, ":")
			name, value = strings.TrimSpace(name), strings.TrimSpace(value)
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("line %d: expected \"Name: value\", found no colon", n+1))
			case !isToken(name):
				problems = append(problems, fmt.Sprintf("line %d: header name is empty or has characters not allowed in a header name", n+1))
			case strings.EqualFold(name, "Content-Length"), strings.EqualFold(name, "Transfer-Encoding"):
				// The HTTP client computes these from the body; a configured
				// value would either be ignored or corrupt the request.
				problems = append(problems, fmt.Sprintf("line %d: %s is set automatically and must not be configured", n+1, name))
			case hasControl(value):
				problems = append(problems, fmt.Sprintf("line %d: value of %s has a control character", n+1, name))
			default:
				headers = append(headers, header{name: name, value: value})
			}
		}
	}
	return headers, problems
}

// splitHeaderLine splits a line at each ", " that is followed by
// "token:". It is the only split rule: a comma inside a value never starts
// a header unless a header name and colon follow it directly.
func splitHeaderLine(line string) []string {
	var parts []string
	start := 0
	for i := 0; i+2 <= len(line); {
		j := strings.Index(line[i:], ", ")
		if j < 0 {
			break
		}
		at := i + j
		if startsHeader(line[at+2:]) {
			parts = append(parts, line[start:at])
			start = at + 2
		}
		i = at + 2
	}
	return append(parts, line[start:])
}

// startsHeader reports whether s begins with an RFC 7230 token and a colon.
func startsHeader(s string) bool {
	n := 0
	for n < len(s) && isTokenChar(s[n]) {
		n++
	}
	return n > 0 && n < len(s) && s[n] == ':'
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// isTokenChar reports whether c is an RFC 7230 tchar.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
