package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/auth/redisstore"
	"github.com/otpgate/otpgate/internal/setting"
	"github.com/otpgate/otpgate/proxy"
	"github.com/otpgate/otpgate/sms"
	"github.com/otpgate/otpgate/ui"
)

const envPrefix = "OTPGATE"

// Config is every setting. The gateway's own (where it listens, its
// public URL, the server's limits) are declared here; each part declares
// its own, and they are read under the same OTPGATE_ prefix: auth's,
// proxy's and ui's flat (OTPGATE_LDAP_URL, OTPGATE_UPSTREAM_URL), the SMS
// providers' under SMS_, SMS2_ and TWILIO_.
type Config struct {
	ListenAddr      string        `split_words:"true" default:":8080" desc:"address to listen on (host:port)"`
	PublicURL       string        `split_words:"true" desc:"otpgate's public URL, e.g. https://auth.example.com: the portal forward-auth sends browsers to, and {host} in the SMS"`
	PathPrefix      string        `split_words:"true" default:"/otpgate/" desc:"path prefix reserved for otpgate's own pages"`
	ShutdownTimeout time.Duration `split_words:"true" default:"15s" desc:"how long requests in flight may finish after SIGTERM"`
	LogLevel        string        `split_words:"true" default:"info" desc:"debug, info, warn or error"`
	LogFormat       string        `split_words:"true" desc:"json or text (empty: text when standard error is a terminal, json otherwise)"`
	AccessLog       bool          `split_words:"true" default:"false" desc:"log one line per request: method, host, path (never the query), status, bytes, duration, user, client, request id"`
	MetricsAddr     string        `split_words:"true" desc:"address for Prometheus metrics at /metrics, e.g. :9090 (empty: off)"`
	TracingEndpoint string        `split_words:"true" desc:"OpenTelemetry: OTLP/HTTP collector URL traces are sent to, e.g. http://otel-collector:4318 (empty: tracing off); OTEL_EXPORTER_OTLP_* and OTEL_TRACES_SAMPLER tune it"`

	// Server limits: see "Abuse and cost limits" in the README.
	IdleTimeout         time.Duration `split_words:"true" default:"2m" desc:"an idle keep-alive connection is closed after this long"`
	BodyReadTimeout     time.Duration `split_words:"true" default:"10s" desc:"longest wait for the whole body of a request otpgate answers itself (its forms); proxied requests stream without it"`
	MaxConnections      int           `split_words:"true" default:"10000" desc:"open client connections at most; one more is closed at once"`
	MaxConnectionsPerIP int           `split_words:"true" default:"1000" desc:"open connections per client address (IPv6: per /64) at most, except from TRUSTED_PROXIES (0: no limit)"`

	SMS    sms.Settings
	SMS2   sms.HTTPConfig // a second HTTP gateway, the http2 provider
	Twilio sms.TwilioConfig

	Auth  auth.Settings       `ignored:"true"` // read by specs, without a prefix of their own
	Proxy proxy.Settings      `ignored:"true"`
	UI    ui.Settings         `ignored:"true"`
	Store redisstore.Settings `ignored:"true"`
}

// specs are the settings structs read under the OTPGATE_ prefix, in the
// order -help lists them.
func (c *Config) specs() []any { return []any{c, &c.Proxy, &c.UI, &c.Auth, &c.Store} }

// problem is one configuration error, always naming its variable.
func problem(name, format string, args ...any) error {
	return fmt.Errorf("%s_%s: %s", envPrefix, name, fmt.Sprintf(format, args...))
}

// loadConfig reads the settings from environ (KEY=value pairs, not the
// process's environment), reporting every unreadable value, unreadable
// _FILE and unknown OTPGATE_ variable at once.
func loadConfig(environ []string) (Config, error) {
	var c Config
	var problems []error
	for _, spec := range c.specs() {
		problems = append(problems, setting.Load(envPrefix, spec, environ))
	}
	problems = append(problems, unknownVariables(environ, knownVariables())...)
	return c, errors.Join(problems...)
}

// knownVariables returns every OTPGATE_ variable otpgate reads.
func knownVariables() []string {
	var c Config
	var names []string
	for _, spec := range c.specs() {
		names = append(names, setting.Names(envPrefix, spec)...)
	}
	return names
}

// unknownVariables catches misspelled settings, which would otherwise be
// silently ignored and leave a default in force.
func unknownVariables(environ, names []string) []error {
	known := map[string]bool{}
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
		if near := setting.Nearest(k, names); near != "" {
			msg += "; did you mean " + near + "?"
		}
		problems = append(problems, errors.New(msg))
	}
	sort.Slice(problems, func(i, j int) bool { return problems[i].Error() < problems[j].Error() })
	return problems
}

