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

func TestSlapdWriteOptions(t *testing.T) {
	const schema = `attributetype ( 1.3.6.1.4.1.32473.9.1 NAME 'testCode'
	EQUALITY caseExactIA5Match
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )
objectclass ( 1.3.6.1.4.1.32473.9.2 NAME 'testUser' SUP top AUXILIARY MAY testCode )
`
	s := Start(t, WithSchema(schema), WithUserObjectClass("testUser"),
		WithServiceMobileWrite(), WithSelfMobileWrite(), WithServiceWrite("testCode"))
	svc := bindAs(t, s, s.BindDN, s.BindPassword)
	modify := func(conn *ldap.Conn, dn, attr string, values ...string) error {
		req := ldap.NewModifyRequest(dn, nil)
		req.Replace(attr, values)
		return conn.Modify(req)
	}
	for _, tc := range []struct {
		name, as, dn, attr string
		wantCode           uint16 // 0: allowed
	}{
		// Both grants on mobile hold: one rule names both writers.
		{"service writes mobile", "service", Bob.DN, "mobile", 0},
		{"alice writes her mobile", "alice", Alice.DN, "mobile", 0},
		{"alice writes bob's mobile", "alice", Bob.DN, "mobile", ldap.LDAPResultInsufficientAccessRights},
		{"service writes the code", "service", Alice.DN, "testCode", 0},
		{"alice writes her code", "alice", Alice.DN, "testCode", ldap.LDAPResultInsufficientAccessRights},
		{"service writes mail", "service", Alice.DN, "mail", ldap.LDAPResultInsufficientAccessRights},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := svc
			if tc.as == "alice" {
				conn = bindAs(t, s, Alice.DN, Alice.Password)
			}
			v := "x"
			if tc.attr == "mobile" {
				v = "+15550100042"
			}
			err := modify(conn, tc.dn, tc.attr, v)
			if tc.wantCode == 0 && err != nil || tc.wantCode != 0 && !ldap.IsErrorWithCode(err, tc.wantCode) {
				t.Fatalf("got %v, want code %d", err, tc.wantCode)
			}
			if tc.wantCode != 0 {
				return
			}
			// The service account still reads what it may write.
			e, err := lookup(t, svc, tc.dn, tc.attr)
			if err != nil || e == nil {
				t.Fatalf("reading back: entry %v, err %v", e, err)
			}
			if got := e.GetAttributeValue(tc.attr); got != v {
				t.Errorf("%s: got %q, want %q", tc.attr, got, v)
			}
		})
	}
	// The seeded users carry the extra class.
	e, err := lookup(t, svc, Carol.DN, "objectClass")
	if err != nil || e == nil {
		t.Fatalf("reading carol: entry %v, err %v", e, err)
	}
	if got := e.GetAttributeValues("objectClass"); !slices.Contains(got, "testUser") {
		t.Errorf("carol's objectClass: got %q, want testUser among them", got)
	}
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
