package auth

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/otpgate/otpgate/internal/setting"
)

// Settings are the sign-in's OTPGATE_ variables: the directory, codes,
// lockout, what codes may be sent, capture, backup codes, cookies and
// sessions. Each nested group's name is its variables' prefix (Ldap:
// LDAP_URL, LDAP_BIND_DN, ...).
type Settings struct {
	Ldap                 LDAPSettings
	Otp                  OTPSettings
	Lockout              LockoutSettings
	Sms                  SMSSettings
	MaskVisibleDigits    int    `split_words:"true" default:"4" desc:"trailing digits of the mobile number shown on pages and in logs, 0 to 4"`
	DefaultRegion        string `split_words:"true" desc:"ISO country (e.g. GB) for directory numbers written without a country code"`
	CaptureMobile        bool   `split_words:"true" default:"false" desc:"let users with no mobile number enter one; saved to the directory after its code comes back"`
	CaptureMobileBind    string `split_words:"true" default:"service" desc:"who writes a captured number: service (the service account) or user (the user's own bind)"`
	BackupCodes          bool   `split_words:"true" default:"false" desc:"let users make 10 one-time backup codes to use instead of an SMS code"`
	BackupCodesAttribute string `split_words:"true" default:"otpgateBackupCode" desc:"multi-valued user attribute holding the backup codes' bcrypt hashes"`
	Cookie               CookieSettings
	Session              SessionSettings
}

// LDAPSettings reach the directory (OTPGATE_LDAP_...).
type LDAPSettings struct {
	URL                string        `split_words:"true" desc:"directory URL, ldap://host:389 or ldaps://host:636 (required)"`
	StartTLS           bool          `split_words:"true" default:"false" desc:"upgrade an ldap:// connection with StartTLS"`
	CAFile             string        `split_words:"true" desc:"PEM file of CA certificates for the directory (default: system roots)"`
	BindDN             string        `split_words:"true" desc:"service account DN used to search for users (required)"`
	BindPassword       string        `split_words:"true" file:"true" desc:"service account password (required)"`
	BaseDN             string        `split_words:"true" desc:"where users are searched, e.g. ou=people,dc=example,dc=org (required)"`
	UserFilter         string        `split_words:"true" default:"(uid={username})" desc:"user search filter; {username} is replaced by the escaped name"`
	NetbiosDomains     []string      `split_words:"true" desc:"comma-separated NetBIOS domains users may put before their name, DOMAIN\\user (AD; empty: a backslash is part of the name)"`
	UpnSuffixes        []string      `split_words:"true" desc:"comma-separated UPN suffixes users may put after their name, user@example.com (AD); other suffixes are searched as typed"`
	UsernameAttribute  string        `split_words:"true" default:"uid" desc:"attribute holding the canonical username passed to apps (AD: sAMAccountName)"`
	MobileAttribute    string        `split_words:"true" default:"mobile" desc:"attribute holding the mobile number (international form, +15550100006)"`
	NameAttribute      string        `split_words:"true" default:"cn" desc:"attribute holding the display name"`
	MailAttribute      string        `split_words:"true" default:"mail" desc:"attribute holding the e-mail address"`
	GroupAttribute     string        `split_words:"true" default:"memberOf" desc:"user attribute listing group DNs; empty to not read it"`
	GroupBaseDN        string        `split_words:"true" desc:"where groups are searched, for directories without memberOf"`
	GroupFilter        string        `split_words:"true" desc:"group search filter with {dn} and/or {username}, e.g. (member={dn})"`
	GroupNameAttribute string        `split_words:"true" default:"cn" desc:"group attribute used as the group's name"`
	PrimaryGroup       bool          `split_words:"true" default:"false" desc:"add the group named by the user's primaryGroupID (AD: usually Domain Users), which memberOf leaves out"`
	DisabledFilter     string        `split_words:"true" desc:"filter matching accounts that may not sign in, e.g. (nsAccountLock=TRUE): they are refused at sign-in, and their sessions end at the next SESSION_REFRESH (AD's disabled bit and ppolicy's administrator lock are read without it)"`
	PasswordChangeURL  string        `split_words:"true" desc:"where users change an expired password (e.g. the AD self-service page), shown when the directory says it has expired"`
	Timeout            time.Duration `split_words:"true" default:"5s" desc:"timeout for connecting to and each request to the directory"`
	PoolSize           int           `split_words:"true" default:"4" desc:"directory connections kept open and reused, bound as the service account, and as many for user binds; also the most open at once"`
	PoolIdleTimeout    time.Duration `split_words:"true" default:"1m" desc:"a kept directory connection unused this long is closed (keep it below the directory's and firewalls' idle timeouts)"`
}

