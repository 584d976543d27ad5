// Package slapdtest runs a throwaway OpenLDAP slapd for tests, seeded with a
// small known directory (see Alice, Bob, Carol). It is a normal package, not
// a _test file, so that the tests of every package can start one.
//
// Each Server is a child process listening on a free loopback port, with its
// database in t.TempDir(); t.Cleanup stops it. When slapd is not installed
// the test is skipped, unless REQUIRE_TEST_SERVERS=1, which makes it
// fail instead so that CI cannot pass by skipping. `go test -short` skips
// it too, unless REQUIRE_TEST_SERVERS=1 (see testserver.Require).
package slapdtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/otpgate/otpgate/internal/testserver"
)

// Where Debian's slapd package puts its modules and schema files.
const (
	ModuleDir = "/usr/lib/ldap"
	SchemaDir = "/etc/ldap/schema"
)

// RequireEnv names the variable that turns "slapd missing" from a skip into
// a failure.
const RequireEnv = testserver.RequireEnv

const (
	startTimeout = 10 * time.Second
	stopTimeout  = 5 * time.Second
)

// Server is one running slapd. Its exported fields are fixed for its life,
// across Stop and Restart. Restart, Pause and Resume fail the test that
// started the server, so call them from that test's goroutine.
type Server struct {
	URL          string // ldap://127.0.0.1:PORT
	LDAPSURL     string // ldaps://127.0.0.1:PORT with WithTLS, else ""
	CAFile       string // with WithTLS, the PEM CA that signed the server's certificate
	BaseDN       string
	BindDN       string // the service account otpgate binds as
	BindPassword string
	RootDN       string // bypasses every ACL; for seeding and test set-up
	RootPassword string

	t    testing.TB
	bin  string
	dir  string
	conf string
	// debug is slapd's -d: none (errors only) or stats (WithStatsLog).
	debug string
	mu    sync.Mutex
	proc  *testserver.Process // of the last start; kept after Stop for Output
	up    bool                // proc is running
}

type config struct {
	memberOf    bool
	tls         bool
	acl         []string
	extraACL    []string
	ldif        []string
	schemas     []string     // schema texts, included after the standard ones
	userClasses []string     // extra objectClass values of the seeded users
	writes      []attrWriter // who may write which attribute of people
	ppolicy     bool
	stats       bool
}

// attrWriter says who, besides the root DN, may write one attribute of the
// entries under PeopleDN.
type attrWriter struct {
	attr          string
	service, self bool
}

func (c *config) allowWrite(service, self bool, attrs []string) {
	for _, a := range attrs {
		i := slices.IndexFunc(c.writes, func(w attrWriter) bool { return strings.EqualFold(w.attr, a) })
		if i < 0 {
			c.writes = append(c.writes, attrWriter{attr: a})
			i = len(c.writes) - 1
		}
		c.writes[i].service = c.writes[i].service || service
		c.writes[i].self = c.writes[i].self || self
	}
}

// Option changes how Start sets up the server.
type Option func(*config)

// WithoutMemberOf leaves out the memberof overlay, so user entries have no
// memberOf attribute: for testing group searches, as against directories
// that lack memberOf.
func WithoutMemberOf() Option { return func(c *config) { c.memberOf = false } }

// WithTLS makes the server speak TLS: StartTLS on URL, and ldaps on
// LDAPSURL, with a certificate for 127.0.0.1 and localhost signed by a
// throwaway CA written to CAFile.
func WithTLS() Option { return func(c *config) { c.tls = true } }

// WithLDIF adds the entries of an LDIF text (add records only) after the
// standard seed, in order. It may be given more than once.
func WithLDIF(ldif string) Option { return func(c *config) { c.ldif = append(c.ldif, ldif) } }

// WithACL replaces DefaultACL with the given slapd.conf "access to" rules.
func WithACL(rules ...string) Option {
	return func(c *config) { c.acl = append([]string(nil), rules...) }
}

