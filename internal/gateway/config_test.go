package gateway

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/otpgate/otpgate/internal/setting"
	"github.com/otpgate/otpgate/proxy"
)

// setEnv returns vars as an environment (KEY=value pairs) for loadConfig,
// which reads only what it is given: tests need not touch the process's
// environment, and so may run in parallel.
func setEnv(_ *testing.T, vars map[string]string) []string {
	var environ []string
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	return environ
}

func validEnv() map[string]string {
	return map[string]string{
		"OTPGATE_UPSTREAM_URL":       "http://127.0.0.1:3000",
		"OTPGATE_LDAP_URL":           "ldap://127.0.0.1:389",
		"OTPGATE_LDAP_BIND_DN":       "cn=otpgate,ou=services,dc=example,dc=org",
		"OTPGATE_LDAP_BIND_PASSWORD": "service-secret",
		"OTPGATE_LDAP_BASE_DN":       "ou=people,dc=example,dc=org",
		"OTPGATE_COOKIE_SECRET":      testSecret(1),
	}
}

func TestValidConfigAssembles(t *testing.T) {
	t.Parallel()
	environ := setEnv(t, validEnv())
	cfg, err := loadConfig(environ)
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if _, err := assemble(cfg, discardLogger(), &bytes.Buffer{}, nil); err != nil {
		t.Fatalf("assemble: %v", err)
	}
	if cfg.ListenAddr != ":8080" || cfg.PathPrefix != "/otpgate/" || cfg.Auth.Otp.Length != 6 || !cfg.Auth.Cookie.Secure || cfg.Auth.Ldap.UserFilter != "(uid={username})" {
		t.Fatalf("defaults not applied: %+v", cfg)
	}
}

// Every problem is reported in one run, each naming its variable.
func TestConfigReportsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	env := validEnv()
	env["OTPGATE_OTP_TTL"] = "five minutes"
	env["OTPGATE_COOKIE_SECURE"] = "maybe"
	env["OTPGATE_OTP_LENGTH"] = "six"
	env["OTPGATE_UPSTREAM_URL"] = "ftp://files"
	env["OTPGATE_COOKIE_SECRET"] = "c2hvcnQ="
	env["OTPGATE_LDAP_ULR"] = "ldap://typo"
	env["OTPGATE_LDAP_USER_FILTER"] = "(uid=fixed)"
	env["OTPGATE_SMS_PROVIDER"] = "carrier-pigeon"
	env["OTPGATE_SESSION_IDLE"] = "24h"
	delete(env, "OTPGATE_LDAP_BIND_PASSWORD")
	environ := setEnv(t, env)

	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), nil, environ, &stdout, &stderr); code != exitConfig {
		t.Fatalf("run exit status %d, want %d; stderr:\n%s", code, exitConfig, stderr.String())
	}
	out := stderr.String()
	for _, want := range []string{
		"OTPGATE_OTP_TTL", "OTPGATE_COOKIE_SECURE", "OTPGATE_OTP_LENGTH", "OTPGATE_UPSTREAM_URL",
		"OTPGATE_COOKIE_SECRET", "OTPGATE_LDAP_ULR: not a known variable; did you mean OTPGATE_LDAP_URL?",
		"OTPGATE_LDAP_USER_FILTER", "OTPGATE_SMS_PROVIDER", "OTPGATE_SESSION_IDLE", "OTPGATE_LDAP_BIND_PASSWORD",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr lacks %q:\n%s", want, out)
		}
	}
}

// Settings come from the environment given, never from the process's, so
// that tests (and anything embedding otpgate) load them side by side.
func TestLoadReadsOnlyTheGivenEnvironment(t *testing.T) {
	t.Setenv("OTPGATE_OTP_LENGTH", "7")
	t.Setenv("OTPGATE_LDAP_ULR", "typo")
	cfg, err := loadConfig([]string{"OTPGATE_OTP_TTL=2m"})
	if err != nil {
		t.Fatalf("loadConfig: %v (the process's variables were read)", err)
	}
	if cfg.Auth.Otp.Length != 6 || cfg.Auth.Otp.TTL != 2*time.Minute {
		t.Errorf("got OTP_LENGTH %d and OTP_TTL %v, want the default 6 and the given 2m", cfg.Auth.Otp.Length, cfg.Auth.Otp.TTL)
	}
}

func TestHTTPProviderProblemsNameTheirVariables(t *testing.T) {
	t.Parallel()
	env := validEnv()
	env["OTPGATE_SMS_PROVIDER"] = "http"
	env["OTPGATE_SMS_URL"] = "not a url"
	env["OTPGATE_SMS_METHOD"] = "DELETE"
	environ := setEnv(t, env)
	cfg, err := loadConfig(environ)
	if err != nil {
		t.Fatal(err)
	}
	_, err = assemble(cfg, discardLogger(), &bytes.Buffer{}, nil)
	for _, want := range []string{"OTPGATE_SMS_URL", "OTPGATE_SMS_METHOD"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("assemble error %v: want it to name %s", err, want)
		}
	}
}

func TestSecretsFromFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte(testSecret(3)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := validEnv()
	delete(env, "OTPGATE_COOKIE_SECRET")
	env["OTPGATE_COOKIE_SECRET_FILE"] = file
	cfg, err := loadConfig(setEnv(t, env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Auth.Cookie.Secret != testSecret(3) {
		t.Fatalf("COOKIE_SECRET from file = %q, want %q (trailing newline dropped)", cfg.Auth.Cookie.Secret, testSecret(3))
	}

	env["OTPGATE_COOKIE_SECRET"] = testSecret(4)
	_, err = loadConfig(setEnv(t, env))
	if err == nil || !strings.Contains(err.Error(), "set only one") {
		t.Fatalf("both COOKIE_SECRET and COOKIE_SECRET_FILE: error %v, want 'set only one'", err)
	}

	env = validEnv()
	env["OTPGATE_LDAP_BIND_PASSWORD_FILE"] = filepath.Join(dir, "missing")
	delete(env, "OTPGATE_LDAP_BIND_PASSWORD")
	os.Unsetenv("OTPGATE_LDAP_BIND_PASSWORD")
	os.Unsetenv("OTPGATE_COOKIE_SECRET_FILE")
	_, err = loadConfig(setEnv(t, env))
	if err == nil || !strings.Contains(err.Error(), "OTPGATE_LDAP_BIND_PASSWORD_FILE: cannot read") {
		t.Fatalf("unreadable secret file: error %v, want it named", err)
	}
}

func TestHelpListsEveryVariable(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-help"}, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("-help exit status %d", code)
	}
	for _, name := range knownVariables() {
		if !strings.Contains(stdout.String(), name) {
			t.Errorf("-help does not list %s", name)
		}
	}
}

// The README's configuration table and the binary must agree exactly, so
// operators never read of a variable that does not exist, miss one, or read
// a stale default. The table is made from the settings' declarations:
// paste the wanted table this test prints when they change.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := readmeTable()
	if !strings.Contains(string(readme), "\n"+want+"\n") {
		t.Errorf("README's configuration table differs from the settings; want:\n%s", want)
	}
	for _, k := range knownVariables() {
		if !strings.Contains(want, "| `"+k+"` |") {
			t.Errorf("the table lacks %s", k)
		}
	}
}

func TestVariableNames(t *testing.T) {
	t.Parallel()
	// Operators and examples depend on these exact names.
	for _, name := range []string{
		"OTPGATE_LISTEN_ADDR", "OTPGATE_UPSTREAM_URL", "OTPGATE_PATH_PREFIX", "OTPGATE_LDAP_URL", "OTPGATE_LDAP_START_TLS",
		"OTPGATE_LDAP_CA_FILE", "OTPGATE_LDAP_BIND_DN", "OTPGATE_LDAP_BIND_PASSWORD", "OTPGATE_LDAP_BASE_DN",
		"OTPGATE_LDAP_USER_FILTER", "OTPGATE_LDAP_MOBILE_ATTRIBUTE", "OTPGATE_LDAP_TIMEOUT", "OTPGATE_SMS_PROVIDER",
		"OTPGATE_SMS_URL", "OTPGATE_SMS_METHOD", "OTPGATE_SMS_HEADERS", "OTPGATE_SMS_PAYLOAD", "OTPGATE_SMS_SUCCESS_CODES",
		"OTPGATE_SMS_MESSAGE", "OTPGATE_SMS_TIMEOUT", "OTPGATE_TWILIO_ACCOUNT_SID", "OTPGATE_TWILIO_AUTH_TOKEN",
		"OTPGATE_TWILIO_FROM", "OTPGATE_TWILIO_MESSAGING_SERVICE_SID", "OTPGATE_TWILIO_API_URL", "OTPGATE_OTP_LENGTH",
		"OTPGATE_OTP_TTL", "OTPGATE_OTP_MAX_ATTEMPTS", "OTPGATE_COOKIE_SECRET", "OTPGATE_COOKIE_SECURE",
		"OTPGATE_COOKIE_NAME", "OTPGATE_SESSION_LIFETIME", "OTPGATE_SESSION_IDLE", "OTPGATE_COOKIE_SECRET_FILE",
		"OTPGATE_LDAP_BIND_PASSWORD_FILE", "OTPGATE_TWILIO_AUTH_TOKEN_FILE",
	} {
		if !slices.Contains(knownVariables(), name) {
			t.Errorf("otpgate does not read %s", name)
		}
	}
}

func TestConfigRefusesOutOfRangeValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, value, want string
	}{
		{"OTPGATE_OTP_TTL", "11m", "OTPGATE_OTP_TTL: 11m0s: want between 30s and 10m"},
		{"OTPGATE_OTP_LENGTH", "3", "OTPGATE_OTP_LENGTH: 3: want 4 to 10"},
		{"OTPGATE_LDAP_POOL_SIZE", "0", "OTPGATE_LDAP_POOL_SIZE: 0: want 1 to 1000"},
		{"OTPGATE_LDAP_POOL_IDLE_TIMEOUT", "0s", "OTPGATE_LDAP_POOL_IDLE_TIMEOUT: must be positive"},
		{"OTPGATE_MASK_VISIBLE_DIGITS", "5", "OTPGATE_MASK_VISIBLE_DIGITS: 5: want 0 to 4"},
		{"OTPGATE_CAPTURE_MOBILE_BIND", "admin", `OTPGATE_CAPTURE_MOBILE_BIND: "admin": want service or user`},
		{"OTPGATE_SMS_ALLOWED_COUNTRIES", "US,usa", `OTPGATE_SMS_ALLOWED_COUNTRIES: "usa" is not an ISO 3166 country code`},
		{"OTPGATE_ACCESS_RULES", "* /ok bypass\n* /x allow", `OTPGATE_ACCESS_RULES: line 2, column 6: policy "allow"`},
		{"OTPGATE_TRUSTED_PROXIES", "10.0.0.0/40", `OTPGATE_TRUSTED_PROXIES: "10.0.0.0/40" is not an address or CIDR`},
		{"OTPGATE_COOKIE_DOMAIN", "other.org", `OTPGATE_COOKIE_DOMAIN: "other.org" does not contain PUBLIC_URL's host "auth.example.com"`},
		{"OTPGATE_SMS_MESSAGE", "Code {code} for {host}", ""},
		{"OTPGATE_SMS_PROVIDERS", "twilio,pigeon", `OTPGATE_SMS_PROVIDERS: "pigeon": want console, http, http2 or twilio`},
		{"OTPGATE_METRICS_ADDR", "9090", `OTPGATE_METRICS_ADDR: "9090" is not host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			env["OTPGATE_PUBLIC_URL"] = "https://auth.example.com"
			env["OTPGATE_TWILIO_ACCOUNT_SID"] = "AC123"
			env["OTPGATE_TWILIO_AUTH_TOKEN"] = "token"
			env["OTPGATE_TWILIO_FROM"] = "+15005550001"
			env[tt.name] = tt.value
			cfg, err := loadConfig(setEnv(t, env))
			if err == nil {
				_, err = assemble(cfg, discardLogger(), &bytes.Buffer{}, nil)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("%s=%q: %v, want no error", tt.name, tt.value, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%s=%q: error %v, want it to contain %q", tt.name, tt.value, err, tt.want)
			}
		})
	}
}

func TestShortCodesWarnAtStartUp(t *testing.T) {
	t.Parallel()
	env := validEnv()
	env["OTPGATE_OTP_LENGTH"] = "4"
	cfg, err := loadConfig(setEnv(t, env))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	if _, err := assemble(cfg, slog.New(slog.NewTextHandler(&logs, nil)), &bytes.Buffer{}, nil); err != nil {
		t.Fatalf("OTP_LENGTH=4: %v, want it accepted", err)
	}
	if !strings.Contains(logs.String(), "OTPGATE_OTP_LENGTH below 6") {
		t.Fatalf("no warning for 4-digit codes in:\n%s", logs.String())
	}
}

// By default only loopback is a trusted proxy: a client anywhere on the
// intranet cannot choose the address otpgate logs and limits by.
func TestDefaultTrustsLoopbackOnly(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	trusted, err := proxy.ParseTrustedProxies(c.Proxy.TrustedProxies)
	if err != nil {
		t.Fatal(err)
	}
	for remote, want := range map[string]bool{
		"127.0.0.1:1234": true, "127.9.9.9:1234": true, "[::1]:1234": true,
		"10.1.2.3:1234": false, "172.16.0.9:1234": false, "192.168.1.20:1234": false, "[fd00::1]:1234": false, "203.0.113.7:1234": false,
	} {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {"198.51.100.9"}}}
		if got := trusted.Trusts(r); got != want {
			t.Errorf("default OTPGATE_TRUSTED_PROXIES trusts %s: %v, want %v", remote, got, want)
		}
		if wantIP := map[bool]string{true: "198.51.100.9", false: r.RemoteAddr[:strings.LastIndex(r.RemoteAddr, ":")]}[want]; strings.Trim(trusted.ClientIP(r), "[]") != strings.Trim(wantIP, "[]") {
			t.Errorf("client address from %s with X-Forwarded-For 198.51.100.9: %s, want %s", remote, trusted.ClientIP(r), wantIP)
		}
	}
}

func TestIdentityAndHostSettingsAreChecked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Proxy.IdentityHeader.User = []string{"Remote_User"} }, "OTPGATE_IDENTITY_HEADER_USER: \"Remote_User\""},
		{func(c *Config) { c.Proxy.IdentityHeader.User = []string{"X.User"} }, "OTPGATE_IDENTITY_HEADER_USER: \"X.User\""},
		{func(c *Config) { c.Proxy.IdentityHeader.User = nil }, "OTPGATE_IDENTITY_HEADER_USER: must name at least one header"},
		{func(c *Config) { c.Proxy.IdentityHeader.Email = []string{"Cookie"} }, "OTPGATE_IDENTITY_HEADER_EMAIL: \"Cookie\" is a header"},
		{func(c *Config) { c.Proxy.IdentityHeader.Name = []string{"remote-user"} }, "OTPGATE_IDENTITY_HEADER_NAME: \"remote-user\" is also named in OTPGATE_IDENTITY_HEADER_USER"},
		{func(c *Config) { c.Proxy.Hosts = []string{"app.example.com:443"} }, "OTPGATE_HOSTS: \"app.example.com:443\" is not a host name"},
		{func(c *Config) { c.Proxy.Hosts = []string{"app.example.com,x"} }, "OTPGATE_HOSTS"},
		{func(c *Config) {
			c.Proxy.UpstreamURL, c.Proxy.AccessRules = "http://127.0.0.1:3000", "app.example.com /x deny"
		}, "OTPGATE_HOSTS: required in reverse-proxy mode because ACCESS_RULES line 1 names host \"app.example.com\""},
		{func(c *Config) { c.Proxy.AccessRules = "* /a/../b deny" }, "OTPGATE_ACCESS_RULES: line 1, column 3"},
		{func(c *Config) { c.Proxy.AccessRules = "* /a//b deny" }, "OTPGATE_ACCESS_RULES: line 1, column 3"},
	} {
		c, err := loadConfig(setEnv(t, validEnv()))
		if err != nil {
			t.Fatal(err)
		}
		tc.edit(&c)
		_, err = assemble(c, discardLogger(), io.Discard, time.Now)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error containing %q", err, tc.want)
		}
	}
}

// A variable holds, or may hold, a credential when its name ends in one
// of these words or its description says so.
var (
	secretName = regexp.MustCompile(`_(PASSWORD|SECRET|SECRETS|TOKEN|KEY|API_KEY)$`)
	secretDesc = regexp.MustCompile(`(?i)credential|secret|api key`)
)

// Every variable that holds or may hold a credential can be read from a
// file (Kubernetes mounts secrets as files), so that no secret need sit
// in the environment.
func TestSecretsHaveFileForms(t *testing.T) {
	t.Parallel()
	var c Config
	n := 0
	for _, spec := range c.specs() {
		for _, v := range setting.Vars(envPrefix, spec) {
			if !secretName.MatchString(v.Key) && !secretDesc.MatchString(v.Desc) {
				continue
			}
			n++
			if !v.File {
				t.Errorf("%s (%s) may hold a secret but has no %s_FILE form", v.Key, v.Desc, v.Key)
			}
		}
	}
	for _, name := range []string{"OTPGATE_SMS_URL_FILE", "OTPGATE_SMS2_URL_FILE", "OTPGATE_SMS_HEADERS_FILE", "OTPGATE_SMS2_HEADERS_FILE",
		"OTPGATE_SMS_PAYLOAD_FILE", "OTPGATE_TWILIO_AUTH_TOKEN_FILE", "OTPGATE_LDAP_BIND_PASSWORD_FILE", "OTPGATE_COOKIE_SECRET_FILE"} {
		if !slices.Contains(knownVariables(), name) {
			t.Errorf("%s is not read", name)
		}
	}
	if n < 7 {
		t.Errorf("only %d variables look secret-bearing; the pattern misses some", n)
	}
}

// The SMS URL, whose query often holds the gateway's password (Kannel),
// is read from its file like any other secret.
func TestSMSURLFromFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "sms-url")
	const u = "http://127.0.0.1:13013/cgi-bin/sendsms?username=otpgate&password=kannel-secret&to=$ctx.num&text=$ctx.msg"
	if err := os.WriteFile(file, []byte(u+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := validEnv()
	env["OTPGATE_SMS_PROVIDER"] = "http"
	env["OTPGATE_SMS_URL_FILE"] = file
	cfg, err := loadConfig(setEnv(t, env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SMS.URL != u {
		t.Fatalf("SMS_URL from file: got %q, want %q", cfg.SMS.URL, u)
	}
}
