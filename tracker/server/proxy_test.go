package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"swarm/tracker"
	"swarm/tracker/server"
)

// TestTrustedProxyHeaders: X-Forwarded-For and X-Real-IP name the client
// only when the connection comes from a trusted proxy; the rightmost
// address that is not a trusted proxy is the client, so what a client
// writes into the header itself (left of our proxies) is never taken.
func TestTrustedProxyHeaders(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		remote  string
		headers map[string][]string
		want    string
	}{
		{"untrusted connection, forged header", "203.0.113.9", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, "203.0.113.9"},
		{"untrusted connection, forged X-Real-IP", "203.0.113.9", map[string][]string{"X-Real-IP": {"198.51.100.1"}}, "203.0.113.9"},
		{"trusted proxy, one hop", "10.1.2.3", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1"},
		{"trusted proxy, client-written hop ignored", "10.1.2.3", map[string][]string{"X-Forwarded-For": {"1.2.3.4, 198.51.100.1"}}, "198.51.100.1"},
		{"two trusted proxies", "10.1.2.3", map[string][]string{"X-Forwarded-For": {"198.51.100.1, 10.1.9.9"}}, "198.51.100.1"},
		{"hops over two header lines", "10.1.2.3", map[string][]string{"X-Forwarded-For": {"6.6.6.6, 198.51.100.1", "10.1.9.9"}}, "198.51.100.1"},
		{"only trusted hops: the leftmost", "10.1.2.3", map[string][]string{"X-Forwarded-For": {"10.1.7.7, 10.1.9.9"}}, "10.1.7.7"},
		{"garbage hop stops at the last good one", "10.1.2.3", map[string][]string{"X-Forwarded-For": {"198.51.100.1, junk"}}, "10.1.2.3"},
		{"X-Real-IP from a trusted proxy", "10.1.2.3", map[string][]string{"X-Real-IP": {"198.51.100.2"}}, "198.51.100.2"},
		{"X-Forwarded-For wins over X-Real-IP", "10.1.2.3", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}, "X-Real-IP": {"198.51.100.2"}}, "198.51.100.1"},
		{"IPv6 proxy and client", "fd00::1", map[string][]string{"X-Forwarded-For": {"2001:db8::5"}}, "2001:db8::5"},
		{"no header from a trusted proxy", "10.1.2.3", nil, "10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, server.Config{TrustedProxies: proxies})
			h := s.Handler()
			req := httptest.NewRequest(http.MethodGet, "/announce?"+testPeer(ihA, 1, 5).Query(), nil)
			req.RemoteAddr = netip.AddrPortFrom(netip.MustParseAddr(tt.remote), 40000).String()
			for k, vs := range tt.headers {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if _, err := tracker.ParseAnnounceResponse(w.Body.Bytes()); err != nil {
				t.Fatalf("announce: %v (%q)", err, w.Body.String())
			}
			resp := announce(t, h, "192.0.2.50", testPeer(ihA, 2, 5), "")
			want := netip.AddrPortFrom(netip.MustParseAddr(tt.want), 10001).String()
			if len(resp.Peers) != 1 || resp.Peers[0].String() != want {
				t.Errorf("recorded peers = %v, want [%s]", resp.Peers, want)
			}
		})
	}
}

// TestMetricsToken: with Config.MetricsToken, /metrics answers 401
// without the bearer token and serves the metrics with it.
func TestMetricsToken(t *testing.T) {
	s, _ := newTestServer(t, server.Config{MetricsToken: "0123456789abcdef"})
	for _, tt := range []struct {
		auth string
		code int
	}{{"", 401}, {"Bearer 0123456789abcdeX", 401}, {"Bearer 0123456789abcdef", 200}} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		if w.Code != tt.code {
			t.Errorf("GET /metrics with %q: status %d, want %d", tt.auth, w.Code, tt.code)
		}
	}
}
