package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/proxy"
)

const envPrefix = "OTPGATE"

// Config is every setting, each read from an OTPGATE_ environment variable.
// Field names are cased so that envconfig's split_words gives the variable
// names operators use (LdapBindDN -> OTPGATE_LDAP_BIND_DN); split_words is
// used rather than explicit names because those also read the unprefixed
// variable, and Kubernetes injects many of those.
type Config struct {
	ListenAddr      string        `split_words:"true" default:":8080" desc:"address to listen on (host:port)"`
	UpstreamURL     string        `split_words:"true" desc:"the app behind otpgate, e.g. http://127.0.0.1:3000; empty: forward-auth and portal only"`
	PathPrefix      string        `split_words:"true" default:"/otpgate/" desc:"path prefix reserved for otpgate's own pages"`
	ShutdownTimeout time.Duration `split_words:"true" default:"15s" desc:"how long requests in flight may finish after SIGTERM"`
	LogLevel        string        `split_words:"true" default:"info" desc:"debug, info, warn or error"`
	MetricsAddr     string        `split_words:"true" desc:"address for Prometheus metrics at /metrics, e.g. :9090 (empty: off)"`

	// Server limits: see "Abuse and cost limits" in the README.
	IdleTimeout         time.Duration `split_words:"true" default:"2m" desc:"an idle keep-alive connection is closed after this long"`
	BodyReadTimeout     time.Duration `split_words:"true" default:"10s" desc:"longest wait for the whole body of a request otpgate answers itself (its forms); proxied requests stream without it"`
	MaxConnections      int           `split_words:"true" default:"10000" desc:"open client connections at most; one more is closed at once"`
	MaxConnectionsPerIP int           `split_words:"true" default:"1000" desc:"open connections per client address (IPv6: per /64) at most, except from TRUSTED_PROXIES (0: no limit)"`

	LdapURL                string        `split_words:"true" desc:"directory URL, ldap://host:389 or ldaps://host:636 (required)"`
	LdapStartTLS           bool          `split_words:"true" default:"false" desc:"upgrade an ldap:// connection with StartTLS"`
	LdapCAFile             string        `split_words:"true" desc:"PEM file of CA certificates for the directory (default: system roots)"`
	LdapBindDN             string        `split_words:"true" desc:"service account DN used to search for users (required)"`
	LdapBindPassword       string        `split_words:"true" desc:"service account password (required; or LDAP_BIND_PASSWORD_FILE)"`
	LdapBindPasswordFile   string        `split_words:"true" desc:"file holding the service account password"`
	LdapBaseDN             string        `split_words:"true" desc:"where users are searched, e.g. ou=people,dc=example,dc=org (required)"`
	LdapUserFilter         string        `split_words:"true" default:"(uid={username})" desc:"user search filter; {username} is replaced by the escaped name"`
	LdapUsernameAttribute  string        `split_words:"true" default:"uid" desc:"attribute holding the canonical username passed to apps (AD: sAMAccountName)"`
	LdapMobileAttribute    string        `split_words:"true" default:"mobile" desc:"attribute holding the mobile number (international form, +15550100006)"`
	LdapNameAttribute      string        `split_words:"true" default:"cn" desc:"attribute holding the display name"`
	LdapMailAttribute      string        `split_words:"true" default:"mail" desc:"attribute holding the e-mail address"`
	LdapGroupAttribute     string        `split_words:"true" default:"memberOf" desc:"user attribute listing group DNs; empty to not read it"`
	LdapGroupBaseDN        string        `split_words:"true" desc:"where groups are searched, for directories without memberOf"`
	LdapGroupFilter        string        `split_words:"true" desc:"group search filter with {dn} and/or {username}, e.g. (member={dn})"`
	LdapGroupNameAttribute string        `split_words:"true" default:"cn" desc:"group attribute used as the group's name"`
	LdapTimeout            time.Duration `split_words:"true" default:"5s" desc:"timeout for connecting to and each request to the directory"`

	SmsProvider        string        `split_words:"true" default:"console" desc:"console, http or twilio"`
	SmsProviders       []string      `split_words:"true" desc:"ordered list for failover, e.g. twilio,http,http2 (overrides SMS_PROVIDER)"`
	SmsBreakerFailures int           `split_words:"true" default:"3" desc:"consecutive failures after which a provider is skipped for SMS_BREAKER_OPEN_FOR"`
	SmsBreakerOpenFor  time.Duration `split_words:"true" default:"30s" desc:"how long a failing provider is skipped before it is tried again"`
	SmsMessage         string        `split_words:"true" default:"Your sign-in code is {code}. It expires in {ttl}." desc:"text of the message; {code} and {ttl} are replaced"`
	SmsTimeout         time.Duration `split_words:"true" default:"10s" desc:"longest wait for the SMS provider"`
	SmsURL             string        `split_words:"true" desc:"http provider: gateway URL; $ctx.num and $ctx.msg are replaced"`
	SmsMethod          string        `split_words:"true" default:"POST" desc:"http provider: GET, POST or PUT"`
	SmsHeaders         string        `split_words:"true" desc:"http provider: headers, one 'Name: value' per line"`
	SmsHeadersFile     string        `split_words:"true" desc:"file holding SMS_HEADERS (they often carry credentials)"`
	SmsPayload         string        `split_words:"true" desc:"http provider: body template with $ctx.num and $ctx.msg"`
	SmsSuccessCodes    string        `split_words:"true" desc:"http provider: status codes meaning sent, e.g. 200,201 (default: any 2xx)"`
	SmsSuccessMatch    string        `split_words:"true" desc:"http provider: regular expression the response body must match, e.g. ^0: Accepted"`

	Sms2URL          string `split_words:"true" desc:"http2 provider (a second HTTP gateway): URL, as SMS_URL"`
	Sms2Method       string `split_words:"true" default:"POST" desc:"http2 provider: method, as SMS_METHOD"`
	Sms2Headers      string `split_words:"true" desc:"http2 provider: headers, as SMS_HEADERS"`
	Sms2HeadersFile  string `split_words:"true" desc:"file holding SMS2_HEADERS"`
	Sms2Payload      string `split_words:"true" desc:"http2 provider: body template, as SMS_PAYLOAD"`
	Sms2SuccessCodes string `split_words:"true" desc:"http2 provider: success status codes, as SMS_SUCCESS_CODES"`
	Sms2SuccessMatch string `split_words:"true" desc:"http2 provider: body match, as SMS_SUCCESS_MATCH"`

	TwilioAccountSID          string `split_words:"true" desc:"twilio provider: account SID (AC...)"`
	TwilioAuthToken           string `split_words:"true" desc:"twilio provider: auth token (or TWILIO_AUTH_TOKEN_FILE)"`
	TwilioAuthTokenFile       string `split_words:"true" desc:"file holding the Twilio auth token"`
	TwilioFrom                string `split_words:"true" desc:"twilio provider: sender number, or use TWILIO_MESSAGING_SERVICE_SID"`
	TwilioMessagingServiceSID string `split_words:"true" desc:"twilio provider: messaging service SID (MG...)"`
	TwilioApiURL              string `split_words:"true" default:"https://api.twilio.com" desc:"twilio provider: API base URL"`

	PublicURL             string   `split_words:"true" desc:"otpgate's public URL, e.g. https://auth.example.com: the portal forward-auth sends browsers to, and {host} in the SMS"`
	CookieDomain          string   `split_words:"true" desc:"domain the session cookie is shared with, e.g. example.com, so one sign-in covers every app below it"`
	AllowedRedirectHosts  []string `split_words:"true" desc:"comma-separated further hosts a sign-in may return to (besides COOKIE_DOMAIN)"`
	TrustedProxies        []string `split_words:"true" default:"127.0.0.0/8,::1/128" desc:"addresses or CIDRs of the proxies in front of otpgate, whose X-Forwarded-*/X-Original-* headers are believed (name your ingress or load balancer here)"`
	Hosts                 []string `split_words:"true" desc:"reverse-proxy mode: host names the app is served on, besides PUBLIC_URL's; other hosts get 421 (required when ACCESS_RULES name a host)"`
	AccessRules           string   `split_words:"true" desc:"access rules, one per line or ;-separated: HOST PATH bypass|two_factor|deny [groups=G,...]"`
	AccessRulesFile       string   `split_words:"true" desc:"file holding ACCESS_RULES"`
	AccessRulesIgnoreCase bool     `split_words:"true" default:"true" desc:"also judge each path in any letter case, the stricter verdict winning (for apps on servers that ignore case)"`

	IdentityHeaderUser      []string `split_words:"true" default:"Remote-User" desc:"request headers (comma-separated) that carry the username to the app"`
	IdentityHeaderName      []string `split_words:"true" default:"Remote-Name" desc:"headers that carry the display name (empty: not sent)"`
	IdentityHeaderEmail     []string `split_words:"true" default:"Remote-Email" desc:"headers that carry the e-mail address (empty: not sent)"`
	IdentityHeaderGroups    []string `split_words:"true" default:"Remote-Groups" desc:"headers that carry the comma-joined group names (empty: not sent)"`
	IdentityHeaderAuthLevel []string `split_words:"true" default:"Remote-Auth-Level" desc:"headers that carry 2 (password and code) or 1 (password alone) (empty: not sent)"`
	DefaultRegion           string   `split_words:"true" desc:"ISO country (e.g. GB) for directory numbers written without a country code"`

	OtpLength            int           `split_words:"true" default:"6" desc:"characters in a code, 4 to 10 (below 6 only with a warning)"`
	OtpAlphanumeric      bool          `split_words:"true" default:"false" desc:"codes of unambiguous capital letters and digits instead of digits only"`
	OtpTTL               time.Duration `split_words:"true" default:"5m" desc:"how long a code is valid, at most 10m"`
	OtpMaxAttempts       int           `split_words:"true" default:"3" desc:"wrong codes allowed before the sign-in starts over"`
	OtpRetry             bool          `split_words:"true" default:"true" desc:"after a wrong code the user may try again (up to OTP_MAX_ATTEMPTS); false: one wrong code ends the sign-in"`
	OtpResend            bool          `split_words:"true" default:"true" desc:"offer a 'send a new code' button"`
	OtpResendCooldown    time.Duration `split_words:"true" default:"30s" desc:"least time between two codes of one sign-in"`
	OtpMaxSends          int           `split_words:"true" default:"3" desc:"codes sent per sign-in at most, the first included"`
	OtpMandatory         bool          `split_words:"true" default:"true" desc:"refuse users with no mobile number; false: they sign in with the password alone"`
	OtpEnableAttribute   string        `split_words:"true" desc:"user attribute that turns the code off for a user when FALSE (empty: not used)"`
	OtpExemptGroups      []string      `split_words:"true" desc:"comma-separated groups that sign in with the password alone"`
	OtpRequiredGroups    []string      `split_words:"true" desc:"comma-separated groups that always need a code (overrides the rest)"`
	MaskVisibleDigits    int           `split_words:"true" default:"4" desc:"trailing digits of the mobile number shown on pages and in logs, 0 to 4"`
	SmsOriginBound       bool          `split_words:"true" default:"false" desc:"end the SMS with '@host #code' so phones offer autofill only on PUBLIC_URL's host"`
	CaptureMobile        bool          `split_words:"true" default:"false" desc:"let users with no mobile number enter one; saved to the directory after its code comes back"`
	CaptureMobileBind    string        `split_words:"true" default:"service" desc:"who writes a captured number: service (the service account) or user (the user's own bind)"`
	BackupCodes          bool          `split_words:"true" default:"false" desc:"let users make 10 one-time backup codes to use instead of an SMS code"`
	BackupCodesAttribute string        `split_words:"true" default:"otpgateBackupCode" desc:"multi-valued user attribute holding the backup codes' bcrypt hashes"`

	LockoutMaxFailures int           `split_words:"true" default:"5" desc:"wrong passwords or codes that lock a user (0: no lockout)"`
	LockoutWindow      time.Duration `split_words:"true" default:"15m" desc:"failures count within this window"`
	LockoutDuration    time.Duration `split_words:"true" default:"15m" desc:"how long a locked user stays locked"`

	LockoutMaxFailuresPerIP int `split_words:"true" default:"50" desc:"wrong passwords from one client address within LOCKOUT_WINDOW, after which it may try none until the oldest leaves the window (0: no limit)"`

	SmsLimitPerNumber   int      `split_words:"true" default:"10" desc:"codes per destination number, and per user, an hour (0: no limit)"`
	SmsLimitPerIP       int      `split_words:"true" default:"20" desc:"codes per client address an hour (0: no limit)"`
	SmsLimitGlobal      int      `split_words:"true" default:"1000" desc:"codes in all an hour (0: no limit)"`
	SmsAllowedCountries []string `split_words:"true" desc:"comma-separated ISO countries codes may be sent to, e.g. US,CA,GB, plus ranges of no country by calling code, e.g. +881 (empty: any country, no such range; with CAPTURE_MOBILE: DEFAULT_REGION)"`
	SmsNumberTypes      []string `split_words:"true" default:"mobile,fixed_line_or_mobile" desc:"kinds of number codes are sent to: mobile, fixed_line_or_mobile, fixed_line, voip, personal_number, pager"`

	CookieSecret     string        `split_words:"true" desc:"comma-separated base64 secrets of 32+ bytes; the first signs, all verify (required; or COOKIE_SECRET_FILE)"`
	CookieSecretFile string        `split_words:"true" desc:"file holding COOKIE_SECRET"`
	CookieSecure     bool          `split_words:"true" default:"true" desc:"send cookies over HTTPS only; false only for plain-HTTP testing"`
	CookieName       string        `split_words:"true" default:"otpgate" desc:"session cookie name (prefixed __Host- when secure)"`
	SessionLifetime  time.Duration `split_words:"true" default:"12h" desc:"a session ends this long after sign-in"`
	SessionIdle      time.Duration `split_words:"true" default:"1h" desc:"a session ends after this long unused"`
}

