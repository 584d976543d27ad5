package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/otpgate/otpgate/demo"
)

// demoEnvironment is what `otpgate demo` runs beside the gateway: an
// embedded LDAP directory and a demo app, both on loopback.
type demoEnvironment struct {
	dir *demo.Directory
	app *http.Server
}

// startDemo starts the directory and app and points cfg at them, with the
// console SMS provider and plain-HTTP cookies for http://localhost.
func startDemo(ctx context.Context, cfg *Config, environ []string, log *slog.Logger) (*demoEnvironment, error) {
	dir, err := demo.StartDirectory(ctx, "127.0.0.1:0", log)
	if err != nil {
		return nil, fmt.Errorf("start embedded directory: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = dir.Stop()
		return nil, fmt.Errorf("start demo app: %w", err)
	}
	app := &http.Server{Handler: demo.App(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = app.Serve(ln) }()

	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	if !isSet(environ, "OTPGATE_LISTEN_ADDR") {
		cfg.ListenAddr = "127.0.0.1:8080"
	}
	cfg.Proxy.UpstreamURL = "http://" + ln.Addr().String()
	cfg.Auth.Ldap.URL, cfg.Auth.Ldap.StartTLS, cfg.Auth.Ldap.CAFile = dir.URL, false, ""
	cfg.Auth.Ldap.BindDN, cfg.Auth.Ldap.BindPassword, cfg.Auth.Ldap.BaseDN = dir.BindDN, dir.BindPassword, dir.BaseDN
	cfg.Auth.Ldap.UserFilter = "(uid={username})"
	cfg.SMS.Provider = "console"
	cfg.Auth.Cookie.Secret = base64.StdEncoding.EncodeToString(secret)
	cfg.Auth.Cookie.Secure = false
	return &demoEnvironment{dir: dir, app: app}, nil
}

func isSet(environ []string, name string) bool {
	for _, kv := range environ {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}

// PrintWelcome tells the person at the terminal where to go and how to
// sign in.
func (d *demoEnvironment) PrintWelcome(w io.Writer, addr net.Addr) {
	url := "http://" + addr.String()
	if tcp, ok := addr.(*net.TCPAddr); ok && (tcp.IP.IsLoopback() || tcp.IP.IsUnspecified()) {
		url = fmt.Sprintf("http://localhost:%d", tcp.Port)
	}
	fmt.Fprintf(w, "\notpgate demo is running: open %s\n\n", url)
	fmt.Fprintln(w, "Sign in as one of these directory users; the SMS with your code is printed here.")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  USERNAME\tPASSWORD\tMOBILE\tGROUPS")
	for _, u := range d.dir.Users {
		mobile := u.Mobile
		if mobile == "" {
			mobile = "(none: shows the 'no mobile number' page)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", u.Username, u.Password, mobile, strings.Join(u.Groups, ","))
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "\nPress Ctrl+C to stop.")
}

// Close stops the demo directory and app.
func (d *demoEnvironment) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = d.app.Shutdown(ctx)
	_ = d.dir.Stop()
}
