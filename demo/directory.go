// Package demo holds what `otpgate demo` runs besides otpgate itself: an
// in-process LDAP directory with a few demo users, and a small app that shows
// the identity headers otpgate sends it.
package demo

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"
)

// DirectoryUser is one person in the demo directory.
type DirectoryUser struct {
	Username, Password, Name, Email, Mobile string
	Groups                                  []string
}

// Directory is a running demo LDAP directory. The exported fields are what a
// client needs to use it; they must not be changed after StartDirectory.
type Directory struct {
	URL          string // ldap://host:port
	BaseDN       string
	BindDN       string // the service account otpgate binds as to search
	BindPassword string // random, new at every start
	Users        []DirectoryUser

	logger      *slog.Logger
	server      *gldap.Server
	runErr      chan error // receives Run's result once the server ends
	baseDN      *ldap.DN
	serviceDN   *ldap.DN
	serviceHash [sha256.Size]byte
	// noMatchHash is compared against when the bind DN is unknown, so unknown
	// and known DNs take the same time to reject.
	noMatchHash [sha256.Size]byte
	entries     []*entry

	mu    sync.Mutex
	binds map[int]bindState // by gldap connection ID; missing means anonymous

	stopOnce sync.Once
	stopErr  error
	stopped  chan struct{} // closed by Stop
}

// bindState is what a connection is authenticated as.
type bindState int

const (
	anonymous bindState = iota
	boundService
	boundUser
)

// entry is a user entry as the directory serves it.
type entry struct {
	dn           string
	parsedDN     *ldap.DN
	attrs        map[string][]string // by canonical attribute name
	passwordHash [sha256.Size]byte
}

const (
	demoBaseDN    = "dc=example,dc=org"
	demoServiceDN = "cn=otpgate,ou=services," + demoBaseDN
	startTimeout  = 5 * time.Second
	stopTimeout   = 5 * time.Second
)

// Users returns the demo directory's users. Bob has no mobile number so
// the demo can show what happens then.
func Users() []DirectoryUser {
	return []DirectoryUser{
		{Username: "alice", Password: "alice-demo-pass", Name: "Alice Liddell", Email: "alice@example.org",
			Mobile: "+15550100006", Groups: []string{"staff", "admins"}},
		{Username: "bob", Password: "bob-demo-pass", Name: "Bob Builder", Email: "bob@example.org",
			Groups: []string{"staff"}},
		{Username: "carol", Password: "carol-demo-pass", Name: "Carol Danvers", Email: "carol@example.org",
			Mobile: "+447700900123"},
	}
}

// userDN returns the DN of the demo user with that username.
func userDN(username string) string {
	return "uid=" + ldap.EscapeDN(username) + ",ou=people," + demoBaseDN
}

// groupDN returns the DN of the demo group with that name, as listed in
// memberOf.
func groupDN(group string) string {
	return "cn=" + ldap.EscapeDN(group) + ",ou=groups," + demoBaseDN
}