var (
	prefixPattern = regexp.MustCompile(`^/[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*/$`)
	domainPattern = regexp.MustCompile(`^\.?([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
)

// checked is what the parts' settings say, parsed and checked.
type checked struct {
	auth  auth.Checked
	proxy proxy.Checked
	ui    ui.Checked
	redis redisstore.Options // with STORE=redis
}

// validate checks every setting, each part its own, and reports every
// problem at once; what the parts parsed is returned for assembly.
func (c *Config) validate() (checked, []error) {
	var chk checked
	var p []error
	var pp []error
	chk.auth, pp = c.Auth.Validate(envPrefix + "_")
	p = append(p, pp...)
	chk.proxy, pp = c.Proxy.Validate(envPrefix + "_")
	p = append(p, pp...)
	chk.ui, pp = c.UI.Validate(envPrefix + "_")
	p = append(p, pp...)
	if c.PublicURL == "" && chk.ui.Catalog != nil && chk.ui.Catalog.UsesHost() {
		p = append(p, problem("PUBLIC_URL", "required when an SMS text in TRANSLATIONS_DIR uses {host}"))
	}
	chk.redis, pp = c.Store.Validate(envPrefix + "_")
	p = append(p, pp...)
	p = append(p, c.SMS.Validate(envPrefix+"_SMS_")...)
	return chk, append(p, c.check()...)
}

// check validates the gateway's own settings and those of the parts not
// yet validating their own; the directory and SMS providers check theirs
// in assemble.
func (c *Config) check() []error {
	var p []error
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		p = append(p, problem("LISTEN_ADDR", "%q is not host:port (like :8080 or 127.0.0.1:8080)", c.ListenAddr))
	}
	if d := c.Auth.Cookie.Domain; d != "" {
		if !domainPattern.MatchString(d) {
			p = append(p, problem("COOKIE_DOMAIN", "%q: want a domain like example.com, without scheme or port", d))
		} else if h := c.publicHost(); h != "" && h != strings.TrimPrefix(d, ".") && !strings.HasSuffix(h, "."+strings.TrimPrefix(d, ".")) {
			p = append(p, problem("COOKIE_DOMAIN", "%q does not contain PUBLIC_URL's host %q, so browsers would refuse the cookie", d, h))
		}
	}
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
	switch c.LogFormat {
	case "", "json", "text":
	default:
		p = append(p, problem("LOG_FORMAT", "%q: want json or text", c.LogFormat))
	}
	if c.TracingEndpoint != "" {
		if u, err := url.Parse(c.TracingEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p = append(p, problem("TRACING_ENDPOINT", "%q is not an http:// or https:// URL with a host, like http://otel-collector:4318", c.TracingEndpoint))
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p = append(p, problem("PUBLIC_URL", "%q is not an http:// or https:// URL with a host", c.PublicURL))
		}
	}
	if c.PublicURL == "" && (c.Auth.Sms.OriginBound || strings.Contains(c.Auth.Sms.Message, "{host}")) {
		p = append(p, problem("PUBLIC_URL", "required when SMS_ORIGIN_BOUND=true or SMS_MESSAGE uses {host}"))
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

// publicHost is the host of PUBLIC_URL, or "".
func (c *Config) publicHost() string {
	u, err := url.Parse(c.PublicURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// readmeTable is the README's configuration table, made from the same
// declarations as -help, so the two cannot disagree.
func readmeTable() string {
	var b strings.Builder
	b.WriteString("| Variable | Default | Meaning |\n|---|---|---|\n")
	var c Config
	for _, spec := range c.specs() {
		for _, v := range setting.Vars(envPrefix, spec) {
			row := func(name, def, desc string) {
				if def != "" {
					def = "`" + def + "`"
				}
				fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, def, strings.ReplaceAll(desc, "|", "\\|"))
			}
			row(v.Key, v.Default, v.Desc)
			if v.File {
				row(v.Key+"_FILE", "", "file holding "+strings.TrimPrefix(v.Key, envPrefix+"_"))
			}
		}
	}
	return b.String()
}

// printUsage lists every variable with its default and meaning.
func printUsage(w *tabwriter.Writer) error {
	fmt.Fprintln(w, "VARIABLE\tDEFAULT\tMEANING")
	var c Config
	for _, spec := range c.specs() {
		setting.Usage(envPrefix, spec, w)
	}
	return nil
}

// appHosts are the host names the app is served on in reverse-proxy mode:
// HOSTS and PUBLIC_URL's host; none when HOSTS is empty (any host).
func appHosts(hosts []string, publicHost string) []string {
	if len(hosts) > 0 && publicHost != "" {
		hosts = append(hosts[:len(hosts):len(hosts)], publicHost)
	}
	return hosts
}
