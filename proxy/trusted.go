package proxy

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies are the addresses whose forwarding headers are believed.
// From anyone else, X-Forwarded-* and X-Original-* are ignored.
type TrustedProxies struct{ nets []netip.Prefix }

// ParseTrustedProxies reads CIDRs (or single addresses).
func ParseTrustedProxies(list []string) (TrustedProxies, error) {
	var t TrustedProxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return t, fmt.Errorf("%q is not an address or CIDR", s)
			}
			t.nets = append(t.nets, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return t, fmt.Errorf("%q is not an address or CIDR", s)
		}
		t.nets = append(t.nets, p.Masked())
	}
	return t, nil
}

func (t TrustedProxies) trustsAddr(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range t.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// Trusts reports whether the request came straight from a trusted proxy.
func (t TrustedProxies) Trusts(r *http.Request) bool {
	a, ok := remoteAddr(r)
	return ok && t.trustsAddr(a)
}

// ClientIP is the address of the client: the connection's, or, when that
// is a trusted proxy, the last address in X-Forwarded-For that is not one.
func (t TrustedProxies) ClientIP(r *http.Request) string {
	a, ok := remoteAddr(r)
	if !ok {
		return r.RemoteAddr
	}
	if !t.trustsAddr(a) {
		return a.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: stop believing the chain here
		}
		a = h
		if !t.trustsAddr(h) {
			break
		}
	}
	return a.Unmap().String()
}

func remoteAddr(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	return a, err == nil
}
