package demo

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAppPage(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		target  string
		headers map[string][]string
		want    []string // substrings of the body
		notWant []string
	}{
		{
			name:   "identity headers shown",
			method: http.MethodGet, target: "/",
			headers: map[string][]string{
				"Remote-User": {"alice"}, "Remote-Name": {"Alice Liddell"}, "Remote-Email": {"alice@example.org"},
				"Remote-Groups": {"staff,admins"}, "Remote-Auth-Level": {"2"},
				"X-Forwarded-For": {"192.0.2.7"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example.org"},
			},
			want: []string{
				"<title>Demo app behind otpgate</title>",
				`<th scope="row">Remote-User</th><td>alice</td>`,
				`<th scope="row">Remote-Name</th><td>Alice Liddell</td>`,
				`<th scope="row">Remote-Email</th><td>alice@example.org</td>`,
				`<th scope="row">Remote-Groups</th><td>staff,admins</td>`,
				`<th scope="row">Remote-Auth-Level</th><td>2</td>`,
				`<th scope="row">X-Forwarded-For</th><td>192.0.2.7</td>`,
				`<th scope="row">X-Forwarded-Proto</th><td>https</td>`,
				`<th scope="row">X-Forwarded-Host</th><td>app.example.org</td>`,
				`<th scope="row">Method</th><td>GET</td>`,
				`<th scope="row">Path</th><td>/</td>`,
				`<a href="/otpgate/logout">Sign out</a>`,
			},
			notWant: []string{"not sent", "<script", "style"},
		},
		{
			name:   "values escaped",
			method: http.MethodGet, target: "/x",
			headers: map[string][]string{"Remote-Name": {`<script>alert("hi")</script>`}},
			want: []string{
				`<td>&lt;script&gt;alert(&#34;hi&#34;)&lt;/script&gt;</td>`,
			},
			notWant: []string{"<script"},
		},
		{
			name:   "missing headers marked",
			method: http.MethodPost, target: "/some/path?q=1",
			want: []string{
				`<th scope="row">Remote-User</th><td><em>not sent</em></td>`,
				`<th scope="row">Method</th><td>POST</td>`,
				`<th scope="row">Path</th><td>/some/path</td>`,
			},
		},
		{
			name:   "repeated header joined",
			method: http.MethodGet, target: "/",
			headers: map[string][]string{"X-Forwarded-For": {"192.0.2.7", "198.51.100.1"}},
			want:    []string{`<td>192.0.2.7, 198.51.100.1</td>`},
		},
	}
	app := App()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, nil)
			for name, values := range tt.headers {
				for _, v := range values {
					req.Header.Add(name, v)
				}
			}
			rec := httptest.NewRecorder()
			app.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("status: got %d, want %d", rec.Code, http.StatusOK)
			}
			if got, want := rec.Header().Get("Content-Type"), "text/html; charset=utf-8"; got != want {
				t.Errorf("Content-Type: got %q, want %q", got, want)
			}
			if got, want := rec.Header().Get("Cache-Control"), "no-store"; got != want {
				t.Errorf("Cache-Control: got %q, want %q", got, want)
			}
			body := rec.Body.String()
			for _, s := range tt.want {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %q; got %q", s, body)
				}
			}
			for _, s := range tt.notWant {
				if strings.Contains(body, s) {
					t.Errorf("body contains %q; got %q", s, body)
				}
			}
		})
	}
}

func TestAppWhoami(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		want    map[string]string
	}{
		{
			name: "all headers",
			headers: map[string]string{
				"Remote-User": "alice", "Remote-Name": "<b>Alice</b>", "Remote-Email": "alice@example.org",
				"Remote-Groups": "staff,admins", "Remote-Auth-Level": "2",
				"X-Forwarded-For": "192.0.2.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.org",
			},
			want: map[string]string{
				"Remote-User": "alice", "Remote-Name": "<b>Alice</b>", "Remote-Email": "alice@example.org",
				"Remote-Groups": "staff,admins", "Remote-Auth-Level": "2",
				"X-Forwarded-For": "192.0.2.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.org",
			},
		},
		{
			name:    "missing headers empty",
			headers: map[string]string{"remote-user": "bob", "Cookie": "secret=1"},
			want: map[string]string{
				"Remote-User": "bob", "Remote-Name": "", "Remote-Email": "", "Remote-Groups": "", "Remote-Auth-Level": "",
				"X-Forwarded-For": "", "X-Forwarded-Proto": "", "X-Forwarded-Host": "",
			},
		},
	}
	app := App()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/api/whoami", nil)
			for name, v := range tt.headers {
				req.Header.Set(name, v)
			}
			rec := httptest.NewRecorder()
			app.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("status: got %d, want %d", rec.Code, http.StatusOK)
			}
			if got, want := rec.Header().Get("Content-Type"), "application/json"; got != want {
				t.Errorf("Content-Type: got %q, want %q", got, want)
			}
			var got whoami
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("decode %q: %v", rec.Body.String(), err)
			}
			if got.Method != http.MethodGet || got.Path != "/api/whoami" {
				t.Errorf("method and path: got %q %q, want %q %q", got.Method, got.Path, http.MethodGet, "/api/whoami")
			}
			if len(got.Headers) != len(tt.want) {
				t.Errorf("headers: got %q, want %q", got.Headers, tt.want)
			}
			for name, want := range tt.want {
				if g := got.Headers[name]; g != want {
					t.Errorf("%s: got %q, want %q", name, g, want)
				}
			}
		})
	}
}
