// Package sambatest runs a throwaway Samba Active Directory domain
// controller for tests: the domain EXAMPLE.TEST (NetBIOS EXAMPLE), seeded
// with users in every state AD knows (see Alice, Bob, Dave, Mike, Ed,
// Xena, Lola, Henry). It is a normal package, not a _test file, so that
// the tests of every package can start one.
//
// Provisioning a domain takes seconds to a minute, so it happens once per
// test binary: the first Start provisions and seeds a template domain, and
// every Start copies it into t.TempDir() and runs its own samba there in
// single-process mode, stopped by t.Cleanup. Tests may change their copy
// freely (lock users, write attributes).
//
// Samba's LDAP ports are fixed (389 for LDAP and StartTLS, 636 for ldaps,
// 3268/3269 for the global catalogue), so each DC listens on its own
// loopback address (127.x.y.z) instead of on free ports, and only there;
// binding those ports needs root. Only the ldap service runs: no DNS,
// Kerberos, SMB, RPC or NetBIOS listeners. When samba is not installed,
// or the test is not root, the test is skipped, unless
// REQUIRE_TEST_SERVERS=1, which makes it fail so that CI cannot pass by
// skipping.
package sambatest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/otpgate/otpgate/internal/testserver"
)

// RequireEnv names the variable that turns "samba missing" from a skip into
// a failure.
const RequireEnv = testserver.RequireEnv

const (
	provisionTimeout = 5 * time.Minute // about 15 s on 2 idle cores
	startTimeout     = 60 * time.Second
	stopTimeout      = 10 * time.Second
	hostName         = "dc1" // the DC's host name; dc1.example.test
)

// DC is one running domain controller. Its fields are fixed for its life.
type DC struct {
	Host        string // its loopback address, 127.x.y.z
	URL         string // ldaps://Host:636
	StartTLSURL string // ldap://Host:389, for StartTLS (AD refuses simple binds in the clear)
	CAFile      string // the PEM CA that signed the DC's certificate (SANs: Host, dc1.example.test)
	// ServerName is the certificate's DNS name, for clients that reach the
	// DC by address but check the certificate by name.
	ServerName    string
	BaseDN        string
	BindDN        string // the service account otpgate searches as
	BindPassword  string
	AdminDN       string // the domain's Administrator, for set-up and checks
	AdminPassword string

	t    testing.TB
	dir  string
	conf string
	ca   *x509.CertPool
	mu   sync.Mutex
	proc *testserver.Process
	in   io.WriteCloser // samba -i stops when its standard input closes
	up   bool
}

// The template domain, provisioned and seeded once per test binary.
var template struct {
	once     sync.Once
	dir      string
	err      error
	duration time.Duration
}

// ProvisionTime is how long provisioning and seeding the template took,
// zero before the first Start: for reports on the suite's time.
func ProvisionTime() time.Duration { return template.duration }

// Option changes the DC Start runs.
type Option func(*options)

type options struct {
	schema []string // LDIF files for ldapmodify, DC=X standing for BaseDN
}

// WithSchema extends the DC's schema with ldif (for example
// auth.BackupCodeSchemaAD), in which DC=X stands for the domain, as an AD
// administrator would: the DC runs with "dsdb:schema update allowed =
// true" in its smb.conf, which Samba needs to accept any schema change,
// and ldapmodify applies the file as the Administrator (a Schema Admin)
// over ldaps, its schemaUpdateNow steps included.
func WithSchema(ldif string) Option {
	return func(o *options) { o.schema = append(o.schema, ldif) }
}

// Start runs a seeded domain controller for the test and stops it when the
// test ends.
func Start(t testing.TB, opts ...Option) *DC {
	t.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
	samba, tool := findPrerequisites(t)
	template.once.Do(func() {
		start := time.Now()
		template.dir, template.err = makeTemplate(samba, tool)
		template.duration = time.Since(start)
	})
	if template.err != nil {
		t.Fatalf("sambatest: %v", template.err)
	}
	dir := t.TempDir()
	if err := copyTree(template.dir, dir); err != nil {
		t.Fatalf("sambatest: copy the template domain: %v", err)
	}
	dc, err := startIn(t, samba, dir, len(o.schema) > 0)
	if err != nil {
		t.Fatalf("sambatest: %v", err)
	}
	for _, ldif := range o.schema {
		if err := dc.applySchema(ldif); err != nil {
			t.Fatalf("sambatest: %v", err)
		}
	}
	return dc
}