// StartDirectory serves the demo directory over plain LDAP on addr, such as
// "127.0.0.1:0" (port 0 picks a free port), and returns once it answers.
// It stops when ctx is done or Stop is called.
func StartDirectory(ctx context.Context, addr string, logger *slog.Logger) (*Directory, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("demo directory address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		// The demo passwords are public, so say so when others can reach them.
		logger.Warn("demo directory listens beyond loopback; its passwords are public", "addr", addr)
	}
	d, err := newDirectory(logger)
	if err != nil {
		return nil, err
	}
	// gldap's Run does its own Listen and never reveals the port it got, so
	// for port 0 we find a free port first and retry if another process takes
	// it in between.
	attempts := 1
	if port == "0" {
		attempts = 3
	}
	var lastErr error
	for range attempts {
		listenAddr := addr
		if port == "0" {
			if listenAddr, err = freeAddr(host); err != nil {
				return nil, err
			}
		}
		if lastErr = d.run(ctx, listenAddr); lastErr == nil {
			break
		}
		if ctx.Err() != nil {
			break
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	go func() {
		select {
		case <-ctx.Done():
			if err := d.Stop(); err != nil {
				logger.Error("stop demo directory", "err", err)
			}
		case <-d.stopped:
		}
	}()
	logger.Debug("demo directory started", "url", d.URL)
	return d, nil
}

// newDirectory builds the directory's data; it does not serve it yet.
func newDirectory(logger *slog.Logger) (*Directory, error) {
	d := &Directory{
		BaseDN:       demoBaseDN,
		BindDN:       demoServiceDN,
		BindPassword: rand.Text(),
		Users:        Users(),
		logger:       logger,
		binds:        make(map[int]bindState),
		stopped:      make(chan struct{}),
	}
	var err error
	if d.baseDN, err = ldap.ParseDN(d.BaseDN); err != nil {
		return nil, fmt.Errorf("parse base DN: %w", err)
	}
	if d.serviceDN, err = ldap.ParseDN(d.BindDN); err != nil {
		return nil, fmt.Errorf("parse service DN: %w", err)
	}
	d.serviceHash = sha256.Sum256([]byte(d.BindPassword))
	d.noMatchHash = sha256.Sum256([]byte(rand.Text()))
	for _, u := range d.Users {
		e, err := newEntry(u)
		if err != nil {
			return nil, err
		}
		d.entries = append(d.entries, e)
	}
	return d, nil
}

func newEntry(u DirectoryUser) (*entry, error) {
	dn := userDN(u.Username)
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return nil, fmt.Errorf("parse DN of user %q: %w", u.Username, err)
	}
	attrs := map[string][]string{
		"objectClass": {"top", "person", "organizationalPerson", "inetOrgPerson"},
		"uid":         {u.Username},
		"cn":          {u.Name},
		"sn":          {u.Name[strings.LastIndexByte(u.Name, ' ')+1:]},
		"mail":        {u.Email},
	}
	if u.Mobile != "" {
		attrs["mobile"] = []string{u.Mobile}
	}
	for _, g := range u.Groups {
		attrs["memberOf"] = append(attrs["memberOf"], groupDN(g))
	}
	return &entry{dn: dn, parsedDN: parsed, attrs: attrs, passwordHash: sha256.Sum256([]byte(u.Password))}, nil
}

// freeAddr returns host with a port that was free a moment ago.
func freeAddr(host string) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("find a free port on %q: %w", host, err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("release port %s: %w", addr, err)
	}
	return addr, nil
}

// run starts a gldap server on addr and waits until it answers as this
// directory; on failure the server is stopped again.
func (d *Directory) run(ctx context.Context, addr string) error {
	mux, err := d.newMux()
	if err != nil {
		return err
	}
	server, err := gldap.NewServer(
		gldap.WithLogger(hclogToSlog(d.logger)),
		gldap.WithOnClose(d.forget),
	)
	if err != nil {
		return fmt.Errorf("create LDAP server: %w", err)
	}
	if err := server.Router(mux); err != nil {
		return fmt.Errorf("set LDAP router: %w", err)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("LDAP address %q: %w", addr, err)
	}
	if host == "" {
		host = "localhost"
	}
	url := "ldap://" + net.JoinHostPort(host, port)
	runErr := make(chan error, 1)
	go func() { runErr <- server.Run(addr) }()
	if err := waitReady(ctx, server, url, d.BindDN, d.BindPassword, runErr); err != nil {
		if stopErr := server.Stop(); stopErr != nil {
			d.logger.Debug("stop LDAP server after failed start", "err", stopErr)
		}
		return fmt.Errorf("start demo directory on %s: %w", addr, err)
	}
	d.URL, d.server, d.runErr = url, server, runErr
	return nil
}

// waitReady returns once the server at url accepts the service account.
// gldap's Ready only says Listen was tried, not that it worked, and binding
// with the random password also proves no other server holds the port.
func waitReady(ctx context.Context, server *gldap.Server, url, bindDN, password string, runErr <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var probeErr error
	for {
		select {
		case err := <-runErr:
			if err == nil {
				err = errors.New("server stopped")
			}
			return err
		case <-ctx.Done():
			return fmt.Errorf("not ready (last probe: %w): %w", probeErr, ctx.Err())
		case <-tick.C:
		}
		if !server.Ready() {
			continue
		}
		if probeErr = probe(url, bindDN, password); probeErr == nil {
			return nil
		}
	}
}

