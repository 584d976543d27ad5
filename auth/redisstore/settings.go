package redisstore

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otpgate/otpgate/internal/setting"
)

// Settings choose where otpgate keeps its server-side state (OTPGATE_STORE)
// and how it reaches Redis (OTPGATE_REDIS_...).
type Settings struct {
	Store string `default:"memory" desc:"where pending sign-ins, counters, lockouts and sign-outs are kept: memory (this process only) or redis (shared by every replica)"`
	Redis RedisSettings
}

// RedisSettings reach Redis or Valkey (OTPGATE_REDIS_...).
type RedisSettings struct {
	URL              string        `split_words:"true" desc:"redis://host:6379/0, or rediss:// for TLS; no password in it (use REDIS_PASSWORD_FILE). With Sentinel only the scheme and database: redis:///0 or rediss:///0"`
	Username         string        `split_words:"true" desc:"ACL user otpgate authenticates as (empty: the default user)"`
	Password         string        `split_words:"true" file:"true" desc:"password of the ACL user"`
	CAFile           string        `split_words:"true" desc:"PEM file of CA certificates for rediss:// (default: system roots)"`
	CertFile         string        `split_words:"true" desc:"PEM client certificate for rediss://, for servers that require one (with REDIS_KEY_FILE)"`
	KeyFile          string        `split_words:"true" desc:"PEM private key of REDIS_CERT_FILE"`
	SentinelMaster   string        `split_words:"true" desc:"master name the Redis Sentinels monitor (with REDIS_SENTINEL_ADDRS)"`
	SentinelAddrs    []string      `split_words:"true" desc:"comma-separated host:port of the Redis Sentinels"`
	SentinelPassword string        `split_words:"true" file:"true" desc:"password the Sentinels ask for (requirepass), if any"`
	KeyPrefix        string        `split_words:"true" default:"otpgate:" desc:"put before every key, so that several deployments can share one Redis"`
	Timeout          time.Duration `split_words:"true" default:"2s" desc:"timeout for connecting to Redis and for each request to it"`
	MinReplicas      int           `split_words:"true" default:"0" desc:"each write waits until this many replicas have it, else fails (with Sentinel set 1, so that a failover cannot lose a sign-out)"`
}

// Options are the checked settings, as New takes them.
type Options struct {
	// Addrs are the server's address, or the sentinels' with
	// SentinelMaster.
	Addrs            []string
	SentinelMaster   string
	SentinelPassword string
	Username         string
	Password         string
	DB               int
	TLS              *tls.Config // nil: plain TCP
	KeyPrefix        string
	Timeout          time.Duration
	MinReplicas      int
}

// UseRedis reports whether OTPGATE_STORE chooses Redis.
func (s Settings) UseRedis() bool { return s.Store == "redis" }

