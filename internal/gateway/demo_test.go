package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/otpgate/otpgate/internal/testserver"
)

// TestDemoSignIn runs `otpgate demo` as the README's first command does and
// signs in with the printed credentials and the code printed on the console.
func TestDemoSignIn(t *testing.T) {
	stdout := &testserver.Output{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo"}, []string{"OTPGATE_LISTEN_ADDR=127.0.0.1:0"}, stdout, io.Discard)
	}()
	defer func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("demo exited with %d after cancel, want 0", code)
		}
	}()

	base := waitFor(t, stdout, regexp.MustCompile(`open (http://localhost:\d+)`))
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	// The embedded directory answers a readiness probe as a real one does.
	if resp, err := client.Get(base + "/otpgate/readyz"); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusOK {
		t.Errorf("demo readyz: got %d, want 200", resp.StatusCode)
	}
	get := func(path string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Accept", "text/html")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	post := func(path string, form url.Values) string {
		t.Helper()
		resp, err := client.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	signin := get("/private")
	tok := csrfField.FindStringSubmatch(signin)
	if tok == nil {
		t.Fatalf("no sign-in form at %s/private:\n%s", base, signin)
	}
	password := waitFor(t, stdout, regexp.MustCompile(`alice\s+(\S+)`))
	page := post("/otpgate/signin", url.Values{"csrf": {tok[1]}, "rd": {"/private"}, "username": {"alice"}, "password": {password}})
	if !strings.Contains(page, "Enter your code") {
		t.Fatalf("after alice's password, got:\n%s", page)
	}
	code := waitFor(t, stdout, regexp.MustCompile(`SMS to \+15550100006: Your sign-in code is (\d{6})`))
	app := post("/otpgate/code", url.Values{"csrf": {tok[1]}, "code": {code}})
	if !strings.Contains(app, "Demo app behind otpgate") || !strings.Contains(app, "Alice Liddell") {
		t.Fatalf("after the code, got:\n%s", app)
	}
}

// waitFor waits for re to match the output and returns its first group.
func waitFor(t *testing.T, out *testserver.Output, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("output never matched %s:\n%s", re, out.String())
	return ""
}
