package sms

import (
	"context"
	"errors"
	"github.com/otpgate/otpgate/internal/setting"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// twilioServer mimics Twilio's Messages endpoint: it records the request
// and answers with status and body as JSON.
func twilioServer(t *testing.T, status int, body string) (*httptest.Server, <-chan *http.Request, <-chan url.Values) {
	t.Helper()
	reqs := make(chan *http.Request, 1)
	forms := make(chan url.Values, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, err := url.ParseQuery(string(b))
		if err != nil {
			t.Errorf("form: %v", err)
		}
		reqs <- r.Clone(context.Background())
		forms <- form
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, reqs, forms
}

func TestTwilioSend(t *testing.T) {
	tests := []struct {
		name     string
		cfg      TwilioConfig
		wantForm url.Values
	}{
		{
			"from number",
			TwilioConfig{AccountSID: "AC123", AuthToken: "token", From: "+15005550001"},
			url.Values{"To": {"+15550100006"}, "Body": {testMsg}, "From": {"+15005550001"}},
		},
		{
			"messaging service",
			TwilioConfig{AccountSID: "AC123", AuthToken: "token", MessagingServiceSID: "MG456"},
			url.Values{"To": {"+15550100006"}, "Body": {testMsg}, "MessagingServiceSid": {"MG456"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, reqs, forms := twilioServer(t, http.StatusCreated, `{"sid":"SM789","status":"queued"}`)
			cfg := tt.cfg
			cfg.APIURL = srv.URL + "/"
			tw, err := NewTwilio(cfg, srv.Client())
			if err != nil {
				t.Fatalf("NewTwilio: %v", err)
			}
			if err := tw.Send(context.Background(), "+15550100006", testMsg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			r, form := <-reqs, <-forms
			user, pass, ok := r.BasicAuth()
			checks := []struct{ what, got, want string }{
				{"method", r.Method, "POST"},
				{"path", r.URL.Path, "/2010-04-01/Accounts/AC123/Messages.json"},
				{"query", r.URL.RawQuery, ""},
				{"basic auth user", user, "AC123"},
				{"basic auth password", pass, "token"},
				{"Content-Type", r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"},
				{"Accept", r.Header.Get("Accept"), "application/json"},
			}
			if !ok {
				t.Error("no basic auth")
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s: got %q, want %q", c.what, c.got, c.want)
				}
			}
			if !reflect.DeepEqual(form, tt.wantForm) {
				t.Errorf("form: got %q, want %q", form, tt.wantForm)
			}
		})
	}
}

func TestTwilioErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    TwilioError
		wantMsg string
	}{
		{
			"invalid number",
			400,
			`{"code": 21211, "message": "The 'To' number +15550100006 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}`,
			TwilioError{Status: 400, Code: 21211, Message: "The 'To' number +15550100006 is not a valid phone number.", MoreInfo: "https://www.twilio.com/docs/errors/21211"},
			"status 400, Twilio error 21211: The 'To' number +15550100006 is not a valid phone number. (https://www.twilio.com/docs/errors/21211)",
		},
		{
			"bad credentials",
			401,
			`{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}`,
			TwilioError{Status: 401, Code: 20003, Message: "Authenticate", MoreInfo: "https://www.twilio.com/docs/errors/20003"},
			"status 401, Twilio error 20003: Authenticate (https://www.twilio.com/docs/errors/20003)",
		},
		{
			"non-JSON 5xx",
			502,
			"<html><body>\n<h1>502 Bad Gateway</h1>\n</body></html>",
			TwilioError{Status: 502, Message: "<html><body> <h1>502 Bad Gateway</h1> </body></html>"},
			"status 502: <html><body> <h1>502 Bad Gateway</h1> </body></html>",
		},
		{
			"empty 503",
			503,
			"",
			TwilioError{Status: 503},
			"status 503",
		},
		{
			"control characters in message",
			429,
			`{"code":20429,"message":"Too many\r\nFAKE LOG LINE"}`,
			TwilioError{Status: 429, Code: 20429, Message: "Too many FAKE LOG LINE"},
			"status 429, Twilio error 20429: Too many FAKE LOG LINE",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _, _ := twilioServer(t, tt.status, tt.body)
			tw, err := NewTwilio(TwilioConfig{AccountSID: "AC123", AuthToken: "token", From: "+15005550001", APIURL: srv.URL}, srv.Client())
			if err != nil {
				t.Fatalf("NewTwilio: %v", err)
			}
			err = tw.Send(context.Background(), "+15550100006", "code 987654")
			var te *TwilioError
			if !errors.As(err, &te) {
				t.Fatalf("got %v, want a *TwilioError", err)
			}
			if *te != tt.want {
				t.Errorf("got %+v, want %+v", *te, tt.want)
			}
			want := "sms twilio POST " + srv.URL + "/2010-04-01/Accounts/AC123/Messages.json: " + tt.wantMsg
			if err.Error() != want {
				t.Errorf("got %q, want %q", err, want)
			}
			if strings.Contains(err.Error(), "token") || strings.Contains(err.Error(), "987654") {
				t.Errorf("error %q reveals a secret", err)
			}
		})
	}
}

func TestTwilioDeadlineAndInvalidNumber(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices the client hanging up only once the body
		// has been read, so read it before waiting.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	defer srv.Close()
	tw, err := NewTwilio(TwilioConfig{AccountSID: "AC123", AuthToken: "token", From: "+15005550001", APIURL: srv.URL}, nil)
	if err != nil {
		t.Fatalf("NewTwilio: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := tw.Send(ctx, "+15550100006", "hi"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want context.DeadlineExceeded", err)
	}
	if err := tw.Send(context.Background(), "5550100006", "hi"); !errors.Is(err, errInvalidNumber) {
		t.Errorf("got %v, want errInvalidNumber", err)
	}
}

func TestNewTwilioConfigProblems(t *testing.T) {
	tests := []struct {
		name       string
		cfg        TwilioConfig
		wantFields []string
	}{
		{"valid from", TwilioConfig{AccountSID: "AC1", AuthToken: "t", From: "+15005550001"}, nil},
		{"valid service", TwilioConfig{AccountSID: "AC1", AuthToken: "t", MessagingServiceSID: "MG1"}, nil},
		{"valid alphanumeric sender", TwilioConfig{AccountSID: "AC1", AuthToken: "t", From: "OTPGate"}, nil},
		{"empty", TwilioConfig{}, []string{"ACCOUNT_SID", "AUTH_TOKEN", "FROM"}},
		{"both senders", TwilioConfig{AccountSID: "AC1", AuthToken: "t", From: "+1", MessagingServiceSID: "MG1"}, []string{"FROM"}},
		{"API key instead of account", TwilioConfig{AccountSID: "SK1", AuthToken: "t", From: "+1"}, []string{"ACCOUNT_SID"}},
		{"path characters in SID", TwilioConfig{AccountSID: "AC1/../x", AuthToken: "t", From: "+1"}, []string{"ACCOUNT_SID"}},
		{"bad service SID", TwilioConfig{AccountSID: "AC1", AuthToken: "t", MessagingServiceSID: "PN1"}, []string{"MESSAGING_SERVICE_SID"}},
		{"relative API URL", TwilioConfig{AccountSID: "AC1", AuthToken: "t", From: "+1", APIURL: "api.twilio.com"}, []string{"API_URL"}},
		{"API URL with query", TwilioConfig{AccountSID: "AC1", AuthToken: "t", From: "+1", APIURL: "https://h/?x=1"}, []string{"API_URL"}},
		{"everything wrong", TwilioConfig{AccountSID: "x", APIURL: "ftp://h"}, []string{"ACCOUNT_SID", "AUTH_TOKEN", "FROM", "API_URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw, err := NewTwilio(tt.cfg, nil)
			var got []string
			for _, ce := range setting.Problems(err) {
				got = append(got, ce.Name)
			}
			if !reflect.DeepEqual(got, tt.wantFields) {
				t.Fatalf("fields: got %q, want %q (error: %v)", got, tt.wantFields, err)
			}
			if (err == nil) != (tw != nil) {
				t.Errorf("got tw=%v err=%v, want exactly one", tw, err)
			}
		})
	}
}

func TestNewTwilioDefaultEndpoint(t *testing.T) {
	tw, err := NewTwilio(TwilioConfig{AccountSID: "AC123", AuthToken: "t", From: "+1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"; tw.endpoint != want {
		t.Errorf("got %q, want %q", tw.endpoint, want)
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc"},
		{"a€b", 2, "a"}, // never splits "€"
	}
	for _, tt := range tests {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d): got %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
