package testserver

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TCPProxy forwards the connections it accepts on a loopback port to a
// server, counting them, so that a test can see how many connections a
// client opens and keeps, and can cut them as a firewall that forgot them
// would. Stopping it (at the end of the test) closes every connection.
type TCPProxy struct {
	Addr string // 127.0.0.1:PORT to connect to instead of the server

	target string
	ln     net.Listener
	wg     sync.WaitGroup

	mu       sync.Mutex
	accepted int
	conns    map[*proxied]bool
	stopped  bool
}

type proxied struct {
	client, server net.Conn
	forgotten      bool // reset at the client's next bytes
}

// StartTCPProxy forwards a new loopback port to target (host:port) until
// the test ends.
func StartTCPProxy(t testing.TB, target string) *TCPProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testserver: proxy: %v", err)
	}
	p := &TCPProxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[*proxied]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.stop)
	return p
}

func (p *TCPProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			client.Close()
			continue
		}
		c := &proxied{client: client, server: server}
		p.mu.Lock()
		if p.stopped {
			p.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		p.accepted++
		p.conns[c] = true
		p.mu.Unlock()
		p.wg.Add(2)
		go p.toServer(c)
		go p.toClient(c)
	}
}

// toServer copies the client's bytes, unless the connection is forgotten:
// then the client gets a reset instead, and the server never sees them.
func (p *TCPProxy) toServer(c *proxied) {
	defer p.wg.Done()
	buf := make([]byte, 32*1024)
	for {
		n, err := c.client.Read(buf)
		if n > 0 {
			p.mu.Lock()
			forgotten := c.forgotten
			p.mu.Unlock()
			if forgotten {
				if tc, ok := c.client.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // close with a reset
				}
				break
			}
			if _, werr := c.server.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	p.drop(c)
}

func (p *TCPProxy) toClient(c *proxied) {
	defer p.wg.Done()
	_, _ = io.Copy(c.client, c.server)
	p.drop(c)
}

// drop closes both ends of c; either copy ending ends the connection.
func (p *TCPProxy) drop(c *proxied) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.client.Close()
	c.server.Close()
}

// Accepted returns how many connections the proxy has accepted so far.
func (p *TCPProxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Open returns how many connections are open now.
func (p *TCPProxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// WaitOpen waits up to timeout for Open to be n, and returns what it is.
func (p *TCPProxy) WaitOpen(n int, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for p.Open() != n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return p.Open()
}

// ForgetAll makes every open connection look, to its client, like one a
// firewall has silently dropped: it stays open until the client sends
// again, which is answered with a reset and never reaches the server.
// Connections made later are forwarded as usual.
func (p *TCPProxy) ForgetAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.forgotten = true
	}
}

func (p *TCPProxy) stop() {
	p.ln.Close()
	p.mu.Lock()
	p.stopped = true
	conns := make([]*proxied, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		p.drop(c)
	}
	p.wg.Wait()
}
