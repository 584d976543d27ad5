package sms

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
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

// seen is what a test gateway received.
type seen struct {
	method, path, rawQuery, host string
	header                       http.Header
	body                         string
}

// gateway starts a server that records each request on the returned
// channel and answers with status and body.
func gateway(t *testing.T, tls bool, status int, body string) (*httptest.Server, <-chan seen) {
	t.Helper()
	ch := make(chan seen, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Host, r.Header.Clone(), string(b)}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
	srv := httptest.NewUnstartedServer(h)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, ch
}

func newHTTP(t *testing.T, cfg HTTPConfig, client *http.Client) *HTTP {
	t.Helper()
	h, err := NewHTTP(cfg, client)
	if err != nil {
		t.Fatalf("NewHTTP: %v", err)
	}
	return h
}

const testMsg = "Your code is 123456 & more +=%?#/ ✓"

// The Twilio configuration as an operator would write it for the generic
// gateway, following WSO2's documentation.
func TestHTTPTwilioStyleForm(t *testing.T) {
	srv, got := gateway(t, true, http.StatusCreated, `{"sid":"SM1"}`)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("AC123:token"))
	h := newHTTP(t, HTTPConfig{
		URL:     srv.URL + "/2010-04-01/Accounts/AC123/Messages.json",
		Method:  "POST",
		Headers: "Authorization: " + auth,
		Payload: "Body=$ctx.msg&To=$ctx.num&From=%2B15005550001",
	}, srv.Client())

	if err := h.Send(context.Background(), "+15550100006", testMsg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := <-got
	checks := []struct{ what, got, want string }{
		{"method", r.method, "POST"},
		{"path", r.path, "/2010-04-01/Accounts/AC123/Messages.json"},
		{"query", r.rawQuery, ""},
		{"Authorization", r.header.Get("Authorization"), auth},
		{"Content-Type", r.header.Get("Content-Type"), "application/x-www-form-urlencoded"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.what, c.got, c.want)
		}
	}
	form, err := url.ParseQuery(r.body)
	if err != nil {
		t.Fatalf("form: %v", err)
	}
	want := url.Values{"To": {"+15550100006"}, "From": {"+15005550001"}, "Body": {testMsg}}
	if !reflect.DeepEqual(form, want) {
		t.Errorf("form: got %q, want %q", form, want)
	}
}

