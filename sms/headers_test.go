package sms

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseHeaders(t *testing.T) {
	tests := []struct {
		name         string
		in           string
		want         []header
		wantProblems []string
	}{
		{"empty", "", nil, nil},
		{
			"one per line, CRLF and blank lines",
			"Authorization: Basic abc\r\n\r\nX-Api-Key:k1  \n",
			[]header{{"Authorization", "Basic abc"}, {"X-Api-Key", "k1"}},
			nil,
		},
		{
			"list value stays one header",
			"Accept: text/html, application/json",
			[]header{{"Accept", "text/html, application/json"}},
			nil,
		},
		{
			"two headers on one line",
			"Authorization: Basic abc, Content-Type: application/json",
			[]header{{"Authorization", "Basic abc"}, {"Content-Type", "application/json"}},
			nil,
		},
		{
			"three on one line with list value",
			"A: 1, B: x, y, C:3",
			[]header{{"A", "1"}, {"B", "x, y"}, {"C", "3"}},
			nil,
		},
		{
			"date value with commas and colons",
			"If-Modified-Since: Mon, 02 Jan 2006 15:04:05 GMT",
			[]header{{"If-Modified-Since", "Mon, 02 Jan 2006 15:04:05 GMT"}},
			nil,
		},
		{
			"placeholder value",
			"X-To: $ctx.num",
			[]header{{"X-To", "$ctx.num"}},
			nil,
		},
		{
			"problems name the line and hide the value",
			"Good: 1\nBasic secret-token\nBad Name: v\n: v\nContent-Length: 5\nX: a\x00b",
			[]header{{"Good", "1"}},
			[]string{
				`line 2: expected "Name: value", found no colon`,
				"line 3: header name is empty or has characters not allowed in a header name",
				"line 4: header name is empty or has characters not allowed in a header name",
				"line 5: Content-Length is set automatically and must not be configured",
				"line 6: value of X has a control character",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problems := parseHeaders(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("headers: got %q, want %q", got, tt.want)
			}
			if !reflect.DeepEqual(problems, tt.wantProblems) {
				t.Errorf("problems: got %q, want %q", problems, tt.wantProblems)
			}
			for _, p := range problems {
				if strings.Contains(p, "secret") {
					t.Errorf("problem %q quotes the configured value", p)
				}
			}
		})
	}
}

func TestSplitHeaderLine(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"A: 1", []string{"A: 1"}},
		{"A: 1, B: 2", []string{"A: 1", "B: 2"}},
		{"A: 1,B: 2", []string{"A: 1,B: 2"}},       // only ", " separates
		{"A: 1, b c: 2", []string{"A: 1, b c: 2"}}, // "b c" is not a token
		{"A: x, , B:2", []string{"A: x, ", "B:2"}},
		{"A: 1, B", []string{"A: 1, B"}},
	}
	for _, tt := range tests {
		if got := splitHeaderLine(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitHeaderLine(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
