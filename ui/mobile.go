package ui

import "github.com/otpgate/otpgate/auth"

// mobileProblems say, in one sentence each, why a typed number was not
// taken and what to do instead.
var mobileProblems = map[auth.MobileProblem]string{
	auth.MobileEmpty:          "Enter your mobile number.",
	auth.MobileBadCharacter:   "Use only digits, spaces, dashes, dots, brackets and a leading +.",
	auth.MobileNoCountryCode:  "Add the country code: write the number in international form, for example +44 7700 900123.",
	auth.MobileBadCountryCode: "No country has the code after the +; check those digits.",
	auth.MobileTooShort:       "That number is too short for a mobile number of its country.",
	auth.MobileTooLong:        "That number is too long for a mobile number of its country.",
	auth.MobileBadLength:      "That number does not have the right number of digits for a mobile number of its country.",
	auth.MobileNotMobile:      "That is not a mobile number (it is a landline, a toll-free number or another kind that takes no text messages); enter your mobile number.",
	auth.MobileRefusedRange:   "Sign-in codes are not sent to numbers in that country or range; enter a mobile number of another country, or ask an administrator.",
}

// mobileProblem is the sentence for p, with a fallback for a reason added
// to auth later and not yet worded here.
func mobileProblem(p auth.MobileProblem) string {
	if s, ok := mobileProblems[p]; ok {
		return s
	}
	return "Sign-in codes cannot be sent to that number; enter your mobile number."
}
