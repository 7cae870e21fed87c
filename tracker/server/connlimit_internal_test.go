package server

import (
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestConnCapTrustedProxyLeavesItsPrefixFree: a trusted proxy's
// connections count in the total, not in the per-address cap of its IPv6
// /64, which another address in the /64 still has whole. Before, the
// proxy's open connections filled it.
func TestConnCapTrustedProxyLeavesItsPrefixFree(t *testing.T) {
	proxy, other := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	l := newConnLimit(2, 100, func(ip netip.Addr) bool { return ip == proxy })
	for i := range l.refused {
		l.refused[i] = prometheus.NewCounter(prometheus.CounterOpts{Name: "refused"})
	}
	for i := range 5 {
		if !l.acquire(proxy) {
			t.Fatalf("proxy connection %d refused, want no per-address cap", i+1)
		}
	}
	if !l.acquire(other) || !l.acquire(other) {
		t.Fatal("another address in the proxy's /64 refused under its cap of 2 while the proxy held 5")
	}
	if l.acquire(other) {
		t.Error("a third connection from the other address let in, cap 2")
	}
	for range 5 {
		l.release(proxy)
	}
	l.release(other)
	l.release(other)
	if n, open := l.count(), len(l.open); n != 0 || open != 0 {
		t.Errorf("after every release: %d counted, %d addresses held, want 0 and 0", n, open)
	}
}