func TestHTTPKannelStyleGET(t *testing.T) {
	srv, got := gateway(t, false, http.StatusAccepted, "0: Accepted for delivery")
	h := newHTTP(t, HTTPConfig{
		URL:    srv.URL + "/cgi-bin/sendsms?username=u&password=p&to=$ctx.num&text=$ctx.msg",
		Method: "get",
	}, nil)

	if err := h.Send(context.Background(), "+15550100006", testMsg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := <-got
	if r.method != "GET" || r.path != "/cgi-bin/sendsms" {
		t.Errorf("request: got %q %q, want %q %q", r.method, r.path, "GET", "/cgi-bin/sendsms")
	}
	if r.body != "" || r.header.Get("Content-Type") != "" {
		t.Errorf("body: got %q with type %q, want none", r.body, r.header.Get("Content-Type"))
	}
	q, err := url.ParseQuery(r.rawQuery)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	want := url.Values{"username": {"u"}, "password": {"p"}, "to": {"+15550100006"}, "text": {testMsg}}
	if !reflect.DeepEqual(q, want) {
		t.Errorf("query: got %q, want %q", q, want)
	}
}

func TestHTTPJSONBody(t *testing.T) {
	msg := "He said \"hi\" \\ C:\\path\nline 2\ttab\r\nünïcødé 😀 \u2028 </script> $ctx.num"
	tests := []struct {
		name, headers, wantType string
	}{
		{"guessed", "", "application/json"},
		{"configured", "Content-Type: application/vnd.gw+json; charset=utf-8", "application/vnd.gw+json; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := gateway(t, false, http.StatusOK, "")
			h := newHTTP(t, HTTPConfig{
				URL:     srv.URL + "/api/sms",
				Headers: tt.headers,
				Payload: `  {"to":"$ctx.num","text":"$ctx.msg","n":1}`,
			}, nil)
			if err := h.Send(context.Background(), "+15550100006", msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			r := <-got
			if ct := r.header.Get("Content-Type"); ct != tt.wantType {
				t.Errorf("Content-Type: got %q, want %q", ct, tt.wantType)
			}
			var v struct {
				To   string `json:"to"`
				Text string `json:"text"`
				N    int    `json:"n"`
			}
			if err := json.Unmarshal([]byte(r.body), &v); err != nil {
				t.Fatalf("body %q: %v", r.body, err)
			}
			if v.To != "+15550100006" || v.Text != msg || v.N != 1 {
				t.Errorf("got to=%q text=%q n=%d, want to=%q text=%q n=1", v.To, v.Text, v.N, "+15550100006", msg)
			}
		})
	}
}

func TestHTTPXMLAndRawBodies(t *testing.T) {
	msg := `<b>"code" & 'more'</b>` + "\nline 2"
	t.Run("xml", func(t *testing.T) {
		srv, got := gateway(t, false, http.StatusOK, "")
		h := newHTTP(t, HTTPConfig{
			URL:     srv.URL + "/xml",
			Method:  "put",
			Headers: "Content-Type: text/xml",
			Payload: `<sms to="$ctx.num"><text>$ctx.msg</text></sms>`,
		}, nil)
		if err := h.Send(context.Background(), "+15550100006", msg); err != nil {
			t.Fatalf("Send: %v", err)
		}
		r := <-got
		if r.method != "PUT" {
			t.Errorf("method: got %q, want %q", r.method, "PUT")
		}
		var v struct {
			To   string `xml:"to,attr"`
			Text string `xml:"text"`
		}
		if err := xml.Unmarshal([]byte(r.body), &v); err != nil {
			t.Fatalf("body %q: %v", r.body, err)
		}
		if v.To != "+15550100006" || v.Text != msg {
			t.Errorf("got to=%q text=%q, want to=%q text=%q", v.To, v.Text, "+15550100006", msg)
		}
	})
	t.Run("raw", func(t *testing.T) {
		srv, got := gateway(t, false, http.StatusOK, "")
		h := newHTTP(t, HTTPConfig{
			URL:     srv.URL + "/raw",
			Headers: "Content-Type: text/plain",
			Payload: "$ctx.num $ctx.msg",
		}, nil)
		if err := h.Send(context.Background(), "+15550100006", msg); err != nil {
			t.Fatalf("Send: %v", err)
		}
		r := <-got
		if want := "+15550100006 " + msg; r.body != want {
			t.Errorf("body: got %q, want %q", r.body, want)
		}
		if ct := r.header.Get("Content-Type"); ct != "text/plain" {
			t.Errorf("Content-Type: got %q, want %q", ct, "text/plain")
		}
	})
}

func TestHTTPPathPlaceholderAndHeaders(t *testing.T) {
	srv, got := gateway(t, false, http.StatusOK, "")
	h := newHTTP(t, HTTPConfig{
		URL:     srv.URL + "/send/$ctx.num?text=$ctx.msg",
		Headers: "X-Recipient: $ctx.num, Accept: text/html, application/json\nHost: sms.internal\nX-Dup: 1\nX-Dup: 2",
	}, nil)
	if err := h.Send(context.Background(), "+15550100006", "a/b c"); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := <-got
	checks := []struct{ what, got, want string }{
		{"path", r.path, "/send/+15550100006"},
		{"query", r.rawQuery, "text=a%2Fb+c"},
		{"X-Recipient", r.header.Get("X-Recipient"), "+15550100006"},
		{"Accept", r.header.Get("Accept"), "text/html, application/json"},
		{"Host", r.host, "sms.internal"},
		{"X-Dup", strings.Join(r.header.Values("X-Dup"), ","), "1,2"},
		{"body", r.body, ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.what, c.got, c.want)
		}
	}
}

