package gateway

// The same sign-in cases against each real directory otpgate supports, so
// that neither falls behind: OpenLDAP (slapd) and Active Directory (Samba).

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/otpgate/otpgate/auth/sambatest"
	"github.com/otpgate/otpgate/auth/slapdtest"
	"github.com/otpgate/otpgate/proxy"
)

// dirUser is a seeded user of either directory.
type dirUser struct {
	Username, Password, Mobile string
}

// directoryKind is a directory server, configured as the README says,
// and the users its seed holds.
type directoryKind struct {
	name  string
	start func(t *testing.T, edit ...func(*Config)) *env
	// user has a mobile; noMobile has none.
	user, noMobile dirUser
	// groups are user's groups, sorted, as the app gets them with
	// LDAP_PRIMARY_GROUP on; rule is a groups= that admits user and
	// names a group with a space where the directory has one.
	groups []string
	rule   string
	// otherRule names a group user is not in.
	otherRule string
}

var directoryKinds = []directoryKind{
	{
		name:     "OpenLDAP",
		start:    startEnv,
		user:     dirUser{slapdtest.Alice.Username, slapdtest.Alice.Password, slapdtest.Alice.Mobile},
		noMobile: dirUser{slapdtest.Bob.Username, slapdtest.Bob.Password, ""},
		// No primaryGroupID in OpenLDAP: the setting adds nothing.
		groups:    slapdtest.Alice.Groups,
		rule:      `groups="admins"`,
		otherRule: `groups="Domain Admins"`,
	},
	{
		name:     "Active Directory",
		start:    func(t *testing.T, edit ...func(*Config)) *env { return startADEnv(t, edit...).env },
		user:     dirUser{sambatest.Carol.Username, sambatest.Carol.Password, sambatest.Carol.Mobile},
		noMobile: dirUser{sambatest.Bob.Username, sambatest.Bob.Password, ""},
		// "Sales, EMEA" from memberOf, Domain Users from primaryGroupID.
		groups:    []string{sambatest.PrimaryGroup, "Sales, EMEA", "staff"},
		rule:      `groups="Domain Users"`,
		otherRule: `groups="IT Ops","Domain Admins"`,
	},
}

// TestSignInEachDirectory runs the same sign-in cases against each
// directory kind: the right password and code reach the app, a wrong
// password and a user without a mobile get no code, and the user's groups
// reach the app (quoted where a name has a comma) and meet the rules.
func TestSignInEachDirectory(t *testing.T) {
	for _, k := range directoryKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			e := k.start(t, func(c *Config) {
				c.Auth.Ldap.PrimaryGroup = true
				c.Proxy.AccessRules = "* /app/** two_factor " + k.rule + "\n* /other/** two_factor " + k.otherRule
			})
			t.Run("right password and code", func(t *testing.T) {
				b := e.browser()
				r := b.password(k.user.Username, k.user.Password, "/app/")
				if r.status != http.StatusSeeOther || r.location != "/otpgate/code" {
					t.Fatalf("password: %d to %q, want 303 to the code page; page:\n%s", r.status, r.location, pageText(r))
				}
				if r := b.code(e.sms.lastCode(k.user.Mobile)); r.status != http.StatusSeeOther || r.location != "/app/" {
					t.Fatalf("code: %d to %q, want 303 to /app/", r.status, r.location)
				}
				if u := headerValues(b.appSaw("/app/"), "Remote-User"); !slices.Equal(u, []string{k.user.Username}) {
					t.Errorf("app got Remote-User %q, want %s", u, k.user.Username)
				}
			})
			t.Run("wrong password", func(t *testing.T) {
				sent := len(e.sms.sent())
				r := e.browser().password(k.user.Username, "wrong-"+k.user.Password, "/app/")
				if r.status != http.StatusUnauthorized || !strings.Contains(pageText(r), "The username or password is not right") {
					t.Errorf("%d, want 401 with the wrong-password message; page:\n%s", r.status, pageText(r))
				}
				if n := len(e.sms.sent()) - sent; n != 0 {
					t.Errorf("%d SMS sent after a wrong password", n)
				}
			})
			t.Run("user without mobile", func(t *testing.T) {
				sent := len(e.sms.sent())
				r := e.browser().password(k.noMobile.Username, k.noMobile.Password, "/app/")
				if r.status != http.StatusForbidden || !strings.Contains(pageText(r), "Ask an administrator to add your mobile number") {
					t.Errorf("%d, want 403 asking for a mobile number; page:\n%s", r.status, pageText(r))
				}
				if n := len(e.sms.sent()) - sent; n != 0 {
					t.Errorf("%d SMS sent to a user without a mobile", n)
				}
			})
			t.Run("groups reach the app", func(t *testing.T) {
				b := e.browser()
				if r := b.password(k.user.Username, k.user.Password, "/app/"); r.status != http.StatusSeeOther {
					t.Fatalf("password: %d, want 303; page:\n%s", r.status, pageText(r))
				}
				if r := b.code(e.sms.lastCode(k.user.Mobile)); r.status != http.StatusSeeOther {
					t.Fatalf("code: %d, want 303", r.status)
				}
				raw := headerValues(b.appSaw("/app/"), "Remote-Groups")
				if want := proxy.FormatGroups(k.groups); !slices.Equal(raw, []string{want}) {
					t.Errorf("app got Remote-Groups %q, want [%s]", raw, want)
				}
				if len(raw) == 1 {
					if got, err := proxy.ParseGroups(raw[0]); err != nil || !slices.Equal(got, k.groups) {
						t.Errorf("Remote-Groups %s reads as %q, %v; want %q", raw[0], got, err, k.groups)
					}
				}
				// The rule naming a group the user lacks refuses them.
				r := b.get("/other/")
				if r.status != http.StatusForbidden || !strings.Contains(pageText(r), "only for members of") {
					t.Errorf("GET /other/ (%s): %d, want 403 naming the groups; page:\n%s", k.otherRule, r.status, pageText(r))
				}
				// Forward-auth answers with the same value.
				a := forwardAuthAnswer(t, e, cookieHeader(b, e.gw.URL))
				if got, want := a.Header.Values("Remote-Groups"), proxy.FormatGroups(k.groups); a.StatusCode != http.StatusOK || !slices.Equal(got, []string{want}) {
					t.Errorf("forward-auth: %d with Remote-Groups %q, want 200 with [%s]", a.StatusCode, got, want)
				}
			})
		})
	}
}

// forwardAuthAnswer asks the gateway's forward-auth endpoint, as Traefik
// would, about GET /app/ on the gateway's own host with cookie.
func forwardAuthAnswer(t *testing.T, e *env, cookie string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", e.gw.URL+"/otpgate/authz/forward-auth", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https",
		"X-Forwarded-Host": strings.TrimPrefix(e.gw.URL, "https://"), "X-Forwarded-Uri": "/app/", "Cookie": cookie} {
		req.Header.Set(k, v)
	}
	resp, err := e.gw.Client().Do(req)
	if err != nil {
		t.Fatalf("forward-auth: %v", err)
	}
	resp.Body.Close()
	return resp
}

// cookieHeader is the Cookie header b sends to rawURL.
func cookieHeader(b *browser, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		b.t.Fatal(err)
	}
	var parts []string
	for _, c := range b.client.Jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}
