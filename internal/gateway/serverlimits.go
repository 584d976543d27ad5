package gateway

// Server limits: no client, or crowd of clients, may hold otpgate's
// connections open. Bodies of requests otpgate answers itself must arrive
// within a deadline; connections are capped in all and per client address.
// Proxied requests are left alone, so uploads and WebSockets to the app
// stream for as long as they need.

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// liftKey holds, in a request's context, the function that removes the
// body deadline once the request is passed to the app.
type liftKey struct{}

// bodyDeadline bounds how long otpgate waits for the body of a request:
// its own form posts, and any request it refuses or redirects (the server
// drains those bodies before it answers). A request that is proxied gets
// the deadline lifted by liftBodyDeadline, just before it goes upstream.
//
// A deadline for the whole body, rather than per read, is what stops a
// client that sends one byte every few seconds.
func bodyDeadline(next http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Without a body there is nothing to wait for, and the server is
		// already reading ahead for the next request: a deadline there
		// would cancel this one.
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		// Network deadlines are in real time, whatever clock the flow uses.
		if err := rc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			// Only a writer with no connection under it (a recorder) gets
			// here; there is then no connection to hold open.
			next.ServeHTTP(w, r)
			return
		}
		// Once the body is read, the server clears the deadline itself, so
		// a handler may then take its time (an LDAP bind, an SMS).
		lift := func() { _ = rc.SetReadDeadline(time.Time{}) }
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), liftKey{}, lift)))
	})
}

// liftBodyDeadline wraps the transport to the app: a request that reaches
// it is allowed through, and its body (an upload, a WebSocket after the
// 101) streams with no deadline.
func liftBodyDeadline(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if lift, ok := r.Context().Value(liftKey{}).(func()); ok {
			lift()
		}
		return next.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// connLimits caps open connections.
type connLimits struct {
	Max      int // in all; at least 1
	MaxPerIP int // per client address (IPv6: per /64); 0: no cap
	// Exempt addresses are not capped per address: they are the reverse
	// proxies in front, which carry many clients' connections.
	Exempt func(netip.Addr) bool
	// Refused hears each refused connection's reason ("total" or
	// "per_address"), for metrics; nil: nobody.
	Refused func(reason string)
}

// refusalLogEvery is how often at most a refused connection is logged; a
// flood of them must not become a flood of log lines.
const refusalLogEvery = 10 * time.Second

// connLimiter is a listener that closes, at once, a connection over a cap.
// Refusing is better than not accepting (blocking in Accept): a blocked
// listener leaves new clients, the legitimate among them, waiting in the
// kernel's queue behind the attacker's next connections, and the per-address
// cap needs the address, which only an accepted connection has.
type connLimiter struct {
	net.Listener
	limits connLimits
	log    *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	open    int
	perIP   map[netip.Addr]int
	lastLog time.Time
	unlog   int // refusals since the last log line
}

func newConnLimiter(ln net.Listener, limits connLimits, log *slog.Logger, now func() time.Time) *connLimiter {
	if limits.Exempt == nil {
		limits.Exempt = func(netip.Addr) bool { return false }
	}
	if limits.Refused == nil {
		limits.Refused = func(string) {}
	}
	return &connLimiter{Listener: ln, limits: limits, log: log, now: now, perIP: map[netip.Addr]int{}}
}

// Accept returns the next connection within the caps, closing those over.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := remoteAddr(c)
		key, capped := l.key(addr)
		if reason := l.admit(key, capped); reason != "" {
			// Counted before the close, so whoever sees the close sees the count.
			l.refused(addr, reason)
			_ = c.Close()
			continue
		}
		return &limitedConn{Conn: c, release: func() { l.release(key, capped) }}, nil
	}
}

// Open is the number of connections open now.
func (l *connLimiter) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// key is what the per-address cap counts: the address, or for IPv6 its
// /64, since one host or home is usually given a whole /64. capped is
// false when the per-address cap does not apply.
func (l *connLimiter) key(a netip.Addr) (netip.Addr, bool) {
	if l.limits.MaxPerIP <= 0 || !a.IsValid() || l.limits.Exempt(a) {
		return netip.Addr{}, false
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr(), true
	}
	return a, true
}

func (l *connLimiter) admit(key netip.Addr, capped bool) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.limits.Max {
		return "total"
	}
	if capped && l.perIP[key] >= l.limits.MaxPerIP {
		return "per_address"
	}
	l.open++
	if capped {
		l.perIP[key]++
	}
	return ""
}

func (l *connLimiter) release(key netip.Addr, capped bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if !capped {
		return
	}
	if l.perIP[key]--; l.perIP[key] <= 0 {
		delete(l.perIP, key)
	}
}

// refused counts a refusal and logs it, at most once per refusalLogEvery,
// with how many went unlogged since the last line.
func (l *connLimiter) refused(addr netip.Addr, reason string) {
	defer l.limits.Refused(reason)
	l.mu.Lock()
	t := l.now()
	if !l.lastLog.IsZero() && t.Sub(l.lastLog) < refusalLogEvery {
		l.unlog++
		l.mu.Unlock()
		return
	}
	unlogged := l.unlog
	l.lastLog, l.unlog = t, 0
	l.mu.Unlock()
	l.log.Warn("connection refused: too many open connections", "reason", reason, "client", addr.String(),
		"max_connections", l.limits.Max, "max_connections_per_ip", l.limits.MaxPerIP, "refused_unlogged", unlogged)
}

func remoteAddr(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// limitedConn gives its place back when closed, however often Close is
// called (the server and a hijacking handler may both close it).
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite passes on the half-close the server makes before it drops a
// connection whose body it did not read, so the client gets the answer
// (a 400 for a form that never came) rather than a reset.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
