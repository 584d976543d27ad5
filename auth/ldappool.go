package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// connPool keeps open LDAP connections of one kind (bound as the service
// account, or kept for user binds) for reuse: a sign-in then costs its
// requests, not a dial, a TLS handshake and a service bind each time.
//
// At most size connections are in use at once; callers beyond wait for one
// (within the request timeout and their context). Idle connections are
// closed after idleTimeout. A connection is kept only when every request on
// it was answered by the server: after a network error, a timeout or a
// cancelled context its state is unknown, and it is closed.
type connPool struct {
	kind        string // for errors: "service" or "user bind"
	open        func(ctx context.Context) (*ldap.Conn, error)
	idleTimeout time.Duration
	wait        time.Duration // longest wait for a connection to come free
	now         func() time.Time

	slots chan struct{} // one taken per connection in use

	mu     sync.Mutex
	idle   []*pooledConn // the most recently used last
	closed bool
	reaper *time.Timer    // armed while connections are idle
	out    sync.WaitGroup // connections in use, for Close to wait for
}

// pooledConn is a connection checked out of a connPool.
type pooledConn struct {
	conn      *ldap.Conn
	reused    bool // taken from the idle connections rather than dialled
	broken    bool // a request went unanswered: its state is unknown
	idleSince time.Time
}

func newConnPool(kind string, size int, idleTimeout, wait time.Duration, open func(context.Context) (*ldap.Conn, error)) *connPool {
	return &connPool{kind: kind, open: open, idleTimeout: idleTimeout, wait: wait, now: time.Now,
		slots: make(chan struct{}, size)}
}

// errPoolClosed is returned once the directory is closed.
var errPoolClosed = errors.New("ldap connections closed: otpgate is shutting down")

// with runs fn on a connection of the pool. When fn fails because a
// connection taken from the pool turns out closed by the server (its idle
// timeout, a restart, a firewall that forgot it), fn runs once more on a
// new connection: the server let go of such a connection before the
// request reached it. (Were it to act on the request and then fail, the
// second try would be answered as a repeat: a wrong password counted twice,
// a used backup code refused; both fail closed.)
func (p *connPool) with(ctx context.Context, fn func(*pooledConn) error) error {
	if err := p.acquire(ctx); err != nil {
		return err
	}
	defer func() { <-p.slots }()
	c, err := p.get(ctx, false)
	if err != nil {
		return err
	}
	stale, err := p.run(ctx, c, fn)
	if stale {
		if c, err = p.get(ctx, true); err != nil {
			return err
		}
		_, err = p.run(ctx, c, fn)
	}
	return err
}

// run calls fn with c, closing c when ctx ends meanwhile, and gives c back.
// stale tells that fn failed because c, taken from the pool, was found
// closed by the server.
func (p *connPool) run(ctx context.Context, c *pooledConn, fn func(*pooledConn) error) (stale bool, err error) {
	stop := context.AfterFunc(ctx, func() { c.conn.Close() })
	err = fn(c)
	if !stop() {
		c.broken = true
	}
	stale = err != nil && c.reused && c.broken && c.conn.IsClosing() && ctx.Err() == nil
	p.put(c)
	return stale, err
}

// acquire waits for a free slot.
func (p *connPool) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: ldap: %w", ErrDirectoryUnavailable, err)
	}
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(p.wait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: ldap: waiting for a free %s connection: %w", ErrDirectoryUnavailable, p.kind, ctx.Err())
	case <-t.C:
		return fmt.Errorf("%w: ldap: all %d %s connections stayed busy for %v", ErrDirectoryUnavailable, cap(p.slots), p.kind, p.wait)
	}
}

// get returns an idle connection, or a new one when there is none or fresh
// is set. Idle connections the server has closed, or idle for too long,
// are closed and passed over.
func (p *connPool) get(ctx context.Context, fresh bool) (*pooledConn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", ErrDirectoryUnavailable, errPoolClosed)
	}
	var c *pooledConn
	var drop []*pooledConn
	for !fresh && c == nil && len(p.idle) > 0 {
		last := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if last.conn.IsClosing() || p.now().Sub(last.idleSince) >= p.idleTimeout {
			drop = append(drop, last)
			continue
		}
		c = last
	}
	p.out.Add(1) // before Close can Wait: both hold mu
	p.mu.Unlock()
	closeAll(drop)
	if c != nil {
		c.reused = true
		return c, nil
	}
	conn, err := p.open(ctx)
	if err != nil {
		p.out.Done()
		return nil, err
	}
	return &pooledConn{conn: conn}, nil
}

// put gives c back: kept when it is sound, closed otherwise.
func (p *connPool) put(c *pooledConn) {
	defer p.out.Done()
	p.mu.Lock()
	if p.closed || c.broken || c.conn.IsClosing() || len(p.idle) >= cap(p.slots) {
		p.mu.Unlock()
		c.conn.Close()
		return
	}
	c.reused, c.idleSince = false, p.now()
	p.idle = append(p.idle, c)
	if p.reaper == nil {
		p.reaper = time.AfterFunc(p.idleTimeout, p.reap)
	}
	p.mu.Unlock()
}

// reap closes the connections idle for idleTimeout, and comes back for the
// others when they will be.
func (p *connPool) reap() {
	p.mu.Lock()
	now := p.now()
	var drop []*pooledConn
	kept := p.idle[:0]
	for _, c := range p.idle {
		if now.Sub(c.idleSince) >= p.idleTimeout {
			drop = append(drop, c)
		} else {
			kept = append(kept, c)
		}
	}
	clear(p.idle[len(kept):])
	p.idle = kept
	p.reaper = nil
	if len(kept) > 0 && !p.closed {
		// The oldest is first.
		p.reaper = time.AfterFunc(kept[0].idleSince.Add(p.idleTimeout).Sub(now), p.reap)
	}
	p.mu.Unlock()
	closeAll(drop)
}

// close closes the idle connections, and each one in use when it is given
// back, which it waits for: requests end within their timeout.
func (p *connPool) close() {
	p.mu.Lock()
	p.closed = true
	drop := p.idle
	p.idle = nil
	if p.reaper != nil {
		p.reaper.Stop()
		p.reaper = nil
	}
	p.mu.Unlock()
	closeAll(drop)
	p.out.Wait()
}

func closeAll(conns []*pooledConn) {
	for _, c := range conns {
		c.conn.Close()
	}
}

// note marks c broken when err is not the server's answer: go-ldap's own
// result codes (200 and up) mean the request failed on the client's side,
// for a network error or a timeout, with its outcome unknown.
func (c *pooledConn) note(err error) {
	var le *ldap.Error
	if err != nil && (!errors.As(err, &le) || le.ResultCode >= ldap.ErrorNetwork) {
		c.broken = true
	}
}

// serviceConn is a pooled connection bound as the service account. It
// searches and modifies, and has no way to bind: a bind would hand the next
// user of the pool someone else's rights.
type serviceConn struct{ c *pooledConn }

func (s serviceConn) Search(req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	res, err := s.c.conn.Search(req)
	s.c.note(err)
	return res, err
}

func (s serviceConn) Modify(req *ldap.ModifyRequest) error {
	err := s.c.conn.Modify(req)
	s.c.note(err)
	return err
}

// userConn is a connection just bound as a user, for their own writes.
// User-bind connections never serve a service request: each use starts
// with the user's bind, which replaces whatever the last one left.
type userConn struct{ c *pooledConn }

func (u userConn) Modify(req *ldap.ModifyRequest) error {
	err := u.c.conn.Modify(req)
	u.c.note(err)
	return err
}