// OTPSettings shape codes and say who needs one (OTPGATE_OTP_...).
type OTPSettings struct {
	Length          int           `split_words:"true" default:"6" desc:"characters in a code, 4 to 10 (below 6 only with a warning)"`
	Alphanumeric    bool          `split_words:"true" default:"false" desc:"codes of unambiguous capital letters and digits instead of digits only"`
	TTL             time.Duration `split_words:"true" default:"5m" desc:"how long a code is valid, at most 10m"`
	MaxAttempts     int           `split_words:"true" default:"3" desc:"wrong codes allowed before the sign-in starts over"`
	Retry           bool          `split_words:"true" default:"true" desc:"after a wrong code the user may try again (up to OTP_MAX_ATTEMPTS); false: one wrong code ends the sign-in"`
	Resend          bool          `split_words:"true" default:"true" desc:"offer a 'send a new code' button"`
	ResendCooldown  time.Duration `split_words:"true" default:"30s" desc:"least time between two codes of one sign-in"`
	MaxSends        int           `split_words:"true" default:"3" desc:"codes sent per sign-in at most, the first included"`
	Mandatory       bool          `split_words:"true" default:"true" desc:"refuse users with no mobile number; false: they sign in with the password alone"`
	EnableAttribute string        `split_words:"true" desc:"user attribute that turns the code off for a user when FALSE (empty: not used)"`
	ExemptGroups    []string      `split_words:"true" desc:"comma-separated groups that sign in with the password alone"`
	RequiredGroups  []string      `split_words:"true" desc:"comma-separated groups that always need a code (overrides the rest)"`
}

// LockoutSettings limit password and code guessing (OTPGATE_LOCKOUT_...).
type LockoutSettings struct {
	MaxFailures      int           `split_words:"true" default:"5" desc:"wrong passwords or codes that lock a user (0: no lockout)"`
	Window           time.Duration `split_words:"true" default:"15m" desc:"failures count within this window"`
	Duration         time.Duration `split_words:"true" default:"15m" desc:"how long a locked user stays locked"`
	MaxFailuresPerIP int           `split_words:"true" default:"50" desc:"wrong passwords from one client address within LOCKOUT_WINDOW, after which it may try none until the oldest leaves the window (0: no limit)"`
}

// SMSSettings say what the code's message says and where and how often
// codes may go (OTPGATE_SMS_...); the providers have settings of their own.
type SMSSettings struct {
	Message          string   `split_words:"true" default:"Your sign-in code is {code}. It expires in {ttl}." desc:"text of the message; {code} and {ttl} are replaced"`
	OriginBound      bool     `split_words:"true" default:"false" desc:"end the SMS with '@host #code' so phones offer autofill only on PUBLIC_URL's host"`
	LimitPerNumber   int      `split_words:"true" default:"10" desc:"codes per destination number, and per user, an hour (0: no limit)"`
	LimitPerIP       int      `split_words:"true" default:"20" desc:"codes per client address an hour (0: no limit)"`
	LimitGlobal      int      `split_words:"true" default:"1000" desc:"codes in all an hour (0: no limit)"`
	AllowedCountries []string `split_words:"true" desc:"comma-separated ISO countries codes may be sent to, e.g. US,CA,GB, plus ranges of no country by calling code, e.g. +881 (empty: any country, no such range; with CAPTURE_MOBILE: DEFAULT_REGION)"`
	NumberTypes      []string `split_words:"true" default:"mobile,fixed_line_or_mobile" desc:"kinds of number codes are sent to: mobile, fixed_line_or_mobile, fixed_line, voip, personal_number, pager"`
}

