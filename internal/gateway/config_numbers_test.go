package gateway

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// Where codes may go is checked at start-up: capture needs a country list
// or a default region, the list takes ISO codes and ranges of no country by
// calling code, and the kinds of number are known ones that take texts.
func TestNumberSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		env           map[string]string
		wantErr       []string // each in the error; none: it assembles
		wantCountries []string
	}{
		{name: "defaults", wantCountries: nil},
		{name: "capture with neither list nor region",
			env:     map[string]string{"OTPGATE_CAPTURE_MOBILE": "true"},
			wantErr: []string{"OTPGATE_CAPTURE_MOBILE: true needs OTPGATE_SMS_ALLOWED_COUNTRIES", "or OTPGATE_DEFAULT_REGION"}},
		{name: "capture defaults the list to the region",
			env:           map[string]string{"OTPGATE_CAPTURE_MOBILE": "true", "OTPGATE_DEFAULT_REGION": "GB"},
			wantCountries: []string{"GB"}},
		{name: "capture with a list keeps the list",
			env:           map[string]string{"OTPGATE_CAPTURE_MOBILE": "true", "OTPGATE_DEFAULT_REGION": "GB", "OTPGATE_SMS_ALLOWED_COUNTRIES": "GB, IE,+881"},
			wantCountries: []string{"GB", "IE", "+881"}},
		{name: "a region without capture is no list",
			env:           map[string]string{"OTPGATE_DEFAULT_REGION": "GB"},
			wantCountries: nil},
		{name: "bad list entries",
			env: map[string]string{"OTPGATE_SMS_ALLOWED_COUNTRIES": "GB,UK,+44,+881"},
			wantErr: []string{`OTPGATE_SMS_ALLOWED_COUNTRIES: "UK" is not an ISO 3166 country code`,
				`OTPGATE_SMS_ALLOWED_COUNTRIES: "+44" is not the calling code of a range of no country`}},
		{name: "number types",
			env:           map[string]string{"OTPGATE_SMS_NUMBER_TYPES": "mobile,fixed_line_or_mobile,personal_number"},
			wantCountries: nil},
		{name: "costly number types refused",
			env:     map[string]string{"OTPGATE_SMS_NUMBER_TYPES": "mobile,premium_rate"},
			wantErr: []string{`OTPGATE_SMS_NUMBER_TYPES: "premium_rate": want some of`}},
		{name: "all at once",
			env:     map[string]string{"OTPGATE_CAPTURE_MOBILE": "true", "OTPGATE_SMS_NUMBER_TYPES": "cell"},
			wantErr: []string{"OTPGATE_CAPTURE_MOBILE: true needs", `OTPGATE_SMS_NUMBER_TYPES: "cell"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, err := loadConfig(setEnv(t, env))
			if err != nil {
				t.Fatal(err)
			}
			_, err = assemble(cfg, discardLogger(), &bytes.Buffer{}, nil)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("assemble: %v", err)
				}
				chk, _ := cfg.validate()
				if got := chk.auth.AllowedCountries; !slices.Equal(got, tt.wantCountries) {
					t.Errorf("allowed countries %q, want %q", got, tt.wantCountries)
				}
				return
			}
			for _, want := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("assemble error %v: want it to contain %q", err, want)
				}
			}
		})
	}
}
