package gateway

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth/slapdtest"
	"github.com/otpgate/otpgate/internal/testserver"
)

// TestShutdownClosesDirectoryConnections runs otpgate against slapd
// through a counting proxy: the readiness probe leaves a kept directory
// connection open, and stopping otpgate closes it.
func TestShutdownClosesDirectoryConnections(t *testing.T) {
	t.Parallel()
	dir := slapdtest.Start(t)
	proxy := testserver.StartTCPProxy(t, strings.TrimPrefix(dir.URL, "ldap://"))
	environ := []string{
		"OTPGATE_LISTEN_ADDR=127.0.0.1:0",
		"OTPGATE_LDAP_URL=ldap://" + proxy.Addr,
		"OTPGATE_LDAP_BIND_DN=" + dir.BindDN,
		"OTPGATE_LDAP_BIND_PASSWORD=" + dir.BindPassword,
		"OTPGATE_LDAP_BASE_DN=" + dir.BaseDN,
		"OTPGATE_COOKIE_SECRET=" + testSecret(1),
		"OTPGATE_SMS_PROVIDER=console",
	}
	logs := &testserver.Output{}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, environ, io.Discard, logs) }()

	addr := waitFor(t, logs, regexp.MustCompile(`"otpgate listening","addr":"([^"]+)"`))
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/otpgate/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: got %d, want 200; log:\n%s", resp.StatusCode, logs)
	}
	if proxy.Open() == 0 {
		t.Fatal("no directory connection kept after the readiness probe")
	}

	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("otpgate exited with %d, want %d; log:\n%s", code, exitOK, logs)
	}
	if got := proxy.WaitOpen(0, 5*time.Second); got != 0 {
		t.Errorf("%d directory connections open after otpgate stopped, want 0", got)
	}
}