// CookieSettings protect and name the cookies (OTPGATE_COOKIE_...).
type CookieSettings struct {
	Secret string `split_words:"true" file:"true" desc:"comma-separated base64 secrets of 32+ bytes; the first signs, all verify (required)"`
	Secure bool   `split_words:"true" default:"true" desc:"send cookies over HTTPS only; false only for plain-HTTP testing"`
	Name   string `split_words:"true" default:"otpgate" desc:"session cookie name (prefixed __Host- when secure)"`
	Domain string `split_words:"true" desc:"domain the session cookie is shared with, e.g. example.com, so one sign-in covers every app below it"`
}

// SessionSettings bound a session's life (OTPGATE_SESSION_...).
type SessionSettings struct {
	Lifetime time.Duration `split_words:"true" default:"12h" desc:"a session ends this long after sign-in"`
	Idle     time.Duration `split_words:"true" default:"1h" desc:"a session ends after this long unused"`
	Refresh  time.Duration `split_words:"true" default:"5m" desc:"a session's user is read again from the directory when it has not been for this long: a user gone or disabled is refused, groups, name and e-mail are updated (0: never)"`
	// RefreshGrace is how long sessions outlive a directory that cannot
	// be asked.
	RefreshGrace time.Duration `split_words:"true" default:"15m" desc:"while the directory cannot be reached, sessions go on with what it last said for this long after a read was due, then end (users sign in again once it answers)"`
}

// Checked is what Settings say, parsed and checked.
type Checked struct {
	TLS              *tls.Config // for the directory; nil: the system's roots
	Secrets          [][]byte    // COOKIE_SECRET decoded; the first signs
	NumberTypes      NumberTypes
	AllowedCountries []string // where codes may go; empty: any country
}

var (
	cookieNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	regionPattern     = regexp.MustCompile(`^[A-Z]{2}$`)
)