// WithExtraACL puts rules before the default ones. slapd uses the first rule
// whose "to" matches, so these win for what they cover.
func WithExtraACL(rules ...string) Option {
	return func(c *config) { c.extraACL = append(c.extraACL, rules...) }
}

// WithServiceMobileWrite lets the service account write users' mobile
// attribute (for enrolment); without it the default ACL refuses such writes.
func WithServiceMobileWrite() Option { return WithServiceWrite("mobile") }

// WithSelfMobileWrite lets users write the mobile attribute of their own
// entry ("self write"), as directories often allow for contact details.
func WithSelfMobileWrite() Option { return WithSelfWrite("mobile") }

// WithServiceWrite lets the service account write the given attributes of
// the entries under PeopleDN. It combines with WithSelfWrite: each
// attribute gets one rule naming every writer, since slapd would never
// reach a second rule for the same attribute.
func WithServiceWrite(attrs ...string) Option {
	return func(c *config) { c.allowWrite(true, false, attrs) }
}

// WithSelfWrite lets users write the given attributes of their own entry.
func WithSelfWrite(attrs ...string) Option {
	return func(c *config) { c.allowWrite(false, true, attrs) }
}

// WithSchema adds a schema in OpenLDAP's .schema format (attributetype and
// objectclass definitions), loaded after core, cosine and inetorgperson.
// It may be given more than once.
func WithSchema(text string) Option { return func(c *config) { c.schemas = append(c.schemas, text) } }

// WithStatsLog makes slapd print its operations (loglevel stats: a line
// per connection, bind, search and result) with its errors, so that a
// test can count what the directory was asked; see Output.
func WithStatsLog() Option { return func(c *config) { c.stats = true } }

// WithUserObjectClass adds objectClass values to the seeded users (Alice,
// Bob, Carol), e.g. an auxiliary class from WithSchema that allows an
// attribute inetOrgPerson does not.
func WithUserObjectClass(classes ...string) Option {
	return func(c *config) { c.userClasses = append(c.userClasses, classes...) }
}

// writeRules turns the WithServiceWrite and WithSelfWrite grants into
// access rules. Whoever may not write keeps the read access DefaultACL
// gives.
func writeRules(writes []attrWriter) []string {
	var rules []string
	for _, w := range writes {
		svc, self := "read", "read"
		if w.service {
			svc = "write"
		}
		if w.self {
			self = "write"
		}
		rules = append(rules, fmt.Sprintf("access to dn.subtree=%q attrs=%s\n by dn.exact=%q %s\n by self %s\n by * none",
			PeopleDN, w.attr, ServiceDN, svc, self))
	}
	return rules
}

// DefaultACL returns the access rules used unless WithACL is given: users
// may authenticate and change their own password, the service account reads
// everything but passwords, users read their own entry, nobody else sees
// anything.
func DefaultACL() []string {
	return []string{
		"access to attrs=userPassword\n by self write\n by anonymous auth\n by * none",
		fmt.Sprintf("access to *\n by dn.exact=%q read\n by self read\n by * none", ServiceDN),
	}
}

