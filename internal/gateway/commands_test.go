package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/otpgate/otpgate/auth/slapdtest"
	"github.com/otpgate/otpgate/internal/testserver"
	"github.com/otpgate/otpgate/internal/version"
)

// runMain runs otpgate's Main with args and environ and returns its exit
// status and output.
func runMain(t *testing.T, environ []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(args, environ, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVersionCommand(t *testing.T) {
	t.Parallel()
	code, out, _ := runMain(t, nil, "version")
	if code != exitOK {
		t.Fatalf("otpgate version: exit status %d, want 0", code)
	}
	want := regexp.MustCompile(`^otpgate (devel|v\S+)( \(commit [0-9a-f]+(-dirty)?\))? go1\.\d+\S*\n$`)
	if !want.MatchString(out) {
		t.Fatalf("otpgate version printed %q, want it to match %s", out, want)
	}
	if !strings.Contains(out, version.Get().Go) {
		t.Errorf("otpgate version printed %q, want the Go release %q", out, version.Get().Go)
	}
}

// A secret from `otpgate secret` is accepted as OTPGATE_COOKIE_SECRET as
// printed, is 32 random bytes, and is new every time.
func TestSecretCommand(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 3 {
		code, out, _ := runMain(t, nil, "secret")
		if code != exitOK {
			t.Fatalf("otpgate secret: exit status %d, want 0", code)
		}
		secret := strings.TrimSuffix(out, "\n")
		b, err := base64.StdEncoding.DecodeString(secret)
		if err != nil || len(b) != 32 {
			t.Fatalf("otpgate secret printed %q: want standard base64 of 32 bytes (%d bytes, %v)", out, len(b), err)
		}
		env := validEnv()
		env["OTPGATE_COOKIE_SECRET"] = secret
		if err := CheckEnvironment(setEnv(t, env)); err != nil {
			t.Fatalf("OTPGATE_COOKIE_SECRET=%s (from otpgate secret) refused: %v", secret, err)
		}
		if seen[secret] {
			t.Fatalf("otpgate secret printed %q twice", secret)
		}
		seen[secret] = true
	}
}

func TestHelpCommand(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"help", "-help", "--help", "-h"} {
		code, out, _ := runMain(t, nil, arg)
		if code != exitOK {
			t.Fatalf("otpgate %s: exit status %d, want 0", arg, code)
		}
		for _, want := range []string{"validate", "secret", "version", "demo", "OTPGATE_LOG_FORMAT", "OTPGATE_SMS_URL_FILE"} {
			if !strings.Contains(out, want) {
				t.Errorf("otpgate %s does not mention %s:\n%s", arg, want, out)
			}
		}
	}
	if code, _, errOut := runMain(t, nil, "frobnicate"); code != exitConfig || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("otpgate frobnicate: exit status %d, stderr %q; want %d and the command named", code, errOut, exitConfig)
	}
}

