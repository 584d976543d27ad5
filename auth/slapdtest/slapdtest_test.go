package slapdtest

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func bindAs(t *testing.T, s *Server, dn, password string) *ldap.Conn {
	t.Helper()
	conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}))
	if err != nil {
		t.Fatalf("dial %s: %v", s.URL, err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetTimeout(2 * time.Second)
	if err := conn.Bind(dn, password); err != nil {
		t.Fatalf("bind as %s: %v", dn, err)
	}
	return conn
}

func lookup(t *testing.T, conn *ldap.Conn, dn string, attrs ...string) (*ldap.Entry, error) {
	t.Helper()
	res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", attrs, nil))
	if err != nil {
		return nil, err
	}
	if len(res.Entries) != 1 {
		return nil, nil
	}
	return res.Entries[0], nil
}

func groupNames(dns []string) []string {
	var names []string
	for _, dn := range dns {
		names = append(names, strings.TrimPrefix(strings.Split(dn, ",")[0], "cn="))
	}
	slices.Sort(names)
	return names
}

func TestSlapdSeed(t *testing.T) {
	start := time.Now()
	s := Start(t)
	t.Logf("start-up took %v", time.Since(start))
	svc := bindAs(t, s, s.BindDN, s.BindPassword)
	for _, u := range []User{Alice, Bob, Carol} {
		e, err := lookup(t, svc, u.DN, "uid", "cn", "mail", "mobile", "memberOf")
		if err != nil || e == nil {
			t.Fatalf("service account reading %s: entry %v, err %v", u.DN, e, err)
		}
		for attr, want := range map[string]string{"uid": u.Username, "cn": u.Name, "mail": u.Email, "mobile": u.Mobile} {
			if got := e.GetAttributeValue(attr); got != want {
				t.Errorf("%s %s: got %q, want %q", u.Username, attr, got, want)
			}
		}
		if got := groupNames(e.GetAttributeValues("memberOf")); !slices.Equal(got, u.Groups) {
			t.Errorf("%s memberOf: got %q, want %q", u.Username, got, u.Groups)
		}
		// Users' own passwords work.
		bindAs(t, s, u.DN, u.Password)
	}
}

func TestSlapdACL(t *testing.T) {
	setMobile := func(conn *ldap.Conn) error {
		req := ldap.NewModifyRequest(Alice.DN, nil)
		req.Replace("mobile", []string{"+15550100099"})
		return conn.Modify(req)
	}
	t.Run("default", func(t *testing.T) {
		s := Start(t)
		svc := bindAs(t, s, s.BindDN, s.BindPassword)
		if err := setMobile(svc); !ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights) {
			t.Errorf("service account writing mobile: got %v, want insufficient access", err)
		}
		e, err := lookup(t, svc, Alice.DN, "userPassword")
		if err != nil || e == nil || e.GetAttributeValue("userPassword") != "" {
			t.Errorf("service account reading userPassword: got entry %v, err %v; want entry without it", e, err)
		}
		// One user cannot see another.
		bob := bindAs(t, s, Bob.DN, Bob.Password)
		if e, err := lookup(t, bob, Alice.DN, "cn"); e != nil {
			t.Errorf("bob reading alice: got %v (err %v), want nothing", e, err)
		}
	})
	t.Run("service writes mobile", func(t *testing.T) {
		s := Start(t, WithServiceMobileWrite())
		svc := bindAs(t, s, s.BindDN, s.BindPassword)
		if err := setMobile(svc); err != nil {
			t.Fatalf("service account writing mobile: %v", err)
		}
		e, err := lookup(t, svc, Alice.DN, "mobile", "mail")
		if err != nil || e == nil {
			t.Fatalf("reading alice: entry %v, err %v", e, err)
		}
		if got, want := e.GetAttributeValue("mobile"), "+15550100099"; got != want {
			t.Errorf("mobile: got %q, want %q", got, want)
		}
		// The extra rule must not hide the rest of the entry.
		if got, want := e.GetAttributeValue("mail"), Alice.Email; got != want {
			t.Errorf("mail: got %q, want %q", got, want)
		}
	})
}

func TestSlapdOptions(t *testing.T) {
	s := Start(t, WithoutMemberOf(), WithLDIF(`
# a person in a second branch
dn: uid=dave,ou=services,dc=example,dc=org
objectClass: inetOrgPerson
uid: dave
cn: Dave
 y Jones
sn:: Sm9uZXM=
userPassword: dave-secret-1
`))
	svc := bindAs(t, s, s.BindDN, s.BindPassword)
	e, err := lookup(t, svc, "uid=dave,ou=services,dc=example,dc=org", "cn", "sn")
	if err != nil || e == nil {
		t.Fatalf("reading dave: entry %v, err %v", e, err)
	}
	if got, want := e.GetAttributeValue("cn"), "Davey Jones"; got != want {
		t.Errorf("cn: got %q, want %q", got, want)
	}
	if got, want := e.GetAttributeValue("sn"), "Jones"; got != want {
		t.Errorf("sn: got %q, want %q", got, want)
	}
	if e, _ := lookup(t, svc, Alice.DN, "memberOf"); e == nil || len(e.GetAttributeValues("memberOf")) != 0 {
		t.Errorf("without the memberof overlay: got %v, want alice without memberOf", e)
	}
}

func TestSlapdStopRestart(t *testing.T) {
	s := Start(t)
	conn := s.Conn(t)
	req := ldap.NewModifyRequest(Carol.DN, nil)
	req.Replace("mail", []string{"carol@example.org"})
	if err := conn.Modify(req); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if _, err := ldap.DialURL(s.URL); err == nil {
		t.Fatalf("dial after Stop: got no error, want connection refused")
	}
	s.Stop() // stopping twice is harmless
	s.Restart()
	e, err := lookup(t, bindAs(t, s, s.BindDN, s.BindPassword), Carol.DN, "mail")
	if err != nil || e == nil {
		t.Fatalf("after restart: entry %v, err %v", e, err)
	}
	if got, want := e.GetAttributeValue("mail"), "carol@example.org"; got != want {
		t.Errorf("mail after restart: got %q, want %q", got, want)
	}
}

func TestSlapdParseLDIF(t *testing.T) {
	for _, tc := range []struct{ name, ldif, wantErr string }{
		{"no dn", "cn: x\n", "not dn"},
		{"modify", "dn: cn=x\nchangetype: modify\n", "only add"},
		{"dangling continuation", " x\n", "continuation"},
		{"no colon", "dn: cn=x\nfoo\n", "no colon"},
		{"bad base64", "dn: cn=x\ncn:: !!\n", "base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseLDIF(tc.ldif)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
	reqs, err := ParseLDIF("dn: cn=a,dc=x\ncn: a\ncn: b\r\n\n\n# c\ndn: cn=c,dc=x\ncn: c\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2 || reqs[0].DN != "cn=a,dc=x" || reqs[1].DN != "cn=c,dc=x" {
		t.Fatalf("got %d records, want cn=a and cn=c", len(reqs))
	}
	if got := reqs[0].Attributes[0].Vals; !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("cn values: got %q, want %q", got, []string{"a", "b"})
	}
}