// secretFiles pairs each secret with the variable naming a file that may
// hold it instead (Kubernetes mounts secrets as files).
func (c *Config) secretFiles() []struct {
	name, fileName string
	value, file    *string
} {
	return []struct {
		name, fileName string
		value, file    *string
	}{
		{"LDAP_BIND_PASSWORD", "LDAP_BIND_PASSWORD_FILE", &c.LdapBindPassword, &c.LdapBindPasswordFile},
		{"SMS_HEADERS", "SMS_HEADERS_FILE", &c.SmsHeaders, &c.SmsHeadersFile},
		{"TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN_FILE", &c.TwilioAuthToken, &c.TwilioAuthTokenFile},
		{"SMS2_HEADERS", "SMS2_HEADERS_FILE", &c.Sms2Headers, &c.Sms2HeadersFile},
		{"COOKIE_SECRET", "COOKIE_SECRET_FILE", &c.CookieSecret, &c.CookieSecretFile},
	}
}

// problem is one configuration error, always naming its variable.
func problem(name, format string, args ...any) error {
	return fmt.Errorf("%s_%s: %s", envPrefix, name, fmt.Sprintf(format, args...))
}

// loadConfig reads the environment. Unlike envconfig.Process alone, it
// reports every unreadable value and every unknown OTPGATE_ variable at
// once, instead of stopping at the first.
func loadConfig(environ []string) (Config, error) {
	var c Config
	var problems []error
	// envconfig stops at the first value it cannot parse; unset that one
	// and go on, so the operator sees every problem in one run.
	restore := map[string]string{}
	defer func() {
		for k, v := range restore {
			os.Setenv(k, v)
		}
	}()
	for {
		err := envconfig.Process(envPrefix, &c)
		var pe *envconfig.ParseError
		if !errors.As(err, &pe) {
			if err != nil {
				problems = append(problems, err)
			}
			break
		}
		problems = append(problems, fmt.Errorf("%s: %q is not a valid %s", pe.KeyName, pe.Value, typeHint(pe.TypeName)))
		restore[pe.KeyName] = pe.Value
		os.Unsetenv(pe.KeyName)
	}
	problems = append(problems, unknownVariables(environ)...)
	for _, s := range c.secretFiles() {
		switch {
		case *s.file == "":
		case *s.value != "":
			problems = append(problems, problem(s.name, "set both %s_%s and %s_%s; set only one", envPrefix, s.name, envPrefix, s.fileName))
		default:
			b, err := os.ReadFile(*s.file)
			if err != nil {
				problems = append(problems, problem(s.fileName, "cannot read: %v", err))
				continue
			}
			*s.value = strings.TrimRight(string(b), "\r\n")
		}
	}
	return c, errors.Join(problems...)
}

