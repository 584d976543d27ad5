package sambatest

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"
)

// The provisioned domain and its accounts.
const (
	Realm         = "EXAMPLE.TEST" // Kerberos realm; lower-cased it is the UPN suffix
	UPNSuffix     = "example.test"
	NetBIOSDomain = "EXAMPLE"
	BaseDN        = "DC=example,DC=test"
	UsersDN       = "CN=Users," + BaseDN
	// AdminDN is the domain's Administrator, for seeding and test set-up.
	AdminDN       = "CN=Administrator," + UsersDN
	AdminPassword = "Adm1n-Passw0rd!"
	// ServiceDN is the service account otpgate searches as: a plain domain
	// user, as AD administrators make them.
	ServiceDN       = "CN=otpgate-svc," + UsersDN
	ServicePassword = "Svc-Passw0rd-1"
	// UserFilter finds a user by sAMAccountName, as the README suggests.
	UserFilter = "(&(objectCategory=person)(objectClass=user)(sAMAccountName={username}))"
	// LockoutThreshold is the domain's bad-password threshold: AD locks an
	// account at this many wrong passwords within LockoutWindow.
	LockoutThreshold = 10
	LockoutWindow    = 30 * time.Minute
)

// User is a seeded person. Groups are group names (cn), sorted.
type User struct {
	Username, Password string // sAMAccountName and password
	UPN                string // userPrincipalName
	DN                 string
	Name, Email        string
	Mobile             string // "" when the entry has no mobile
	Groups             []string
}

// The seeded users. Treat them as read-only: they are shared by all tests
// (each test gets its own copy of the directory, though).
var (
	// Alice has every attribute and two groups, one with a space.
	Alice = user("alice", "Alice Liddell", "+15550100006", "IT Ops", "staff")
	// Bob has no mobile number.
	Bob = user("bob", "Bob Builder", "", "staff")
	// Henry is an ordinary user with a mobile, for lockout tests.
	Henry = user("henry", "Henry Jekyll", "+15550100008", "staff")
	// Dave's account is disabled (userAccountControl ACCOUNTDISABLE):
	// AD answers his right password with data 533.
	Dave = user("dave", "Dave Disabled", "+15550100010")
	// Mike must change his password at next log-on (pwdLastSet 0): 773.
	Mike = user("mike", "Mike Mustchange", "+15550100011")
	// Ed's password has expired: it was last set in 2001, beyond the
	// domain's maximum age of 42 days (see agePassword): 532.
	Ed = user("ed", "Ed Expired", "+15550100012")
	// Xena's account expired (accountExpires in the past): 701.
	Xena = user("xena", "Xena Expired", "+15550100013")
	// Lola is locked in AD: the seed made LockoutThreshold wrong binds.
	// Her right password gives 775.
	Lola = user("lola", "Lola Locked", "+15550100014")
	// Carol is in a group whose name has a comma, which is itself a
	// member of another group (see NestedGroups).
	Carol = user("carol", "Carol Comma", "+15550100015", "Sales, EMEA", "staff")
)

// PrimaryGroup is the group every seeded user has as primaryGroupID, as
// AD gives each new user; memberOf does not list it.
const PrimaryGroup = "Domain Users"

// NestedGroups maps a seeded group to the group it is a member of: a
// member of the first is a member of the second only through it.
var NestedGroups = map[string]string{"Sales, EMEA": "Sales"}

func user(name, full, mobile string, groups ...string) User {
	return User{
		Username: name, Password: name + "-Passw0rd-1", UPN: name + "@" + UPNSuffix,
		DN: "CN=" + full + "," + UsersDN, Name: full, Email: name + "@" + UPNSuffix, Mobile: mobile, Groups: groups,
	}
}

// Seeded is every seeded user.
func Seeded() []User { return []User{Alice, Bob, Henry, Dave, Mike, Ed, Xena, Lola, Carol} }

// userAccountControl flags (MS-ADTS 2.2.16).
const (
	uacAccountDisable = 0x2
	uacNormalAccount  = 0x200
	uacDontExpirePwd  = 0x10000
)

// EncodePassword is a password as AD's unicodePwd wants it: quoted, in
// UTF-16LE. AD takes it only over an encrypted connection.
func EncodePassword(p string) string {
	u := utf16.Encode([]rune(`"` + p + `"`))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return string(b)
}

