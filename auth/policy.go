package auth

import (
	"slices"
	"strings"
)

// Policy decides who must give a code after their password, the way WSO2's
// SMS OTP authenticator does (mandatory, enable by user claim), plus the
// common directory practice of doing it by group.
type Policy struct {
	// Mandatory: a user who needs a code but has no usable mobile number is
	// refused. When false, such a user signs in with the password alone.
	Mandatory bool
	// ExemptGroups sign in with the password alone.
	ExemptGroups []string
	// RequiredGroups always need a code, whatever else says otherwise.
	RequiredGroups []string
}

// needsCode reports whether user must give a code, and why not if not.
func (p Policy) needsCode(u User) (bool, string) {
	if inAnyGroup(u, p.RequiredGroups) {
		return true, ""
	}
	if inAnyGroup(u, p.ExemptGroups) {
		return false, "exempt group"
	}
	if u.SecondFactorOff {
		return false, "second factor disabled for the user in the directory"
	}
	return true, ""
}

// maySkipMissingMobile reports whether a user who needs a code but has no
// mobile number may sign in with the password alone.
func (p Policy) maySkipMissingMobile(u User) bool {
	return !p.Mandatory && !inAnyGroup(u, p.RequiredGroups)
}

func inAnyGroup(u User, groups []string) bool {
	return slices.ContainsFunc(groups, func(g string) bool {
		return slices.ContainsFunc(u.Groups, func(ug string) bool { return strings.EqualFold(ug, g) })
	})
}