// applySchema runs ldapmodify with ldif, DC=X replaced by the domain, as
// the Administrator.
func (dc *DC) applySchema(ldif string) error {
	ldif = strings.ReplaceAll(ldif, ",DC=X\n", ","+BaseDN+"\n")
	cmd := exec.Command("/usr/bin/ldapmodify", "-x", "-H", dc.URL, "-D", AdminDN, "-w", AdminPassword)
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+dc.CAFile, "LDAPTLS_REQCERT=demand")
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("extend the schema with ldapmodify: %w; its output:\n%s", err, out)
	}
	return nil
}

// findPrerequisites returns the paths of samba and samba-tool, or skips
// (fails when RequireEnv is set) naming what is missing.
func findPrerequisites(t testing.TB) (samba, tool string) {
	t.Helper()
	samba = testserver.Require(t, "/usr/sbin/samba", "samba")
	tool = testserver.Require(t, "/usr/bin/samba-tool", "samba-common-bin")
	testserver.Require(t, "/usr/share/samba/setup/provision.ldif", "samba-ad-provision")
	if m, _ := filepath.Glob("/usr/lib/*/samba/ldb/samba_dsdb.so"); len(m) == 0 {
		testserver.Missing(t, "Samba's directory modules are not installed (Debian package samba-dsdb-modules)")
	}
	if exec.Command("/usr/bin/python3", "-c", "import ldb").Run() != nil {
		testserver.Missing(t, "Python's ldb module is not installed (Debian package python3-ldb)")
	}
	if os.Geteuid() != 0 {
		testserver.Missing(t, "a Samba DC must listen on ports 389 and 636, which needs root")
	}
	return samba, tool
}

// makeTemplate provisions the domain into a new directory, starts it once
// to seed it, and stops it. The directory is removed by the next test
// binary that finds its process gone.
func makeTemplate(samba, tool string) (string, error) {
	removeStaleTemplates()
	dir, err := os.MkdirTemp("", fmt.Sprintf("sambatest-%d-", os.Getpid()))
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), provisionTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, tool, "domain", "provision",
		"--use-rfc2307", "--targetdir="+dir, "--realm="+Realm, "--domain="+NetBIOSDomain,
		"--server-role=dc", "--dns-backend=NONE", "--host-name="+hostName, "--host-ip=127.0.0.1",
		"--adminpass="+AdminPassword,
		"--option=interfaces=127.0.0.1/8", "--option=bind interfaces only=yes").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("samba-tool domain provision: %w; its output:\n%s", err, out)
	}
	// The provision's own smb.conf and TLS files are replaced by startIn's.
	dc, err := startIn(nil, samba, dir, false)
	if err != nil {
		return "", fmt.Errorf("start the template domain: %w", err)
	}
	conn, err := dc.dial(dc.URL, AdminDN, AdminPassword)
	if err != nil {
		dc.Stop()
		return "", fmt.Errorf("bind as the Administrator: %w", err)
	}
	err = seed(conn, dc.URL, func(url, dn, password string) error {
		c, err := dc.dial(url, dn, password)
		if err == nil {
			c.Close()
		}
		return err
	})
	conn.Close()
	dc.Stop()
	if err != nil {
		return "", fmt.Errorf("seed: %w; samba's output:\n%s", err, dc.Output())
	}
	// Samba's own Python, which has the ldb module (a python3 earlier on
	// PATH may not).
	partition := filepath.Join(dir, "private", "sam.ldb.d", strings.ToUpper(BaseDN)+".ldb")
	out, err = exec.Command("/usr/bin/python3", "-c", agePasswordScript, partition, Ed.DN, pwdLastSet2001).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("age ed's password: %w; output:\n%s", err, out)
	}
	return dir, nil
}

