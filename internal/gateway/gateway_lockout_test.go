package gateway

// End-to-end tests of the lockout by identity, the limit of wrong
// passwords per client address, the sliding SMS budgets and the refund of
// failed sends, against a real slapd.

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/auth/slapdtest"
)

// lookalikes are spellings of a lower-case ASCII name that OpenLDAP's
// case-insensitive matching finds the same entry by: capitals, fullwidth,
// circled, and capitals with the dotted İ.
func lookalikes(name string) []string {
	var upper, full, circled, dotted strings.Builder
	for _, r := range name {
		upper.WriteRune(r - 'a' + 'A')
		full.WriteRune(r - 'a' + 'ａ')
		circled.WriteRune(r - 'a' + 'ⓐ')
		if r == 'i' {
			dotted.WriteRune('İ')
		} else {
			dotted.WriteRune(r - 'a' + 'A')
		}
	}
	return []string{name, upper.String(), full.String(), circled.String(), dotted.String()}
}

// passwordWith submits the sign-in form with extra request headers.
func (b *browser) passwordWith(username, password string, header ...string) response {
	b.t.Helper()
	tok := b.csrf("/otpgate/signin?rd=%2F")
	return b.do("POST", "/otpgate/signin", url.Values{"csrf": {tok}, "rd": {"/"}, "username": {username}, "password": {password}}, header...)
}