// Validate checks the settings and returns them parsed, with every problem
// at once, each naming its variable (prefix + name, e.g. OTPGATE_LDAP_URL).
// The directory checks the rest of its own when it is made (NewLDAP).
func (s Settings) Validate(prefix string) (Checked, []error) {
	var c Checked
	var p []error
	var err error
	problem := func(name, format string, args ...any) error { return setting.Problemf(prefix+name, format, args...) }
	if s.Ldap.URL == "" {
		p = append(p, problem("LDAP_URL", "required: like ldaps://ldap.example.org:636"))
	}
	if s.Ldap.BindDN == "" {
		p = append(p, problem("LDAP_BIND_DN", "required: the service account that searches for users"))
	}
	if s.Ldap.BindPassword == "" {
		p = append(p, problem("LDAP_BIND_PASSWORD", "required (or LDAP_BIND_PASSWORD_FILE): an empty password would be an unauthenticated bind"))
	}
	if s.Ldap.Timeout <= 0 {
		p = append(p, problem("LDAP_TIMEOUT", "must be positive, like 5s"))
	}
	if s.Ldap.PoolSize < 1 || s.Ldap.PoolSize > maxLDAPPoolSize {
		p = append(p, problem("LDAP_POOL_SIZE", "%d: want 1 to %d", s.Ldap.PoolSize, maxLDAPPoolSize))
	}
	if s.Ldap.PoolIdleTimeout <= 0 {
		p = append(p, problem("LDAP_POOL_IDLE_TIMEOUT", "must be positive, like 1m"))
	}
	if s.Ldap.CAFile != "" {
		if c.TLS, err = s.Ldap.tlsConfig(); err != nil {
			p = append(p, problem("LDAP_CA_FILE", "%v", err))
		}
	}
	if !strings.Contains(s.Sms.Message, "{code}") {
		p = append(p, problem("SMS_MESSAGE", "must contain {code}"))
	}
	if s.Otp.Length < 4 || s.Otp.Length > 10 {
		p = append(p, problem("OTP_LENGTH", "%d: want 4 to 10", s.Otp.Length))
	}
	if s.Otp.MaxSends < 1 || s.Otp.MaxSends > 10 {
		p = append(p, problem("OTP_MAX_SENDS", "%d: want 1 to 10", s.Otp.MaxSends))
	}
	if s.Otp.ResendCooldown < 0 || s.Otp.ResendCooldown > 10*time.Minute {
		p = append(p, problem("OTP_RESEND_COOLDOWN", "%v: want 0 to 10m", s.Otp.ResendCooldown))
	}
	if s.MaskVisibleDigits < 0 || s.MaskVisibleDigits > 4 {
		p = append(p, problem("MASK_VISIBLE_DIGITS", "%d: want 0 to 4, so a number is never shown whole", s.MaskVisibleDigits))
	}
	if s.Lockout.MaxFailures < 0 {
		p = append(p, problem("LOCKOUT_MAX_FAILURES", "must not be negative (0 turns lockout off)"))
	}
	if s.Lockout.MaxFailures > 0 && (s.Lockout.Window <= 0 || s.Lockout.Duration <= 0) {
		p = append(p, problem("LOCKOUT_WINDOW", "LOCKOUT_WINDOW (%v) and LOCKOUT_DURATION (%v) must be positive when lockout is on", s.Lockout.Window, s.Lockout.Duration))
	}
	if s.Lockout.MaxFailuresPerIP < 0 {
		p = append(p, problem("LOCKOUT_MAX_FAILURES_PER_IP", "must not be negative (0 turns the limit off)"))
	}
	if s.Lockout.MaxFailuresPerIP > 0 && s.Lockout.MaxFailures == 0 && s.Lockout.Window <= 0 {
		p = append(p, problem("LOCKOUT_WINDOW", "LOCKOUT_WINDOW (%v) must be positive when LOCKOUT_MAX_FAILURES_PER_IP is on", s.Lockout.Window))
	}
	for name, v := range map[string]int{"SMS_LIMIT_PER_NUMBER": s.Sms.LimitPerNumber, "SMS_LIMIT_PER_IP": s.Sms.LimitPerIP, "SMS_LIMIT_GLOBAL": s.Sms.LimitGlobal} {
		if v < 0 {
			p = append(p, problem(name, "must not be negative (0 turns the limit off)"))
		}
	}
	for _, cc := range s.Sms.AllowedCountries {
		if msg := CheckAllowedCountry(strings.TrimSpace(cc)); msg != "" {
			p = append(p, problem("SMS_ALLOWED_COUNTRIES", "%s", msg))
		}
	}
	if c.NumberTypes, err = ParseNumberTypes(s.Sms.NumberTypes); err != nil {
		p = append(p, problem("SMS_NUMBER_TYPES", "%v", err))
	}
	if s.CaptureMobile && len(setting.TrimAll(s.Sms.AllowedCountries)) == 0 && s.DefaultRegion == "" {
		p = append(p, problem("CAPTURE_MOBILE", "true needs %sSMS_ALLOWED_COUNTRIES (the countries a typed number may be in, e.g. GB,IE) "+
			"or %sDEFAULT_REGION (then that country alone): otherwise one password could have codes sent to any costly destination", prefix, prefix))
	}
	if s.DefaultRegion != "" && !regionPattern.MatchString(s.DefaultRegion) {
		p = append(p, problem("DEFAULT_REGION", "%q is not an ISO 3166 country code like US or GB", s.DefaultRegion))
	}
	switch s.CaptureMobileBind {
	case "service", "user":
	default:
		p = append(p, problem("CAPTURE_MOBILE_BIND", "%q: want service or user", s.CaptureMobileBind))
	}
	if s.Otp.TTL < 30*time.Second || s.Otp.TTL > 10*time.Minute {
		p = append(p, problem("OTP_TTL", "%v: want between 30s and 10m (NIST SP 800-63B's ceiling)", s.Otp.TTL))
	}
	if s.Otp.MaxAttempts < 1 || s.Otp.MaxAttempts > 10 {
		p = append(p, problem("OTP_MAX_ATTEMPTS", "%d: want 1 to 10", s.Otp.MaxAttempts))
	}
	if c.Secrets, err = s.Cookie.secrets(); err != nil {
		p = append(p, problem("COOKIE_SECRET", "%v", err))
	}
	if !cookieNamePattern.MatchString(s.Cookie.Name) {
		p = append(p, problem("COOKIE_NAME", "%q: use 1 to 64 letters, digits, - or _", s.Cookie.Name))
	}
	if s.Session.Lifetime <= 0 {
		p = append(p, problem("SESSION_LIFETIME", "must be positive, like 12h"))
	}
	if s.Session.Idle <= 0 || (s.Session.Lifetime > 0 && s.Session.Idle > s.Session.Lifetime) {
		p = append(p, problem("SESSION_IDLE", "%v: must be positive and at most SESSION_LIFETIME (%v)", s.Session.Idle, s.Session.Lifetime))
	}
	if s.Session.Refresh != 0 && s.Session.Refresh < 10*time.Second {
		p = append(p, problem("SESSION_REFRESH", "%v: want 0 (off) or at least 10s, so that the directory is not asked on every request", s.Session.Refresh))
	}
	if s.Session.RefreshGrace < 0 {
		p = append(p, problem("SESSION_REFRESH_GRACE", "%v: must not be negative", s.Session.RefreshGrace))
	}
	c.AllowedCountries = setting.TrimAll(s.Sms.AllowedCountries)
	if len(c.AllowedCountries) == 0 && s.CaptureMobile && s.DefaultRegion != "" {
		// Capture with no list: the home country alone, never anywhere.
		c.AllowedCountries = []string{s.DefaultRegion}
	}
	return c, p
}