// removeStaleTemplates removes the templates of test binaries that have
// exited.
func removeStaleTemplates() {
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), "sambatest-*-*"))
	for _, d := range old {
		f := strings.SplitN(filepath.Base(d), "-", 3)
		pid, err := strconv.Atoi(f[1])
		if err != nil || syscall.Kill(pid, 0) == nil {
			continue
		}
		_ = os.RemoveAll(d)
	}
}

// copyTree copies the regular files and directories under src into dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		switch {
		case err != nil:
			return err
		case d.IsDir() && rel == "run":
			return fs.SkipDir // the old process's sockets and locks
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm())
		case !d.Type().IsRegular():
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
}

// startIn writes a configuration for the domain in dir, with a fresh
// loopback address and certificate, and starts samba on it. t may be nil
// (the template); otherwise t.Cleanup stops it. schemaUpdates lets the DC
// accept changes to its schema.
func startIn(t testing.TB, samba, dir string, schemaUpdates bool) (*DC, error) {
	dc := &DC{
		BaseDN: BaseDN, BindDN: ServiceDN, BindPassword: ServicePassword,
		AdminDN: AdminDN, AdminPassword: AdminPassword, ServerName: hostName + "." + UPNSuffix,
		t: t, dir: dir, conf: filepath.Join(dir, "otpgate-smb.conf"),
	}
	if t != nil {
		t.Cleanup(dc.Stop)
	}
	run := filepath.Join(dir, "run")
	if err := os.MkdirAll(run, 0o700); err != nil {
		return nil, err
	}
	err := testserver.RetryPortTaken(func() error {
		host, err := freeLoopbackHost()
		if err != nil {
			return err
		}
		dc.Host = host
		dc.URL = "ldaps://" + host
		dc.StartTLSURL = "ldap://" + host
		caFile, certFile, keyFile, err := testserver.WriteTLSFiles(filepath.Join(dir, "otpgate-tls"), "sambatest CA", dc.ServerName, net.ParseIP(host))
		if err != nil {
			return fmt.Errorf("TLS certificate: %w", err)
		}
		dc.CAFile = caFile
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return err
		}
		dc.ca = x509.NewCertPool()
		dc.ca.AppendCertsFromPEM(pem)
		conf := smbConf(dir, run, host, caFile, certFile, keyFile)
		if schemaUpdates {
			conf += "\tdsdb:schema update allowed = true\n"
		}
		if err := os.WriteFile(dc.conf, []byte(conf), 0o600); err != nil {
			return err
		}
		return dc.start(samba)
	})
	if err != nil {
		return nil, err
	}
	return dc, nil
}

func smbConf(dir, run, host, caFile, certFile, keyFile string) string {
	// Only the ldap service (LDAP, ldaps and the global catalogue):
	// nothing else is needed to bind and search, and nothing else
	// listens. Every path is in dir, so nothing touches the system's
	// Samba.
	return fmt.Sprintf(`[global]
	netbios name = %s
	workgroup = %s
	realm = %s
	server role = active directory domain controller
	server services = ldap
	dcerpc endpoint servers =
	interfaces = %s/8
	bind interfaces only = yes
	private dir = %s
	state directory = %s
	cache directory = %s
	binddns dir = %s
	lock directory = %s
	pid directory = %s
	ncalrpc dir = %s
	winbindd socket directory = %s
	log file = %s
	log level = 1
	idmap_ldb:use rfc2307 = yes
	tls enabled = yes
	tls cafile = %s
	tls certfile = %s
	tls keyfile = %s
`, strings.ToUpper(hostName), NetBIOSDomain, Realm, host,
		filepath.Join(dir, "private"), filepath.Join(dir, "state"), filepath.Join(dir, "cache"),
		filepath.Join(dir, "bind-dns"), run, run, filepath.Join(run, "ncalrpc"), filepath.Join(run, "winbindd"),
		filepath.Join(run, "log.%m"), caFile, certFile, keyFile)
}

