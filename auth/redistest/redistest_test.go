package redistest

import (
	"strings"
	"testing"
)

func TestServerKeepsWritesAcrossKillAndRestart(t *testing.T) {
	s := Start(t)
	if _, err := s.Do("SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	// A script's writes are replayed from the file too.
	if _, err := s.Do("EVAL", "redis.call('INCR', KEYS[1]); return redis.call('INCR', KEYS[1])", "1", "n"); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	s.Restart()
	if got, _ := s.Do("GET", "k"); got != "v" {
		t.Fatalf("GET after kill and restart = %q, want %q", got, "v")
	}
	if got, _ := s.Do("GET", "n"); got != "2" {
		t.Fatalf("GET of a script's counter after kill and restart = %q, want %q", got, "2")
	}
}

func TestServerRefusesTheDefaultUser(t *testing.T) {
	s := Start(t)
	_, err := Do(s.Addr, nil, nil, "PING")
	if err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("PING without AUTH: %v, want a NOAUTH error", err)
	}
}

func TestServerWithTLSRequiresAClientCertificate(t *testing.T) {
	s := Start(t, WithTLS())
	if got, err := s.Do("PING"); err != nil || got != "PONG" {
		t.Fatalf("PING over TLS with a client certificate = %q, %v; want PONG", got, err)
	}
	noCert, err := clientTLS(s.CAFile, s.CertFile, s.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	noCert.Certificates = nil
	if _, err := Do(s.Addr, noCert, []string{"AUTH", Username, Password}, "PING"); err == nil {
		t.Fatal("PING over TLS without a client certificate succeeded")
	}
}

func TestSentinelsFailOverToTheReplica(t *testing.T) {
	set := StartSentinels(t)
	if got := set.MasterAddr(); got != set.Master.Addr {
		t.Fatalf("master before failover = %q, want %q", got, set.Master.Addr)
	}
	if _, err := set.Master.Do("SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := set.Master.Do("WAIT", "1", "5000"); err != nil {
		t.Fatal(err)
	}
	set.Failover()
	if got := set.MasterAddr(); got != set.Replica.Addr {
		t.Fatalf("master after failover = %q, want the replica %q", got, set.Replica.Addr)
	}
	if got, _ := set.Replica.Do("GET", "k"); got != "v" {
		t.Fatalf("GET on the new master = %q, want %q", got, "v")
	}
}
