package auth

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/otpgate/otpgate/internal/setting"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
)

// LDAPConfig says how to reach an LDAP directory and find users in it.
type LDAPConfig struct {
	URL       string      // ldap://host[:port] or ldaps://host[:port]
	StartTLS  bool        // upgrade an ldap:// connection with StartTLS
	TLSConfig *tls.Config // nil: system roots; ServerName defaults to the URL's host

	BindDN, BindPassword string // the service account that searches
	BaseDN               string // where users are searched, whole subtree

	// UserFilter finds a user; {username} is replaced by the escaped
	// username, e.g. "(uid={username})".
	UserFilter string
	// NetBIOSDomains and UPNSuffixes let users type their name as Active
	// Directory users do: "EXAMPLE\alice" (a NetBIOS domain) and
	// "alice@example.com" (a UPN suffix) are searched for as "alice".
	// With NetBIOSDomains set, a name with another domain is refused
	// without a search; a suffix not listed is searched for as typed.
	NetBIOSDomains, UPNSuffixes []string
	// DisabledFilter, when set, matches accounts the directory keeps but
	// that may not sign in, e.g. "(nsAccountLock=TRUE)": the user search
	// leaves them out, and Lookup reports them disabled.
	DisabledFilter string

	// Attributes read from the user entry; defaults "mobile", "cn", "mail".
	MobileAttribute, NameAttribute, MailAttribute string
	// UsernameAttribute holds the canonical username (default "uid"; AD:
	// "sAMAccountName"). Apps receive it as the user's identity, so that
	// "ALICE" and "alice" sign in as the same user.
	UsernameAttribute string
	// OTPEnableAttribute, when set, names a user attribute whose value
	// FALSE (as LDAP writes booleans) turns the second factor off for that
	// user; any other value or none leaves it on.
	OTPEnableAttribute string
	// GroupAttribute names the user attribute that lists group DNs, e.g.
	// "memberOf"; empty: not read.
	GroupAttribute string

	// With GroupBaseDN and GroupFilter, groups are also searched for, for
	// directories without memberOf. GroupFilter may hold {dn} (the user's
	// DN) and {username}, e.g. "(member={dn})".
	GroupBaseDN, GroupFilter string
	GroupNameAttribute       string // default "cn"
	// PrimaryGroup adds the group named by the user's primaryGroupID (AD),
	// which memberOf leaves out: usually Domain Users. It is the group
	// whose objectSid is the user's objectSid with its last part (RID)
	// replaced by primaryGroupID, searched for in the user's domain (the
	// DC= part of the user's DN).
	PrimaryGroup bool

	// BackupCodesAttribute is a multi-valued attribute of the user entry
	// that holds the hashes of the user's unused backup codes, e.g.
	// BackupCodeAttribute from BackupCodeSchema; empty: no backup codes.
	// The service account must be allowed to read and write it.
	BackupCodesAttribute string

	Timeout time.Duration // dial, and each request; default 5s
	// PoolSize is how many connections of each kind, bound as the
	// service account and for user binds, are open at most and kept for
	// reuse; default 4. PoolIdleTimeout closes those unused that long;
	// default 1m.
	PoolSize        int
	PoolIdleTimeout time.Duration
	// NumberTypes are the kinds of number SetMobile writes, as the sign-in
	// flow's (FlowConfig.NumberTypes); zero: DefaultNumberTypes.
	NumberTypes NumberTypes
}

// LDAP is a Directory backed by an LDAP server, safe for concurrent use.
// It keeps two pools of connections: one bound as the service account, for
// searches and the service's writes, and one for user binds, so that a
// connection bound as a user never serves a service request. Close closes
// them.
type LDAP struct {
	cfg       LDAPConfig // with defaults filled in
	addr      string     // host:port to dial
	ldaps     bool
	tls       *tls.Config // ServerName filled in; used for ldaps and StartTLS
	attrs     []string    // read from user entries
	timeLimit int         // seconds, for the server's search time limit
	service   *connPool   // bound as the service account
	users     *connPool   // for user binds, each use binding anew

	// userFilter is UserFilter without the entries DisabledFilter matches.
	userFilter string
}

var _ Directory = (*LDAP)(nil)

const (
	defaultLDAPTimeout         = 5 * time.Second
	defaultLDAPPoolSize        = 4
	defaultLDAPPoolIdleTimeout = time.Minute
	maxLDAPPoolSize            = 1000
	maxUsernameBytes           = 256
)

