package webservertest

import (
	"fmt"
	"io"
	"net/http"
	"testing"
)

// get fetches url and returns its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestStartNginx(t *testing.T) {
	t.Parallel()
	addr := StartNginx(t, func(listen string) string {
		return fmt.Sprintf("server {\n\tlisten %s;\n\tlocation / {\n\t\treturn 200 \"nginx here\";\n\t}\n}\n", listen)
	})
	if status, body := get(t, "http://"+addr+"/"); status != http.StatusOK || body != "nginx here" {
		t.Fatalf("GET /: %d %q, want 200 %q", status, body, "nginx here")
	}
}

func TestStartCaddy(t *testing.T) {
	t.Parallel()
	addr := StartCaddy(t, func(listen string) string {
		return fmt.Sprintf("http://%s {\n\trespond \"caddy here\" 200\n}\n", listen)
	})
	if status, body := get(t, "http://"+addr+"/"); status != http.StatusOK || body != "caddy here" {
		t.Fatalf("GET /: %d %q, want 200 %q", status, body, "caddy here")
	}
}

// Two servers of each kind at once: each has its own port and directory.
func TestNginxAndCaddyInParallel(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := range 2 {
		n := StartNginx(t, func(listen string) string {
			return fmt.Sprintf("server {\n\tlisten %s;\n\treturn 200 \"nginx %d\";\n}\n", listen, i)
		})
		c := StartCaddy(t, func(listen string) string {
			return fmt.Sprintf("http://%s {\n\trespond \"caddy %d\" 200\n}\n", listen, i)
		})
		for addr, want := range map[string]string{n: fmt.Sprintf("nginx %d", i), c: fmt.Sprintf("caddy %d", i)} {
			if seen[addr] {
				t.Fatalf("address %s given twice", addr)
			}
			seen[addr] = true
			if status, body := get(t, "http://"+addr+"/"); status != http.StatusOK || body != want {
				t.Fatalf("GET %s: %d %q, want 200 %q", addr, status, body, want)
			}
		}
	}
}
