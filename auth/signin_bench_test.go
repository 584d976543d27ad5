package auth

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/otpgate/otpgate/auth/slapdtest"
	"github.com/otpgate/otpgate/sms"
)

// The password step against a real slapd, beside a bare go-ldap loop doing
// the same directory work, in one run (`make bench`): sign-ins per second,
// and what otpgate costs on top of the directory's own two requests.

// smsSink counts the messages otpgate's HTTP SMS provider posts to it.
type smsSink struct {
	srv  *httptest.Server
	sent atomic.Int64
}

func newSMSSink(b *testing.B) *smsSink {
	s := &smsSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !bytes.Contains(body, []byte("code")) {
			http.Error(w, "no message", http.StatusBadRequest)
			return
		}
		s.sent.Add(1)
	}))
	b.Cleanup(s.srv.Close)
	return s
}

// BenchmarkSignIn runs Flow.Begin for Alice with her right password: the
// directory's search and bind, then a code sent through the HTTP SMS
// provider to a loopback sink. One after another, and from as many
// goroutines as GOMAXPROCS (RunParallel) on the default pool of 4.
func BenchmarkSignIn(b *testing.B) {
	s := slapdtest.Start(b)
	sink := newSMSSink(b)
	sender, err := sms.NewHTTP(sms.HTTPConfig{URL: sink.srv.URL + "/send", Method: "POST",
		Headers: "Content-Type: application/x-www-form-urlencoded", Payload: "to=$ctx.num&text=$ctx.msg"}, &http.Client{Timeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	codes, err := NewCodeMaker(6, DigitAlphabet, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		b.Fatal(err)
	}
	cfg := FlowConfig{CodeTTL: 5 * time.Minute, MaxAttempts: 3, MaxSends: 3, Message: "Your sign-in code is {code}.",
		SendTimeout: 5 * time.Second, Policy: Policy{Mandatory: true}}
	d := newTestLDAP(b, ldapConfigFor(s))
	flow := NewFlow(d, sender, NewMemoryStore(time.Now), codes, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	alice := slapdtest.Alice
	begin := func(ctx context.Context) {
		res, err := flow.Begin(ctx, alice.Username, alice.Password, "192.0.2.1", "/")
		if err != nil || res.Pending.ID == "" {
			b.Fatalf("Begin: %+v, %v", res, err)
		}
	}

	b.Run("sequential", func(b *testing.B) {
		start := sink.sent.Load()
		for b.Loop() {
			begin(b.Context())
		}
		reportSignIns(b, sink.sent.Load()-start)
	})
	b.Run("parallel", func(b *testing.B) {
		start := sink.sent.Load()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				begin(context.Background())
			}
		})
		reportSignIns(b, sink.sent.Load()-start)
	})
}

// BenchmarkBareLDAPSearchBind is the directory work of a password step in
// plain go-ldap, nothing else. kept-connections: the search on a
// connection bound as the service account once, the user's bind on
// another, both kept: the floor of two requests per sign-in.
// dial-per-sign-in: a dial, a service bind, the search and the user's bind
// on one connection, as each sign-in did before otpgate kept its
// connections.
func BenchmarkBareLDAPSearchBind(b *testing.B) {
	s := slapdtest.Start(b)
	alice := slapdtest.Alice
	search := ldap.NewSearchRequest(s.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 5, false,
		"(&(objectClass=inetOrgPerson)(uid=alice))", []string{"uid", "cn", "mail", "mobile", "memberOf"}, nil)
	dial := func() *ldap.Conn {
		conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
		if err != nil {
			b.Fatal(err)
		}
		conn.SetTimeout(5 * time.Second)
		if err := conn.Bind(s.BindDN, s.BindPassword); err != nil {
			b.Fatal(err)
		}
		return conn
	}
	searchBind := func(service, user *ldap.Conn) {
		res, err := service.Search(search)
		if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("mobile") != alice.Mobile {
			b.Fatalf("search: %v", err)
		}
		if err := user.Bind(res.Entries[0].DN, alice.Password); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("kept-connections", func(b *testing.B) {
		service, user := dial(), dial()
		defer service.Close()
		defer user.Close()
		for b.Loop() {
			searchBind(service, user)
		}
		reportSignIns(b, int64(b.N))
	})
	b.Run("dial-per-sign-in", func(b *testing.B) {
		for b.Loop() {
			conn := dial()
			searchBind(conn, conn)
			conn.Close()
		}
		reportSignIns(b, int64(b.N))
	})
}

// reportSignIns reports done sign-ins (checked against b.N) per second.
func reportSignIns(b *testing.B, done int64) {
	b.Helper()
	if done != int64(b.N) {
		b.Fatalf("%d sign-ins done, want %d", done, b.N)
	}
	b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "sign-ins/s")
}
