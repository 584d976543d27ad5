package slapdtest

import "github.com/go-ldap/ldap/v3"

// The password policy that WithPasswordPolicy applies to every entry.
const (
	PoliciesDN       = "ou=policies," + BaseDN
	PolicyDN         = "cn=default," + PoliciesDN
	PolicyMaxFailure = 3 // wrong binds before slapd locks an account
)

// The users seeded with WithPasswordPolicy, each refused by slapd's ppolicy
// overlay for its state, even with the right password. They have mobile
// numbers, so a sign-in that got through would send a code.
var (
	// Ed's password expired long ago (pwdChangedTime in 2000).
	Ed = User{Username: "ed", Password: "ed-secret-1", DN: "uid=ed," + PeopleDN, Name: "Ed Expired",
		Email: "ed@example.org", Mobile: "+15550100012"}
	// Lola is locked for good (pwdAccountLockedTime 000001010000Z).
	Lola = User{Username: "lola", Password: "lola-secret-1", DN: "uid=lola," + PeopleDN, Name: "Lola Locked",
		Email: "lola@example.org", Mobile: "+15550100013"}
	// Mike's password was reset by an administrator (pwdReset TRUE): he
	// must change it before anything else.
	Mike = User{Username: "mike", Password: "mike-secret-1", DN: "uid=mike," + PeopleDN, Name: "Mike Mustchange",
		Email: "mike@example.org", Mobile: "+15550100011"}
)

// WithPasswordPolicy loads the ppolicy overlay, with a default policy
// (PolicyDN) that locks an account after PolicyMaxFailure wrong binds, makes
// a reset password be changed first, and lets passwords age for a day; and
// seeds Ed, Lola and Mike. slapd then answers binds that ask for the
// password policy control with the account's state.
func WithPasswordPolicy() Option { return func(c *config) { c.ppolicy = true } }

// relaxControl (draft-zeilenga-ldap-relax) lets the root DN write
// operational attributes such as pwdChangedTime.
var relaxControl = ldap.NewControlString("1.3.6.1.4.1.4203.666.5.12", true, "")

// ppolicyRequests builds the policy entry and the users WithPasswordPolicy
// seeds, after the standard seed.
func ppolicyRequests() []*ldap.AddRequest {
	ou := ldap.NewAddRequest(PoliciesDN, nil)
	ou.Attribute("objectClass", []string{"organizationalUnit"})
	ou.Attribute("ou", []string{"policies"})
	policy := ldap.NewAddRequest(PolicyDN, nil)
	policy.Attribute("objectClass", []string{"device", "pwdPolicy"})
	policy.Attribute("cn", []string{"default"})
	policy.Attribute("pwdAttribute", []string{"userPassword"})
	policy.Attribute("pwdLockout", []string{"TRUE"})
	policy.Attribute("pwdMaxFailure", []string{"3"})
	policy.Attribute("pwdMustChange", []string{"TRUE"})
	policy.Attribute("pwdAllowUserChange", []string{"TRUE"})
	policy.Attribute("pwdMaxAge", []string{"86400"})
	reqs := []*ldap.AddRequest{ou, policy}
	for _, u := range []struct {
		u     User
		extra [][2]string
	}{
		{Ed, [][2]string{{"pwdChangedTime", "20000101000000Z"}}},
		{Lola, [][2]string{{"pwdAccountLockedTime", "000001010000Z"}}},
		{Mike, [][2]string{{"pwdReset", "TRUE"}}},
	} {
		r := ldap.NewAddRequest(u.u.DN, []ldap.Control{relaxControl})
		r.Attribute("objectClass", []string{"inetOrgPerson"})
		r.Attribute("uid", []string{u.u.Username})
		r.Attribute("cn", []string{u.u.Name})
		r.Attribute("sn", []string{u.u.Name[len("Ed "):]})
		r.Attribute("userPassword", []string{u.u.Password})
		r.Attribute("mail", []string{u.u.Email})
		r.Attribute("mobile", []string{u.u.Mobile})
		for _, a := range u.extra {
			r.Attribute(a[0], []string{a[1]})
		}
		reqs = append(reqs, r)
	}
	return reqs
}