func TestHTTPHeaderInjectionRejected(t *testing.T) {
	srv, got := gateway(t, false, http.StatusOK, "")
	h := newHTTP(t, HTTPConfig{
		URL:     srv.URL + "/send?to=$ctx.num",
		Headers: "X-Text: $ctx.msg",
	}, nil)
	err := h.Send(context.Background(), "+15550100006", "code 987654\r\nX-Evil: 1")
	if err == nil || !strings.Contains(err.Error(), "header X-Text") {
		t.Fatalf("got %v, want an error naming header X-Text", err)
	}
	if strings.Contains(err.Error(), "987654") {
		t.Errorf("error %q contains the message", err)
	}
	select {
	case r := <-got:
		t.Errorf("gateway got a request: %+v", r)
	default:
	}
}

func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		name         string
		successCodes string
		status       int
		body         string
		wantErr      string // "" means success
	}{
		{"200 default", "", 200, "", ""},
		{"201 default", "", 201, "", ""},
		{"204 default", "", 204, "", ""},
		{"500", "", 500, "gateway exploded\r\nat line 2", "status 500 Internal Server Error: gateway exploded at line 2"},
		{"429", "", 429, `{"error":"slow down"}`, `status 429 Too Many Requests: {"error":"slow down"}`},
		{"400", "", 400, "", "status 400 Bad Request"},
		{"redirect not followed", "", 302, "", "status 302 Found: the gateway redirects to SRV/elsewhere; redirects are never followed, so nothing was sent (configure the address that takes the messages itself)"},
		{"long body cut", "", 503, strings.Repeat("x", 1000), "status 503 Service Unavailable: " + strings.Repeat("x", maxErrorBody)},
		{"listed code", "202", 202, "", ""},
		{"unlisted 2xx", "202", 200, "", "status 200 OK"},
		{"class and code", "2xx, 302", 302, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.status == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			h := newHTTP(t, HTTPConfig{
				URL:          srv.URL + "/send?password=secretpw&to=$ctx.num",
				Payload:      "text=$ctx.msg",
				SuccessCodes: tt.successCodes,
			}, nil)
			err := h.Send(context.Background(), "+15550100006", "code 987654")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			want := "sms http gateway POST " + srv.URL + "/send: " + strings.ReplaceAll(tt.wantErr, "SRV", srv.URL)
			if err == nil || err.Error() != want {
				t.Fatalf("got %v, want %q", err, want)
			}
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != tt.status {
				t.Errorf("got %#v, want *StatusError with status %d", se, tt.status)
			}
		})
	}
}

func TestHTTPDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // a gateway that never answers
	}))
	defer srv.Close()
	h := newHTTP(t, HTTPConfig{URL: srv.URL + "/send?to=$ctx.num&text=$ctx.msg", Method: "GET"}, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := h.Send(ctx, "+15550100006", "code 987654")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	if strings.Contains(err.Error(), "987654") || strings.Contains(err.Error(), "?") {
		t.Errorf("error %q reveals the query", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v, want about the 50ms deadline", d)
	}
}

func TestHTTPConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens there any more
	h := newHTTP(t, HTTPConfig{URL: addr + "/send?to=$ctx.num&text=$ctx.msg", Method: "GET"}, nil)

	err := h.Send(context.Background(), "+15550100006", "code 987654")
	if err == nil {
		t.Fatal("got nil, want an error")
	}
	if want := "sms http gateway GET " + addr + "/send: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %q, want prefix %q", err, want)
	}
	if strings.Contains(err.Error(), "987654") {
		t.Errorf("error %q reveals the message", err)
	}
}

func TestHTTPRejectsInvalidNumber(t *testing.T) {
	srv, got := gateway(t, false, http.StatusOK, "")
	h := newHTTP(t, HTTPConfig{URL: srv.URL + "/?to=$ctx.num&m=$ctx.msg", Method: "GET"}, nil)
	for _, to := range []string{"", "15550100006", "+1555&x=y", "+1555\n"} {
		if err := h.Send(context.Background(), to, "hi"); !errors.Is(err, errInvalidNumber) {
			t.Errorf("Send(%q): got %v, want errInvalidNumber", to, err)
		}
	}
	select {
	case r := <-got:
		t.Errorf("gateway got a request: %+v", r)
	default:
	}
}

