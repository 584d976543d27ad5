package redisstore

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otpgate/otpgate/internal/testserver"
)

func TestSettingsValidate(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key, err := testserver.WriteTLSFiles(dir, "test CA", "localhost", net.IPv4(127, 0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	redis := func(r RedisSettings) Settings {
		if r.Timeout == 0 {
			r.Timeout = 2 * time.Second
		}
		r.KeyPrefix = "otpgate:"
		return Settings{Store: "redis", Redis: r}
	}
	cases := []struct {
		name  string
		s     Settings
		wants []string // each a problem's start; none: valid
	}{
		{"memory, nothing else", Settings{Store: "memory"}, nil},
		{"memory with a Redis URL", Settings{Store: "memory", Redis: RedisSettings{URL: "redis://r:6379"}},
			[]string{"OTPGATE_REDIS_URL: set, but OTPGATE_STORE is memory"}},
		{"unknown store", Settings{Store: "etcd"}, []string{`OTPGATE_STORE: "etcd": want memory or redis`}},
		{"redis without a URL", redis(RedisSettings{}), []string{"OTPGATE_REDIS_URL: required"}},
		{"plain URL", redis(RedisSettings{URL: "redis://r:6379/2"}), nil},
		{"TLS URL with CA and client certificate", redis(RedisSettings{URL: "rediss://r", CAFile: ca, CertFile: cert, KeyFile: key}), nil},
		{"Valkey scheme", redis(RedisSettings{URL: "valkeys://r:6380"}), nil},
		{"bad scheme", redis(RedisSettings{URL: "http://r:6379"}), []string{`OTPGATE_REDIS_URL: scheme "http"`}},
		{"password in the URL", redis(RedisSettings{URL: "redis://u:secret@r:6379"}),
			[]string{"OTPGATE_REDIS_URL: has a password, which would show in process listings and logs; put it in a file named by OTPGATE_REDIS_PASSWORD_FILE"}},
		{"user twice", redis(RedisSettings{URL: "redis://u@r:6379", Username: "v"}), []string{"OTPGATE_REDIS_URL: names a user, and so does"}},
		{"bad database", redis(RedisSettings{URL: "redis://r:6379/x"}), []string{`OTPGATE_REDIS_URL: path "/x"`}},
		{"query", redis(RedisSettings{URL: "redis://r:6379?dial_timeout=1s"}), []string{"OTPGATE_REDIS_URL: no query"}},
		{"no host", redis(RedisSettings{URL: "redis:///0"}), []string{"OTPGATE_REDIS_URL: no host"}},
		{"sentinel", redis(RedisSettings{SentinelMaster: "m", SentinelAddrs: []string{"s1:26379", " s2:26379"}}), nil},
		{"sentinel with TLS scheme only", redis(RedisSettings{URL: "rediss:///1", SentinelMaster: "m", SentinelAddrs: []string{"s1:26379"}}), nil},
		{"sentinel master without addresses", redis(RedisSettings{SentinelMaster: "m"}), []string{"OTPGATE_REDIS_SENTINEL_ADDRS: required with REDIS_SENTINEL_MASTER"}},
		{"sentinel addresses without master", redis(RedisSettings{SentinelAddrs: []string{"s1:26379"}}), []string{"OTPGATE_REDIS_SENTINEL_MASTER: required with REDIS_SENTINEL_ADDRS"}},
		{"sentinel address without port", redis(RedisSettings{SentinelMaster: "m", SentinelAddrs: []string{"s1"}}), []string{`OTPGATE_REDIS_SENTINEL_ADDRS: "s1" is not host:port`}},
		{"sentinel and a URL host", redis(RedisSettings{URL: "redis://r:6379", SentinelMaster: "m", SentinelAddrs: []string{"s1:26379"}}),
			[]string{`OTPGATE_REDIS_URL: names host "r:6379", but the sentinels name the master`}},
		{"TLS files without rediss", redis(RedisSettings{URL: "redis://r", CAFile: ca}), []string{"OTPGATE_REDIS_CA_FILE: only for TLS"}},
		{"certificate without key", redis(RedisSettings{URL: "rediss://r", CertFile: cert}), []string{"OTPGATE_REDIS_KEY_FILE: required with REDIS_CERT_FILE"}},
		{"key without certificate", redis(RedisSettings{URL: "rediss://r", KeyFile: key}), []string{"OTPGATE_REDIS_CERT_FILE: required with REDIS_KEY_FILE"}},
		{"unreadable CA file", redis(RedisSettings{URL: "rediss://r", CAFile: filepath.Join(dir, "missing.pem")}), []string{"OTPGATE_REDIS_CA_FILE: cannot read"}},
		{"CA file without certificates", redis(RedisSettings{URL: "rediss://r", CAFile: garbage}), []string{"OTPGATE_REDIS_CA_FILE: " + garbage + ": no PEM certificate"}},
		{"bad key pair", redis(RedisSettings{URL: "rediss://r", CertFile: cert, KeyFile: garbage}), []string{"OTPGATE_REDIS_CERT_FILE: with REDIS_KEY_FILE"}},
		{"timeout", redis(RedisSettings{URL: "redis://r", Timeout: -time.Second}), []string{"OTPGATE_REDIS_TIMEOUT: -1s"}},
		{"every problem at once", redis(RedisSettings{URL: "ftp://u:p@r/x", CertFile: cert, Timeout: 2 * time.Minute}), []string{
			"OTPGATE_REDIS_CERT_FILE: only for TLS", "OTPGATE_REDIS_TIMEOUT: 2m0s", `OTPGATE_REDIS_URL: has a password`,
			`OTPGATE_REDIS_URL: path "/x"`, `OTPGATE_REDIS_URL: scheme "ftp"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, problems := c.s.Validate("OTPGATE_")
			var got []string
			for _, p := range problems {
				got = append(got, p.Error())
			}
			if len(got) != len(c.wants) {
				t.Fatalf("problems %q, want %d starting %q", got, len(c.wants), c.wants)
			}
			for i, want := range c.wants {
				if !strings.HasPrefix(got[i], want) {
					t.Errorf("problem %d = %q, want it to start %q", i, got[i], want)
				}
				if strings.Contains(got[i], "secret") || strings.Contains(got[i], "u:p@") {
					t.Errorf("problem %q shows the password", got[i])
				}
			}
		})
	}
}

func TestSettingsValidateParses(t *testing.T) {
	s := Settings{Store: "redis", Redis: RedisSettings{URL: "rediss://ops@r.example:6380/3", KeyPrefix: "site:", Timeout: time.Second}}
	o, problems := s.Validate("OTPGATE_")
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if len(o.Addrs) != 1 || o.Addrs[0] != "r.example:6380" || o.DB != 3 || o.Username != "ops" || o.TLS == nil || o.KeyPrefix != "site:" {
		t.Fatalf("Options = %+v; want r.example:6380, DB 3, user ops, TLS, prefix site:", o)
	}
}
