package gateway

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestVariablesListsEveryKnownVariableWithItsDefault(t *testing.T) {
	t.Parallel()
	vars := Variables()
	var names []string
	for _, v := range vars {
		names = append(names, v.Name)
	}
	if !slices.Equal(names, knownVariables()) {
		t.Errorf("Variables() names: got %q, want knownVariables() %q", names, knownVariables())
	}
	want := map[string]string{
		"OTPGATE_LISTEN_ADDR":        ":8080",
		"OTPGATE_PATH_PREFIX":        "/otpgate/",
		"OTPGATE_SHUTDOWN_TIMEOUT":   "15s",
		"OTPGATE_PUBLIC_URL":         "",
		"OTPGATE_COOKIE_SECRET":      "",
		"OTPGATE_COOKIE_SECRET_FILE": "",
		"OTPGATE_LDAP_TIMEOUT":       "5s",
		"OTPGATE_COOKIE_NAME":        "otpgate",
	}
	for name, def := range want {
		i := slices.IndexFunc(vars, func(v Variable) bool { return v.Name == name })
		if i < 0 {
			t.Errorf("Variables(): got no %s, want it with default %q", name, def)
			continue
		}
		if vars[i].Default != def {
			t.Errorf("Variables() %s default: got %q, want %q", name, vars[i].Default, def)
		}
	}
}

func TestCheckEnvironment(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "absent")
	secretFile := filepath.Join(t.TempDir(), "cookie-secret")
	if err := os.WriteFile(secretFile, []byte(testSecret(2)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		change  map[string]string // "" deletes
		wantErr string            // "" for none
	}{
		{"valid", nil, ""},
		{"secret from a file", map[string]string{"OTPGATE_COOKIE_SECRET": "", "OTPGATE_COOKIE_SECRET_FILE": secretFile}, ""},
		{"unknown variable", map[string]string{"OTPGATE_LDAP_ULR": "ldap://typo"}, "OTPGATE_LDAP_ULR: not a known variable; did you mean OTPGATE_LDAP_URL?"},
		{"unreadable value", map[string]string{"OTPGATE_OTP_TTL": "five minutes"}, "OTPGATE_OTP_TTL"},
		{"unreadable file", map[string]string{"OTPGATE_COOKIE_SECRET": "", "OTPGATE_COOKIE_SECRET_FILE": missing}, "OTPGATE_COOKIE_SECRET"},
		{"value start-up refuses", map[string]string{"OTPGATE_LISTEN_ADDR": "8080"}, "OTPGATE_LISTEN_ADDR"},
		{"short cookie secret", map[string]string{"OTPGATE_COOKIE_SECRET": "c2hvcnQ="}, "OTPGATE_COOKIE_SECRET"},
		// The SMS provider is checked by its part, in assemble: not here.
		{"parts' own settings unchecked", map[string]string{"OTPGATE_SMS_PROVIDER": "carrier-pigeon"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := validEnv()
			for k, v := range tc.change {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			err := CheckEnvironment(setEnv(t, env))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("CheckEnvironment: got %v, want nil", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("CheckEnvironment: got nil, want an error naming %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("CheckEnvironment: got %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}