// scrapeMetrics returns the gateway's metrics as Prometheus reads them.
func (e *env) scrapeMetrics(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(e.metrics.registry, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func isLocked(r response) bool {
	return r.status == http.StatusTooManyRequests && strings.Contains(r.body, "Account locked")
}

func isAddressLimited(r response) bool {
	return r.status == http.StatusTooManyRequests && strings.Contains(r.body, "Too many wrong passwords")
}

func TestLockoutHoldsAcrossLookalikeSpellings(t *testing.T) {
	e := startEnv(t) // defaults: 5 failures lock for 15 minutes
	alice := slapdtest.Alice
	spellings := lookalikes("alice")
	if want := []string{"alice", "ALICE", "ａｌｉｃｅ", "ⓐⓛⓘⓒⓔ", "ALİCE"}; strings.Join(spellings, " ") != strings.Join(want, " ") {
		t.Fatalf("lookalikes(alice) = %q, want %q", spellings, want)
	}
	// First, the right password under every spelling: the directory finds
	// alice by each, so each gets a code sent to alice's number.
	for i, name := range spellings {
		r := e.browserFrom(fmt.Sprintf("127.0.3.%d", i+1)).password(name, alice.Password, "/")
		if r.status != http.StatusSeeOther || r.location != "/otpgate/code" {
			t.Fatalf("right password as %q: %d to %q, want the code page", name, r.status, r.location)
		}
		e.sms.lastCode(alice.Mobile)
	}
	// Then one wrong password under each spelling: five in all lock alice.
	for i, name := range spellings {
		r := e.browserFrom(fmt.Sprintf("127.0.4.%d", i+1)).password(name, "wrong-"+fmt.Sprint(i), "/")
		if last := i == len(spellings)-1; isLocked(r) != last || (!last && r.status != http.StatusUnauthorized) {
			t.Fatalf("wrong password %d as %q: %d, want locked=%v:\n%s", i+1, name, r.status, last, r.body)
		}
	}
	for _, name := range append(spellings, "ａlice", "alİce") {
		if r := e.browserFrom("127.0.5.1").password(name, alice.Password, "/"); !isLocked(r) {
			t.Fatalf("right password as %q while alice is locked: %d, want 429 Account locked", name, r.status)
		}
	}
	if n := len(e.sms.sent()); n != len(spellings) {
		t.Fatalf("%d SMS, want exactly %d (none while locked)", n, len(spellings))
	}
	e.clock.Advance(15*time.Minute + time.Second)
	e.browserFrom("127.0.5.2").signIn(alice, "/")
}

func TestWrongPasswordsLimitedPerAddress(t *testing.T) {
	e := startEnvWithDirectory(t, []slapdtest.Option{slapdtest.WithLDIF(usLDIF(6))}, func(c *Config) {
		c.Auth.Lockout.MaxFailuresPerIP = 4
		c.Proxy.TrustedProxies = []string{"127.0.0.9/32"} // one proxy in front
	})
	b := e.browserFrom("127.0.0.2")
	for i := 1; i <= 4; i++ {
		if r := b.password(usUser(i).Username, "wrong", "/"); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d from 127.0.0.2: %d, want 401", i, r.status)
		}
	}
	// The fifth try from that address is refused, right password or not,
	// and X-Forwarded-For from an address that is not a trusted proxy
	// does not change whose address it is.
	if r := b.passwordWith(usUser(5).Username, usUser(5).Password, "X-Forwarded-For", "198.51.100.7"); !isAddressLimited(r) || !strings.Contains(r.body, "Please try again in 15 minutes.") {
		t.Fatalf("fifth try from 127.0.0.2: %d, want 429 Too many wrong passwords, for 15 minutes:\n%s", r.status, r.body)
	}
	// Through the trusted proxy, each client is its own address.
	proxy := e.browserFrom("127.0.0.9")
	for i := 1; i <= 4; i++ {
		if r := proxy.passwordWith(usUser(6).Username, "wrong", "X-Forwarded-For", "198.51.100.1"); r.status != http.StatusUnauthorized && !isLocked(r) {
			t.Fatalf("wrong password %d from 198.51.100.1 via the proxy: %d", i, r.status)
		}
	}
	if r := proxy.passwordWith(usUser(5).Username, usUser(5).Password, "X-Forwarded-For", "198.51.100.1"); !isAddressLimited(r) {
		t.Fatalf("fifth try from 198.51.100.1 via the proxy: %d, want 429 Too many wrong passwords", r.status)
	}
	if r := proxy.passwordWith(usUser(5).Username, usUser(5).Password, "X-Forwarded-For", "198.51.100.2"); r.status != http.StatusSeeOther {
		t.Fatalf("another client via the proxy: %d, want a code sent:\n%s", r.status, r.body)
	}
	if n := len(e.sms.sent()); n != 1 {
		t.Fatalf("%d SMS, want exactly 1", n)
	}
	// The window slides: 15 minutes after its first failures the address
	// may try again.
	e.clock.Advance(15*time.Minute + time.Second)
	if r := b.password(usUser(5).Username, usUser(5).Password, "/"); r.status != http.StatusSeeOther {
		t.Fatalf("127.0.0.2 after the window: %d, want a code sent", r.status)
	}
	if want := `otpgate_signins_total{result="address_limited"} 2`; !strings.Contains(e.scrapeMetrics(t), want) {
		t.Errorf("metrics lack %q", want)
	}
}

func TestSMSBudgetsSlide(t *testing.T) {
	e := startEnv(t, func(c *Config) { c.Auth.Sms.LimitPerNumber = 2 })
	alice := slapdtest.Alice
	start := e.clock.Now()
	steps := []struct {
		at   time.Duration
		sent bool
	}{
		{0, true},
		{59 * time.Minute, true},
		{59*time.Minute + 58*time.Second, false}, // the first is still within the hour
		{60*time.Minute + time.Second, true},     // a fixed hour would let two through here
		{61 * time.Minute, false},
		{118 * time.Minute, false},
		{119*time.Minute + time.Second, true},
	}
	for i, s := range steps {
		e.clock.Advance(start.Add(s.at).Sub(e.clock.Now()))
		before := len(e.sms.sent())
		r := e.browser().password(alice.Username, alice.Password, "/")
		if sent := len(e.sms.sent()) > before; sent != s.sent || (!sent && !strings.Contains(r.body, "Too many codes sent")) {
			t.Fatalf("step %d at %v: sent=%v, %d; want sent=%v:\n%s", i+1, s.at, sent, r.status, s.sent, r.body)
		}
	}
	if n := len(e.sms.sent()); n != 4 {
		t.Fatalf("%d SMS, want exactly 4", n)
	}
}

func TestFailedSendsAreRefunded(t *testing.T) {
	e := startEnv(t, func(c *Config) { c.Auth.Sms.LimitPerNumber, c.Auth.Sms.LimitPerIP, c.Auth.Sms.LimitGlobal = 2, 2, 2 })
	alice := slapdtest.Alice
	e.sms.set(http.StatusInternalServerError, 0)
	for i := range 10 {
		r := e.browser().password(alice.Username, alice.Password, "/")
		if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "The code could not be sent") {
			t.Fatalf("sign-in %d with the gateway answering 500: %d, want 503 The code could not be sent:\n%s", i+1, r.status, r.body)
		}
	}
	e.sms.set(0, 0)
	e.browser().signIn(alice, "/")
	e.browser().signIn(alice, "/")
	if r := e.browser().password(alice.Username, alice.Password, "/"); !strings.Contains(r.body, "Too many codes sent") {
		t.Fatalf("third delivered code: %d, want Too many codes sent", r.status)
	}
	if n := len(e.sms.sent()); n != 2 {
		t.Fatalf("%d SMS delivered, want exactly 2 (failed sends use up no budget)", n)
	}
}