// Attribute descriptions (RFC 4512): a name with options, or an OID.
var attributeRE = regexp.MustCompile(`^(?:[A-Za-z][A-Za-z0-9-]*(?:;[A-Za-z0-9-]+)*|[0-9]+(?:\.[0-9]+)+)$`)

// NewLDAP checks cfg, fills in defaults and returns the directory. All
// problems are reported together, each as a *setting.Problem named by the
// setting's variable without its OTPGATE_ prefix (LDAP_URL, ...).
func NewLDAP(cfg LDAPConfig) (*LDAP, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, setting.Problemf(field, format, args...))
	}
	checkDN := func(field, dn string, required bool) {
		switch _, err := ldap.ParseDN(dn); {
		case dn == "" && required:
			bad(field, "is required")
		case dn != "" && err != nil:
			bad(field, "%q is not a DN: %v", dn, err)
		}
	}
	checkFilter := func(field, filter string) {
		if _, err := ldap.CompileFilter(substitute(filter, "sample", "cn=sample,dc=example,dc=org")); err != nil {
			bad(field, "%q is not a valid LDAP filter: %v", filter, err)
		}
	}

	d := &LDAP{cfg: cfg}
	u, err := url.Parse(cfg.URL)
	switch {
	case cfg.URL == "":
		bad("LDAP_URL", "is required, e.g. ldaps://ldap.example.org")
	case err != nil:
		bad("LDAP_URL", "%q is not a URL: %v", cfg.URL, err)
	case u.Scheme != "ldap" && u.Scheme != "ldaps":
		bad("LDAP_URL", "%q: scheme must be ldap or ldaps", cfg.URL)
	case u.Hostname() == "":
		bad("LDAP_URL", "%q has no host", cfg.URL)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil:
		bad("LDAP_URL", "%q: only scheme, host and port are allowed", cfg.URL)
	default:
		d.ldaps = u.Scheme == "ldaps"
		port := u.Port()
		switch {
		case port != "":
		case d.ldaps:
			port = "636"
		default:
			port = "389"
		}
		d.addr = net.JoinHostPort(u.Hostname(), port)
		if cfg.TLSConfig != nil {
			d.tls = cfg.TLSConfig.Clone()
		} else {
			d.tls = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if d.tls.ServerName == "" {
			d.tls.ServerName = u.Hostname()
		}
		if cfg.StartTLS && d.ldaps {
			bad("LDAP_START_TLS", "cannot be used with ldaps://, which is encrypted already")
		}
	}

	checkDN("LDAP_BIND_DN", cfg.BindDN, true)
	if cfg.BindPassword == "" {
		// An empty password would make an unauthenticated bind.
		bad("LDAP_BIND_PASSWORD", "is required")
	}
	checkDN("LDAP_BASE_DN", cfg.BaseDN, true)

	switch {
	case cfg.UserFilter == "":
		bad("LDAP_USER_FILTER", "is required, e.g. (uid={username})")
	case !strings.Contains(cfg.UserFilter, "{username}"):
		bad("LDAP_USER_FILTER", "%q does not contain {username}", cfg.UserFilter)
	default:
		checkFilter("LDAP_USER_FILTER", cfg.UserFilter)
	}

	if cfg.DisabledFilter != "" {
		checkFilter("LDAP_DISABLED_FILTER", cfg.DisabledFilter)
	}

	checkLoginDomains(cfg, bad)
	checkDN("LDAP_GROUP_BASE_DN", cfg.GroupBaseDN, cfg.GroupFilter != "")
	switch {
	case cfg.GroupFilter == "" && cfg.GroupBaseDN != "":
		bad("LDAP_GROUP_FILTER", "is required with GroupBaseDN, e.g. (member={dn})")
	case cfg.GroupFilter == "":
	case !strings.Contains(cfg.GroupFilter, "{dn}") && !strings.Contains(cfg.GroupFilter, "{username}"):
		bad("LDAP_GROUP_FILTER", "%q contains neither {dn} nor {username}", cfg.GroupFilter)
	default:
		checkFilter("LDAP_GROUP_FILTER", cfg.GroupFilter)
	}

	for _, a := range []struct {
		field string
		value *string
		def   string
	}{
		{"LDAP_MOBILE_ATTRIBUTE", &d.cfg.MobileAttribute, "mobile"},
		{"LDAP_USERNAME_ATTRIBUTE", &d.cfg.UsernameAttribute, "uid"},
		{"LDAP_NAME_ATTRIBUTE", &d.cfg.NameAttribute, "cn"},
		{"LDAP_MAIL_ATTRIBUTE", &d.cfg.MailAttribute, "mail"},
		{"LDAP_GROUP_NAME_ATTRIBUTE", &d.cfg.GroupNameAttribute, "cn"},
		{"LDAP_GROUP_ATTRIBUTE", &d.cfg.GroupAttribute, ""},
		{"BACKUP_CODES_ATTRIBUTE", &d.cfg.BackupCodesAttribute, ""},
		{"OTP_ENABLE_ATTRIBUTE", &d.cfg.OTPEnableAttribute, ""},
	} {
		if *a.value == "" {
			*a.value = a.def
		}
		if *a.value != "" && !attributeRE.MatchString(*a.value) {
			bad(a.field, "%q is not an attribute name", *a.value)
		}
	}

	// Saving backup codes replaces every value of the attribute, so it
	// must not be one that holds anything else.
	if bc := d.cfg.BackupCodesAttribute; bc != "" {
		for _, other := range []string{"objectClass", "userPassword", d.cfg.UsernameAttribute, d.cfg.MobileAttribute,
			d.cfg.NameAttribute, d.cfg.MailAttribute, d.cfg.GroupAttribute} {
			if strings.EqualFold(bc, other) {
				bad("BACKUP_CODES_ATTRIBUTE", "%q holds other data, which saving backup codes would overwrite", bc)
				break
			}
		}
	}

	switch {
	case cfg.Timeout < 0:
		bad("LDAP_TIMEOUT", "must not be negative")
	case cfg.Timeout == 0:
		d.cfg.Timeout = defaultLDAPTimeout
	}
	switch {
	case cfg.PoolSize < 0 || cfg.PoolSize > maxLDAPPoolSize:
		bad("LDAP_POOL_SIZE", "%d: want 1 to %d", cfg.PoolSize, maxLDAPPoolSize)
	case cfg.PoolSize == 0:
		d.cfg.PoolSize = defaultLDAPPoolSize
	}
	switch {
	case cfg.PoolIdleTimeout < 0:
		bad("LDAP_POOL_IDLE_TIMEOUT", "must not be negative")
	case cfg.PoolIdleTimeout == 0:
		d.cfg.PoolIdleTimeout = defaultLDAPPoolIdleTimeout
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	// AD's account state, read to refuse disabled and locked accounts
	// before binding; other directories have neither attribute.
	read := []string{d.cfg.UsernameAttribute, d.cfg.NameAttribute, d.cfg.MailAttribute, d.cfg.MobileAttribute, d.cfg.GroupAttribute,
		d.cfg.OTPEnableAttribute, adUACAttribute, adLockoutTimeAttribute}
	if d.cfg.PrimaryGroup {
		read = append(read, "objectSid", "primaryGroupID")
	}
	for _, a := range read {
		if a != "" && !slices.ContainsFunc(d.attrs, func(b string) bool { return strings.EqualFold(a, b) }) {
			d.attrs = append(d.attrs, a)
		}
	}
	d.timeLimit = max(1, int(math.Ceil(d.cfg.Timeout.Seconds())))
	d.userFilter = cfg.UserFilter
	if cfg.DisabledFilter != "" {
		d.userFilter = "(&" + cfg.UserFilter + "(!" + cfg.DisabledFilter + "))"
	}
	d.service = newConnPool("service", d.cfg.PoolSize, d.cfg.PoolIdleTimeout, d.cfg.Timeout,
		func(ctx context.Context) (*ldap.Conn, error) { return d.dial(ctx, true) })
	d.users = newConnPool("user bind", d.cfg.PoolSize, d.cfg.PoolIdleTimeout, d.cfg.Timeout,
		func(ctx context.Context) (*ldap.Conn, error) { return d.dial(ctx, false) })
	return d, nil
}

// Close closes the directory's connections, waiting for those in use to
// be given back (each request ends within LDAPConfig.Timeout); every call
// after it fails with ErrDirectoryUnavailable.
func (d *LDAP) Close() error {
	d.service.close()
	d.users.close()
	return nil
}

// asService runs fn on a connection bound as the service account.
func (d *LDAP) asService(ctx context.Context, fn func(serviceConn) error) error {
	return d.service.with(ctx, func(c *pooledConn) error { return fn(serviceConn{c}) })
}

// asUser binds a connection as the user's entry dn with password (see
// bindUser for its errors), then runs fn, when not nil, on it.
func (d *LDAP) asUser(ctx context.Context, dn, password string, fn func(userConn) error) error {
	return d.users.with(ctx, func(c *pooledConn) error {
		if err := d.bindUser(ctx, c, dn, password); err != nil {
			return err
		}
		if fn == nil {
			return nil
		}
		return fn(userConn{c})
	})
}

// Authenticate finds the user with the service account, then checks the
// password by binding as the user's entry.
func (d *LDAP) Authenticate(ctx context.Context, username, password string) (User, error) {
	return d.AuthenticateWith(ctx, username, password, nil)
}

// AuthenticateWith is Authenticate that calls admit with the user found
// before binding as them (see Directory). It costs two requests on kept
// connections: the search, as the service account, and the user's bind.
func (d *LDAP) AuthenticateWith(ctx context.Context, username, password string, admit func(User) error) (User, error) {
	// Before any I/O: a simple bind with an empty password is an
	// "unauthenticated bind" that many servers answer with success.
	if err := checkCredentialShape(username, password); err != nil {
		return User{}, err
	}
	username, err := d.loginName(username)
	if err != nil {
		return User{}, err
	}
	var user User
	var unusable error
	err = d.asService(ctx, func(c serviceConn) error {
		var entry *ldap.Entry
		if user, entry, err = d.findUser(ctx, c, username); err != nil {
			return err
		}
		// Told only after admit, whose answer comes first.
		unusable = d.unusableInDirectory(ctx, c, entry)
		return nil
	})
	if err != nil {
		return User{}, err
	}
	if admit != nil {
		if err := admit(user); err != nil {
			return User{}, err
		}
	}
	if unusable != nil {
		return User{}, unusable
	}
	if err := d.asUser(ctx, user.DN, password, nil); err != nil {
		return User{}, err
	}
	return user, nil
}

// findUser searches for the user that username names, and their groups,
// as the service account.
func (d *LDAP) findUser(ctx context.Context, c serviceConn, username string) (User, *ldap.Entry, error) {
	filter := substitute(d.userFilter, username, "")
	res, err := c.Search(ldap.NewSearchRequest(d.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, d.timeLimit, false, filter, d.attrs, nil))
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return User{}, nil, fmt.Errorf("%w: ldap search %q: more than one entry matches", ErrInvalidCredentials, filter)
	case err != nil:
		return User{}, nil, d.unavailable(ctx, fmt.Sprintf("ldap search %q", filter), err)
	case len(res.Entries) == 0:
		return User{}, nil, fmt.Errorf("%w: ldap search %q: no entry matches", ErrInvalidCredentials, filter)
	case len(res.Entries) > 1:
		return User{}, nil, fmt.Errorf("%w: ldap search %q: %d entries match", ErrInvalidCredentials, filter, len(res.Entries))
	}
	entry := res.Entries[0]
	user, err := d.userFromEntry(ctx, c, entry, username)
	if err != nil {
		return User{}, nil, err
	}
	return user, entry, nil
}

