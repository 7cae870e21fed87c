package server

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the address of the client that sent r: the connection's,
// unless the connection comes from a trusted proxy (Config.TrustedProxies),
// which names the client in X-Forwarded-For or X-Real-IP.
//
// X-Forwarded-For lists the hops, each proxy appending the address it was
// reached from; anything left of the last proxy that is ours may have been
// written by the client. So it is read from the right, skipping trusted
// proxies, and the first address that is not one is the client (the
// leftmost if all are). X-Real-IP, a single address set by the proxy, is
// read when there is no X-Forwarded-For. A header that does not parse
// leaves the connection's address.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	remote := remoteIP(r)
	if !s.trustedProxy(remote) {
		return remote
	}
	if hops := r.Header.Values("X-Forwarded-For"); len(hops) > 0 {
		client := remote
		for i := len(hops) - 1; i >= 0; i-- {
			parts := strings.Split(hops[i], ",")
			for j := len(parts) - 1; j >= 0; j-- {
				ip, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
				if err != nil {
					return client
				}
				client = ip.Unmap()
				if !s.trustedProxy(client) {
					return client
				}
			}
		}
		return client
	}
	if v := r.Header.Get("X-Real-IP"); v != "" {
		if ip, err := netip.ParseAddr(strings.TrimSpace(v)); err == nil {
			return ip.Unmap()
		}
	}
	return remote
}

// trustedProxy reports whether ip is in Config.TrustedProxies.
func (s *Server) trustedProxy(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