// TestPasswordSpraying scripts a spraying run: four addresses try wrong
// passwords for twelve users and two unknown names, each under five
// spellings, all at once. The numbers are those of the README's "Abuse
// and cost limits".
func TestPasswordSpraying(t *testing.T) {
	const users, addresses = 12, 4
	var ldif strings.Builder
	var names []string
	for i := range users {
		name := "victim" + string(rune('a'+i))
		names = append(names, name)
		fmt.Fprintf(&ldif, "dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: V\nmobile: +1555010%04d\nuserPassword: %s-secret\n\n",
			name, slapdtest.PeopleDN, name, name, 200+i, name)
	}
	names = append(names, "phantom", "ghostie")                                          // not in the directory
	e := startEnvWithDirectory(t, []slapdtest.Option{slapdtest.WithLDIF(ldif.String())}) // default limits

	type attempt struct{ from, name, password string }
	spray := func(attempts []attempt) (judged, locked, limited int) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		work := make(chan attempt)
		for range 32 {
			wg.Go(func() {
				for a := range work {
					r := e.browserFrom(a.from).password(a.name, a.password, "/")
					mu.Lock()
					switch {
					case isLocked(r):
						locked++
					case isAddressLimited(r):
						limited++
					case r.status == http.StatusUnauthorized:
					default:
						t.Errorf("%s from %s: %d, want 401 or 429", a.name, a.from, r.status)
					}
					mu.Unlock()
				}
			})
		}
		for _, a := range attempts {
			work <- a
		}
		close(work)
		wg.Wait()
		return strings.Count(e.logs.String(), `"msg":"sign-in: password failed"`), locked, limited
	}
	wrongFrom := func(from string) []attempt {
		var out []attempt
		for _, n := range names {
			for _, s := range lookalikes(n) {
				out = append(out, attempt{from, s, "Winter2025!"})
			}
		}
		return out
	}
	// One address alone: 70 tries, stopped at the 50 wrong passwords an
	// address may make in the window.
	judged, _, limited := spray(wrongFrom("127.0.6.1"))
	if judged != 50 || limited != 20 {
		t.Fatalf("one address, 70 tries: %d passwords checked, %d refused for the address; want 50 and 20", judged, limited)
	}
	// Three more addresses: each identity, known or not, is checked 5
	// times in all, whatever the spelling or address.
	var more []attempt
	for a := 2; a <= addresses; a++ {
		more = append(more, wrongFrom(fmt.Sprintf("127.0.6.%d", a))...)
	}
	judged, locked, limited := spray(more)
	if want := 5 * len(names); judged != want || limited != 0 || locked < len(more)-(judged-50) {
		t.Fatalf("after %d tries from %d addresses: %d passwords checked in all, %d locked, %d limited; want %d checked (5 per identity), every other try locked",
			70*addresses, addresses, judged, locked, limited, want)
	}
	// The right passwords now, under every spelling, from a fresh address:
	// every account is locked, and no SMS goes out.
	var right []attempt
	for _, n := range names[:users] {
		for _, s := range lookalikes(n) {
			right = append(right, attempt{"127.0.7.1", s, n + "-secret"})
		}
	}
	_, locked, limited = spray(right)
	if locked != len(right) || limited != 0 {
		t.Fatalf("right passwords: %d locked, %d limited, want all %d locked", locked, limited, len(right))
	}
	if n := len(e.sms.sent()); n != 0 {
		t.Fatalf("%d SMS sent during the spraying run, want 0", n)
	}
	for _, n := range names {
		var checked int
		for _, line := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(line, `"msg":"sign-in: password failed"`) && folded(line) == n {
				checked++
			}
		}
		if checked != 5 {
			t.Errorf("%s: %d passwords checked across its spellings, want 5", n, checked)
		}
	}
}

// folded returns the folded username of a JSON log line.
func folded(line string) string {
	const key = `"user":"`
	i := strings.Index(line, key)
	if i < 0 {
		return ""
	}
	rest := line[i+len(key):]
	return auth.NormalizeUsername(rest[:strings.IndexByte(rest, '"')])
}
