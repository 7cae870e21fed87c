package server

import (
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// TestIPLimiterIsBounded: a million addresses announcing once each leave at
// most twice the configured number of buckets, and an address that keeps
// announcing keeps its bucket (and its deficit) meanwhile.
func TestIPLimiterIsBounded(t *testing.T) {
	const addrs = 1 << 12
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	l := newIPLimiter(1, 3, addrs, addrBits4, addrBits6)
	now := time.Unix(1000, 0)
	regular := netip.MustParseAddr("192.0.2.1")
	for range 3 {
		l.allow(regular, now)
	}
	for i := range 1 << 20 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if !l.allow(ip, now) {
			t.Fatalf("new address %v refused", ip)
		}
		if i%1000 == 0 && l.allow(regular, now) {
			t.Fatalf("after %d other addresses the regular client's empty bucket was refilled", i)
		}
	}
	if n := l.size(); n > 2*addrs {
		t.Errorf("%d buckets after a million addresses, want at most %d", n, 2*addrs)
	}
	held := int64(heap()) - int64(before)
	t.Logf("%d buckets held after a million addresses (bound %d): %d bytes of heap, %d a bucket",
		l.size(), 2*addrs, held, held/int64(l.size()))
	runtime.KeepAlive(l)
}