func TestNewHTTPConfigProblems(t *testing.T) {
	const ok = "https://gw.example/send?to=$ctx.num&text=$ctx.msg"
	tests := []struct {
		name       string
		cfg        HTTPConfig
		wantFields []string
	}{
		{"valid GET", HTTPConfig{URL: ok, Method: "GET"}, nil},
		{"valid default POST", HTTPConfig{URL: "https://gw.example/send", Payload: "to=$ctx.num&m=$ctx.msg"}, nil},
		{"empty", HTTPConfig{}, []string{"URL", "PAYLOAD", "PAYLOAD"}},
		{
			"everything wrong at once",
			HTTPConfig{URL: "ftp://u:secretpw@h/?password=secretpw", Method: "PATCH", Headers: "Basic secretpw", Payload: `{"to":$ctx.num,"m":"$ctx.msg"}`, SuccessCodes: "ok"},
			[]string{"METHOD", "URL", "HEADERS", "PAYLOAD", "SUCCESS_CODES"},
		},
		{"GET with payload", HTTPConfig{URL: ok, Method: "GET", Payload: "x=1"}, []string{"PAYLOAD"}},
		{"relative URL", HTTPConfig{URL: "/send?to=$ctx.num&m=$ctx.msg", Method: "GET"}, []string{"URL"}},
		{"no host", HTTPConfig{URL: "https:///send?to=$ctx.num&m=$ctx.msg", Method: "GET"}, []string{"URL"}},
		{"placeholder in host", HTTPConfig{URL: "https://$ctx.num.example/?m=$ctx.msg", Method: "GET"}, []string{"URL"}},
		{"bad escape in URL", HTTPConfig{URL: "https://h/%zz?to=$ctx.num&m=$ctx.msg", Method: "GET"}, []string{"URL"}},
		{"GET without message", HTTPConfig{URL: "https://h/?to=$ctx.num", Method: "GET"}, []string{"URL"}},
		{"POST without number", HTTPConfig{URL: "https://h/", Payload: "m=$ctx.msg"}, []string{"PAYLOAD"}},
		{"number in header counts", HTTPConfig{URL: "https://h/", Headers: "X-To: $ctx.num", Payload: "m=$ctx.msg"}, nil},
		{"bad form escape", HTTPConfig{URL: "https://h/", Payload: "to=$ctx.num&m=$ctx.msg&x=%zz"}, []string{"PAYLOAD"}},
		{"JSON placeholder unquoted", HTTPConfig{URL: "https://h/", Payload: `{"to":"$ctx.num","m":$ctx.msg}`}, []string{"PAYLOAD"}},
		{"configured JSON type checks JSON", HTTPConfig{URL: "https://h/", Headers: "Content-Type: application/json", Payload: "to=$ctx.num&m=$ctx.msg"}, []string{"PAYLOAD"}},
		{"raw type is not checked", HTTPConfig{URL: "https://h/", Headers: "Content-Type: text/plain", Payload: "{$ctx.num $ctx.msg"}, nil},
		{"bad header and codes", HTTPConfig{URL: ok, Method: "GET", Headers: "X: 1\nContent-Length: 3", SuccessCodes: "200,7xx"}, []string{"HEADERS", "SUCCESS_CODES"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHTTP(tt.cfg, nil)
			var got []string
			for _, ce := range setting.Problems(err) {
				got = append(got, ce.Name)
			}
			if !reflect.DeepEqual(got, tt.wantFields) {
				t.Fatalf("fields: got %q, want %q (error: %v)", got, tt.wantFields, err)
			}
			if (err == nil) != (h != nil) {
				t.Errorf("got h=%v err=%v, want exactly one", h, err)
			}
			if err != nil && strings.Contains(err.Error(), "secretpw") {
				t.Errorf("error %q quotes a secret", err)
			}
		})
	}
}

func TestNewHTTPDefaults(t *testing.T) {
	h := newHTTP(t, HTTPConfig{URL: " https://u:p@gw.example/to/$ctx.num?password=p ", Payload: "m=$ctx.msg"}, nil)
	if h.method != "POST" {
		t.Errorf("method: got %q, want %q", h.method, "POST")
	}
	if want := "POST https://gw.example/to/$ctx.num"; h.desc != want {
		t.Errorf("desc: got %q, want %q", h.desc, want)
	}
	if h.client == nil || h.client.CheckRedirect == nil {
		t.Errorf("client: got %+v, want a client that does not follow redirects", h.client)
	}
}
