package sms

import (
	"context"
	"errors"
	"github.com/otpgate/otpgate/internal/setting"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestHTTPSuccessMatch(t *testing.T) {
	const msg = "Your sign-in code is 123456."
	tests := []struct {
		name    string
		match   string
		status  int
		body    string
		wantErr string // "" means success
	}{
		{"no match configured, error body ignored", "", 200, `{"status":"error"}`, ""},
		{"matching body", `"status":\s*"ok"`, 200, `{"id":1, "status": "ok"}`, ""},
		{"error in a 200 body", `"status":\s*"ok"`, 200, `{"status":"error","reason":"no credit"}`,
			`status 200 OK but the body does not match SuccessMatch: {"status":"error","reason":"no credit"}`},
		{"empty body", `^OK`, 200, "", "status 200 OK but the body does not match SuccessMatch"},
		{"Kannel accepted", `^0: Accepted`, 202, "0: Accepted for delivery", ""},
		{"Kannel queued is not accepted", `^0: Accepted`, 202, "3: Queued for later delivery",
			"status 202 Accepted but the body does not match SuccessMatch: 3: Queued for later delivery"},
		{"case-insensitive flag", `(?i)^ok\b`, 200, "OK 1 sent", ""},
		{"status still decides first", `ok`, 500, "ok", "status 500 Internal Server Error: ok"},
		{"match beyond 64 KiB is not seen", `SENT`, 200, strings.Repeat(" ", maxMatchBody) + "SENT",
			"status 200 OK but the body does not match SuccessMatch"},
		{"match just inside 64 KiB", `SENT`, 200, strings.Repeat(" ", maxMatchBody-4) + "SENT", ""},
		{"echoed message is redacted", `"ok":true`, 200, `{"ok":false,"text":"` + msg + `"}`,
			`status 200 OK but the body does not match SuccessMatch: {"ok":false,"text":"[message]"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			h := newHTTP(t, HTTPConfig{
				URL:          srv.URL + "/send?to=$ctx.num&text=$ctx.msg",
				Method:       "GET",
				SuccessMatch: tt.match,
			}, nil)
			err := h.Send(context.Background(), "+15550100006", msg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			want := "sms http gateway GET " + srv.URL + "/send: " + tt.wantErr
			if err == nil || err.Error() != want {
				t.Fatalf("got %v, want %q", err, want)
			}
			if strings.Contains(err.Error(), "123456") {
				t.Errorf("error %q reveals the code", err)
			}
		})
	}
}

func TestHTTPSuccessMatchErrorType(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ERR 17 unknown number")
	}))
	defer srv.Close()
	h := newHTTP(t, HTTPConfig{URL: srv.URL + "/?to=$ctx.num&text=$ctx.msg", Method: "GET", SuccessMatch: "^OK"}, nil)
	err := h.Send(context.Background(), "+15550100006", "hi")
	var me *MatchError
	if !errors.As(err, &me) {
		t.Fatalf("got %v, want a *MatchError", err)
	}
	if want := (MatchError{StatusCode: 200, Body: "ERR 17 unknown number"}); *me != want {
		t.Errorf("got %+v, want %+v", *me, want)
	}
	var se *StatusError
	if errors.As(err, &se) {
		t.Errorf("got a *StatusError %v as well, want only *MatchError", se)
	}
}

// A body cut off before the match could be checked is a failure, not a
// success: the verdict was in the part that never came.
func TestHTTPSuccessMatchTruncatedBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, "partial") // then the handler returns: the body is short
	}))
	defer srv.Close()
	h := newHTTP(t, HTTPConfig{URL: srv.URL + "/?to=$ctx.num&text=$ctx.msg", Method: "GET", SuccessMatch: "partial"}, nil)
	err := h.Send(context.Background(), "+15550100006", "hi")
	if err == nil || !strings.Contains(err.Error(), "read response for SuccessMatch") {
		t.Fatalf("got %v, want a read error", err)
	}
}

func TestNewHTTPSuccessMatchConfig(t *testing.T) {
	const url = "https://gw.example/send?to=$ctx.num&text=$ctx.msg"
	tests := []struct {
		match       string
		wantProblem string // "" means valid
	}{
		{"", ""},
		{"   ", ""},
		{`^0: Accepted`, ""},
		{`(?i)"status":\s*"(ok|queued)"`, ""},
		{`(unclosed`, "is not a valid Go regular expression: missing closing )"},
		{`[z-a]`, "is not a valid Go regular expression: invalid character class range"},
		{`a**`, "is not a valid Go regular expression: invalid nested repetition operator"},
		{`x(?=y)`, "is not a valid Go regular expression: invalid or unsupported Perl syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.match, func(t *testing.T) {
			_, err := NewHTTP(HTTPConfig{URL: url, Method: "GET", SuccessMatch: tt.match}, nil)
			var got []setting.Problem
			for _, ce := range setting.Problems(err) {
				got = append(got, *ce)
			}
			var want []setting.Problem
			if tt.wantProblem != "" {
				want = []setting.Problem{{Name: "SUCCESS_MATCH", Text: tt.wantProblem}}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}
