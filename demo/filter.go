package demo

import (
	"errors"
	"fmt"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// errUnsupportedFilter marks filters the matcher cannot evaluate exactly.
// They match nothing: guessing could let a lookup match someone else.
var errUnsupportedFilter = errors.New("unsupported filter")

// attribute describes how an attribute type's values compare.
type attribute struct {
	name   string // canonical spelling, as returned to clients
	syntax syntax
}

type syntax int

const (
	syntaxString syntax = iota // caseIgnoreMatch
	syntaxPhone                // telephoneNumberMatch: also ignores spaces and hyphens
	syntaxDN                   // distinguishedNameMatch
)

// lookupAttribute returns the attribute type name refers to, in any case.
// Unknown names, and names with options such as "cn;lang-en", are not found,
// so filters on them match nothing rather than being evaluated wrongly.
func lookupAttribute(name string) (attribute, bool) {
	switch strings.ToLower(name) {
	case "objectclass":
		return attribute{"objectClass", syntaxString}, true
	case "uid", "userid":
		return attribute{"uid", syntaxString}, true
	case "cn", "commonname":
		return attribute{"cn", syntaxString}, true
	case "sn", "surname":
		return attribute{"sn", syntaxString}, true
	case "mail", "rfc822mailbox":
		return attribute{"mail", syntaxString}, true
	case "mobile", "mobiletelephonenumber":
		return attribute{"mobile", syntaxPhone}, true
	case "memberof":
		return attribute{"memberOf", syntaxDN}, true
	}
	return attribute{}, false
}

// compileFilter parses an RFC 4515 filter and checks that every part of it
// is one matchFilter evaluates exactly: a single unsupported part anywhere
// rejects the whole filter, so that (!(x)) or (|(y)(x)) cannot turn an
// unsupported x into "match everyone".
func compileFilter(s string) (*ber.Packet, error) {
	p, err := ldap.CompileFilter(s)
	if err != nil {
		return nil, fmt.Errorf("compile filter %q: %w", s, err)
	}
	if err := checkFilter(p); err != nil {
		return nil, fmt.Errorf("filter %q: %w", s, err)
	}
	return p, nil
}

func checkFilter(p *ber.Packet) error {
	if p.ClassType != ber.ClassContext {
		return fmt.Errorf("%w: class %d", errUnsupportedFilter, p.ClassType)
	}
	switch p.Tag {
	case ldap.FilterAnd, ldap.FilterOr:
		// (&) and (|) are absolute true and false (RFC 4526); no user lookup
		// needs them, and (&) would match everyone.
		if len(p.Children) == 0 {
			return fmt.Errorf("%w: empty %s", errUnsupportedFilter, ldap.FilterMap[uint64(p.Tag)])
		}
		for _, c := range p.Children {
			if err := checkFilter(c); err != nil {
				return err
			}
		}
		return nil
	case ldap.FilterNot:
		if len(p.Children) != 1 {
			return fmt.Errorf("%w: malformed not", errUnsupportedFilter)
		}
		return checkFilter(p.Children[0])
	case ldap.FilterPresent:
		return checkAttribute(decodeString(p), false)
	case ldap.FilterEqualityMatch:
		if len(p.Children) != 2 {
			return fmt.Errorf("%w: malformed equality match", errUnsupportedFilter)
		}
		return checkAttribute(decodeString(p.Children[0]), false)
	case ldap.FilterSubstrings:
		if len(p.Children) != 2 || len(p.Children[1].Children) == 0 {
			return fmt.Errorf("%w: malformed substrings", errUnsupportedFilter)
		}
		if err := checkAttribute(decodeString(p.Children[0]), true); err != nil {
			return err
		}
		parts := p.Children[1].Children
		for i, part := range parts {
			ok := part.Tag == ldap.FilterSubstringsAny ||
				(part.Tag == ldap.FilterSubstringsInitial && i == 0) ||
				(part.Tag == ldap.FilterSubstringsFinal && i == len(parts)-1)
			if !ok {
				return fmt.Errorf("%w: malformed substrings", errUnsupportedFilter)
			}
		}
		return nil
	}
	return fmt.Errorf("%w: %s", errUnsupportedFilter, ldap.FilterMap[uint64(p.Tag)])
}

func checkAttribute(name string, substrings bool) error {
	a, ok := lookupAttribute(name)
	if !ok {
		return fmt.Errorf("%w: unknown attribute %q", errUnsupportedFilter, name)
	}
	if substrings && a.syntax == syntaxDN {
		return fmt.Errorf("%w: substrings on %s", errUnsupportedFilter, a.name)
	}
	return nil
}

// matchFilter reports whether e matches p, which compileFilter has checked.
func matchFilter(p *ber.Packet, e *entry) bool {
	switch p.Tag {
	case ldap.FilterAnd:
		for _, c := range p.Children {
			if !matchFilter(c, e) {
				return false
			}
		}
		return true
	case ldap.FilterOr:
		for _, c := range p.Children {
			if matchFilter(c, e) {
				return true
			}
		}
		return false
	case ldap.FilterNot:
		return !matchFilter(p.Children[0], e)
	case ldap.FilterPresent:
		a, _ := lookupAttribute(decodeString(p))
		return len(e.attrs[a.name]) > 0
	case ldap.FilterEqualityMatch:
		a, _ := lookupAttribute(decodeString(p.Children[0]))
		want := decodeString(p.Children[1])
		for _, v := range e.attrs[a.name] {
			if equalValues(a.syntax, v, want) {
				return true
			}
		}
		return false
	case ldap.FilterSubstrings:
		a, _ := lookupAttribute(decodeString(p.Children[0]))
		for _, v := range e.attrs[a.name] {
			if matchSubstrings(a.syntax, v, p.Children[1].Children) {
				return true
			}
		}
		return false
	}
	return false
}

func equalValues(s syntax, value, assertion string) bool {
	if s == syntaxDN {
		v, err1 := ldap.ParseDN(value)
		a, err2 := ldap.ParseDN(assertion)
		return err1 == nil && err2 == nil && v.EqualFold(a)
	}
	return normalize(s, value) == normalize(s, assertion)
}

// matchSubstrings matches value against initial, any and final parts, each
// after the previous one, without overlap.
func matchSubstrings(s syntax, value string, parts []*ber.Packet) bool {
	rest := normalize(s, value)
	for _, part := range parts {
		sub := normalize(s, decodeString(part))
		switch part.Tag {
		case ldap.FilterSubstringsInitial:
			if !strings.HasPrefix(rest, sub) {
				return false
			}
			rest = rest[len(sub):]
		case ldap.FilterSubstringsAny:
			i := strings.Index(rest, sub)
			if i < 0 {
				return false
			}
			rest = rest[i+len(sub):]
		case ldap.FilterSubstringsFinal:
			return strings.HasSuffix(rest, sub)
		}
	}
	return true
}

func normalize(s syntax, v string) string {
	if s == syntaxPhone {
		v = strings.NewReplacer(" ", "", "-", "").Replace(v)
	}
	return strings.ToLower(v)
}

func decodeString(p *ber.Packet) string {
	return ber.DecodeString(p.Data.Bytes())
}
