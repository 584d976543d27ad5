package slapdtest

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// The seeded directory's layout and accounts.
const (
	BaseDN          = "dc=example,dc=org"
	PeopleDN        = "ou=people," + BaseDN
	GroupsDN        = "ou=groups," + BaseDN
	ServicesDN      = "ou=services," + BaseDN
	ServiceDN       = "cn=otpgate," + ServicesDN // the service account
	ServicePassword = "service-secret"
	RootDN          = "cn=admin," + BaseDN
	RootPassword    = "admin-secret"
	// UserFilter finds the seeded users by username.
	UserFilter = "(&(objectClass=inetOrgPerson)(uid={username}))"
	// GroupFilter finds the seeded groups of a user, for directories
	// without memberOf.
	GroupFilter = "(&(objectClass=groupOfNames)(member={dn}))"
)

// User is a seeded person. Groups are group names (cn), sorted.
type User struct {
	Username, Password string
	DN                 string
	Name, Email        string
	Mobile             string // "" when the entry has no mobile
	Groups             []string
}

// The seeded users. Treat them as read-only: they are shared by all tests.
var (
	// Alice has every attribute and two groups.
	Alice = seedUsers()[0]
	// Bob has no mobile number.
	Bob = seedUsers()[1]
	// Carol has no email and no groups.
	Carol = seedUsers()[2]
)

func seedUsers() []User {
	return []User{
		{Username: "alice", Password: "alice-secret-1", DN: "uid=alice," + PeopleDN, Name: "Alice Liddell",
			Email: "alice@example.org", Mobile: "+15550100006", Groups: []string{"admins", "staff"}},
		{Username: "bob", Password: "bob-secret-1", DN: "uid=bob," + PeopleDN, Name: "Bob Builder",
			Email: "bob@example.org", Groups: []string{"staff"}},
		{Username: "carol", Password: "carol-secret-1", DN: "uid=carol," + PeopleDN, Name: "Carol Danvers",
			Mobile: "+447700900123"},
	}
}

// seedRequests builds the standard entries, parents first and groups after
// their members so that the memberof overlay fills in memberOf. The users
// get userClasses as objectClass values besides inetOrgPerson.
func seedRequests(userClasses []string) []*ldap.AddRequest {
	var reqs []*ldap.AddRequest
	add := func(dn string, attrs ...[2]string) {
		r := ldap.NewAddRequest(dn, nil)
		grouped := map[string][]string{}
		var order []string
		for _, a := range attrs {
			if _, ok := grouped[a[0]]; !ok {
				order = append(order, a[0])
			}
			grouped[a[0]] = append(grouped[a[0]], a[1])
		}
		for _, name := range order {
			r.Attribute(name, grouped[name])
		}
		reqs = append(reqs, r)
	}
	oc := func(v string) [2]string { return [2]string{"objectClass", v} }
	attr := func(n, v string) [2]string { return [2]string{n, v} }

	add(BaseDN, oc("dcObject"), oc("organization"), attr("dc", "example"), attr("o", "Example"))
	for _, ou := range []string{"people", "groups", "services"} {
		add("ou="+ou+","+BaseDN, oc("organizationalUnit"), attr("ou", ou))
	}
	add(ServiceDN, oc("applicationProcess"), oc("simpleSecurityObject"), attr("cn", "otpgate"),
		attr("userPassword", ServicePassword))
	members := map[string][]string{}
	for _, u := range seedUsers() {
		a := [][2]string{oc("inetOrgPerson")}
		for _, c := range userClasses {
			a = append(a, oc(c))
		}
		a = append(a, attr("uid", u.Username), attr("cn", u.Name),
			attr("sn", u.Name[strings.LastIndexByte(u.Name, ' ')+1:]), attr("userPassword", u.Password))
		if u.Email != "" {
			a = append(a, attr("mail", u.Email))
		}
		if u.Mobile != "" {
			a = append(a, attr("mobile", u.Mobile))
		}
		add(u.DN, a...)
		for _, g := range u.Groups {
			members[g] = append(members[g], u.DN)
		}
	}
	for _, g := range []string{"staff", "admins"} {
		a := [][2]string{oc("groupOfNames"), attr("cn", g)}
		for _, m := range members[g] {
			a = append(a, attr("member", m))
		}
		add("cn="+g+","+GroupsDN, a...)
	}
	return reqs
}

// ParseLDIF reads LDIF add records: "dn:" first, then "attr: value" or
// "attr:: base64" lines; "#" comments, folded lines and "changetype: add"
// are understood. It is deliberately small: test fixtures only.
func ParseLDIF(text string) ([]*ldap.AddRequest, error) {
	var (
		reqs  []*ldap.AddRequest
		lines []string // logical lines of the current record
		lineN int
	)
	flush := func() error {
		if len(lines) == 0 {
			return nil
		}
		req, err := ldifRecord(lines)
		lines = nil
		if err != nil {
			return fmt.Errorf("record ending at line %d: %w", lineN, err)
		}
		reqs = append(reqs, req)
		return nil
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		lineN++
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.TrimSpace(line) == "":
			if err := flush(); err != nil {
				return nil, err
			}
		case line[0] == ' ':
			if len(lines) == 0 {
				return nil, fmt.Errorf("line %d: continuation without a line to continue", lineN)
			}
			lines[len(lines)-1] += line[1:]
		default:
			lines = append(lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return reqs, nil
}

func ldifRecord(lines []string) (*ldap.AddRequest, error) {
	var req *ldap.AddRequest
	values := map[string][]string{}
	var order []string
	for _, line := range lines {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%q: no colon", line)
		}
		switch {
		case strings.HasPrefix(value, ":"):
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value[1:]))
			if err != nil {
				return nil, fmt.Errorf("%s: bad base64: %w", name, err)
			}
			value = string(raw)
		case strings.HasPrefix(value, "<"):
			return nil, fmt.Errorf("%s: URL values are not supported", name)
		default:
			value = strings.TrimLeft(value, " ")
		}
		if req == nil {
			if !strings.EqualFold(name, "dn") {
				return nil, fmt.Errorf("record starts with %q, not dn", name)
			}
			req = ldap.NewAddRequest(value, nil)
			continue
		}
		if strings.EqualFold(name, "changetype") {
			if value != "add" {
				return nil, fmt.Errorf("changetype %q: only add is supported", value)
			}
			continue
		}
		if _, seen := values[name]; !seen {
			order = append(order, name)
		}
		values[name] = append(values[name], value)
	}
	for _, name := range order {
		req.Attribute(name, values[name])
	}
	return req, nil
}
