package auth

import (
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// newUsernameFold maps the spellings a directory may treat as one name to one
// form: compatibility characters to their plain letters (fullwidth ａ,
// circled ⓐ), case folded, and combining marks dropped (the dotted capital
// İ folds to i plus a dot). It folds at least as much as OpenLDAP's
// case-insensitive matching, so that each of those spellings shares one
// failure count; folding more only makes more names share a count. A chain
// keeps state, hence a new one per use.
func newUsernameFold() transform.Transformer {
	return transform.Chain(norm.NFKC, cases.Fold(), norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
}

// NormalizeUsername returns the form of a typed username that failures are
// counted against while the directory does not know the user: trimmed,
// inner white space collapsed to one space, then folded (see newUsernameFold).
func NormalizeUsername(typed string) string {
	folded, _, err := transform.String(newUsernameFold(), typed)
	if err != nil {
		// Only invalid UTF-8 gets here; such a name never reaches the
		// directory, but must still be counted somewhere stable.
		folded = strings.ToValidUTF8(typed, "\uFFFD")
	}
	return strings.Join(strings.Fields(folded), " ")
}