func probe(url, bindDN, password string) error {
	conn, err := ldap.DialURL(url, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	conn.SetTimeout(time.Second)
	if err := conn.Bind(bindDN, password); err != nil {
		return fmt.Errorf("service bind: %w", err)
	}
	return nil
}

// Stop stops serving and waits for open connections to end, for at most a
// few seconds: gldap only notices a stop between requests, so a client that
// keeps an idle connection open would otherwise hold Stop forever.
func (d *Directory) Stop() error {
	if d.server == nil {
		return nil // never started
	}
	d.stopOnce.Do(func() {
		defer close(d.stopped)
		stopped := make(chan error, 1)
		go func() { stopped <- d.server.Stop() }()
		select {
		case err := <-stopped:
			if err != nil {
				d.stopErr = fmt.Errorf("stop demo directory: %w", err)
				return
			}
		case <-time.After(stopTimeout):
			d.stopErr = errors.New("stop demo directory: clients still connected")
			return
		}
		if err := <-d.runErr; err != nil {
			d.stopErr = fmt.Errorf("demo directory server: %w", err)
		}
	})
	return d.stopErr
}

func (d *Directory) newMux() (*gldap.Mux, error) {
	mux, err := gldap.NewMux()
	if err != nil {
		return nil, fmt.Errorf("create LDAP router: %w", err)
	}
	if err := mux.Bind(d.handleBind); err != nil {
		return nil, fmt.Errorf("route bind: %w", err)
	}
	if err := mux.Search(d.handleSearch); err != nil {
		return nil, fmt.Errorf("route search: %w", err)
	}
	if err := mux.Unbind(d.handleUnbind); err != nil {
		return nil, fmt.Errorf("route unbind: %w", err)
	}
	if err := mux.DefaultRoute(d.handleOther); err != nil {
		return nil, fmt.Errorf("route other operations: %w", err)
	}
	return mux, nil
}

func (d *Directory) bindState(connID int) bindState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.binds[connID]
}

func (d *Directory) setBindState(connID int, s bindState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s == anonymous {
		delete(d.binds, connID)
		return
	}
	d.binds[connID] = s
}

// forget drops a closed connection's state; gldap reuses no IDs, but the map
// must not grow forever.
func (d *Directory) forget(connID int) {
	d.setBindState(connID, anonymous)
}

func (d *Directory) handleBind(w *gldap.ResponseWriter, r *gldap.Request) {
	resp := r.NewBindResponse(gldap.WithResponseCode(gldap.ResultInvalidCredentials))
	defer d.write(w, resp, r)
	msg, err := r.GetSimpleBindMessage()
	if err != nil {
		resp.SetResultCode(gldap.ResultProtocolError)
		return
	}
	connID := r.ConnectionID()
	// Any bind first drops what the connection was bound as, so a failed
	// bind leaves it anonymous (RFC 4511 section 4.2.1).
	d.setBindState(connID, anonymous)
	state := d.authenticate(msg.UserName, string(msg.Password))
	if state == anonymous {
		d.logger.Debug("LDAP bind rejected", "conn", connID, "dn", msg.UserName)
		return
	}
	d.setBindState(connID, state)
	resp.SetResultCode(gldap.ResultSuccess)
	d.logger.Debug("LDAP bind", "conn", connID, "dn", msg.UserName)
}

// authenticate returns what a simple bind with dn and password binds as;
// anonymous means rejected, including for every empty password.
func (d *Directory) authenticate(dn, password string) bindState {
	want, state := d.noMatchHash, anonymous
	if parsed, err := ldap.ParseDN(dn); err == nil {
		if parsed.EqualFold(d.serviceDN) {
			want, state = d.serviceHash, boundService
		} else if e := d.entryByDN(parsed); e != nil {
			want, state = e.passwordHash, boundUser
		}
	}
	// Comparing hashes keeps the time independent of the password's length.
	got := sha256.Sum256([]byte(password))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || password == "" {
		return anonymous
	}
	return state
}

func (d *Directory) entryByDN(dn *ldap.DN) *entry {
	for _, e := range d.entries {
		if e.parsedDN.EqualFold(dn) {
			return e
		}
	}
	return nil
}

func (d *Directory) handleUnbind(_ *gldap.ResponseWriter, r *gldap.Request) {
	d.setBindState(r.ConnectionID(), anonymous)
	d.logger.Debug("LDAP unbind", "conn", r.ConnectionID())
}

func (d *Directory) handleSearch(w *gldap.ResponseWriter, r *gldap.Request) {
	done := r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultSuccess))
	defer d.write(w, done, r)
	msg, err := r.GetSearchMessage()
	if err != nil {
		done.SetResultCode(gldap.ResultProtocolError)
		return
	}
	connID := r.ConnectionID()
	log := d.logger.With("conn", connID, "base", msg.BaseDN, "scope", msg.Scope, "filter", msg.Filter)
	// Like a directory ACL: only the service account may look people up.
	if d.bindState(connID) != boundService {
		log.Debug("LDAP search refused: not bound as the service account")
		done.SetResultCode(gldap.ResultInsufficientAccessRights)
		done.SetDiagnosticMessage("bind as the service account to search")
		return
	}
	found, code, err := d.search(msg)
	if err != nil {
		log.Debug("LDAP search matches nothing", "err", err)
	}
	for _, e := range found {
		d.write(w, r.NewSearchResponseEntry(e.dn,
			gldap.WithAttributes(selectAttributes(e, msg.Attributes, msg.TypesOnly))), r)
	}
	done.SetResultCode(code)
	log.Debug("LDAP search", "attributes", msg.Attributes, "entries", len(found), "result", code)
}

