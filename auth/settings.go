package auth

import "time"

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
	PasswordChangeURL  string        `split_words:"true" desc:"where users change an expired password (e.g. the AD self-service page), shown when the directory says it has expired"`
	Timeout            time.Duration `split_words:"true" default:"5s" desc:"timeout for connecting to and each request to the directory"`
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
}
