package server

import (
	"crypto/subtle"
	"log"
	"net/http"
	"net/netip"
	"strings"

	"github.com/rs/zerolog"
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

// requireToken wraps h so that it answers only requests that carry
// "Authorization: Bearer TOKEN"; the others get 401. An empty token
// requires nothing.
func requireToken(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !BearerTokenOK(r, token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="swarm tracker"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// BearerTokenOK reports whether r carries "Authorization: Bearer TOKEN"
// with token, comparing in constant time so that the answer's timing says
// nothing about how much of a guess was right.
func BearerTokenOK(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// ErrorLog returns a logger for http.Server.ErrorLog that sends net/http's
// own lines (TLS handshake errors from scanners, accept retries) to l at
// Debug, as the tracker's server does: another listener in front of the
// tracker (an admin API) uses it.
func ErrorLog(l zerolog.Logger) *log.Logger { return log.New(debugWriter{l}, "", 0) }