// validate checks each stage against a real slapd and the SMS gateway
// test server, exits with the status of the stage that failed, sends no
// SMS and prints no secret.
func TestValidateCommand(t *testing.T) {
	dir := slapdtest.Start(t)
	smsGW := newSMSGateway(t)
	good := func() map[string]string {
		return map[string]string{
			"OTPGATE_LDAP_URL":           dir.URL,
			"OTPGATE_LDAP_BIND_DN":       dir.BindDN,
			"OTPGATE_LDAP_BIND_PASSWORD": dir.BindPassword,
			"OTPGATE_LDAP_BASE_DN":       dir.BaseDN,
			"OTPGATE_COOKIE_SECRET":      testSecret(1),
			"OTPGATE_SMS_PROVIDER":       "http",
			"OTPGATE_SMS_URL":            smsGW.srv.URL + smsPath,
			"OTPGATE_SMS_HEADERS":        "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(testSID+":"+testToken)),
			"OTPGATE_SMS_PAYLOAD":        "Body=$ctx.msg&To=$ctx.num&From=%2B15005550001",
		}
	}
	tests := []struct {
		name     string
		edit     func(map[string]string)
		wantCode int
		wantOut  []string
	}{
		{"good", func(map[string]string) {}, exitOK, []string{
			"configuration: ok", "directory: ok: bound as " + dir.BindDN, "sms http: ok: would POST to " + smsGW.srv.URL + " a ", "nothing sent"}},
		{"configuration", func(e map[string]string) { e["OTPGATE_OTP_TTL"] = "soon"; delete(e, "OTPGATE_LDAP_BASE_DN") }, exitConfig, []string{
			"configuration: not valid", "OTPGATE_OTP_TTL", "OTPGATE_LDAP_BASE_DN"}},
		{"wrong bind password", func(e map[string]string) { e["OTPGATE_LDAP_BIND_PASSWORD"] = "not-the-password" }, exitDirectory, []string{
			"configuration: ok", "directory: failed", "sms http: ok"}},
		{"base DN missing", func(e map[string]string) { e["OTPGATE_LDAP_BASE_DN"] = "ou=nowhere,dc=example,dc=org" }, exitDirectory, []string{
			"directory: failed", "ou=nowhere,dc=example,dc=org"}},
		{"directory down", func(e map[string]string) { e["OTPGATE_LDAP_URL"] = "ldap://127.0.0.1:1" }, exitDirectory, []string{
			"directory: failed"}},
		// The message goes in a header here, where its line break cannot.
		{"SMS template", func(e map[string]string) {
			e["OTPGATE_SMS_HEADERS"] += "\nX-Text: $ctx.msg"
			e["OTPGATE_SMS_MESSAGE"] = "Your code:\n{code}"
		}, exitSMS, []string{"configuration: ok", "directory: ok", "sms http: failed", "X-Text"}},
		{"directory and SMS", func(e map[string]string) {
			e["OTPGATE_LDAP_BIND_PASSWORD"] = "not-the-password"
			e["OTPGATE_SMS_HEADERS"] += "\nX-Text: $ctx.msg"
			e["OTPGATE_SMS_MESSAGE"] = "Your code:\n{code}"
		}, exitDirectory, []string{"directory: failed", "sms http: failed"}},
		{"console", func(e map[string]string) { e["OTPGATE_SMS_PROVIDER"] = "console" }, exitOK, []string{"sms console: ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := good()
			tt.edit(env)
			code, out, errOut := runMain(t, setEnv(t, env), "validate")
			if code != tt.wantCode {
				t.Errorf("exit status %d, want %d; stdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			for _, secret := range []string{dir.BindPassword, "not-the-password", testToken,
				base64.StdEncoding.EncodeToString([]byte(testSID + ":" + testToken)), testSecret(1), sampleCode} {
				if strings.Contains(out+errOut, secret) {
					t.Errorf("output shows the secret %q:\n%s\n%s", secret, out, errOut)
				}
			}
		})
	}
	if sent := smsGW.sent(); len(sent) != 0 {
		t.Errorf("validate sent %d SMS, want none: %v", len(sent), sent)
	}
}

// Each configuration problem is printed once, however many parts check
// the variable.
func TestConfigProblemsPrintedOnce(t *testing.T) {
	t.Parallel()
	code, _, errOut := runMain(t, []string{"OTPGATE_LISTEN_ADDR=127.0.0.1:0"})
	if code != exitConfig {
		t.Fatalf("exit status %d, want %d; stderr:\n%s", code, exitConfig, errOut)
	}
	for _, name := range []string{"OTPGATE_LDAP_URL", "OTPGATE_LDAP_BIND_DN", "OTPGATE_LDAP_BIND_PASSWORD", "OTPGATE_LDAP_BASE_DN", "OTPGATE_COOKIE_SECRET"} {
		if n := strings.Count(errOut, "  - "+name+": "); n != 1 {
			t.Errorf("%s reported %d times, want once:\n%s", name, n, errOut)
		}
	}
}

// The log format is what OTPGATE_LOG_FORMAT says, from the first line,
// which names the version.
func TestLogFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format string
		line   *regexp.Regexp
	}{
		{"json", regexp.MustCompile(`^\{"time":"[^"]+","level":"INFO","msg":"otpgate starting","version":"[^"]+","commit":"[^"]*","go":"go1[^"]+"\}$`)},
		{"text", regexp.MustCompile(`^time=\S+ level=INFO msg="otpgate starting" version=\S+ commit=\S* go=go1\S+$`)},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			env := validEnv()
			env["OTPGATE_LOG_FORMAT"] = tt.format
			env["OTPGATE_LISTEN_ADDR"] = "127.0.0.1:0"
			env["OTPGATE_LDAP_URL"] = "ldap://127.0.0.1:1"
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // serve, then shut down at once
			// The directory check at start-up may still log after run
			// returns, so stderr must take concurrent writes.
			var out, errOut testserver.Output
			if code := run(ctx, nil, setEnv(t, env), &out, &errOut); code != exitOK {
				t.Fatalf("exit status %d, want 0; stderr:\n%s", code, errOut.String())
			}
			lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
			if !tt.line.MatchString(lines[0]) {
				t.Errorf("first line %q, want it to match %s", lines[0], tt.line)
			}
			for _, l := range lines {
				var v map[string]any
				if isJSON := json.Unmarshal([]byte(l), &v) == nil; isJSON != (tt.format == "json") {
					t.Errorf("line %q is not in the %s format", l, tt.format)
				}
			}
		})
	}
}