// Start runs a seeded slapd for the test and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := config{memberOf: true, acl: DefaultACL()}
	for _, o := range opts {
		o(&cfg)
	}
	// Parse the extra LDIF before paying for a start-up.
	var extra []*ldap.AddRequest
	for _, text := range cfg.ldif {
		reqs, err := ParseLDIF(text)
		if err != nil {
			t.Fatalf("slapdtest: extra LDIF: %v", err)
		}
		extra = append(extra, reqs...)
	}

	bin := findPrerequisites(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatalf("slapdtest: %v", err)
	}
	var schemaFiles []string
	for i, text := range cfg.schemas {
		f := filepath.Join(dir, fmt.Sprintf("extra-%d.schema", i))
		if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
			t.Fatalf("slapdtest: %v", err)
		}
		schemaFiles = append(schemaFiles, f)
	}
	var tlsFiles []string
	if cfg.tls {
		ca, cert, key, err := testserver.WriteTLSFiles(dir, "slapdtest CA", "localhost", net.IPv4(127, 0, 0, 1))
		if err != nil {
			t.Fatalf("slapdtest: TLS certificate: %v", err)
		}
		tlsFiles = []string{ca, cert, key}
	}
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(slapdConf(dir, cfg, schemaFiles, tlsFiles)), 0o600); err != nil {
		t.Fatalf("slapdtest: %v", err)
	}
	s := &Server{
		BaseDN: BaseDN, BindDN: ServiceDN, BindPassword: ServicePassword,
		RootDN: RootDN, RootPassword: RootPassword,
		t: t, bin: bin, dir: dir, conf: conf, debug: "none",
	}
	if cfg.stats {
		s.debug = "stats"
	}
	t.Cleanup(s.Stop)

	nports := 1
	if cfg.tls {
		nports = 2 // the second for ldaps
	}
	err := testserver.RetryPortTaken(func() error {
		ports, err := testserver.FreePorts(nports)
		if err != nil {
			return err
		}
		s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", ports[0])
		if cfg.tls {
			s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", ports[1])
			s.CAFile = tlsFiles[0]
		}
		return s.start()
	})
	if err != nil {
		t.Fatalf("slapdtest: %v", err)
	}

	conn := s.Conn(t)
	seed := seedRequests(cfg.userClasses)
	if cfg.ppolicy {
		seed = append(seed, ppolicyRequests()...)
	}
	for _, req := range append(seed, extra...) {
		if err := conn.Add(req); err != nil {
			t.Fatalf("slapdtest: seed %q: %v", req.DN, err)
		}
	}
	conn.Close()
	return s
}

// findPrerequisites returns slapd's path, or skips (fails when RequireEnv is
// set) naming what is missing.
func findPrerequisites(t testing.TB) string {
	t.Helper()
	bin := testserver.Require(t, "/usr/sbin/slapd", "slapd")
	testserver.Require(t, filepath.Join(ModuleDir, "back_mdb.la"), "slapd")
	testserver.Require(t, filepath.Join(SchemaDir, "inetorgperson.schema"), "slapd")
	return bin
}

func slapdConf(dir string, cfg config, schemaFiles, tlsFiles []string) string {
	var b strings.Builder
	for _, s := range []string{"core", "cosine", "inetorgperson"} {
		fmt.Fprintf(&b, "include %s\n", filepath.Join(SchemaDir, s+".schema"))
	}
	for _, f := range schemaFiles {
		fmt.Fprintf(&b, "include %s\n", f)
	}
	fmt.Fprintf(&b, "pidfile %s\nargsfile %s\n", filepath.Join(dir, "slapd.pid"), filepath.Join(dir, "slapd.args"))
	if len(tlsFiles) == 3 {
		fmt.Fprintf(&b, "TLSCACertificateFile %s\nTLSCertificateFile %s\nTLSCertificateKeyFile %s\n",
			tlsFiles[0], tlsFiles[1], tlsFiles[2])
	}
	fmt.Fprintf(&b, "modulepath %s\nmoduleload back_mdb\n", ModuleDir)
	if cfg.memberOf {
		b.WriteString("moduleload memberof\n")
	}
	if cfg.ppolicy {
		b.WriteString("moduleload ppolicy\n")
	}
	// maxsize: mdb maps the whole file; a small map keeps many parallel
	// servers cheap. dbnosync: durability is worthless here, speed is not.
	fmt.Fprintf(&b, "database mdb\nmaxsize 16777216\ndbnosync\nsuffix %q\nrootdn %q\nrootpw %s\ndirectory %s\n",
		BaseDN, RootDN, RootPassword, filepath.Join(dir, "db"))
	b.WriteString("index objectClass,uid,member eq\n")
	if cfg.memberOf {
		b.WriteString("overlay memberof\nmemberof-refint true\n")
	}
	if cfg.ppolicy {
		// ppolicy_use_lockout: a locked account's bind answers
		// accountLocked, not only invalidCredentials.
		fmt.Fprintf(&b, "overlay ppolicy\nppolicy_default %q\nppolicy_use_lockout\n", PolicyDN)
	}
	for _, rule := range slices.Concat(writeRules(cfg.writes), cfg.extraACL, cfg.acl) {
		// slapd.conf continues a directive on lines that start with
		// white space.
		b.WriteString(strings.ReplaceAll(strings.TrimSpace(rule), "\n", "\n  "))
		b.WriteString("\n")
	}
	return b.String()
}