// seed adds the groups, the service account and the users to a fresh
// domain, then puts each user into the state its comment says. conn is
// bound as the Administrator over TLS; addr is the DC's host, for the
// wrong binds that lock Lola.
func seed(conn *ldap.Conn, ldapsURL string, dialBind func(url, dn, password string) error) error {
	// The domain's policy: no complexity or history rules to trip the
	// seed, AD's lockout as the issue describes it.
	window := strconv.FormatInt(-int64(LockoutWindow/100), 10) // negative 100 ns units
	mod := ldap.NewModifyRequest(BaseDN, nil)
	mod.Replace("pwdProperties", []string{"0"})
	mod.Replace("pwdHistoryLength", []string{"0"})
	mod.Replace("minPwdAge", []string{"0"})
	mod.Replace("lockoutThreshold", []string{strconv.Itoa(LockoutThreshold)})
	mod.Replace("lockoutDuration", []string{window})
	mod.Replace("lockOutObservationWindow", []string{window})
	if err := conn.Modify(mod); err != nil {
		return fmt.Errorf("set the domain's password policy: %w", err)
	}

	groups := map[string]bool{}
	for _, u := range Seeded() {
		for _, g := range u.Groups {
			groups[g] = true
		}
	}
	for _, parent := range NestedGroups {
		groups[parent] = true
	}
	for g := range groups {
		add := ldap.NewAddRequest(groupDN(g), nil)
		add.Attribute("objectClass", []string{"group"})
		// sAMAccountName may not hold a comma and some other characters
		// that cn may.
		add.Attribute("sAMAccountName", []string{strings.Map(func(r rune) rune {
			if strings.ContainsRune(`"/\[]:;|=,+*?<>`, r) {
				return '_'
			}
			return r
		}, g)})
		if err := conn.Add(add); err != nil {
			return fmt.Errorf("add group %q: %w", g, err)
		}
	}
	for child, parent := range NestedGroups {
		m := ldap.NewModifyRequest(groupDN(parent), nil)
		m.Add("member", []string{groupDN(child)})
		if err := conn.Modify(m); err != nil {
			return fmt.Errorf("add group %q to group %q: %w", child, parent, err)
		}
	}

	addUser := func(dn, sam, upn, password string, attrs map[string]string, uac int) error {
		add := ldap.NewAddRequest(dn, nil)
		add.Attribute("objectClass", []string{"user"})
		add.Attribute("sAMAccountName", []string{sam})
		add.Attribute("userPrincipalName", []string{upn})
		add.Attribute("unicodePwd", []string{EncodePassword(password)})
		add.Attribute("userAccountControl", []string{strconv.Itoa(uac)})
		for k, v := range attrs {
			if v != "" {
				add.Attribute(k, []string{v})
			}
		}
		if err := conn.Add(add); err != nil {
			return fmt.Errorf("add user %q: %w", dn, err)
		}
		return nil
	}
	if err := addUser(ServiceDN, "otpgate-svc", "otpgate-svc@"+UPNSuffix, ServicePassword, nil,
		uacNormalAccount|uacDontExpirePwd); err != nil {
		return err
	}
	for _, u := range Seeded() {
		uac := uacNormalAccount
		if u.Username == Dave.Username {
			uac |= uacAccountDisable
		}
		attrs := map[string]string{"displayName": u.Name, "mail": u.Email, "mobile": u.Mobile, "givenName": u.Username}
		if err := addUser(u.DN, u.Username, u.UPN, u.Password, attrs, uac); err != nil {
			return err
		}
		for _, g := range u.Groups {
			m := ldap.NewModifyRequest(groupDN(g), nil)
			m.Add("member", []string{u.DN})
			if err := conn.Modify(m); err != nil {
				return fmt.Errorf("add %s to group %q: %w", u.Username, g, err)
			}
		}
	}

	// Mike must change his password.
	m := ldap.NewModifyRequest(Mike.DN, nil)
	m.Replace("pwdLastSet", []string{"0"})
	if err := conn.Modify(m); err != nil {
		return fmt.Errorf("make mike change his password: %w", err)
	}
	// Xena's account expired in 2001 (accountExpires is a FILETIME).
	m = ldap.NewModifyRequest(Xena.DN, nil)
	m.Replace("accountExpires", []string{"126227808000000000"})
	if err := conn.Modify(m); err != nil {
		return fmt.Errorf("expire xena's account: %w", err)
	}
	// Lola: wrong passwords up to the threshold lock her.
	for range LockoutThreshold {
		if err := dialBind(ldapsURL, Lola.DN, "wrong-"+Lola.Password); err == nil {
			return fmt.Errorf("lock lola: a wrong password was accepted")
		}
	}
	return nil
}

// groupDN is the DN of a seeded group.
func groupDN(name string) string { return "CN=" + ldap.EscapeDN(name) + "," + UsersDN }

// pwdLastSet2001 is 2001-01-01 as a FILETIME.
const pwdLastSet2001 = "126227808000000000"

// agePasswordScript sets Ed's pwdLastSet to 2001 in the stopped domain's
// database file. AD takes only 0 (must change) or -1 (now) over LDAP,
// relax control or not, and Samba computes no expiry for password
// policies under a day, so an expired password cannot be made online
// within a test. The partition file opened alone has none of Samba's
// modules that would refuse it.
const agePasswordScript = `
import ldb, sys
l = ldb.Ldb("tdb://" + sys.argv[1])
m = ldb.Message()
m.dn = ldb.Dn(l, sys.argv[2])
m["pwdLastSet"] = ldb.MessageElement(sys.argv[3], ldb.FLAG_MOD_REPLACE, "pwdLastSet")
l.modify(m)
`