// userFromEntry reads a user from their entry: the canonical username
// (username when the entry has none), name, e-mail, mobile, the second
// factor's switch, and groups, searched for as the service account (the
// user may not be allowed to read them).
func (d *LDAP) userFromEntry(ctx context.Context, c serviceConn, entry *ldap.Entry, username string) (User, error) {
	canonical := entry.GetEqualFoldAttributeValue(d.cfg.UsernameAttribute)
	if canonical == "" {
		canonical = username
	}
	user := User{
		Username: canonical,
		DN:       entry.DN,
		Name:     entry.GetEqualFoldAttributeValue(d.cfg.NameAttribute),
		Email:    entry.GetEqualFoldAttributeValue(d.cfg.MailAttribute),
		Mobile:   strings.TrimSpace(entry.GetEqualFoldAttributeValue(d.cfg.MobileAttribute)),
	}
	if d.cfg.GroupAttribute != "" {
		user.Groups = groupNamesOf(entry.GetEqualFoldAttributeValues(d.cfg.GroupAttribute))
	}
	if d.cfg.OTPEnableAttribute != "" {
		// Only an explicit FALSE turns the code off: a missing or garbled
		// value keeps the second factor (fail closed).
		user.SecondFactorOff = strings.EqualFold(strings.TrimSpace(entry.GetEqualFoldAttributeValue(d.cfg.OTPEnableAttribute)), "FALSE")
	}
	if d.cfg.GroupFilter != "" {
		gf := substitute(d.cfg.GroupFilter, username, entry.DN)
		res, err := c.Search(ldap.NewSearchRequest(d.cfg.GroupBaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			0, d.timeLimit, false, gf, []string{d.cfg.GroupNameAttribute}, nil))
		if err != nil {
			return User{}, d.unavailable(ctx, fmt.Sprintf("ldap group search %q", gf), err)
		}
		for _, g := range res.Entries {
			if name := g.GetEqualFoldAttributeValue(d.cfg.GroupNameAttribute); name != "" {
				user.Groups = append(user.Groups, name)
			}
		}
	}
	if d.cfg.PrimaryGroup {
		name, err := d.primaryGroup(ctx, c, entry)
		if err != nil {
			return User{}, err
		}
		if name != "" {
			user.Groups = append(user.Groups, name)
		}
	}
	slices.Sort(user.Groups)
	user.Groups = slices.Compact(user.Groups)
	return user, nil
}

