package auth

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestNumberTypesParseMobile(t *testing.T) {
	tests := []struct {
		name        string
		types       []string // nil: the default
		in          string
		want        Mobile
		wantProblem MobileProblem
	}{
		{name: "default: UK mobile", in: "+44 7700 900123", want: Mobile{"+447700900123", "GB"}},
		{name: "default: US personal range (+1 500)", in: "+1 500 555 0006", wantProblem: MobileNotMobile},
		{name: "personal_number allows +1 500", types: []string{"mobile", "personal_number"}, in: "+1 500 555 0006", want: Mobile{"+15005550006", "US"}},
		{name: "default: UK landline", in: "+44 20 7946 0018", wantProblem: MobileNotMobile},
		{name: "fixed_line allows a UK landline", types: []string{"fixed_line"}, in: "+44 20 7946 0018", want: Mobile{"+442079460018", "GB"}},
		{name: "fixed_line alone refuses a UK mobile", types: []string{"fixed_line"}, in: "+44 7400 123456", wantProblem: MobileNotMobile},
		{name: "default: +882 network has no mobiles", in: "+882 1612345678", wantProblem: MobileNotMobile},
		{name: "voip allows +882", types: []string{"voip"}, in: "+882 1612345678", want: Mobile{"+8821612345678", "+882"}},
		{name: "satellite +881 is a mobile of no country", in: "+881 6 12345678", want: Mobile{"+881612345678", "+881"}},
		{name: "Inmarsat +870", in: "+870 773111632", want: Mobile{"+870773111632", "+870"}},
		{name: "international premium rate +979, whatever the kinds", types: []string{"mobile", "fixed_line", "voip", "personal_number", "pager"}, in: "+979 123456789", wantProblem: MobileNotMobile},
		{name: "UK mobile length with landlines allowed too", types: []string{"mobile", "fixed_line"}, in: "+44 7700 90012", want: Mobile{"+44770090012", "GB"}},
		{name: "UK mobile length, mobiles only", in: "+44 7700 90012", wantProblem: MobileTooShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			types, err := ParseNumberTypes(tt.types)
			if err != nil {
				t.Fatal(err)
			}
			got, err := types.ParseMobile(tt.in, "")
			if tt.wantProblem != 0 {
				var ie *InvalidMobileError
				if !errors.As(err, &ie) || ie.Problem != tt.wantProblem {
					t.Fatalf("got %+v, %v; want problem %v", got, err, tt.wantProblem)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseNumberTypes(t *testing.T) {
	tests := []struct {
		in        []string
		want      []string
		wantInErr []string // "" : no error
	}{
		{in: nil, want: DefaultNumberTypes},
		{in: []string{" Mobile ", "VOIP", "mobile", ""}, want: []string{"mobile", "voip"}},
		{in: []string{"mobile", "premium_rate", "toll_free"}, wantInErr: []string{`"premium_rate", "toll_free"`, "never allowed"}},
		{in: []string{"cell"}, wantInErr: []string{`"cell"`, "fixed_line_or_mobile", "personal_number"}},
	}
	for _, tt := range tests {
		got, err := ParseNumberTypes(tt.in)
		if tt.wantInErr != nil {
			if err == nil {
				t.Errorf("%q: got %v, want an error", tt.in, got.Names())
				continue
			}
			for _, w := range tt.wantInErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q: error %q lacks %q", tt.in, err, w)
				}
			}
			continue
		}
		if err != nil || !slices.Equal(got.Names(), tt.want) {
			t.Errorf("%q: got %q, %v; want %q", tt.in, got.Names(), err, tt.want)
		}
	}
}

func TestCountryAllowed(t *testing.T) {
	tests := []struct {
		allowed []string
		region  string
		want    bool
	}{
		{nil, "GB", true},
		{nil, "UZ", true},
		{nil, "+881", false}, // no list: any country, but no range of no country
		{nil, "+870", false},
		{[]string{"GB"}, "GB", true},
		{[]string{"GB"}, "NG", false},
		{[]string{"GB"}, "+881", false},
		{[]string{"GB", "+881"}, "+881", true},
		{[]string{"GB", "+881"}, "+882", false},
	}
	for _, tt := range tests {
		if got := CountryAllowed(tt.allowed, tt.region); got != tt.want {
			t.Errorf("CountryAllowed(%q, %q) = %v, want %v", tt.allowed, tt.region, got, tt.want)
		}
	}
}

func TestCheckAllowedCountry(t *testing.T) {
	tests := []struct{ entry, wantInErr string }{
		{"GB", ""},
		{"US", ""},
		{"+881", ""},
		{"+883", ""},
		{"UK", "not an ISO 3166 country code"}, // the ISO code is GB
		{"gb", "not an ISO 3166 country code"},
		{"001", "not an ISO 3166 country code"},
		{"+44", "not the calling code of a range of no country"}, // a country: name it GB
		{"+0881", "not the calling code of a range of no country"},
		{"+", "not the calling code of a range of no country"},
	}
	for _, tt := range tests {
		got := CheckAllowedCountry(tt.entry)
		if (tt.wantInErr == "") != (got == "") || !strings.Contains(got, tt.wantInErr) {
			t.Errorf("CheckAllowedCountry(%q) = %q, want %q", tt.entry, got, tt.wantInErr)
		}
	}
}
