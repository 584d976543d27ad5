package sms

import (
	"reflect"
	"testing"
)

func TestParseSuccessCodes(t *testing.T) {
	tests := []struct {
		in           string
		want         []statusRange
		wantProblems []string
	}{
		{"", nil, nil},
		{"  ", nil, nil},
		{"200", []statusRange{{200, 200}}, nil},
		{"200, 201,202", []statusRange{{200, 200}, {201, 201}, {202, 202}}, nil},
		{"2xx,3XX", []statusRange{{200, 299}, {300, 399}}, nil},
		{"200,abc,6xx,99,600,,2000", []statusRange{{200, 200}}, []string{
			`"abc" is not a status code (100-599) or class (2xx)`,
			`"6xx" is not a status code (100-599) or class (2xx)`,
			`"99" is not a status code (100-599) or class (2xx)`,
			`"600" is not a status code (100-599) or class (2xx)`,
			`"" is not a status code (100-599) or class (2xx)`,
			`"2000" is not a status code (100-599) or class (2xx)`,
		}},
		{"+20", nil, []string{`"+20" is not a status code (100-599) or class (2xx)`}},
	}
	for _, tt := range tests {
		got, problems := parseSuccessCodes(tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseSuccessCodes(%q): got %v, want %v", tt.in, got, tt.want)
		}
		if !reflect.DeepEqual(problems, tt.wantProblems) {
			t.Errorf("parseSuccessCodes(%q) problems: got %q, want %q", tt.in, problems, tt.wantProblems)
		}
	}
}

func TestIsSuccess(t *testing.T) {
	tests := []struct {
		ranges []statusRange
		status int
		want   bool
	}{
		{nil, 200, true},
		{nil, 204, true},
		{nil, 299, true},
		{nil, 199, false},
		{nil, 302, false},
		{nil, 500, false},
		{[]statusRange{{202, 202}}, 200, false},
		{[]statusRange{{202, 202}}, 202, true},
		{[]statusRange{{200, 299}, {302, 302}}, 302, true},
	}
	for _, tt := range tests {
		if got := isSuccess(tt.ranges, tt.status); got != tt.want {
			t.Errorf("isSuccess(%v, %d): got %v, want %v", tt.ranges, tt.status, got, tt.want)
		}
	}
}

func TestStatusErrorMessage(t *testing.T) {
	tests := []struct {
		err  *StatusError
		want string
	}{
		{&StatusError{StatusCode: 500, Body: "boom"}, "status 500 Internal Server Error: boom"},
		{&StatusError{StatusCode: 429}, "status 429 Too Many Requests"},
		{&StatusError{StatusCode: 599, Body: "x"}, "status 599: x"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}
