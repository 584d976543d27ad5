package demo

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/otpgate/otpgate/internal/testserver"
)

func startDirectory(t *testing.T) (*Directory, *testserver.Output) {
	t.Helper()
	logs := &testserver.Output{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := StartDirectory(t.Context(), "127.0.0.1:0", logger)
	if err != nil {
		t.Fatalf("StartDirectory: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return d, logs
}

func dial(t *testing.T, d *Directory) *ldap.Conn {
	t.Helper()
	conn, err := ldap.DialURL(d.URL)
	if err != nil {
		t.Fatalf("dial %s: %v", d.URL, err)
	}
	conn.SetTimeout(5 * time.Second)
	t.Cleanup(func() { conn.Close() })
	return conn
}

func serviceConn(t *testing.T, d *Directory) *ldap.Conn {
	t.Helper()
	conn := dial(t, d)
	if err := conn.Bind(d.BindDN, d.BindPassword); err != nil {
		t.Fatalf("service bind: %v", err)
	}
	return conn
}

func search(conn *ldap.Conn, base, filter string, attrs ...string) (*ldap.SearchResult, error) {
	return conn.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, 5, false, filter, attrs, nil))
}

func uids(res *ldap.SearchResult) []string {
	var out []string
	for _, e := range res.Entries {
		out = append(out, e.GetAttributeValue("uid"))
	}
	slices.Sort(out)
	return out
}

func wantResultCode(t *testing.T, err error, code uint16) {
	t.Helper()
	if !ldap.IsErrorWithCode(err, code) {
		t.Errorf("got error %v, want LDAP result %d (%s)", err, code, ldap.LDAPResultCodeMap[code])
	}
}

func TestSearchFilters(t *testing.T) {
	d, _ := startDirectory(t)
	conn := serviceConn(t, d)
	tests := []struct {
		filter string
		want   []string
	}{
		{"(uid=alice)", []string{"alice"}},
		{"(UID=ALICE)", []string{"alice"}},
		{"(uid=\\2a)", nil},
		{"(uid=" + ldap.EscapeFilter("*)(uid=*") + ")", nil},
		{"(uid=*)", []string{"alice", "bob", "carol"}},
		{"(|(uid=alice)(uid=bob))", []string{"alice", "bob"}},
		{"(&(uid=*)(!(uid=alice)))", []string{"bob", "carol"}},
		{"(!(uid=alice))", []string{"bob", "carol"}},
		{"(&(objectClass=inetOrgPerson)(uid=carol))", []string{"carol"}},
		{"(mail=BOB@example.org)", []string{"bob"}},
		{"(cn=alice liddell)", []string{"alice"}},
		{"(memberOf=CN=admins, ou=groups, dc=example, dc=org)", []string{"alice"}},
		{"(memberOf=cn=staff,ou=groups,dc=example,dc=org)", []string{"alice", "bob"}},
		{"(!(memberOf=*))", []string{"carol"}},
		{"(mobile=+1 555-010-0006)", []string{"alice"}},
		{"(!(mobile=*))", []string{"bob"}},
		{"(uid=al*)", []string{"alice"}},
		{"(mail=*@EXAMPLE.org)", []string{"alice", "bob", "carol"}},
		{"(cn=*o*r*)", []string{"bob", "carol"}},
		{"(cn=*r*o*)", []string{"carol"}},
		{"(uid=a*e*e)", nil},
		{"(uid=)", nil},
		// Unsupported anywhere in the filter: nothing, never everything.
		{"(uid>=a)", nil},
		{"(!(uid<=z))", nil},
		{"(uid~=alice)", nil},
		{"(|(uid=*)(uid>=a))", nil},
		{"(uid:caseExactMatch:=alice)", nil},
		{"(nosuch=alice)", nil},
		{"(!(nosuch=alice))", nil},
		{"(userPassword=*)", nil},
		{"(memberOf=cn=a*)", nil},
		{"(&)", nil},
		{"(!(|))", nil},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			res, err := conn.Search(ldap.NewSearchRequest(d.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
				0, 5, false, tt.filter, []string{"uid"}, nil))
			if err != nil {
				t.Fatalf("search %q: %v", tt.filter, err)
			}
			if got := uids(res); !slices.Equal(got, tt.want) {
				t.Errorf("search %q: got %q, want %q", tt.filter, got, tt.want)
			}
		})
	}
}

