package auth

import (
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// maskDot stands for one hidden digit.
const maskDot = "•"

// maskNumber hides most of a phone number for pages and logs, for example
// "+44 ••• ••• 3456" for maskNumber("+447911123456", 4). The country code,
// as libphonenumber reads it, is shown whole: it says which of a user's
// numbers is meant and is no secret. Of the national number only the last
// visible digits are shown, the hidden ones as dots in groups of three. A
// national number of fewer than visible+4 digits would reveal too much of
// itself that way, so only its last 2 are shown (fewer if visible is
// smaller), and none when it has fewer than 4. A number libphonenumber
// cannot read in international form shows no digit at all.
func maskNumber(number string, visible int) string {
	n, err := phonenumbers.Parse(number, "")
	if err != nil {
		return maskDigits(onlyDigits(number), 0)
	}
	return "+" + strconv.Itoa(int(n.GetCountryCode())) + " " +
		maskDigits(phonenumbers.GetNationalSignificantNumber(n), visible)
}

// maskDigits writes digits as dots in groups of three, then the last
// visible digits, within the short-number rule of maskNumber.
func maskDigits(digits string, visible int) string {
	n := len(digits)
	shown := 0
	switch {
	case n >= max(visible, 0)+4:
		shown = max(visible, 0)
	case n >= 4:
		shown = min(2, max(visible, 0))
	}
	var groups []string
	for hidden := n - shown; hidden > 0; hidden -= 3 {
		groups = append(groups, strings.Repeat(maskDot, min(hidden, 3)))
	}
	if shown > 0 {
		groups = append(groups, digits[n-shown:])
	}
	return strings.Join(groups, " ")
}

func onlyDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if '0' <= r && r <= '9' {
			return r
		}
		return -1
	}, s)
}
