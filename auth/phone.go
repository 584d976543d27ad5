package auth

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// Mobile is a phone number that can receive the sign-in code.
type Mobile struct {
	E164 string // "+447700900123"
	// Region is the ISO 3166 alpha-2 code of the number's country, from the
	// number itself (not from the default region it was parsed with), for
	// a country allow-list. Numbers sharing a country code (+1: US, CA,
	// ...) get the region of their area code where the metadata knows it,
	// and the country code's main region ("US" for +1) otherwise. Numbers
	// of no country (satellite phones, international networks: +881,
	// +882, ...) get "+" and their calling code, such as "+881", so that an
	// allow-list can name each such range (see CountryAllowed).
	Region string
}

// ErrInvalidMobile is wrapped by every error ParseMobile returns for what
// the user typed or the directory holds; errors.As with *InvalidMobileError
// gives the reason.
var ErrInvalidMobile = errors.New("invalid mobile number")

// MobileProblem says why a number was refused, so that a page can tell the
// user what to fix.
type MobileProblem int

// The reasons ParseMobile refuses a number.
const (
	MobileEmpty          MobileProblem = iota + 1
	MobileBadCharacter                 // letters (extensions, vanity numbers) or other symbols
	MobileNoCountryCode                // national format, and no default region to read it with
	MobileBadCountryCode               // no country has that calling code
	MobileTooShort                     // too few digits for a mobile number of its country
	MobileTooLong                      // too many digits for a mobile number of its country
	MobileBadLength                    // between its country's lengths for mobile numbers
	MobileNotMobile                    // a number of a kind that takes no SMS: landline, toll-free, premium-rate...
	MobileRefusedRange                 // a country or range codes are not sent to (CountryAllowed)
)

var mobileProblems = map[MobileProblem]string{
	MobileEmpty:          "empty",
	MobileBadCharacter:   "only digits, spaces, dashes, dots, brackets and a leading + are allowed",
	MobileNoCountryCode:  "no country code; write it in international form, e.g. +44 7700 900123",
	MobileBadCountryCode: "unknown country code",
	MobileTooShort:       "too short",
	MobileTooLong:        "too long",
	MobileBadLength:      "wrong number of digits",
	MobileNotMobile:      "not a mobile number",
	MobileRefusedRange:   "a country or range codes are not sent to",
}

func (p MobileProblem) String() string {
	if s, ok := mobileProblems[p]; ok {
		return s
	}
	return fmt.Sprintf("MobileProblem(%d)", int(p))
}

// InvalidMobileError is a number ParseMobile refused. Its text never holds
// the number: phone numbers are personal data, and errors end up in logs.
type InvalidMobileError struct {
	Problem MobileProblem
	Err     error // the phone number library's own reason, or nil
}

func (e *InvalidMobileError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%v: %v (%v)", ErrInvalidMobile, e.Problem, e.Err)
	}
	return fmt.Sprintf("%v: %v", ErrInvalidMobile, e.Problem)
}

// Is makes errors.Is(err, ErrInvalidMobile) true.
func (e *InvalidMobileError) Is(target error) bool { return target == ErrInvalidMobile }

func (e *InvalidMobileError) Unwrap() error { return e.Err }

// maxMobileInput bounds what is handed to the parser; real numbers, however
// spaced, are far shorter.
const maxMobileInput = 64

// ParseMobile normalises what a user typed or the directory holds to E.164.
// defaultRegion (ISO 3166 alpha-2 like "US", "GB"; "" = none) is used for
// numbers written without a country code. Spaces, dashes, dots and
// brackets are allowed; "00" and other international prefixes work with a
// default region. An unknown defaultRegion is an error of the caller's, not
// ErrInvalidMobile.
//
// A number is accepted when it has a length that a mobile number of its
// country can have and, if the number lies in a range the metadata knows,
// that range is a mobile one (or, as in North America, one where mobiles
// and landlines cannot be told apart): DefaultNumberTypes.
//
// Why not phonenumbers.IsValidNumber alone: it also checks the leading
// digits against the ranges that are allocated, and the fictional numbers
// that our tests, demo and documentation use (+1 555 01xx, the UK drama
// range +44 7700 900xxx) are in no allocated range, so it would refuse
// them. Real ranges opened after this build's metadata would be refused
// too, which locks people out until otpgate is rebuilt. The price of
// accepting numbers of unknown ranges is that a mistyped number with a
// plausible length is saved; the code then never arrives, which the user
// sees and corrects, and which gives no one access. Known landlines,
// toll-free, premium-rate and shared-cost numbers are still refused, which
// keeps the cheapest SMS-pumping targets out.
func ParseMobile(s, defaultRegion string) (Mobile, error) {
	return NumberTypes{}.ParseMobile(s, defaultRegion)
}