// freeLoopbackHost picks a random loopback address other than 127.0.0.1
// whose LDAP ports are free.
func freeLoopbackHost() (string, error) {
	var err error
	for range 20 {
		host := fmt.Sprintf("127.%d.%d.%d", 1+rand.IntN(254), rand.IntN(256), 1+rand.IntN(254))
		if err = portsFree(host, 389, 636, 3268, 3269); err == nil {
			return host, nil
		}
	}
	return "", fmt.Errorf("find a free loopback address: %w", err)
}

func portsFree(host string, ports ...int) error {
	for _, p := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			return err
		}
		l.Close()
	}
	return nil
}

// start runs samba and waits until it answers an ldaps bind.
func (dc *DC) start(samba string) error {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	cmd := exec.Command(samba, "-i", "-M", "single", "--debug-stdout", "-s", dc.conf)
	in, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("samba's standard input: %w", err)
	}
	p, err := testserver.Start(cmd, nil)
	if err != nil {
		in.Close()
		return err
	}
	dc.proc, dc.in, dc.up = p, in, true
	ready := func() bool {
		c, err := dc.dial(dc.URL, AdminDN, AdminPassword)
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	if err := testserver.WaitReady(time.Now().Add(startTimeout), ready, p); err != nil {
		dc.stopLocked()
		out := p.Output()
		if strings.Contains(out, "NT_STATUS_ADDRESS_ALREADY_ASSOCIATED") {
			err = fmt.Errorf("%w: %w", testserver.ErrPortTaken, err)
		}
		return fmt.Errorf("samba on %s: %w; its output:\n%s", dc.Host, err, out)
	}
	return nil
}

// dial connects to url (ldaps or ldap with StartTLS) and binds.
func (dc *DC) dial(url, dn, password string) (*ldap.Conn, error) {
	cfg := &tls.Config{RootCAs: dc.ca, ServerName: dc.Host, MinVersion: tls.VersionTLS12}
	conn, err := ldap.DialURL(url, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}), ldap.DialWithTLSConfig(cfg))
	if err != nil {
		return nil, err
	}
	conn.SetTimeout(10 * time.Second)
	if strings.HasPrefix(url, "ldap://") {
		if err := conn.StartTLS(cfg); err != nil {
			conn.Close()
			return nil, err
		}
	}
	if err := conn.Bind(dn, password); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Stop stops samba (SIGTERM, then SIGKILL after a grace period). Stopping a
// stopped DC does nothing.
func (dc *DC) Stop() {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	dc.stopLocked()
}

func (dc *DC) stopLocked() {
	if !dc.up {
		return
	}
	dc.up = false
	_ = dc.proc.Signal(syscall.SIGCONT)
	dc.proc.Stop(stopTimeout)
	dc.in.Close()
}

// Output returns what samba printed since it was started.
func (dc *DC) Output() string {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	if dc.proc == nil {
		return ""
	}
	return dc.proc.Output()
}