// Ping reads the root DSE as the service account: cheap enough for
// readiness probes. A connection it has to open is bound first, which
// catches a wrong service password as well as a dead server.
func (d *LDAP) Ping(ctx context.Context) error {
	return d.asService(ctx, func(c serviceConn) error {
		_, err := c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases,
			1, d.timeLimit, false, "(objectClass=*)", []string{"1.1"}, nil))
		if err != nil {
			return d.unavailable(ctx, "ldap read the root DSE", err)
		}
		return nil
	})
}

// bindService binds conn as the service account. Its being refused is the
// operator's problem, not the user's: never report it as a wrong password.
func (d *LDAP) bindService(ctx context.Context, conn *ldap.Conn) error {
	if err := conn.Bind(d.cfg.BindDN, d.cfg.BindPassword); err != nil {
		return d.unavailable(ctx, fmt.Sprintf("ldap bind as service account %q", d.cfg.BindDN), err)
	}
	return nil
}

// bindUser binds conn as the user's entry with their password. A refusal
// for the user's reasons is ErrInvalidCredentials; the error holds the
// directory's answer, never the password. A refusal for the account's state
// is an *AccountStateError: AD says it in the error message, OpenLDAP's
// ppolicy overlay (and others that follow draft-behera) in the password
// policy response control, which the bind asks for.
func (d *LDAP) bindUser(ctx context.Context, c *pooledConn, dn, password string) error {
	res, err := c.conn.SimpleBind(&ldap.SimpleBindRequest{Username: dn, Password: password,
		Controls: []ldap.Control{ldap.NewControlBeheraPasswordPolicy()}})
	c.note(err)
	if ctx.Err() == nil && (err == nil || ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials)) {
		// A bind that succeeds with changeAfterReset leaves a connection
		// that may only change the password: no sign-in.
		if state, policyErr := passwordPolicyState(res); state != accountStateUnknown {
			detail := fmt.Sprintf("ldap bind as %q: password policy: %s", dn, policyErr)
			if err != nil {
				detail += ": " + err.Error()
			}
			if state == AccountLockedInDir {
				// slapd says "locked" whatever the password: telling it would
				// tell anyone who knows a name. Answered as a wrong password,
				// not counted, as for an account AD has locked.
				return &UnprovenStateError{State: state, Detail: detail}
			}
			return &AccountStateError{State: state, Detail: detail}
		}
	}
	if err != nil {
		var le *ldap.Error
		if ctx.Err() == nil && errors.As(err, &le) && le.ResultCode == ldap.LDAPResultInvalidCredentials {
			// AD says why a right password is refused in the message.
			if state := adAccountState(err.Error()); state != accountStateUnknown {
				return &AccountStateError{State: state, Detail: fmt.Sprintf("ldap bind as %q: %v", dn, err)}
			}
		}
		if ctx.Err() == nil && isCredentialRefusal(err) {
			return fmt.Errorf("%w: ldap bind as %q: %w", ErrInvalidCredentials, dn, err)
		}
		return d.unavailable(ctx, fmt.Sprintf("ldap bind as %q", dn), err)
	}
	return nil
}

