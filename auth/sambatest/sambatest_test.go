package sambatest

import (
	"net"
	"regexp"
	"strconv"
	"testing"
	"time"
)

var dataCode = regexp.MustCompile(`data ([0-9a-f]+),`)

// bindCode is AD's "data NNN" for a bind, "" when it succeeded.
func bindCode(t *testing.T, dc *DC, dn, password string) string {
	t.Helper()
	err := dc.Bind(dn, password)
	if err == nil {
		return ""
	}
	m := dataCode.FindStringSubmatch(err.Error())
	if m == nil {
		t.Fatalf("bind as %s: %v, without a data code", dn, err)
	}
	return m[1]
}

// TestAccountStates checks that each seeded user is in the state its
// comment says, as AD tells it in the "data NNN" of a bind error.
func TestAccountStates(t *testing.T) {
	start := time.Now()
	dc := Start(t)
	t.Logf("provisioning and seeding took %v; this Start %v", ProvisionTime(), time.Since(start))
	for _, c := range []struct {
		u           User
		right       string // data code for the right password, "" for success
		wrong       string // for a wrong one
		countsWrong bool   // a wrong password adds to badPwdCount
	}{
		{Alice, "", "52e", true}, {Bob, "", "52e", true}, {Henry, "", "52e", true},
		{Dave, "533", "52e", true}, {Mike, "773", "52e", true}, {Ed, "532", "52e", true}, {Xena, "701", "52e", true},
		// Locked: the answer tells nothing about the password.
		{Lola, "775", "775", false},
	} {
		before := dc.BadPwdCount(t, c.u)
		if got := bindCode(t, dc, c.u.DN, c.u.Password); got != c.right {
			t.Errorf("%s, right password: data %q, want %q", c.u.Username, got, c.right)
		}
		if got := bindCode(t, dc, c.u.DN, "wrong-"+c.u.Password); got != c.wrong {
			t.Errorf("%s, wrong password: data %q, want %q", c.u.Username, got, c.wrong)
		}
		want := before
		if c.countsWrong {
			want++
		}
		if after := dc.BadPwdCount(t, c.u); after != want {
			t.Errorf("%s: badPwdCount %d after a right and a wrong password, was %d; want %d", c.u.Username, after, before, want)
		}
	}
	if n := dc.BadPwdCount(t, Lola); n != LockoutThreshold {
		t.Errorf("lola's badPwdCount: %d, want the threshold %d", n, LockoutThreshold)
	}
	if v := dc.Attr(t, Lola.DN, "lockoutTime"); len(v) != 1 || v[0] == "0" {
		t.Errorf("lola's lockoutTime: %q, want a time", v)
	}
	// AD's simple bind takes the UPN and DOMAIN\user as the DN.
	for _, name := range []string{Alice.UPN, NetBIOSDomain + `\` + Alice.Username} {
		if err := dc.Bind(name, Alice.Password); err != nil {
			t.Errorf("bind as %s: %v", name, err)
		}
	}
}

// TestOnlyLDAPListens checks the DC listens for LDAP on its loopback
// address only: none of a DC's other services (DNS, Kerberos, RPC, SMB,
// NetBIOS) is there, and nothing of it on 127.0.0.1.
func TestOnlyLDAPListens(t *testing.T) {
	dc := Start(t)
	for _, p := range []int{389, 636, 3268, 3269} {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(dc.Host, strconv.Itoa(p)), time.Second)
		if err != nil {
			t.Errorf("port %d: %v, want LDAP", p, err)
			continue
		}
		c.Close()
	}
	for _, p := range []int{53, 88, 135, 139, 445, 464} {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(dc.Host, strconv.Itoa(p)), time.Second); err == nil {
			c.Close()
			t.Errorf("port %d on %s answers; only LDAP should", p, dc.Host)
		}
	}
	if dc.Host == "127.0.0.1" {
		t.Errorf("the DC listens on 127.0.0.1, want an address of its own")
	}
}

// TestCopiesAreIndependent checks that each Start gets its own domain: a
// change in one is not in the other.
func TestCopiesAreIndependent(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.Host == b.Host {
		t.Fatalf("two DCs on %s", a.Host)
	}
	_ = a.Bind(Alice.DN, "wrong")
	if na, nb := a.BadPwdCount(t, Alice), b.BadPwdCount(t, Alice); na != 1 || nb != 0 {
		t.Errorf("badPwdCount after a wrong password in the first: %d and %d, want 1 and 0", na, nb)
	}
}
