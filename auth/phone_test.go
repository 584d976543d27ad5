package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestParseMobile(t *testing.T) {
	for _, tc := range []struct {
		name, in, region string
		want             Mobile
		wantProblem      MobileProblem
	}{
		// The fictional numbers our tests and demo use must keep working.
		{name: "fictional NANP", in: "+15550100006", want: Mobile{"+15550100006", "US"}},
		{name: "UK drama range", in: "+447700900123", want: Mobile{"+447700900123", "GB"}},
		{name: "UK national with GB", in: "07700 900123", region: "GB", want: Mobile{"+447700900123", "GB"}},
		{name: "region in lower case", in: "07700 900123", region: "gb", want: Mobile{"+447700900123", "GB"}},
		{name: "UK trunk prefix in brackets", in: "+44 (0) 7700-900.123", want: Mobile{"+447700900123", "GB"}},
		{name: "international prefix 00", in: "00 44 7700 900123", region: "GB", want: Mobile{"+447700900123", "GB"}},
		{name: "international prefix 011", in: "011 44 7700 900123", region: "US", want: Mobile{"+447700900123", "GB"}},
		{name: "US punctuation", in: "(555) 010-0006", region: "US", want: Mobile{"+15550100006", "US"}},
		{name: "dots", in: "+1.555.010.0006", want: Mobile{"+15550100006", "US"}},
		{name: "square brackets and tabs", in: "\t+1 [555] 010 0006 ", want: Mobile{"+15550100006", "US"}},
		{name: "non-breaking space and en dash", in: "+44\u00a07700\u2013900123", want: Mobile{"+447700900123", "GB"}},
		{name: "full-width digits", in: "＋４４７７００９００１２３", want: Mobile{"+447700900123", "GB"}},
		// The region comes from the number, not from the default.
		{name: "default region does not override +", in: "+447700900123", region: "US", want: Mobile{"+447700900123", "GB"}},
		{name: "Canada shares +1", in: "+1 416 555 0123", want: Mobile{"+14165550123", "CA"}},
		{name: "Canada from a US default", in: "416-555-0123", region: "US", want: Mobile{"+14165550123", "CA"}},
		{name: "real US range", in: "+1 212 555 1234", want: Mobile{"+12125551234", "US"}},
		{name: "French mobile", in: "06 12 34 56 78", region: "FR", want: Mobile{"+33612345678", "FR"}},
		{name: "German mobile", in: "+49 1512 3456789", want: Mobile{"+4915123456789", "DE"}},
		{name: "Argentine mobile", in: "+54 9 11 1234 5678", want: Mobile{"+5491112345678", "AR"}},
		{name: "Australian mobile", in: "0491 570 006", region: "AU", want: Mobile{"+61491570006", "AU"}},
		{name: "American Samoa shares +1", in: "+1 684 733 1234", want: Mobile{"+16847331234", "AS"}},

		{name: "empty", in: "", wantProblem: MobileEmpty},
		{name: "blank", in: "  \t", wantProblem: MobileEmpty},
		{name: "letters", in: "+1 800 FLOWERS", wantProblem: MobileBadCharacter},
		{name: "extension", in: "+15550100006 ext 12", wantProblem: MobileBadCharacter},
		{name: "x extension", in: "+15550100006x12", wantProblem: MobileBadCharacter},
		{name: "tel URI", in: "tel:+15550100006", wantProblem: MobileBadCharacter},
		{name: "plus in the middle", in: "44+7700900123", wantProblem: MobileBadCharacter},
		{name: "hash", in: "+15550100006#", wantProblem: MobileBadCharacter},
		{name: "junk", in: "¯\\_(ツ)_/¯", wantProblem: MobileBadCharacter},
		{name: "punctuation only", in: "-- ()", wantProblem: MobileTooShort},
		{name: "national without a region", in: "07700 900123", wantProblem: MobileNoCountryCode},
		{name: "00 without a region", in: "0044 7700 900123", wantProblem: MobileNoCountryCode},
		{name: "unknown country code", in: "+999 1234 5678", wantProblem: MobileBadCountryCode},
		{name: "too short", in: "+44 7700 90012", wantProblem: MobileTooShort},
		{name: "NANP local only", in: "+1 555 0100", wantProblem: MobileTooShort},
		{name: "one digit", in: "+4", wantProblem: MobileTooShort},
		{name: "too long", in: "+44 7700 900123 4", wantProblem: MobileTooLong},
		{name: "far too long", in: "+1" + strings.Repeat("5", 20), wantProblem: MobileTooLong},
		{name: "longer than the input limit", in: "+1 " + strings.Repeat(" ", 70) + "5550100006", wantProblem: MobileTooLong},
		{name: "UK landline", in: "+44 20 7946 0018", wantProblem: MobileNotMobile},
		{name: "US toll-free", in: "+1 800 555 0100", wantProblem: MobileNotMobile},
		{name: "UK premium rate", in: "+44 909 879 0000", wantProblem: MobileNotMobile},
		{name: "international freephone has no mobiles", in: "+800 1234 5678", wantProblem: MobileNotMobile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMobile(tc.in, tc.region)
			if tc.wantProblem != 0 {
				var ie *InvalidMobileError
				if !errors.Is(err, ErrInvalidMobile) || !errors.As(err, &ie) {
					t.Fatalf("got %+v, error %v; want %v", got, err, ErrInvalidMobile)
				}
				if ie.Problem != tc.wantProblem {
					t.Errorf("got problem %q, want %q (error: %v)", ie.Problem, tc.wantProblem, err)
				}
				if got != (Mobile{}) {
					t.Errorf("got %+v with the error, want none", got)
				}
				// Numbers are personal data: errors must not carry them.
				if digits := strings.Map(keepASCIIDigits, tc.in); len(digits) >= 4 && strings.Contains(err.Error(), digits) {
					t.Errorf("error %q contains the number", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want %+v", err, tc.want)
			}
			if got.E164 != tc.want.E164 {
				t.Errorf("E164: got %q, want %q", got.E164, tc.want.E164)
			}
			if got.Region != tc.want.Region {
				t.Errorf("Region: got %q, want %q", got.Region, tc.want.Region)
			}
			// What ParseMobile returns must parse to itself: it is what
			// the directory will hold.
			again, err := ParseMobile(got.E164, "")
			if err != nil || again != got {
				t.Errorf("ParseMobile(%q): got %+v, %v; want %+v", got.E164, again, err, got)
			}
		})
	}
}

func TestParseMobileBadDefaultRegion(t *testing.T) {
	for _, region := range []string{"XX", "UK", "USA", "1"} {
		_, err := ParseMobile("+447700900123", region)
		if err == nil || errors.Is(err, ErrInvalidMobile) {
			t.Errorf("region %q: got %v, want an error that is not %v", region, err, ErrInvalidMobile)
		}
	}
}

func TestMobileProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    MobileProblem
		want string
	}{
		{MobileTooShort, "too short"},
		{MobileNotMobile, "not a mobile number"},
		{MobileProblem(0), "MobileProblem(0)"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func keepASCIIDigits(r rune) rune {
	if r >= '0' && r <= '9' {
		return r
	}
	return -1
}