// passwordPolicyState reads the account state from a bind's password
// policy response control (draft-behera-ldap-password-policy), with the
// control's error for logs. Like AD, OpenLDAP's ppolicy tells an expired
// password or a reset one only for the right password, and a locked
// account (with ppolicy_use_lockout) whatever the password.
func passwordPolicyState(res *ldap.SimpleBindResult) (AccountState, string) {
	if res == nil {
		return accountStateUnknown, ""
	}
	c, ok := ldap.FindControl(res.Controls, ldap.ControlTypeBeheraPasswordPolicy).(*ldap.ControlBeheraPasswordPolicy)
	if !ok {
		return accountStateUnknown, ""
	}
	switch c.Error {
	case ldap.BeheraPasswordExpired:
		return PasswordExpired, c.ErrorString
	case ldap.BeheraAccountLocked:
		return AccountLockedInDir, c.ErrorString
	case ldap.BeheraChangeAfterReset:
		return PasswordMustChange, c.ErrorString
	}
	return accountStateUnknown, ""
}

// dial connects, sets the request timeout, starts TLS as configured, and
// binds as the service account when asService is set. Cancelling ctx
// meanwhile cuts it short; the connection it returns is no longer tied to
// ctx.
func (d *LDAP) dial(ctx context.Context, asService bool) (*ldap.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, d.unavailable(ctx, "ldap", err)
	}
	// Dialled here rather than by ldap.DialURL, which takes no context: a
	// caller's deadline or cancellation must also cut the dial and the TLS
	// handshake short.
	dialer := &net.Dialer{Timeout: d.cfg.Timeout}
	raw, err := dialer.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, d.unavailable(ctx, "ldap dial "+d.addr, err)
	}
	if d.ldaps {
		hctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		tc := tls.Client(raw, d.tls)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			raw.Close()
			return nil, d.unavailable(ctx, "ldap TLS handshake with "+d.addr, err)
		}
		raw = tc
	}
	conn := ldap.NewConn(raw, d.ldaps)
	conn.Start()
	conn.SetTimeout(d.cfg.Timeout)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) (*ldap.Conn, error) {
		stop()
		conn.Close()
		return nil, err
	}
	if d.cfg.StartTLS {
		// go-ldap's StartTLS handshake has no timeout of its own; a
		// deadline on the socket bounds it.
		_ = raw.SetDeadline(time.Now().Add(2 * d.cfg.Timeout))
		err := conn.StartTLS(d.tls)
		_ = raw.SetDeadline(time.Time{})
		if err != nil {
			return fail(d.unavailable(ctx, "ldap StartTLS with "+d.addr, err))
		}
	}
	if asService {
		if err := d.bindService(ctx, conn); err != nil {
			return fail(err)
		}
	}
	if !stop() {
		return fail(d.unavailable(ctx, "ldap dial "+d.addr, ctx.Err()))
	}
	return conn, nil
}

