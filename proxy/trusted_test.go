package proxy

import (
	"net/http"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		remote, xff string
		want        string
		trusts      bool
	}{
		{"203.0.113.5:1234", "", "203.0.113.5", false},
		{"203.0.113.5:1234", "1.2.3.4", "203.0.113.5", false}, // untrusted sender: header ignored
		{"10.1.2.3:80", "198.51.100.9", "198.51.100.9", true},
		{"10.1.2.3:80", "1.1.1.1, 198.51.100.9, 10.9.9.9", "198.51.100.9", true},
		{"192.0.2.7:80", "garbage, 198.51.100.9", "198.51.100.9", true},
		{"192.0.2.7:80", "198.51.100.9, garbage", "192.0.2.7", true},
		{"[::ffff:10.0.0.1]:80", "198.51.100.9", "198.51.100.9", true},
	}
	for _, tt := range tests {
		r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := trusted.ClientIP(r); got != tt.want {
			t.Errorf("ClientIP(%s, XFF %q) = %q, want %q", tt.remote, tt.xff, got, tt.want)
		}
		if got := trusted.Trusts(r); got != tt.trusts {
			t.Errorf("Trusts(%s) = %v, want %v", tt.remote, got, tt.trusts)
		}
	}
	if _, err := ParseTrustedProxies([]string{"10.0.0.0/33"}); err == nil {
		t.Error("ParseTrustedProxies accepted 10.0.0.0/33")
	}
}