// Conn returns an ldaps connection bound as the Administrator, closed when
// the test ends.
func (dc *DC) Conn(t testing.TB) *ldap.Conn {
	t.Helper()
	conn, err := dc.dial(dc.URL, AdminDN, AdminPassword)
	if err != nil {
		t.Fatalf("sambatest: bind as the Administrator: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Bind binds as dn with password over ldaps and returns AD's answer: nil
// or the *ldap.Error with its "data NNN" text.
func (dc *DC) Bind(dn, password string) error {
	c, err := dc.dial(dc.URL, dn, password)
	if err == nil {
		c.Close()
	}
	return err
}

// Attr returns the values of attr of the entry dn, read as the
// Administrator.
func (dc *DC) Attr(t testing.TB, dn, attr string) []string {
	t.Helper()
	res, err := dc.Conn(t).Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 10, false, "(objectClass=*)", []string{attr}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("sambatest: read %s of %q: %v", attr, dn, err)
	}
	return res.Entries[0].GetEqualFoldAttributeValues(attr)
}

// BadPwdCount returns AD's count of u's wrong passwords.
func (dc *DC) BadPwdCount(t testing.TB, u User) int {
	t.Helper()
	v := dc.Attr(t, u.DN, "badPwdCount")
	if len(v) == 0 {
		return 0
	}
	n, err := strconv.Atoi(v[0])
	if err != nil {
		t.Fatalf("sambatest: badPwdCount of %s is %q", u.Username, v[0])
	}
	return n
}

// SID returns the objectSid of the entry dn in its string form (S-1-5-...).
func (dc *DC) SID(t testing.TB, dn string) string {
	t.Helper()
	res, err := dc.Conn(t).Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 10, false, "(objectClass=*)", []string{"objectSid"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("sambatest: read objectSid of %q: %v", dn, err)
	}
	b := res.Entries[0].GetRawAttributeValue("objectSid")
	if len(b) < 8 || len(b) != 8+4*int(b[1]) {
		t.Fatalf("sambatest: objectSid of %q is %d bytes", dn, len(b))
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	s := fmt.Sprintf("S-%d-%d", b[0], auth)
	for i := range int(b[1]) {
		s += "-" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10)
	}
	return s
}

// SambaTool runs samba-tool with args against the DC's own database and
// configuration (as an administrator on the DC would), e.g. "dsacl",
// "set", ..., and returns its output; it fails the test when samba-tool
// does.
func (dc *DC) SambaTool(t testing.TB, args ...string) string {
	t.Helper()
	args = append(args, "-s", dc.conf, "-H", "tdb://"+filepath.Join(dc.dir, "private", "sam.ldb"))
	out, err := exec.Command("/usr/bin/samba-tool", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("sambatest: samba-tool %s: %v; output:\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// MobileWriteACE is the ACE the README tells AD administrators to add to
// the container of the users (here CN=Users) so that the service account
// sid may write their mobile attribute, and nothing else: write property
// (WP) on mobile (schemaIDGUID f0f8ffa3-...) of user objects (bf967aba-...),
// inherited by the users below (CIIO).
func MobileWriteACE(sid string) string {
	return "(OA;CIIO;WP;f0f8ffa3-1191-11d0-a060-00aa006c33ed;bf967aba-0de6-11d0-a285-00aa003049e2;" + sid + ")"
}

// GrantServiceMobileWrite adds MobileWriteACE for the service account to
// CN=Users with samba-tool dsacl set, as the README says.
func (dc *DC) GrantServiceMobileWrite(t testing.TB) {
	t.Helper()
	dc.SambaTool(t, "dsacl", "set", "--objectdn="+UsersDN, "--sddl="+MobileWriteACE(dc.SID(t, ServiceDN)))
}

// ConnAs returns an ldaps connection bound as dn with password, closed
// when the test ends: to see the directory with a user's rights.
func (dc *DC) ConnAs(t testing.TB, dn, password string) *ldap.Conn {
	t.Helper()
	conn, err := dc.dial(dc.URL, dn, password)
	if err != nil {
		t.Fatalf("sambatest: bind as %s: %v", dn, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// ReadWriteACE is the ACE the README tells AD administrators to add to the
// container of the users (here CN=Users) so that sid may read and write
// the attribute whose schemaIDGUID is attrGUID on user objects, inherited
// by the users below (CIIO): read property (RP), write property (WP) and
// control access (CR), which a confidential attribute (searchFlags 128)
// needs besides RP before anyone may read it.
func ReadWriteACE(sid, attrGUID string) string {
	return "(OA;CIIO;RPWPCR;" + attrGUID + ";bf967aba-0de6-11d0-a285-00aa003049e2;" + sid + ")"
}

// GrantServiceReadWrite adds ReadWriteACE for the service account and
// attrGUID to CN=Users with samba-tool dsacl set, as the README says.
func (dc *DC) GrantServiceReadWrite(t testing.TB, attrGUID string) {
	t.Helper()
	dc.SambaTool(t, "dsacl", "set", "--objectdn="+UsersDN, "--sddl="+ReadWriteACE(dc.SID(t, ServiceDN), attrGUID))
}