// unavailable wraps err as ErrDirectoryUnavailable; when ctx is done, that
// is the cause to report (the connection error is only its echo), so that
// errors.Is(err, context.Canceled) works too.
func (d *LDAP) unavailable(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		err = cerr
	}
	return fmt.Errorf("%w: %s: %w", ErrDirectoryUnavailable, op, err)
}

// refusedOrUnavailable wraps the error of a request the directory may have
// answered: as ErrDirectoryRefused when it did, and said no for a reason
// that trying again will not change (access rights, schema, a missing
// entry, a read-only replica), so that the user is sent to an
// administrator; as ErrDirectoryUnavailable when it did not answer, or
// was busy.
func (d *LDAP) refusedOrUnavailable(ctx context.Context, op string, err error) error {
	var le *ldap.Error
	if ctx.Err() != nil || !errors.As(err, &le) || le.ResultCode >= ldap.ErrorNetwork {
		// go-ldap's own codes (200 and up) are client-side: the
		// connection failed or timed out.
		return d.unavailable(ctx, op, err)
	}
	switch le.ResultCode {
	case ldap.LDAPResultBusy, ldap.LDAPResultUnavailable, ldap.LDAPResultTimeLimitExceeded,
		ldap.LDAPResultAdminLimitExceeded, ldap.LDAPResultOther:
		return d.unavailable(ctx, op, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrDirectoryRefused, op, err)
}

// checkCredentialShape refuses, without asking the directory, what cannot
// be a valid sign-in.
func checkCredentialShape(username, password string) error {
	var problem string
	switch {
	case password == "":
		problem = "empty password"
	case strings.TrimSpace(username) == "":
		problem = "empty username"
	case len(username) > maxUsernameBytes:
		problem = fmt.Sprintf("username longer than %d bytes", maxUsernameBytes)
	case strings.ContainsRune(username, 0):
		problem = "username contains NUL"
	case !utf8.ValidString(username):
		problem = "username is not UTF-8"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidCredentials, problem)
}

// isCredentialRefusal tells whether a failed user bind is the user's doing
// (wrong password, locked, disabled or vanished account) rather than the
// directory's.
func isCredentialRefusal(err error) bool {
	return ldap.IsErrorAnyOf(err,
		ldap.LDAPResultInvalidCredentials,          // wrong password; AD and ppolicy lockouts too
		ldap.LDAPResultInappropriateAuthentication, // e.g. no password set
		ldap.LDAPResultInsufficientAccessRights,    // an ACL denies this user auth
		ldap.LDAPResultUnwillingToPerform,          // e.g. 389-ds inactivated account
		ldap.LDAPResultConstraintViolation,         // e.g. 389-ds retry limit exceeded
		ldap.LDAPResultNoSuchObject,                // entry removed since the search
	)
}

// substitute fills a filter template in a single pass, so that a username
// containing "{dn}" is not substituted again.
func substitute(filter, username, dn string) string {
	return strings.NewReplacer(
		"{username}", ldap.EscapeFilter(username),
		"{dn}", ldap.EscapeFilter(dn),
	).Replace(filter)
}

// groupNamesOf turns group DNs into names: the value of each DN's first
// RDN ("cn=staff,ou=groups,..." gives "staff"). Unparsable DNs are left out
// rather than failing the sign-in.
func groupNamesOf(dns []string) []string {
	var names []string
	for _, s := range dns {
		dn, err := ldap.ParseDN(s)
		if err != nil || len(dn.RDNs) == 0 || len(dn.RDNs[0].Attributes) == 0 {
			continue
		}
		if v := dn.RDNs[0].Attributes[0].Value; v != "" {
			names = append(names, v)
		}
	}
	return names
}

// primaryGroup returns the name of the user's primary group (AD's
// primaryGroupID), or "" when the entry has none or no group has its SID.
func (d *LDAP) primaryGroup(ctx context.Context, conn serviceConn, entry *ldap.Entry) (string, error) {
	rid, err := strconv.ParseUint(entry.GetEqualFoldAttributeValue("primaryGroupID"), 10, 32)
	if err != nil {
		return "", nil // not AD, or the attribute is not readable
	}
	sid, ok := siblingSID(entry.GetEqualFoldRawAttributeValue("objectSid"), uint32(rid))
	if !ok {
		return "", nil
	}
	base := domainOf(entry.DN)
	if base == "" {
		base = d.cfg.BaseDN
	}
	filter := "(objectSid=" + ldap.EscapeFilter(string(sid)) + ")"
	res, err := conn.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, d.timeLimit, false, filter, []string{d.cfg.GroupNameAttribute}, nil))
	if err != nil {
		return "", d.unavailable(ctx, fmt.Sprintf("ldap primary group search for RID %d under %q", rid, base), err)
	}
	if len(res.Entries) == 0 {
		return "", nil
	}
	return res.Entries[0].GetEqualFoldAttributeValue(d.cfg.GroupNameAttribute), nil
}

// siblingSID returns the binary SID of the same domain as sid with its
// last sub-authority (the RID) replaced by rid. A binary SID is a
// revision byte, a count of sub-authorities, a 6-byte authority, then the
// sub-authorities, 4 bytes each, little-endian (MS-DTYP 2.4.2.2).
func siblingSID(sid []byte, rid uint32) ([]byte, bool) {
	if len(sid) < 12 || sid[0] != 1 || sid[1] == 0 || len(sid) != 8+4*int(sid[1]) {
		return nil, false
	}
	out := slices.Clone(sid)
	binary.LittleEndian.PutUint32(out[len(out)-4:], rid)
	return out, true
}

// domainOf returns the DC= components that end dn (the AD domain's naming
// context), or "" when it has none.
func domainOf(dn string) string {
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return ""
	}
	i := len(parsed.RDNs)
	for i > 0 {
		attrs := parsed.RDNs[i-1].Attributes
		if len(attrs) != 1 || !strings.EqualFold(attrs[0].Type, "dc") {
			break
		}
		i--
	}
	if i == len(parsed.RDNs) {
		return ""
	}
	return (&ldap.DN{RDNs: parsed.RDNs[i:]}).String()
}
