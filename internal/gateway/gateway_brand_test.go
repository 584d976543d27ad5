package gateway

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/otpgate/otpgate/auth/slapdtest"
)

// TestBrandAndLanguageEndToEnd: a German browser gets the brand's German
// pages and, with OTPGATE_SMS_MESSAGE at its default, a German SMS; an
// English one the English of both.
func TestBrandAndLanguageEndToEnd(t *testing.T) {
	e := startEnv(t, func(c *Config) { c.UI.BrandName = "Acme" })
	alice := slapdtest.Alice
	for _, tc := range []struct {
		acceptLanguage, heading, codeTitle, sms string
	}{
		{"de-CH, en;q=0.5", "<h1>Bei Acme anmelden</h1>", "<title>Code eingeben · Acme</title>", `^Ihr Anmeldecode lautet \d{6}\. Er ist 5 Minuten gültig\.$`},
		{"en-GB", "<h1>Sign in to Acme</h1>", "<title>Enter your code · Acme</title>", `^Your sign-in code is \d{6}\. It expires in 5 minutes\.$`},
	} {
		b := e.browser()
		lang := []string{"Accept-Language", tc.acceptLanguage}
		page := b.get("/otpgate/signin?rd=%2F", lang...)
		if !strings.Contains(page.body, tc.heading) {
			t.Errorf("%s: sign-in page without %q:\n%s", tc.acceptLanguage, tc.heading, page.body)
		}
		tok := csrfField.FindStringSubmatch(page.body)
		if tok == nil {
			t.Fatalf("no CSRF token in:\n%s", page.body)
		}
		r := b.do("POST", "/otpgate/signin", url.Values{"csrf": {tok[1]}, "rd": {"/"}, "username": {alice.Username}, "password": {alice.Password}}, lang...)
		if r.location != "/otpgate/code" {
			t.Fatalf("%s: password step: %d to %q", tc.acceptLanguage, r.status, r.location)
		}
		if code := b.get("/otpgate/code", lang...); !strings.Contains(code.body, tc.codeTitle) {
			t.Errorf("%s: code page without %q:\n%s", tc.acceptLanguage, tc.codeTitle, code.body)
		}
		sent := e.sms.sent()
		if got := sent[len(sent)-1].Body; !regexp.MustCompile(tc.sms).MatchString(got) {
			t.Errorf("%s: got SMS %q, want %s", tc.acceptLanguage, got, tc.sms)
		}
	}
}

// TestBrandAndLanguageSettingsAreChecked: every problem of the brand and
// language settings stops start-up, each naming its variable.
func TestBrandAndLanguageSettingsAreChecked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "de.toml"), []byte(`SMSMessage = "{code} für {host}"`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := validEnv()
	env["OTPGATE_BRAND_COLOR"] = "#ffcc00"
	env["OTPGATE_BRAND_LOGO_FILE"] = filepath.Join(dir, "de.toml")
	env["OTPGATE_BRAND_HELP_URL"] = "javascript:alert(1)"
	env["OTPGATE_LANGUAGE"] = "xx"
	env["OTPGATE_TRANSLATIONS_DIR"] = dir
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), nil, setEnv(t, env), &stdout, &stderr); code != exitConfig {
		t.Fatalf("run exit status %d, want %d; stderr:\n%s", code, exitConfig, stderr.String())
	}
	for _, want := range []string{
		"OTPGATE_BRAND_COLOR: #ffcc00 has a contrast of 1.51:1 with white",
		"OTPGATE_BRAND_LOGO_FILE: " + filepath.Join(dir, "de.toml") + " is not a PNG, JPEG, WebP or SVG image",
		"OTPGATE_BRAND_HELP_URL: ",
		`OTPGATE_LANGUAGE: "xx" is not an available language`,
		"OTPGATE_PUBLIC_URL: required when an SMS text in TRANSLATIONS_DIR uses {host}",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