// tlsConfig is the directory's TLS settings, or nil for the system roots.
func (s LDAPSettings) tlsConfig() (*tls.Config, error) {
	if s.CAFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	pool, err := certPool(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.CAFile, err)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// certPool parses every CERTIFICATE block of a PEM file. Unlike
// x509.CertPool.AppendCertsFromPEM, which skips what it cannot parse, it
// reports the first certificate that does not parse, and why (e.g. the
// negative serial number of Samba's self-made CA).
func certPool(b []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for i := 1; ; i++ {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) != 0 {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			hint := ""
			if strings.Contains(err.Error(), "negative serial number") {
				hint = " (Samba's self-made CA has one: give the DC a certificate from another CA; see the README)"
			}
			return nil, fmt.Errorf("PEM block %d is a certificate Go cannot use: %w%s", i, err, hint)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, errors.New("holds no PEM certificate (want -----BEGIN CERTIFICATE----- blocks)")
	}
	return pool, nil
}

// secrets decodes COOKIE_SECRET.
func (s CookieSettings) secrets() ([][]byte, error) {
	if strings.TrimSpace(s.Secret) == "" {
		return nil, errors.New("required (or COOKIE_SECRET_FILE): make one with `openssl rand -base64 32`")
	}
	var out [][]byte
	for i, part := range strings.Split(s.Secret, ",") {
		b, err := decodeBase64(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("secret %d is not base64: make one with `openssl rand -base64 32`", i+1)
		}
		if len(b) < 32 {
			return nil, fmt.Errorf("secret %d is %d bytes, want at least 32: make one with `openssl rand -base64 32`", i+1, len(b))
		}
		out = append(out, b)
	}
	return out, nil
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// LDAPConfig is the directory's configuration from the settings; c is what
// Validate returned.
func (s Settings) LDAPConfig(c Checked) LDAPConfig {
	l := s.Ldap
	cfg := LDAPConfig{
		URL:                l.URL,
		StartTLS:           l.StartTLS,
		TLSConfig:          c.TLS,
		BindDN:             l.BindDN,
		BindPassword:       l.BindPassword,
		BaseDN:             l.BaseDN,
		NetBIOSDomains:     l.NetbiosDomains,
		UPNSuffixes:        l.UpnSuffixes,
		DisabledFilter:     l.DisabledFilter,
		UserFilter:         l.UserFilter,
		UsernameAttribute:  l.UsernameAttribute,
		MobileAttribute:    l.MobileAttribute,
		NameAttribute:      l.NameAttribute,
		MailAttribute:      l.MailAttribute,
		GroupAttribute:     l.GroupAttribute,
		GroupBaseDN:        l.GroupBaseDN,
		GroupFilter:        l.GroupFilter,
		GroupNameAttribute: l.GroupNameAttribute,
		PrimaryGroup:       l.PrimaryGroup,
		OTPEnableAttribute: s.Otp.EnableAttribute,
		Timeout:            l.Timeout,
		PoolSize:           l.PoolSize,
		PoolIdleTimeout:    l.PoolIdleTimeout,
		NumberTypes:        c.NumberTypes,
	}
	if s.BackupCodes {
		// Without the feature, the directory refuses every backup-code call.
		cfg.BackupCodesAttribute = s.BackupCodesAttribute
	}
	return cfg
}

// FlowConfig is the sign-in flow's configuration from the settings; c is
// what Validate returned. What other parts own (the public host, the SMS
// timeout) and what is not a setting (the failure floor, the observer)
// the caller fills in.
func (s Settings) FlowConfig(c Checked) FlowConfig {
	bind := BindService
	if s.CaptureMobileBind == "user" {
		bind = BindUser
	}
	return FlowConfig{
		CodeTTL:        s.Otp.TTL,
		MaxAttempts:    s.Otp.MaxAttempts,
		Retry:          s.Otp.Retry,
		Resend:         s.Otp.Resend,
		ResendCooldown: s.Otp.ResendCooldown,
		MaxSends:       s.Otp.MaxSends,
		Message:        s.Sms.Message,
		OriginBound:    s.Sms.OriginBound,
		MaskVisible:    s.MaskVisibleDigits,
		DefaultRegion:  s.DefaultRegion,
		NumberTypes:    c.NumberTypes,
		Policy: Policy{
			Mandatory:      s.Otp.Mandatory,
			ExemptGroups:   setting.TrimAll(s.Otp.ExemptGroups),
			RequiredGroups: setting.TrimAll(s.Otp.RequiredGroups),
		},
		Lockout: Lockout{
			MaxFailures:      s.Lockout.MaxFailures,
			Window:           s.Lockout.Window,
			Duration:         s.Lockout.Duration,
			MaxFailuresPerIP: s.Lockout.MaxFailuresPerIP,
		},
		Limits: Limits{
			PerNumber:        s.Sms.LimitPerNumber,
			PerIP:            s.Sms.LimitPerIP,
			Global:           s.Sms.LimitGlobal,
			AllowedCountries: c.AllowedCountries,
		},
		PasswordChangeURL: s.Ldap.PasswordChangeURL,
		BackupCodes:       s.BackupCodes,
		CaptureMobile:     s.CaptureMobile,
		CaptureMobileBind: bind,
	}
}

// Options are the cookies' options from the settings.
func (s CookieSettings) Options() CookieOptions {
	return CookieOptions{Name: s.Name, Secure: s.Secure, Domain: strings.TrimPrefix(s.Domain, ".")}
}
