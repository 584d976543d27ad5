package gateway

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/otpgate/otpgate/auth/redistest"
	"github.com/otpgate/otpgate/proxy"
)

// Allocation ceilings of the signed-in hot path, in otpgate's own handler
// (the assembled one: server limits, rules, identity headers), counted
// with testing.AllocsPerRun rather than timed. They sit just above what
// the code reaches, so a change that adds an allocation per request
// fails here. What the proxied path may add is counted beyond a bare
// httputil.ReverseProxy with pooled buffers doing the same request.
const (
	// The session handed to rewrite in a context (1) and the request
	// carrying it (1); the identity values (1) and the groups (1); the
	// request header map growing to hold the identity headers (3); the
	// request id's context, made before anything needs the id (1), and the
	// request carrying it (1).
	proxiedAllocsCeiling = 9
	// The identity values (1) and the groups (1); the request id's context
	// (1) and the request carrying it (1).
	forwardAuthAllocsCeiling = 4
	// What the Redis store adds to either: the fail-closed record (1) and
	// the request carrying it (1); the sign-out check, answered from the
	// client-side cache: its bounded context (1) and its key's name in
	// Redis (1). rueidis pools its commands: the race detector's slack
	// applies.
	redisAllocs = 4
)

// raceSlack is what the race detector may add: each sync.Pool.Get may
// allocate where a dropped Put left nothing (the gateway's response
// buffer, where the bare proxy's pool may have kept one).
func raceSlack() float64 {
	if raceEnabled {
		return 1
	}
	return 0
}

func TestSignedInProxiedRequestAllocationsStayUnderCeiling(t *testing.T) {
	appURL := startBenchApp(t)
	upstream, _ := url.Parse(appURL)
	bare := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(upstream); pr.SetXForwarded() },
		Transport:  proxy.NewTransport(),
		BufferPool: benchBufferPool{},
	}
	cookie := benchCookie(t)
	bareAllocs := handlerAllocs(t, bare, "/dashboard?tab=1", nil, cookie)
	for _, tt := range []struct {
		name    string
		age     time.Duration
		metrics bool
	}{
		{"fresh cookie", 0, false},
		{"stale cookie", 2 * time.Minute, false},
		{"fresh cookie, metrics on", 0, true},
	} {
		a, _ := assembleBench(t, appURL, tt.age, tt.metrics)
		got := handlerAllocs(t, a.handler, "/dashboard?tab=1", nil, cookie) - bareAllocs
		t.Logf("%s: otpgate adds %v allocations to the bare proxy's %v", tt.name, got, bareAllocs)
		if limit := proxiedAllocsCeiling + raceSlack(); got > limit {
			t.Errorf("%s: otpgate adds %v allocations per proxied request to the bare proxy's %v, want at most %v (race detector: %v)",
				tt.name, got, bareAllocs, limit, raceEnabled)
		}
	}
}

func TestSignedInForwardAuthAllocationsStayUnderCeiling(t *testing.T) {
	cookie := benchCookie(t)
	traefik := http.Header{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"},
		"X-Forwarded-Host": {benchHost}, "X-Forwarded-Uri": {"/dashboard?tab=1"}}
	nginx := http.Header{"X-Original-Url": {"https://" + benchHost + "/dashboard?tab=1"}}
	for _, tt := range []struct {
		name   string
		path   string
		header http.Header
		age    time.Duration
	}{
		{"forward-auth, fresh cookie", "/otpgate/authz/forward-auth", traefik, 0},
		{"forward-auth, stale cookie", "/otpgate/authz/forward-auth", traefik, 2 * time.Minute},
		{"auth-request, fresh cookie", "/otpgate/authz/auth-request", nginx, 0},
		{"auth-request, stale cookie", "/otpgate/authz/auth-request", nginx, 2 * time.Minute},
	} {
		a, _ := assembleBench(t, "", tt.age, false)
		// Nothing here is pooled: the race detector changes nothing.
		got := handlerAllocs(t, a.handler, tt.path, tt.header, cookie)
		t.Logf("%s: %v allocations", tt.name, got)
		if got > forwardAuthAllocsCeiling {
			t.Errorf("%s: %v allocations per answer, want at most %v", tt.name, got, forwardAuthAllocsCeiling)
		}
	}
}

func TestSignedInRequestWithRedisStoreAllocationsStayUnderCeiling(t *testing.T) {
	redis := withRedis(redistest.Start(t))
	appURL := startBenchApp(t)
	upstream, _ := url.Parse(appURL)
	bare := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(upstream); pr.SetXForwarded() },
		Transport:  proxy.NewTransport(),
		BufferPool: benchBufferPool{},
	}
	cookie := benchCookie(t)
	bareAllocs := handlerAllocs(t, bare, "/dashboard?tab=1", nil, cookie)
	traefik := http.Header{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"},
		"X-Forwarded-Host": {benchHost}, "X-Forwarded-Uri": {"/dashboard?tab=1"}}
	for _, tt := range []struct {
		name     string
		upstream string
		path     string
		header   http.Header
		age      time.Duration
		base     float64 // what a bare handler allocates for the same
		ceiling  float64
	}{
		{"proxied, fresh cookie", appURL, "/dashboard?tab=1", nil, 0, bareAllocs, proxiedAllocsCeiling + redisAllocs + raceSlack()},
		{"proxied, stale cookie", appURL, "/dashboard?tab=1", nil, 2 * time.Minute, bareAllocs, proxiedAllocsCeiling + redisAllocs + raceSlack()},
		{"forward-auth, fresh cookie", "", "/otpgate/authz/forward-auth", traefik, 0, 0, forwardAuthAllocsCeiling + redisAllocs + raceSlack()},
		{"forward-auth, stale cookie", "", "/otpgate/authz/forward-auth", traefik, 2 * time.Minute, 0, forwardAuthAllocsCeiling + redisAllocs + raceSlack()},
	} {
		a, _ := assembleBench(t, tt.upstream, tt.age, false, redis)
		got := handlerAllocs(t, a.handler, tt.path, tt.header, cookie) - tt.base
		t.Logf("%s, Redis store: otpgate makes %v allocations (beyond the bare proxy's %v)", tt.name, got, tt.base)
		if got > tt.ceiling {
			t.Errorf("%s, Redis store: %v allocations per request (beyond the bare proxy's %v), want at most %v (race detector: %v)",
				tt.name, got, tt.base, tt.ceiling, raceEnabled)
		}
	}
}

// handlerAllocs is the allocations of h answering one signed-in GET of
// target, as a server hands it over, after one request that warms caches
// up (and renews a stale session, once per interval). Each answer must be
// 200.
func handlerAllocs(t *testing.T, h http.Handler, target string, header http.Header, cookie *http.Cookie) float64 {
	t.Helper()
	r := handlerRequest(target, header, cookie)
	w := &discardResponse{header: http.Header{}}
	allocs := testing.AllocsPerRun(200, func() { w.serve(h, r) })
	if w.status != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200", target, w.status)
	}
	return allocs
}
