package proxy

import (
	"fmt"
	"strings"
)

// FormatGroups writes group names as the Remote-Groups header carries
// them: joined with ",", each name that holds a comma, a double quote or a
// backslash written in double quotes with \" and \\ for those two, as
// RFC 8941 writes strings. Names without them are written as they are, so
// an app that splits at commas reads them as before.
//
//	IT Ops,"Sales, EMEA","say \"hi\"",staff
func FormatGroups(names []string) string {
	if len(names) == 1 && !strings.ContainsAny(names[0], `,"\`) {
		return names[0]
	}
	size := len(names)
	for _, n := range names {
		size += len(n) + 2 + strings.Count(n, `"`) + strings.Count(n, `\`)
	}
	var b strings.Builder
	b.Grow(size) // one allocation, whatever the names
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		if !strings.ContainsAny(n, `,"\`) {
			b.WriteString(n)
			continue
		}
		b.WriteByte('"')
		for j := 0; j < len(n); j++ {
			if n[j] == '"' || n[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(n[j])
		}
		b.WriteByte('"')
	}
	return b.String()
}

// ParseGroups reads a value FormatGroups wrote; "" is no group. It is for
// apps in Go and for tests, and refuses what FormatGroups never writes (a
// bare name with a quote or backslash, an empty name, an unknown escape).
func ParseGroups(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	var names []string
	for i := 0; ; i++ {
		start := i
		if i < len(v) && v[i] == '"' {
			var b strings.Builder
			for i++; ; i++ {
				if i >= len(v) {
					return nil, fmt.Errorf("groups %q: unterminated quote at byte %d", v, start)
				}
				if v[i] == '"' {
					break
				}
				if v[i] == '\\' {
					if i++; i >= len(v) || (v[i] != '"' && v[i] != '\\') {
						return nil, fmt.Errorf("groups %q: bad escape at byte %d", v, i-1)
					}
				}
				b.WriteByte(v[i])
			}
			i++
			if i < len(v) && v[i] != ',' {
				return nil, fmt.Errorf("groups %q: want a comma after the quoted name at byte %d", v, i)
			}
			names = append(names, b.String())
		} else {
			for i < len(v) && v[i] != ',' {
				if v[i] == '"' || v[i] == '\\' {
					return nil, fmt.Errorf("groups %q: unquoted %q at byte %d", v, v[i], i)
				}
				i++
			}
			if i == start {
				return nil, fmt.Errorf("groups %q: empty name at byte %d", v, start)
			}
			names = append(names, v[start:i])
		}
		if i >= len(v) {
			return names, nil
		}
	}
}
