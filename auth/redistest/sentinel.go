package redistest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otpgate/otpgate/internal/testserver"
)

// Sentinels is a Sentinel set: a master, one replica of it, and three
// sentinels monitoring the master as MasterName, quorum two, with a short
// down-after so that a failover takes about a second.
type Sentinels struct {
	Master, Replica *Server
	Addrs           []string // the sentinels', 127.0.0.1:PORT each

	t     testing.TB
	procs []*testserver.Process
}

// StartSentinels runs a Sentinel set for the test, ready once the replica
// has synced with the master and every sentinel knows the replica and the
// other two sentinels; it stops them
// when the test ends. Sentinels ask for SentinelPassword.
func StartSentinels(t testing.TB) *Sentinels {
	t.Helper()
	testserver.Require(t, "/usr/bin/redis-sentinel", "redis-sentinel")
	master := Start(t)
	replica := Start(t, withReplicaOf(master.Addr))
	set := &Sentinels{Master: master, Replica: replica, t: t}
	t.Cleanup(set.stop)
	ports, err := testserver.FreePorts(3)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	dir := t.TempDir()
	host, port, _ := strings.Cut(master.Addr, ":")
	for i, p := range ports {
		conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", i))
		// The sentinel rewrites its file as it learns the set, so it
		// gets one of its own.
		text := fmt.Sprintf("bind 127.0.0.1\nport %d\ndir %s\ndaemonize no\nlogfile \"\"\nloglevel warning\n"+
			"requirepass %s\nsentinel sentinel-pass %s\n"+
			"sentinel monitor %s %s %s 2\nsentinel down-after-milliseconds %s 500\nsentinel failover-timeout %s 5000\n"+
			"sentinel auth-user %s %s\nsentinel auth-pass %s %s\n",
			p, dir, SentinelPassword, SentinelPassword,
			MasterName, host, port, MasterName, MasterName,
			MasterName, Username, MasterName, Password)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatalf("redistest: %v", err)
		}
		proc, err := testserver.Start(exec.Command(master.bin, conf, "--sentinel"), nil)
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		set.procs = append(set.procs, proc)
		set.Addrs = append(set.Addrs, fmt.Sprintf("127.0.0.1:%d", p))
	}
	// Sentinels find the replica from the master's INFO and each other
	// through the master's hello channel, every two seconds or so.
	known := func() bool {
		// The replica has had its first sync: writes that wait for a
		// replica (WAIT) can succeed.
		if role, err := replica.do("ROLE"); err != nil || !strings.HasPrefix(role, "slave\n") || strings.Split(role, "\n")[3] != "connected" {
			return false
		}
		for _, a := range set.Addrs {
			m, err := set.ask(a, "SENTINEL", "MASTER", MasterName)
			if err != nil || field(m, "num-slaves") != "1" || field(m, "num-other-sentinels") != "2" {
				return false
			}
		}
		return true
	}
	if err := testserver.WaitReady(time.Now().Add(30*time.Second), known, set.procs...); err != nil {
		t.Fatalf("redistest: sentinels: %v; their output:\n%s", err, set.output())
	}
	return set
}

// MasterAddr is the master's address as the first sentinel that answers
// tells it.
func (s *Sentinels) MasterAddr() string {
	s.t.Helper()
	var last error
	for _, a := range s.Addrs {
		r, err := s.ask(a, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MasterName)
		if err == nil {
			return strings.Replace(r, "\n", ":", 1)
		}
		last = err
	}
	s.t.Fatalf("redistest: no sentinel tells the master: %v", last)
	return ""
}

// Failover asks a sentinel to promote the replica now, and waits until
// every sentinel names it the master and it accepts writes.
func (s *Sentinels) Failover() {
	s.t.Helper()
	old := s.MasterAddr()
	if _, err := s.ask(s.Addrs[0], "SENTINEL", "FAILOVER", MasterName); err != nil {
		s.t.Fatalf("redistest: SENTINEL FAILOVER: %v", err)
	}
	done := func() bool {
		for _, a := range s.Addrs {
			r, err := s.ask(a, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MasterName)
			if err != nil || strings.Replace(r, "\n", ":", 1) == old {
				return false
			}
		}
		role, err := Do(s.MasterAddr(), nil, []string{"AUTH", Username, Password}, "ROLE")
		return err == nil && strings.HasPrefix(role, "master")
	}
	if err := testserver.WaitReady(time.Now().Add(30*time.Second), done, s.procs...); err != nil {
		s.t.Fatalf("redistest: failover: %v; sentinels' output:\n%s", err, s.output())
	}
}

func (s *Sentinels) ask(addr string, args ...string) (string, error) {
	return Do(addr, nil, []string{"AUTH", SentinelPassword}, args...)
}

// field reads a field of a flattened map reply (name, value, name, ...).
func field(reply, name string) string {
	kv := strings.Split(reply, "\n")
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == name {
			return kv[i+1]
		}
	}
	return ""
}

func (s *Sentinels) output() string {
	var b strings.Builder
	for i, p := range s.procs {
		fmt.Fprintf(&b, "--- sentinel %d\n%s", i, p.Output())
	}
	return b.String()
}

func (s *Sentinels) stop() {
	for _, p := range s.procs {
		p.Stop(stopTimeout)
	}
}