// start runs slapd on the ports of s.URL and s.LDAPSURL and waits until it
// answers a bind.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.up {
		return nil
	}
	// -d none: stay in the foreground, as our child, printing only errors
	// (-d stats: and every operation).
	// No -u/-g: as root slapd simply keeps running as root, which is fine in
	// a temporary directory.
	urls := s.URL + "/"
	if s.LDAPSURL != "" {
		urls += " " + s.LDAPSURL + "/"
	}
	p, err := testserver.Start(exec.Command(s.bin, "-f", s.conf, "-h", urls, "-d", s.debug), nil)
	if err != nil {
		return err
	}
	s.proc, s.up = p, true
	if err := testserver.WaitReady(time.Now().Add(startTimeout), s.answers, p); err != nil {
		s.stopLocked()
		return fmt.Errorf("%w (%s); its output:\n%s", err, urls, p.Output())
	}
	return nil
}

func (s *Server) answers() bool {
	conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return false
	}
	defer conn.Close()
	conn.SetTimeout(time.Second)
	return conn.Bind(s.RootDN, s.RootPassword) == nil
}

// Stop stops slapd (SIGTERM, then SIGKILL after a grace period), so tests can
// see the directory go away. Its data stays for Restart. Stopping a stopped
// server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if !s.up {
		return
	}
	s.up = false
	// A paused slapd would not act on SIGTERM until continued.
	_ = s.proc.Signal(syscall.SIGCONT)
	s.proc.Stop(stopTimeout)
}

// Pause freezes slapd (SIGSTOP): the kernel still accepts connections but
// nothing answers, as with a hung directory, for timeout tests. It returns
// once every thread of slapd has stopped, not merely once the signal is
// sent: until then slapd still serves requests (see
// testserver.Process.Pause). Resume undoes it; Stop works on a paused
// server too.
func (s *Server) Pause() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.up {
		s.t.Fatalf("slapdtest: pause: slapd is not running")
	}
	if err := s.proc.Pause(stopTimeout); err != nil {
		s.t.Fatalf("slapdtest: %v", err)
	}
}

// Resume lets a paused slapd run again.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.up {
		s.t.Fatalf("slapdtest: %v: slapd is not running", sig)
	}
	if err := s.proc.Signal(sig); err != nil {
		s.t.Fatalf("slapdtest: %v: %v", sig, err)
	}
}

// Restart starts slapd again on the same port with the same data (stopping
// it first if it runs), for tests that check recovery.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := testserver.RetrySamePort(s.start); err != nil {
		s.t.Fatalf("slapdtest: restart: %v", err)
	}
}

// Output returns what slapd printed since it was last started: errors,
// and with WithStatsLog every operation.
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return ""
	}
	return s.proc.Output()
}

// Conn returns a connection bound as RootDN, which bypasses the ACLs, for
// tests that change entries. It is closed when the test ends.
func (s *Server) Conn(t testing.TB) *ldap.Conn {
	t.Helper()
	conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		t.Fatalf("slapdtest: dial %s: %v", s.URL, err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetTimeout(5 * time.Second)
	if err := conn.Bind(s.RootDN, s.RootPassword); err != nil {
		t.Fatalf("slapdtest: bind as %s: %v", s.RootDN, err)
	}
	return conn
}