// TestSignInLookup does what otpgate does per sign-in, on one connection.
func TestSignInLookup(t *testing.T) {
	d, _ := startDirectory(t)
	conn := serviceConn(t, d)
	res, err := search(conn, d.BaseDN, "(uid="+ldap.EscapeFilter("alice")+")", "mobile", "cn", "mail", "memberOf")
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	if len(res.Entries) != 1 {
		t.Fatalf("got %d entries, want 1", len(res.Entries))
	}
	e := res.Entries[0]
	if want := "uid=alice,ou=people,dc=example,dc=org"; e.DN != want {
		t.Errorf("DN: got %q, want %q", e.DN, want)
	}
	want := map[string][]string{
		"mobile":   {"+15550100006"},
		"cn":       {"Alice Liddell"},
		"mail":     {"alice@example.org"},
		"memberOf": {"cn=staff,ou=groups,dc=example,dc=org", "cn=admins,ou=groups,dc=example,dc=org"},
	}
	if len(e.Attributes) != len(want) {
		var names []string
		for _, a := range e.Attributes {
			names = append(names, a.Name)
		}
		t.Errorf("attributes: got %q, want only the %d requested", names, len(want))
	}
	for name, values := range want {
		if got := e.GetAttributeValues(name); !slices.Equal(got, values) {
			t.Errorf("%s: got %q, want %q", name, got, values)
		}
	}
	if err := conn.Bind(e.DN, "alice-demo-pass"); err != nil {
		t.Errorf("user bind after search: %v", err)
	}
	// Now bound as alice, the same connection may no longer search.
	_, err = search(conn, d.BaseDN, "(uid=alice)")
	wantResultCode(t, err, ldap.LDAPResultInsufficientAccessRights)
}

