package auth

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// NumberTypes is the set of kinds of number, as the phone number metadata
// classifies them, that codes may be sent to. The zero value is
// DefaultNumberTypes.
type NumberTypes struct {
	names []string // from numberTypes, in the order given
}

// DefaultNumberTypes are the kinds codes go to unless configured:
// mobiles, and the ranges of countries (North America) where mobiles and
// landlines cannot be told apart.
var DefaultNumberTypes = []string{"mobile", "fixed_line_or_mobile"}

// numberTypes are the kinds that may be allowed. Others are refused at
// start-up: toll-free, premium-rate, shared-cost and universal access
// numbers are where SMS pumping sends its traffic, and voicemail and
// emergency ranges take no text.
var numberTypes = map[string]phonenumbers.PhoneNumberType{
	"mobile":               phonenumbers.MOBILE,
	"fixed_line_or_mobile": phonenumbers.FIXED_LINE_OR_MOBILE,
	"fixed_line":           phonenumbers.FIXED_LINE,
	"voip":                 phonenumbers.VOIP,
	"personal_number":      phonenumbers.PERSONAL_NUMBER,
	"pager":                phonenumbers.PAGER,
}

// ParseNumberTypes reads a list of kinds of number ("mobile", "voip",
// ...; case and spaces forgiven). Empty means DefaultNumberTypes. The error
// names the entries it does not take.
func ParseNumberTypes(list []string) (NumberTypes, error) {
	var names, bad []string
	for _, s := range list {
		s = strings.ToLower(strings.TrimSpace(s))
		switch _, ok := numberTypes[s]; {
		case s == "":
		case !ok:
			bad = append(bad, strconv.Quote(s))
		case !slices.Contains(names, s):
			names = append(names, s)
		}
	}
	if len(bad) > 0 {
		known := make([]string, 0, len(numberTypes))
		for k := range numberTypes {
			known = append(known, k)
		}
		slices.Sort(known)
		return NumberTypes{}, fmt.Errorf("%s: want some of %s (toll-free, premium-rate, shared-cost and similar ranges are never allowed)",
			strings.Join(bad, ", "), strings.Join(known, ", "))
	}
	return NumberTypes{names: names}, nil
}

// Names returns the allowed kinds.
func (t NumberTypes) Names() []string {
	if len(t.names) == 0 {
		return slices.Clone(DefaultNumberTypes)
	}
	return slices.Clone(t.names)
}

func (t NumberTypes) allows(kind phonenumbers.PhoneNumberType) bool {
	for _, name := range t.Names() {
		if numberTypes[name] == kind {
			return true
		}
	}
	return false
}

// possibleLengths returns, sorted, the national number lengths the allowed
// kinds have in md's country. A kind the country does not have adds
// nothing. fixed_line_or_mobile adds the mobile lengths: a number is of
// that kind only where both patterns match, so it has a mobile's length.
func (t NumberTypes) possibleLengths(md *phonenumbers.PhoneMetadata) []int32 {
	var out []int32
	for _, name := range t.Names() {
		var desc *phonenumbers.PhoneNumberDesc
		switch numberTypes[name] {
		case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
			desc = md.GetMobile()
		case phonenumbers.FIXED_LINE:
			desc = md.GetFixedLine()
		case phonenumbers.VOIP:
			desc = md.GetVoip()
		case phonenumbers.PERSONAL_NUMBER:
			desc = md.GetPersonalNumber()
		case phonenumbers.PAGER:
			desc = md.GetPager()
		}
		// Kinds of number a country does not have carry the pattern "NA".
		if pattern := desc.GetNationalNumberPattern(); pattern == "" || pattern == "NA" {
			continue
		}
		// A kind whose lengths are those of all the country's numbers
		// lists none of its own.
		lengths := desc.GetPossibleLength()
		if len(lengths) == 0 {
			lengths = md.GetGeneralDesc().GetPossibleLength()
		}
		for _, l := range lengths {
			if l > 0 {
				out = append(out, l)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// CountryAllowed reports whether codes may go to a number of region (as in
// Mobile.Region) under the allow-list allowed. An empty list allows every
// country, but not the ranges of no country (satellite phones,
// international networks, "+881" and the like): those are among the most
// expensive destinations and are allowed only when the list names them.
func CountryAllowed(allowed []string, region string) bool {
	if slices.Contains(allowed, region) {
		return true
	}
	return len(allowed) == 0 && !strings.HasPrefix(region, "+")
}

var isoRegion = regexp.MustCompile(`^[A-Z]{2}$`)

// CheckAllowedCountry says what is wrong with one entry of a country
// allow-list, or "" when it is an ISO 3166 code that phone numbers have
// ("GB") or "+" and the calling code of a range of no country ("+881").
func CheckAllowedCountry(entry string) string {
	if cc, ok := strings.CutPrefix(entry, "+"); ok {
		n, err := strconv.Atoi(cc)
		if err != nil || !phonenumbers.GetSupportedGlobalNetworkCallingCodes()[n] || "+"+strconv.Itoa(n) != entry {
			return fmt.Sprintf("%q is not the calling code of a range of no country (such as +881 or +882); countries are named by ISO code like GB", entry)
		}
		return ""
	}
	if !isoRegion.MatchString(entry) || !phonenumbers.GetSupportedRegions()[entry] {
		return fmt.Sprintf("%q is not an ISO 3166 country code like US or GB", entry)
	}
	return ""
}