func typeHint(typeName string) string {
	switch typeName {
	case "Duration", "time.Duration":
		return "duration (like 30s, 5m, 12h)"
	case "bool":
		return "boolean (true or false)"
	case "int", "int64":
		return "whole number"
	}
	return typeName
}

// knownVariables returns every OTPGATE_ variable name the Config reads.
func knownVariables() []string {
	var b strings.Builder
	_ = envconfig.Usagef(envPrefix, &Config{}, &b, "{{range .}}{{usage_key .}}\n{{end}}")
	return strings.Fields(b.String())
}

// unknownVariables catches misspelled settings, which would otherwise be
// silently ignored and leave a default in force.
func unknownVariables(environ []string) []error {
	known := map[string]bool{}
	names := knownVariables()
	for _, k := range names {
		known[k] = true
	}
	var problems []error
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, envPrefix+"_") || known[k] {
			continue
		}
		msg := fmt.Sprintf("%s: not a known variable", k)
		if near := nearest(k, names); near != "" {
			msg += "; did you mean " + near + "?"
		}
		problems = append(problems, errors.New(msg))
	}
	sort.Slice(problems, func(i, j int) bool { return problems[i].Error() < problems[j].Error() })
	return problems
}

// nearest returns the known name within a small edit distance of k.
func nearest(k string, names []string) string {
	best, bestD := "", 4
	for _, n := range names {
		if d := editDistance(k, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

var (
	prefixPattern     = regexp.MustCompile(`^/[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*/$`)
	cookieNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	regionPattern     = regexp.MustCompile(`^[A-Z]{2}$`)
	domainPattern     = regexp.MustCompile(`^\.?([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
)

// check validates the values that need no other part of otpgate; the
// parts (directory, SMS provider) check their own settings in assemble.
func (c *Config) check() []error {
	var p []error
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		p = append(p, problem("LISTEN_ADDR", "%q is not host:port (like :8080 or 127.0.0.1:8080)", c.ListenAddr))
	}
	if c.UpstreamURL != "" {
		if u, err := url.Parse(c.UpstreamURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p = append(p, problem("UPSTREAM_URL", "%q is not an http:// or https:// URL with a host", c.UpstreamURL))
		}
	}
	if d := c.CookieDomain; d != "" {
		if !domainPattern.MatchString(d) {
			p = append(p, problem("COOKIE_DOMAIN", "%q: want a domain like example.com, without scheme or port", d))
		} else if h := c.publicHost(); h != "" && h != strings.TrimPrefix(d, ".") && !strings.HasSuffix(h, "."+strings.TrimPrefix(d, ".")) {
			p = append(p, problem("COOKIE_DOMAIN", "%q does not contain PUBLIC_URL's host %q, so browsers would refuse the cookie", d, h))
		}
	}
	for _, h := range c.AllowedRedirectHosts {
		if !domainPattern.MatchString(strings.TrimSpace(h)) {
			p = append(p, problem("ALLOWED_REDIRECT_HOSTS", "%q is not a host name", h))
		}
	}
	if _, err := proxy.ParseTrustedProxies(c.TrustedProxies); err != nil {
		p = append(p, problem("TRUSTED_PROXIES", "%v", err))
	}
	if rules, err := c.accessRules(); err != nil {
		p = append(p, err)
	} else if c.UpstreamURL != "" && len(c.Hosts) == 0 {
		for _, r := range rules {
			if r.Host != "*" {
				p = append(p, problem("HOSTS", "required in reverse-proxy mode because ACCESS_RULES line %d names host %q: "+
					"list the host names the app is served on, so host rules are matched on them and other hosts are refused", r.Line, r.Host))
				break
			}
		}
	}
	for _, h := range c.Hosts {
		if host, ok := proxy.CanonicalHost(strings.TrimSpace(h)); !ok || strings.Contains(h, ":") || host != strings.ToLower(strings.TrimSpace(h)) {
			p = append(p, problem("HOSTS", "%q is not a host name (without port)", h))
		}
	}
	p = append(p, c.checkIdentityHeaders()...)
	if !prefixPattern.MatchString(c.PathPrefix) {
		p = append(p, problem("PATH_PREFIX", "%q must be a path that starts and ends with /, like /otpgate/", c.PathPrefix))
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			p = append(p, problem("METRICS_ADDR", "%q is not host:port (like :9090)", c.MetricsAddr))
		}
	}
	if c.ShutdownTimeout < 0 {
		p = append(p, problem("SHUTDOWN_TIMEOUT", "must not be negative"))
	}
	p = append(p, c.checkServerLimits()...)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p = append(p, problem("LOG_LEVEL", "%q: want debug, info, warn or error", c.LogLevel))
	}
	if c.LdapURL == "" {
		p = append(p, problem("LDAP_URL", "required: like ldaps://ldap.example.org:636"))
	}
	if c.LdapBindDN == "" {
		p = append(p, problem("LDAP_BIND_DN", "required: the service account that searches for users"))
	}
	if c.LdapBindPassword == "" {
		p = append(p, problem("LDAP_BIND_PASSWORD", "required (or LDAP_BIND_PASSWORD_FILE): an empty password would be an unauthenticated bind"))
	}
	if c.LdapTimeout <= 0 {
		p = append(p, problem("LDAP_TIMEOUT", "must be positive, like 5s"))
	}
	if c.LdapCAFile != "" {
		if _, err := c.ldapTLS(); err != nil {
			p = append(p, problem("LDAP_CA_FILE", "%v", err))
		}
	}
	if !strings.Contains(c.SmsMessage, "{code}") {
		p = append(p, problem("SMS_MESSAGE", "must contain {code}"))
	}
	if c.SmsTimeout <= 0 || c.SmsTimeout > time.Minute {
		p = append(p, problem("SMS_TIMEOUT", "%v: want between 1s and 1m", c.SmsTimeout))
	}
	if c.OtpLength < 4 || c.OtpLength > 10 {
		p = append(p, problem("OTP_LENGTH", "%d: want 4 to 10", c.OtpLength))
	}
	if c.OtpMaxSends < 1 || c.OtpMaxSends > 10 {
		p = append(p, problem("OTP_MAX_SENDS", "%d: want 1 to 10", c.OtpMaxSends))
	}
	if c.OtpResendCooldown < 0 || c.OtpResendCooldown > 10*time.Minute {
		p = append(p, problem("OTP_RESEND_COOLDOWN", "%v: want 0 to 10m", c.OtpResendCooldown))
	}
	if c.MaskVisibleDigits < 0 || c.MaskVisibleDigits > 4 {
		p = append(p, problem("MASK_VISIBLE_DIGITS", "%d: want 0 to 4, so a number is never shown whole", c.MaskVisibleDigits))
	}
	if c.LockoutMaxFailures < 0 {
		p = append(p, problem("LOCKOUT_MAX_FAILURES", "must not be negative (0 turns lockout off)"))
	}
	if c.LockoutMaxFailures > 0 && (c.LockoutWindow <= 0 || c.LockoutDuration <= 0) {
		p = append(p, problem("LOCKOUT_WINDOW", "LOCKOUT_WINDOW (%v) and LOCKOUT_DURATION (%v) must be positive when lockout is on", c.LockoutWindow, c.LockoutDuration))
	}
	if c.LockoutMaxFailuresPerIP < 0 {
		p = append(p, problem("LOCKOUT_MAX_FAILURES_PER_IP", "must not be negative (0 turns the limit off)"))
	}
	if c.LockoutMaxFailuresPerIP > 0 && c.LockoutMaxFailures == 0 && c.LockoutWindow <= 0 {
		p = append(p, problem("LOCKOUT_WINDOW", "LOCKOUT_WINDOW (%v) must be positive when LOCKOUT_MAX_FAILURES_PER_IP is on", c.LockoutWindow))
	}
	for name, v := range map[string]int{"SMS_LIMIT_PER_NUMBER": c.SmsLimitPerNumber, "SMS_LIMIT_PER_IP": c.SmsLimitPerIP, "SMS_LIMIT_GLOBAL": c.SmsLimitGlobal} {
		if v < 0 {
			p = append(p, problem(name, "must not be negative (0 turns the limit off)"))
		}
	}
	for _, cc := range c.SmsAllowedCountries {
		if msg := auth.CheckAllowedCountry(strings.TrimSpace(cc)); msg != "" {
			p = append(p, problem("SMS_ALLOWED_COUNTRIES", "%s", msg))
		}
	}
	if _, err := auth.ParseNumberTypes(c.SmsNumberTypes); err != nil {
		p = append(p, problem("SMS_NUMBER_TYPES", "%v", err))
	}
	if c.CaptureMobile && len(trimAll(c.SmsAllowedCountries)) == 0 && c.DefaultRegion == "" {
		p = append(p, problem("CAPTURE_MOBILE", "true needs %s_SMS_ALLOWED_COUNTRIES (the countries a typed number may be in, e.g. GB,IE) "+
			"or %s_DEFAULT_REGION (then that country alone): otherwise one password could have codes sent to any costly destination", envPrefix, envPrefix))
	}
	if c.DefaultRegion != "" && !regionPattern.MatchString(c.DefaultRegion) {
		p = append(p, problem("DEFAULT_REGION", "%q is not an ISO 3166 country code like US or GB", c.DefaultRegion))
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p = append(p, problem("PUBLIC_URL", "%q is not an http:// or https:// URL with a host", c.PublicURL))
		}
	}
	switch c.CaptureMobileBind {
	case "service", "user":
	default:
		p = append(p, problem("CAPTURE_MOBILE_BIND", "%q: want service or user", c.CaptureMobileBind))
	}
	if c.SmsBreakerFailures < 1 {
		p = append(p, problem("SMS_BREAKER_FAILURES", "%d: want 1 or more", c.SmsBreakerFailures))
	}
	if c.SmsBreakerOpenFor <= 0 {
		p = append(p, problem("SMS_BREAKER_OPEN_FOR", "must be positive, like 30s"))
	}
	if c.PublicURL == "" && (c.SmsOriginBound || strings.Contains(c.SmsMessage, "{host}")) {
		p = append(p, problem("PUBLIC_URL", "required when SMS_ORIGIN_BOUND=true or SMS_MESSAGE uses {host}"))
	}
	if c.OtpTTL < 30*time.Second || c.OtpTTL > 10*time.Minute {
		p = append(p, problem("OTP_TTL", "%v: want between 30s and 10m (NIST SP 800-63B's ceiling)", c.OtpTTL))
	}
	if c.OtpMaxAttempts < 1 || c.OtpMaxAttempts > 10 {
		p = append(p, problem("OTP_MAX_ATTEMPTS", "%d: want 1 to 10", c.OtpMaxAttempts))
	}
	if _, err := c.cookieSecrets(); err != nil {
		p = append(p, problem("COOKIE_SECRET", "%v", err))
	}
	if !cookieNamePattern.MatchString(c.CookieName) {
		p = append(p, problem("COOKIE_NAME", "%q: use 1 to 64 letters, digits, - or _", c.CookieName))
	}
	if c.SessionLifetime <= 0 {
		p = append(p, problem("SESSION_LIFETIME", "must be positive, like 12h"))
	}
	if c.SessionIdle <= 0 || (c.SessionLifetime > 0 && c.SessionIdle > c.SessionLifetime) {
		p = append(p, problem("SESSION_IDLE", "%v: must be positive and at most SESSION_LIFETIME (%v)", c.SessionIdle, c.SessionLifetime))
	}
	return p
}

var headerNamePattern = regexp.MustCompile(`^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$`)

// reservedHeaders are set by otpgate or by HTTP itself, never as identity.
var reservedHeaders = []string{"Host", "Cookie", "Set-Cookie", "Connection", "Content-Length", "Content-Type", "Transfer-Encoding",
	"Upgrade", "Te", "Trailer", "Authorization", "Proxy-Authorization", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}

// identityHeaders is the IDENTITY_HEADER_* settings, trimmed.
func (c *Config) identityHeaders() proxy.IdentityHeaders {
	return proxy.IdentityHeaders{User: trimAll(c.IdentityHeaderUser), Name: trimAll(c.IdentityHeaderName),
		Email: trimAll(c.IdentityHeaderEmail), Groups: trimAll(c.IdentityHeaderGroups), AuthLevel: trimAll(c.IdentityHeaderAuthLevel)}
}

// checkIdentityHeaders refuses header names an app could read two ways
// (only letters, digits and single dashes are read the same by every
// server), names used twice, and headers HTTP or otpgate own.
func (c *Config) checkIdentityHeaders() []error {
	var p []error
	ih := c.identityHeaders()
	if len(ih.User) == 0 {
		p = append(p, problem("IDENTITY_HEADER_USER", "must name at least one header, like Remote-User"))
	}
	seen := map[string]string{}
	for _, f := range []struct {
		variable string
		names    []string
	}{{"IDENTITY_HEADER_USER", ih.User}, {"IDENTITY_HEADER_NAME", ih.Name}, {"IDENTITY_HEADER_EMAIL", ih.Email},
		{"IDENTITY_HEADER_GROUPS", ih.Groups}, {"IDENTITY_HEADER_AUTH_LEVEL", ih.AuthLevel}} {
		for _, n := range f.names {
			key := strings.ToLower(n)
			switch {
			case !headerNamePattern.MatchString(n):
				p = append(p, problem(f.variable, "%q: use letters, digits and single dashes only; apps read _ and . as -", n))
			case slices.ContainsFunc(reservedHeaders, func(r string) bool { return strings.EqualFold(r, n) }):
				p = append(p, problem(f.variable, "%q is a header HTTP or otpgate sets; choose another name", n))
			case seen[key] != "":
				p = append(p, problem(f.variable, "%q is also named in %s_%s; each header carries one value", n, envPrefix, seen[key]))
			default:
				seen[key] = f.variable
			}
		}
	}
	return p
}

// checkServerLimits validates the settings that keep clients from holding
// the server's connections. None can be turned off but the per-address cap:
// a server without them can be held open by anyone.
func (c *Config) checkServerLimits() []error {
	var p []error
	if c.IdleTimeout < time.Second || c.IdleTimeout > time.Hour {
		p = append(p, problem("IDLE_TIMEOUT", "%v: want between 1s and 1h", c.IdleTimeout))
	}
	if c.BodyReadTimeout < time.Second || c.BodyReadTimeout > time.Minute {
		p = append(p, problem("BODY_READ_TIMEOUT", "%v: want between 1s and 1m", c.BodyReadTimeout))
	}
	if c.MaxConnections < 1 {
		p = append(p, problem("MAX_CONNECTIONS", "%d: want 1 or more", c.MaxConnections))
	}
	if c.MaxConnectionsPerIP < 0 || c.MaxConnectionsPerIP > max(c.MaxConnections, 1) {
		p = append(p, problem("MAX_CONNECTIONS_PER_IP", "%d: want 0 (no limit) to MAX_CONNECTIONS (%d)", c.MaxConnectionsPerIP, c.MaxConnections))
	}
	return p
}

// cookieSecrets decodes COOKIE_SECRET.
func (c *Config) cookieSecrets() ([][]byte, error) {
	if strings.TrimSpace(c.CookieSecret) == "" {
		return nil, errors.New("required (or COOKIE_SECRET_FILE): make one with `openssl rand -base64 32`")
	}
	var out [][]byte
	for i, s := range strings.Split(c.CookieSecret, ",") {
		s = strings.TrimSpace(s)
		b, err := decodeBase64(s)
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

// accessRules parses ACCESS_RULES or the file ACCESS_RULES_FILE names.
func (c *Config) accessRules() (proxy.Rules, error) {
	text, name := c.AccessRules, "ACCESS_RULES"
	if c.AccessRulesFile != "" {
		if c.AccessRules != "" {
			return nil, problem("ACCESS_RULES", "set both ACCESS_RULES and ACCESS_RULES_FILE; set only one")
		}
		b, err := os.ReadFile(c.AccessRulesFile)
		if err != nil {
			return nil, problem("ACCESS_RULES_FILE", "cannot read: %v", err)
		}
		text, name = string(b), "ACCESS_RULES_FILE"
	}
	rules, err := proxy.ParseRules(text)
	if err != nil {
		return nil, problem(name, "%v", err)
	}
	return rules, nil
}

// allowedCountries is where codes may go: SMS_ALLOWED_COUNTRIES, or with
// capture on and no list, DEFAULT_REGION alone, because a typed number
// must never be free to be anywhere (check refuses capture with neither).
func (c *Config) allowedCountries() []string {
	list := trimAll(c.SmsAllowedCountries)
	if len(list) == 0 && c.CaptureMobile && c.DefaultRegion != "" {
		list = []string{c.DefaultRegion}
	}
	return list
}

// publicHost is the host of PUBLIC_URL, or "".
func (c *Config) publicHost() string {
	u, err := url.Parse(c.PublicURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// ldapTLS returns the TLS settings for the directory, or nil for system roots.
func (c *Config) ldapTLS() (*tls.Config, error) {
	if c.LdapCAFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(c.LdapCAFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", c.LdapCAFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// printUsage lists every variable with its default and meaning.
func printUsage(w *tabwriter.Writer) error {
	return envconfig.Usagef(envPrefix, &Config{}, w,
		"VARIABLE\tDEFAULT\tMEANING\n{{range .}}{{usage_key .}}\t{{usage_default .}}\t{{usage_description .}}\n{{end}}")
}

// appHosts are the host names the app is served on in reverse-proxy mode:
// HOSTS and PUBLIC_URL's host; none when HOSTS is empty (any host).
func (c *Config) appHosts() []string {
	hosts := trimAll(c.Hosts)
	if len(hosts) > 0 && c.publicHost() != "" {
		hosts = append(hosts, c.publicHost())
	}
	return hosts
}