// ParseMobile is the package's ParseMobile with t in place of the default
// kinds of number: a number the metadata places in a range of another kind
// is refused (MobileNotMobile), and a number's length must be one that a
// number of an allowed kind in its country can have.
func (t NumberTypes) ParseMobile(s, defaultRegion string) (Mobile, error) {
	region := strings.ToUpper(strings.TrimSpace(defaultRegion))
	if region != "" && !phonenumbers.GetSupportedRegions()[region] {
		return Mobile{}, fmt.Errorf("parse mobile number: default region %q is not a supported ISO 3166 alpha-2 code", defaultRegion)
	}
	invalid := func(p MobileProblem, err error) (Mobile, error) {
		return Mobile{}, &InvalidMobileError{Problem: p, Err: err}
	}

	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return invalid(MobileEmpty, nil)
	case len(s) > maxMobileInput:
		return invalid(MobileTooLong, nil)
	}
	for i, r := range s {
		switch {
		// The parser would turn letters into digits (1-800-FLOWERS) or
		// read them as an extension ("x12"): in a mobile number they are
		// a mistake either way.
		case unicode.IsDigit(r), unicode.IsSpace(r), unicode.Is(unicode.Pd, r):
		case strings.ContainsRune(".()[]", r):
		case (r == '+' || r == '＋') && i == 0:
		default:
			return invalid(MobileBadCharacter, nil)
		}
	}

	n, err := phonenumbers.Parse(s, region)
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode) && region == "" && !strings.HasPrefix(s, "+") && !strings.HasPrefix(s, "＋"):
		return invalid(MobileNoCountryCode, err)
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return invalid(MobileBadCountryCode, err)
	// The characters were checked above, so "not a number" means too
	// few digits to be one.
	case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD),
		errors.Is(err, phonenumbers.ErrNotANumber):
		return invalid(MobileTooShort, err)
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return invalid(MobileTooLong, err)
	case err != nil:
		return invalid(MobileBadCharacter, err)
	}

	if p := t.lengthProblem(n); p != 0 {
		return invalid(p, nil)
	}
	if phonenumbers.IsValidNumber(n) && !t.allows(phonenumbers.GetNumberType(n)) {
		return invalid(MobileNotMobile, nil)
	}

	cc := int(n.GetCountryCode())
	m := Mobile{E164: phonenumbers.Format(n, phonenumbers.E164), Region: phonenumbers.GetRegionCodeForNumber(n)}
	if phonenumbers.GetSupportedGlobalNetworkCallingCodes()[cc] {
		m.Region = "+" + strconv.Itoa(cc)
	}
	if m.Region == "" {
		// Numbers outside known ranges have no region of their own; the
		// country code's main region is the best answer for an
		// allow-list.
		m.Region = phonenumbers.GetRegionCodeForCountryCode(cc)
	}
	return m, nil
}

// mobileMetadata maps a country calling code to the metadata of its main
// region, the one libphonenumber itself uses for length checks. The Go
// port has no IsPossibleNumberForType, so the lengths are read from the
// metadata. The package parsed it at init, so this only indexes it.
var mobileMetadata = sync.OnceValue(func() map[int32]*phonenumbers.PhoneMetadata {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		// Cannot happen: the package panics at init if its embedded
		// metadata does not parse.
		panic(fmt.Sprintf("phonenumbers metadata: %v", err))
	}
	byCode := map[int32]*phonenumbers.PhoneMetadata{}
	for _, md := range coll.GetMetadata() {
		cc := md.GetCountryCode()
		if md.GetId() == phonenumbers.GetRegionCodeForCountryCode(int(cc)) {
			byCode[cc] = md
		}
	}
	return byCode
})

// lengthProblem checks the national number's length against the lengths
// of its country's numbers of the allowed kinds, which is stricter than
// phonenumbers.IsPossibleNumber (any kind of number: "+44 7700 90012" is a
// possible UK number, but no UK mobile has 9 digits). Lengths only dialable
// locally do not count: an SMS gateway needs the whole number. It returns 0
// when the length is right.
func (t NumberTypes) lengthProblem(n *phonenumbers.PhoneNumber) MobileProblem {
	md := mobileMetadata()[n.GetCountryCode()]
	if md == nil {
		return MobileBadCountryCode
	}
	lengths := t.possibleLengths(md)
	if len(lengths) == 0 {
		return MobileNotMobile
	}
	l := int32(len(phonenumbers.GetNationalSignificantNumber(n))) //nolint:gosec // a national number has at most 17 digits
	switch {
	case l < lengths[0]:
		return MobileTooShort
	case l > lengths[len(lengths)-1]:
		return MobileTooLong
	}
	if slices.Contains(lengths, l) {
		return 0
	}
	return MobileBadLength
}