func TestSearchAttributes(t *testing.T) {
	d, _ := startDirectory(t)
	conn := serviceConn(t, d)
	tests := []struct {
		name   string
		filter string
		attrs  []string
		want   []string
	}{
		{"none requested means all", "(uid=alice)", nil,
			[]string{"cn", "mail", "memberOf", "mobile", "objectClass", "sn", "uid"}},
		{"star means all", "(uid=alice)", []string{"*"},
			[]string{"cn", "mail", "memberOf", "mobile", "objectClass", "sn", "uid"}},
		{"1.1 means none", "(uid=alice)", []string{"1.1"}, nil},
		{"names in any case", "(uid=alice)", []string{"MAIL", "memberof"}, []string{"mail", "memberOf"}},
		{"unknown names ignored", "(uid=alice)", []string{"mail", "userPassword", "nosuch"}, []string{"mail"}},
		{"bob has no mobile", "(uid=bob)", []string{"mobile", "cn"}, []string{"cn"}},
		{"carol has no groups", "(uid=carol)", nil,
			[]string{"cn", "mail", "mobile", "objectClass", "sn", "uid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := search(conn, d.BaseDN, tt.filter, tt.attrs...)
			if err != nil {
				t.Fatalf("search: %v", err)
			}
			if len(res.Entries) != 1 {
				t.Fatalf("got %d entries, want 1", len(res.Entries))
			}
			var got []string
			for _, a := range res.Entries[0].Attributes {
				got = append(got, a.Name)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("attributes: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSearchTypesOnly(t *testing.T) {
	d, _ := startDirectory(t)
	conn := serviceConn(t, d)
	res, err := conn.Search(ldap.NewSearchRequest(d.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, 5, true, "(uid=alice)", []string{"mail", "mobile"}, nil))
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	if len(res.Entries) != 1 {
		t.Fatalf("got %d entries, want 1", len(res.Entries))
	}
	for _, a := range res.Entries[0].Attributes {
		if len(a.Values) != 0 {
			t.Errorf("%s: got %q, want no values", a.Name, a.Values)
		}
	}
	if got := len(res.Entries[0].Attributes); got != 2 {
		t.Errorf("got %d attributes, want 2", got)
	}
}

func TestSearchScopeAndLimits(t *testing.T) {
	d, _ := startDirectory(t)
	conn := serviceConn(t, d)
	tests := []struct {
		name     string
		base     string
		scope    int
		limit    int
		want     []string
		wantCode uint16 // 0: success
	}{
		{"subtree of base", d.BaseDN, ldap.ScopeWholeSubtree, 0, []string{"alice", "bob", "carol"}, 0},
		{"one level under people", "OU=People,DC=example,DC=org", ldap.ScopeSingleLevel, 0, []string{"alice", "bob", "carol"}, 0},
		{"one level under base", d.BaseDN, ldap.ScopeSingleLevel, 0, nil, 0},
		{"base object", "uid=bob,ou=people,dc=example,dc=org", ldap.ScopeBaseObject, 0, []string{"bob"}, 0},
		{"groups subtree", "ou=groups,dc=example,dc=org", ldap.ScopeWholeSubtree, 0, nil, 0},
		{"size limit", d.BaseDN, ldap.ScopeWholeSubtree, 2, []string{"alice", "bob"}, ldap.LDAPResultSizeLimitExceeded},
		{"outside the directory", "dc=example,dc=com", ldap.ScopeWholeSubtree, 0, nil, ldap.LDAPResultNoSuchObject},
		{"bad base DN", "not a dn", ldap.ScopeWholeSubtree, 0, nil, ldap.LDAPResultInvalidDNSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := conn.Search(ldap.NewSearchRequest(tt.base, tt.scope, ldap.NeverDerefAliases,
				tt.limit, 5, false, "(uid=*)", []string{"uid"}, nil))
			if tt.wantCode != 0 {
				wantResultCode(t, err, tt.wantCode)
			} else if err != nil {
				t.Fatalf("search: %v", err)
			}
			if res == nil {
				t.Fatal("got nil result")
			}
			if got := uids(res); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSearchNeedsServiceBind(t *testing.T) {
	d, _ := startDirectory(t)
	tests := []struct {
		name string
		bind func(*ldap.Conn) error
	}{
		{"anonymous", func(*ldap.Conn) error { return nil }},
		{"bound as a user", func(c *ldap.Conn) error { return c.Bind(userDN("alice"), "alice-demo-pass") }},
		{"failed service bind", func(c *ldap.Conn) error {
			if err := c.Bind(d.BindDN, "wrong"); err == nil {
				return errors.New("wrong password accepted")
			}
			return nil
		}},
		{"service bind then failed user bind", func(c *ldap.Conn) error {
			if err := c.Bind(d.BindDN, d.BindPassword); err != nil {
				return err
			}
			if err := c.Bind(userDN("alice"), "wrong"); err == nil {
				return errors.New("wrong password accepted")
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := dial(t, d)
			if err := tt.bind(conn); err != nil {
				t.Fatalf("bind: %v", err)
			}
			res, err := search(conn, d.BaseDN, "(uid=*)")
			wantResultCode(t, err, ldap.LDAPResultInsufficientAccessRights)
			if res != nil && len(res.Entries) != 0 {
				t.Errorf("got %d entries, want none", len(res.Entries))
			}
		})
	}
	// Another connection's service bind must not open up this one.
	other := serviceConn(t, d)
	conn := dial(t, d)
	_, err := search(conn, d.BaseDN, "(uid=*)")
	wantResultCode(t, err, ldap.LDAPResultInsufficientAccessRights)
	if _, err := search(other, d.BaseDN, "(uid=alice)"); err != nil {
		t.Errorf("service connection search: %v", err)
	}
}

func TestBind(t *testing.T) {
	d, _ := startDirectory(t)
	tests := []struct {
		name     string
		dn       string
		password string
		wantErr  bool
	}{
		{"service account", d.BindDN, d.BindPassword, false},
		{"service account, wrong password", d.BindDN, "wrong", true},
		{"service account, empty password", d.BindDN, "", true},
		{"alice", userDN("alice"), "alice-demo-pass", false},
		{"alice, DN in other case and spacing", "UID=alice, OU=people, DC=example, DC=org", "alice-demo-pass", false},
		{"alice, wrong password", userDN("alice"), "alice-demo-pas", true},
		{"alice, password in other case", userDN("alice"), "ALICE-DEMO-PASS", true},
		{"alice, empty password", userDN("alice"), "", true},
		{"alice with bob's password", userDN("alice"), "bob-demo-pass", true},
		{"bob", userDN("bob"), "bob-demo-pass", false},
		{"carol", userDN("carol"), "carol-demo-pass", false},
		{"unknown DN", userDN("mallory"), "alice-demo-pass", true},
		{"group DN", groupDN("staff"), "alice-demo-pass", true},
		{"base DN", d.BaseDN, "alice-demo-pass", true},
		{"not a DN", "alice", "alice-demo-pass", true},
		{"anonymous", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := dial(t, d)
			_, err := conn.SimpleBind(&ldap.SimpleBindRequest{
				Username: tt.dn, Password: tt.password, AllowEmptyPassword: true})
			if !tt.wantErr {
				if err != nil {
					t.Errorf("bind %q: %v", tt.dn, err)
				}
				return
			}
			wantResultCode(t, err, ldap.LDAPResultInvalidCredentials)
		})
	}
}

func TestLogsHoldNoPasswords(t *testing.T) {
	d, logs := startDirectory(t)
	conn := serviceConn(t, d)
	for _, u := range d.Users {
		if err := conn.Bind(d.BindDN, d.BindPassword); err != nil {
			t.Fatalf("service bind: %v", err)
		}
		if _, err := search(conn, d.BaseDN, "(uid="+u.Username+")", "cn"); err != nil {
			t.Errorf("search %s: %v", u.Username, err)
		}
		_ = conn.Bind(userDN(u.Username), u.Password)
		_ = conn.Bind(userDN(u.Username), u.Password+"-wrong")
	}
	if err := conn.Unbind(); err != nil {
		t.Errorf("unbind: %v", err)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	out := logs.String()
	if !strings.Contains(out, "LDAP bind") {
		t.Fatalf("got logs %q, want bind logs at debug level", out)
	}
	for _, secret := range []string{d.BindPassword, "alice-demo-pass", "bob-demo-pass", "carol-demo-pass"} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain password %q", secret)
		}
	}
}

func TestStartDirectory(t *testing.T) {
	d1, _ := startDirectory(t)
	d2, _ := startDirectory(t)
	if d1.URL == d2.URL {
		t.Errorf("two directories share URL %q", d1.URL)
	}
	if !strings.HasPrefix(d1.URL, "ldap://127.0.0.1:") || strings.HasSuffix(d1.URL, ":0") {
		t.Errorf("got URL %q, want ldap://127.0.0.1:<port>", d1.URL)
	}
	if d1.BindPassword == d2.BindPassword || len(d1.BindPassword) < 20 {
		t.Errorf("got service passwords %q and %q, want long and different", d1.BindPassword, d2.BindPassword)
	}
	// The service account's password only opens its own directory.
	conn := dial(t, d2)
	err := conn.Bind(d2.BindDN, d1.BindPassword)
	wantResultCode(t, err, ldap.LDAPResultInvalidCredentials)

	if _, err := StartDirectory(t.Context(), "no-port", nil); err == nil {
		t.Error("StartDirectory with a bad address: got no error")
	}
}

func TestStopEndsService(t *testing.T) {
	tests := []struct {
		name string
		stop func(d *Directory, cancel context.CancelFunc) error
	}{
		{"Stop", func(d *Directory, _ context.CancelFunc) error { return d.Stop() }},
		{"context canceled", func(d *Directory, cancel context.CancelFunc) error {
			cancel()
			select {
			case <-d.stopped:
				return d.Stop() // returns the first Stop's result
			case <-time.After(10 * time.Second):
				return errors.New("not stopped after cancel")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			d, err := StartDirectory(ctx, "127.0.0.1:0", nil)
			if err != nil {
				t.Fatalf("StartDirectory: %v", err)
			}
			if err := tt.stop(d, cancel); err != nil {
				t.Fatalf("stop: %v", err)
			}
			if err := d.Stop(); err != nil {
				t.Errorf("second Stop: %v", err)
			}
			host := strings.TrimPrefix(d.URL, "ldap://")
			if c, err := net.DialTimeout("tcp", host, time.Second); err == nil {
				c.Close()
				t.Errorf("dial %s after stop: got a connection, want refused", host)
			}
		})
	}
}

func TestWritesRefused(t *testing.T) {
	d, _ := startDirectory(t)
	conn := serviceConn(t, d)
	tests := []struct {
		name string
		op   func() error
	}{
		{"modify", func() error {
			m := ldap.NewModifyRequest(userDN("alice"), nil)
			m.Replace("mobile", []string{"+15550100007"})
			return conn.Modify(m)
		}},
		{"add", func() error {
			a := ldap.NewAddRequest(userDN("mallory"), nil)
			a.Attribute("uid", []string{"mallory"})
			return conn.Add(a)
		}},
		{"delete", func() error { return conn.Del(ldap.NewDelRequest(userDN("bob"), nil)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantResultCode(t, tt.op(), ldap.LDAPResultUnwillingToPerform)
		})
	}
	if _, err := search(conn, d.BaseDN, "(uid=bob)"); err != nil {
		t.Errorf("search after refused writes: %v", err)
	}
}