// Validate checks the settings and returns them parsed, with every problem
// at once, each naming its variable (prefix + name, e.g.
// OTPGATE_REDIS_URL). With the memory store, Options are empty.
func (s Settings) Validate(prefix string) (Options, []error) {
	var p []error
	problem := func(name, format string, args ...any) {
		p = append(p, setting.Problemf(prefix+name, format, args...))
	}
	r := s.Redis
	switch s.Store {
	case "memory":
		// Redis settings with the memory store are a forgotten
		// STORE=redis: each replica would silently keep its own state.
		for name, v := range map[string]bool{"REDIS_URL": r.URL != "", "REDIS_SENTINEL_MASTER": r.SentinelMaster != "",
			"REDIS_SENTINEL_ADDRS": len(setting.TrimAll(r.SentinelAddrs)) > 0} {
			if v {
				problem(name, "set, but %sSTORE is memory; set %sSTORE=redis to keep state in Redis", prefix, prefix)
			}
		}
		return Options{}, sortProblems(p)
	case "redis":
	default:
		problem("STORE", "%q: want memory or redis", s.Store)
		return Options{}, p
	}

	o := Options{Username: r.Username, Password: r.Password, SentinelMaster: r.SentinelMaster,
		SentinelPassword: r.SentinelPassword, KeyPrefix: r.KeyPrefix, Timeout: r.Timeout, MinReplicas: r.MinReplicas}
	sentinels := setting.TrimAll(r.SentinelAddrs)
	switch {
	case r.SentinelMaster != "" && len(sentinels) == 0:
		problem("REDIS_SENTINEL_ADDRS", "required with REDIS_SENTINEL_MASTER: the sentinels' host:port, comma-separated")
	case r.SentinelMaster == "" && len(sentinels) > 0:
		problem("REDIS_SENTINEL_MASTER", "required with REDIS_SENTINEL_ADDRS: the master name the sentinels monitor")
	case r.SentinelMaster == "" && r.URL == "":
		problem("REDIS_URL", "required with STORE=redis: like redis://redis:6379/0 or rediss://redis:6380/0 (or REDIS_SENTINEL_MASTER and REDIS_SENTINEL_ADDRS)")
	}
	for _, a := range sentinels {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			problem("REDIS_SENTINEL_ADDRS", "%q is not host:port (like sentinel-0:26379)", a)
		}
	}
	tlsOn := false
	if r.URL != "" {
		u, err := url.Parse(r.URL)
		switch {
		case err != nil:
			// The parser's message repeats the URL, which may hold a password.
			problem("REDIS_URL", "not a URL; want redis://host:6379/0 or rediss://host:6380/0")
		default:
			tlsOn = checkURL(problem, u, &o, r, len(sentinels) > 0 || r.SentinelMaster != "")
		}
	}
	if r.SentinelMaster != "" {
		o.Addrs = sentinels
	}
	tlsFiles := r.CAFile != "" || r.CertFile != "" || r.KeyFile != ""
	if tlsFiles && !tlsOn {
		for name, f := range map[string]string{"REDIS_CA_FILE": r.CAFile, "REDIS_CERT_FILE": r.CertFile, "REDIS_KEY_FILE": r.KeyFile} {
			if f != "" {
				problem(name, "only for TLS: make REDIS_URL rediss://")
			}
		}
	}
	if tlsOn {
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if r.CAFile != "" {
			if pool, err := readCAs(r.CAFile); err != nil {
				problem("REDIS_CA_FILE", "%v", err)
			} else {
				o.TLS.RootCAs = pool
			}
		}
		switch {
		case r.CertFile != "" && r.KeyFile == "":
			problem("REDIS_KEY_FILE", "required with REDIS_CERT_FILE: the client certificate's private key")
		case r.CertFile == "" && r.KeyFile != "":
			problem("REDIS_CERT_FILE", "required with REDIS_KEY_FILE: the client certificate")
		case r.CertFile != "":
			if cert, err := tls.LoadX509KeyPair(r.CertFile, r.KeyFile); err != nil {
				problem("REDIS_CERT_FILE", "with REDIS_KEY_FILE: %v", err)
			} else {
				o.TLS.Certificates = []tls.Certificate{cert}
			}
		}
	}
	if r.Timeout <= 0 || r.Timeout > time.Minute {
		problem("REDIS_TIMEOUT", "%v: want more than 0 and at most 1m, like 2s", r.Timeout)
	}
	if r.MinReplicas < 0 || r.MinReplicas > 10 {
		problem("REDIS_MIN_REPLICAS", "%d: want 0 to 10", r.MinReplicas)
	}
	if strings.ContainsAny(r.KeyPrefix, " \t\r\n") {
		problem("REDIS_KEY_PREFIX", "%q: no white space, please", r.KeyPrefix)
	}
	return o, sortProblems(p)
}

// checkURL checks a parsed REDIS_URL into o and reports whether it asks for TLS.
func checkURL(problem func(name, format string, args ...any), u *url.URL, o *Options, r RedisSettings, sentinel bool) bool {
	tlsOn := false
	switch u.Scheme {
	case "redis", "valkey":
	case "rediss", "valkeys":
		tlsOn = true
	default:
		problem("REDIS_URL", "scheme %q: want redis:// or rediss:// (TLS)", u.Scheme)
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			problem("REDIS_URL", "has a password, which would show in process listings and logs; "+
				"put it in a file named by OTPGATE_REDIS_PASSWORD_FILE (and the user in OTPGATE_REDIS_USERNAME)")
		} else if r.Username != "" {
			problem("REDIS_URL", "names a user, and so does REDIS_USERNAME; name it once")
		} else {
			o.Username = u.User.Username()
		}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		problem("REDIS_URL", "no query or fragment, please: settings go in OTPGATE_REDIS_ variables")
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 {
			problem("REDIS_URL", "path %q: want a database number, like /0", u.Path)
		}
		o.DB = n
	}
	switch {
	case sentinel && u.Host != "":
		problem("REDIS_URL", "names host %q, but the sentinels name the master; with Sentinel give only the scheme and database, like rediss:///0", u.Host)
	case !sentinel && u.Hostname() == "":
		problem("REDIS_URL", "no host: want redis://host:6379/0")
	case !sentinel:
		port := u.Port()
		if port == "" {
			port = "6379"
		}
		o.Addrs = []string{net.JoinHostPort(u.Hostname(), port)}
	}
	return tlsOn
}

func readCAs(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", file)
	}
	return pool, nil
}

// sortProblems orders problems by text, so that map iteration does not
// shuffle what start-up prints.
func sortProblems(p []error) []error {
	slices.SortStableFunc(p, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return p
}