// search returns the entries msg asks for and the result code. A filter it
// cannot evaluate exactly matches nothing, reported as an error for the log.
func (d *Directory) search(msg *gldap.SearchMessage) ([]*entry, int, error) {
	if msg.BaseDN == "" && msg.Scope == gldap.BaseObject {
		// The root DSE, which every directory answers: readiness probes
		// read it. It names no AD domain, so no AD policy is looked for.
		return []*entry{{attrs: map[string][]string{}}}, gldap.ResultSuccess, nil
	}
	base, err := ldap.ParseDN(msg.BaseDN)
	if err != nil {
		return nil, gldap.ResultInvalidDNSyntax, fmt.Errorf("parse base DN: %w", err)
	}
	if !base.EqualFold(d.baseDN) && !d.baseDN.AncestorOfFold(base) {
		return nil, gldap.ResultNoSuchObject, errors.New("base DN outside the directory")
	}
	filter, err := compileFilter(msg.Filter)
	if err != nil {
		return nil, gldap.ResultSuccess, err
	}
	var found []*entry
	for _, e := range d.entries {
		if inScope(base, e.parsedDN, msg.Scope) && matchFilter(filter, e) {
			found = append(found, e)
		}
	}
	if msg.SizeLimit > 0 && int64(len(found)) > msg.SizeLimit {
		return found[:msg.SizeLimit], gldap.ResultSizeLimitExceeded, nil
	}
	return found, gldap.ResultSuccess, nil
}

func inScope(base, dn *ldap.DN, scope gldap.Scope) bool {
	switch scope {
	case gldap.BaseObject:
		return base.EqualFold(dn)
	case gldap.SingleLevel:
		return len(dn.RDNs) > 0 && base.EqualFold(&ldap.DN{RDNs: dn.RDNs[1:]})
	case gldap.WholeSubtree:
		return base.EqualFold(dn) || base.AncestorOfFold(dn)
	}
	return false
}

// selectAttributes returns the entry's attributes the client asked for: all
// of them for none or "*", none for "1.1".
func selectAttributes(e *entry, requested []string, typesOnly bool) map[string][]string {
	want := make(map[string]bool)
	all := len(requested) == 0
	for _, name := range requested {
		if name == "*" {
			all = true
		}
		if a, ok := lookupAttribute(name); ok {
			want[a.name] = true
		}
	}
	out := make(map[string][]string)
	for name, values := range e.attrs {
		if !all && !want[name] {
			continue
		}
		if typesOnly {
			values = nil
		}
		out[name] = values
	}
	return out
}

// handleOther refuses operations the demo directory does not offer.
func (d *Directory) handleOther(w *gldap.ResponseWriter, r *gldap.Request) {
	// gldap defaults to an extended response; answer with the response type
	// that matches the request so clients can read it.
	app := gldap.ApplicationExtendedResponse
	if _, err := r.GetModifyMessage(); err == nil {
		app = gldap.ApplicationModifyResponse
	} else if _, err := r.GetAddMessage(); err == nil {
		app = gldap.ApplicationAddResponse
	} else if _, err := r.GetDeleteMessage(); err == nil {
		app = gldap.ApplicationDelResponse
	}
	d.logger.Debug("LDAP operation refused", "conn", r.ConnectionID(), "response", gldap.ApplicationCodeMap[uint8(app)])
	d.write(w, r.NewResponse(gldap.WithApplicationCode(app),
		gldap.WithResponseCode(gldap.ResultUnwillingToPerform),
		gldap.WithDiagnosticMessage("the demo directory is read-only")), r)
}

func (d *Directory) write(w *gldap.ResponseWriter, resp gldap.Response, r *gldap.Request) {
	if err := w.Write(resp); err != nil {
		d.logger.Debug("write LDAP response", "conn", r.ConnectionID(), "err", err)
	}
}

// hclogToSlog gives gldap a logger that forwards its warnings and errors to
// logger. gldap's debug output dumps whole packets, bind passwords included,
// so it is never enabled.
func hclogToSlog(logger *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:        "gldap",
		Level:       hclog.Warn,
		Output:      slogWriter{logger},
		DisableTime: true,
	})
}

// slogWriter logs each line hclog writes as one slog warning.
type slogWriter struct{ logger *slog.Logger }

var _ io.Writer = slogWriter{}

func (s slogWriter) Write(p []byte) (int, error) {
	s.logger.Warn("LDAP server", "detail", strings.TrimSpace(string(p)))
	return len(p), nil
}
