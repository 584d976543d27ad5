package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/otpgate/otpgate/internal/setting"
)

// printHelp is `otpgate help`: the commands, then every variable.
func printHelp(w io.Writer) {
	fmt.Fprint(w, `Usage: otpgate [command]

Commands:
  (none), serve  run the gateway
  demo           run everything locally: an embedded directory, codes printed here
  validate       check the configuration, bind to the directory and dry-run the SMS
                 providers, then exit: 0 all good, 2 configuration, 3 directory, 4 SMS
  secret         print a new random value for OTPGATE_COOKIE_SECRET
  sessions revoke USER
                 end every session of USER, through the store otpgate shares
  version        print the version, the commit and the Go release
  help           print this

otpgate is configured with environment variables:
`)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	_ = printUsage(tw)
	_ = tw.Flush()
	fmt.Fprintln(w, "\nA variable listed with a _FILE form may instead be read from the file that form names.")
}

// secretBytes is the length of a new cookie secret: COOKIE_SECRET needs
// 32 bytes at least; more adds nothing to HMAC-SHA256 and AES-256 keys.
const secretBytes = 32

// printSecret is `otpgate secret`: a new cookie secret in the form
// COOKIE_SECRET reads (standard base64 of 32 random bytes). To rotate,
// put it first and keep the old one after a comma until sessions expire.
func printSecret(stdout, stderr io.Writer) int {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		fmt.Fprintf(stderr, "otpgate secret: %v\n", err)
		return exitFailed
	}
	fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(b))
	return exitOK
}

// sampleNumber and sampleCode fill the SMS template in validate's dry
// run; +44 7700 900xxx is reserved for drama, so it reaches nobody.
const (
	sampleNumber = "+447700900123"
	sampleCode   = "428571"
)

// validateCommand is `otpgate validate`: every configuration problem at
// once, then the directory (the service account's bind and a search of
// LDAP_BASE_DN), then each SMS provider's request built from its template
// but not sent. It prints one line per stage and never a secret, and
// returns the exit status of the first stage that failed.
func validateCommand(ctx context.Context, environ []string, stdout, stderr io.Writer) int {
	cfg, loadErr := loadConfig(environ)
	// Warnings the parts log while being built go where serving logs them.
	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	a, err := assemble(cfg, log, io.Discard, time.Now)
	if err := errors.Join(loadErr, err); err != nil {
		fmt.Fprintf(stdout, "configuration: not valid:\n%s\n", indent(err))
		return exitConfig
	}
	defer a.close(context.WithoutCancel(ctx))
	fmt.Fprintln(stdout, "configuration: ok")

	status := exitOK
	dctx, cancel := context.WithTimeout(ctx, 2*cfg.Auth.Ldap.Timeout)
	err = a.dir.Check(dctx)
	cancel()
	if err != nil {
		fmt.Fprintf(stdout, "directory: failed: %v\n", err)
		status = exitDirectory
	} else {
		fmt.Fprintf(stdout, "directory: ok: bound as %s and found %s\n", cfg.Auth.Ldap.BindDN, cfg.Auth.Ldap.BaseDN)
	}

	names := setting.TrimAll(cfg.SMS.Providers)
	if len(names) == 0 {
		names = []string{cfg.SMS.Provider}
	}
	message := strings.NewReplacer("{code}", sampleCode, "{ttl}", cfg.Auth.Otp.TTL.String(), "{host}", cfg.publicHost()).
		Replace(cfg.Auth.Sms.Message)
	for _, name := range names {
		line, err := dryRun(ctx, name, cfg, log, message)
		if err != nil {
			fmt.Fprintf(stdout, "sms %s: failed: %v\n", name, err)
			if status == exitOK {
				status = exitSMS
			}
			continue
		}
		fmt.Fprintf(stdout, "sms %s: ok: %s\n", name, line)
	}
	return status
}

// errDryRun stops a provider's request at the transport: it was built,
// and is not sent.
var errDryRun = errors.New("dry run: not sent")

// dryRun builds provider name's request for the sample message, as Send
// would, and stops it before it leaves. It says where the request would
// go: scheme and host only, as the path and query may hold credentials.
func dryRun(ctx context.Context, name string, cfg Config, log *slog.Logger, message string) (string, error) {
	if name == "console" {
		return "prints codes to standard output (development only); nothing to check", nil
	}
	var seen *http.Request
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen = r
		return nil, errDryRun
	})}
	cfg.SMS.Timeout = time.Minute // unused: nothing is sent
	s, problems := newProviderWith(name, cfg, log, io.Discard, client)
	if len(problems) > 0 {
		return "", errors.Join(problems...)
	}
	err := s.Send(ctx, sampleNumber, message)
	if seen == nil {
		if err == nil {
			err = errors.New("no request was made")
		}
		return "", err
	}
	u := url.URL{Scheme: seen.URL.Scheme, Host: seen.URL.Host}
	desc := fmt.Sprintf("would %s to %s", seen.Method, u.String())
	if seen.ContentLength > 0 {
		desc += fmt.Sprintf(" a %d-byte body", seen.ContentLength)
	}
	return desc + fmt.Sprintf(" for %s (dry run, nothing sent)", sampleNumber), nil
}
