package session

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// addrN returns the n-th address of 10.0.0.0/8, port 6881.
func addrN(n int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}), 6881)
}

func addrsN(from, n int) []netip.AddrPort {
	as := make([]netip.AddrPort, n)
	for i := range as {
		as[i] = addrN(from + i)
	}
	return as
}

// drain takes every address due at now, in order.
func drain(b *addrBook, now time.Time) []netip.AddrPort {
	var got []netip.AddrPort
	for a, ok := b.next(now); ok; a, ok = b.next(now) {
		got = append(got, a)
	}
	return got
}

func TestAddrBookRefusesUndialableAddresses(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"1.2.3.4:6881", true},
		{"[2001:db8::1]:6881", true},
		{"1.2.3.4:0", false},
		{"0.0.0.0:6881", false},
		{"[::]:6881", false},
		{"224.0.0.1:6881", false},
		{"[ff02::1]:6881", false},
	}
	for _, tt := range tests {
		b := newAddrBook(10)
		got := b.add(srcTracker, []netip.AddrPort{netip.MustParseAddrPort(tt.addr)})
		if (got == 1) != tt.ok {
			t.Errorf("add %s: added %d, want ok=%v", tt.addr, got, tt.ok)
		}
	}
	b := newAddrBook(10)
	if n := b.add(srcTracker, []netip.AddrPort{{}}); n != 0 {
		t.Errorf("the zero AddrPort was added")
	}
	// An IPv4-mapped address is the IPv4 one: stored once.
	b.add(srcTracker, []netip.AddrPort{netip.MustParseAddrPort("[::ffff:1.2.3.4]:6881"), netip.MustParseAddrPort("1.2.3.4:6881")})
	if b.len() != 1 || !b.has(netip.MustParseAddrPort("1.2.3.4:6881")) {
		t.Errorf("mapped and plain IPv4: %d entries, want 1", b.len())
	}
}

func TestAddrBookSourceOrdersDialsAndUpgrades(t *testing.T) {
	b := newAddrBook(10)
	pex, dht, tr, user := addrN(1), addrN(2), addrN(3), addrN(4)
	b.add(srcPEX, []netip.AddrPort{pex})
	b.add(srcDHT, []netip.AddrPort{dht})
	b.add(srcTracker, []netip.AddrPort{tr})
	b.add(srcUser, []netip.AddrPort{user})
	// The same address from a better source is not a second entry, but
	// takes the better source.
	if n := b.add(srcTracker, []netip.AddrPort{pex}); n != 0 {
		t.Errorf("known address counted as new")
	}
	got := drain(b, t0)
	want := []netip.AddrPort{user, tr, pex, dht} // pex now ranks as tracker; ties in any order
	if len(got) != 4 || got[0] != want[0] || got[3] != want[3] {
		t.Errorf("dial order %v, want user first and the DHT address last: %v", got, want)
	}
	if b.dialing != 4 {
		t.Errorf("dialing = %d, want 4", b.dialing)
	}
}

func TestAddrBookRedialBackoff(t *testing.T) {
	tests := []struct {
		fails int
		wait  time.Duration
	}{
		{1, 2 * time.Second},
		{2, 4 * time.Second},
		{3, 8 * time.Second},
		{6, 64 * time.Second},
		{7, redialMax},
		{40, redialMax},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.fails), func(t *testing.T) {
			b := newAddrBook(10)
			a := addrN(1)
			b.add(srcTracker, []netip.AddrPort{a})
			now := t0
			for range tt.fails {
				if got, ok := b.next(now); !ok || got != a {
					t.Fatalf("not due at %v", now.Sub(t0))
				}
				b.failed(a, now)
				if _, ok := b.next(now); ok {
					t.Fatalf("due right after failing")
				}
				now = now.Add(min(redialMax, redialMin<<min(b.entries[a].fails-1, 10)))
			}
			last := now.Add(-min(redialMax, redialMin<<min(b.entries[a].fails-1, 10)))
			if _, ok := b.next(last.Add(tt.wait - time.Millisecond)); ok {
				t.Errorf("due before %v", tt.wait)
			}
			if _, ok := b.next(last.Add(tt.wait)); !ok {
				t.Errorf("not due after %v", tt.wait)
			}
		})
	}
}

func TestAddrBookDialStates(t *testing.T) {
	a := addrN(1)
	tests := []struct {
		name string
		do   func(b *addrBook) // after next(t0) returned a
		at   time.Duration     // when to look again
		due  bool
	}{
		{"dialing is not picked twice", func(b *addrBook) {}, time.Hour, false},
		{"connected is not picked", func(b *addrBook) { b.connected(a) }, time.Hour, false},
		{"closed rests redialMin", func(b *addrBook) { b.connected(a); b.closed(a, t0) }, redialMin, true},
		{"closed not before redialMin", func(b *addrBook) { b.connected(a); b.closed(a, t0) }, redialMin - 1, false},
		{"hold until", func(b *addrBook) { b.hold(a, t0.Add(time.Minute)) }, time.Minute, true},
		{"hold not before", func(b *addrBook) { b.hold(a, t0.Add(time.Minute)) }, time.Minute - 1, false},
		{"failed rests", func(b *addrBook) { b.failed(a, t0) }, redialMin, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newAddrBook(10)
			b.add(srcTracker, []netip.AddrPort{a})
			if _, ok := b.next(t0); !ok {
				t.Fatal("new address not due")
			}
			tt.do(b)
			if _, ok := b.next(t0.Add(tt.at)); ok != tt.due {
				t.Errorf("due at +%v = %v, want %v", tt.at, ok, tt.due)
			}
		})
	}
	// closed adds an unknown address (the listen port of a peer that
	// connected to us) as one that connected.
	b := newAddrBook(10)
	b.closed(a, t0)
	if e := b.entries[a]; e == nil || e.src != srcIncoming || !e.met || b.dialing != 0 {
		t.Errorf("closed on an unknown address: entry %+v, dialing %d", e, b.dialing)
	}
}

func TestAddrBookBan(t *testing.T) {
	b := newAddrBook(10)
	ip := netip.MustParseAddr("1.2.3.4")
	idle, conn, dialing, other := netip.AddrPortFrom(ip, 1), netip.AddrPortFrom(ip, 2), netip.AddrPortFrom(ip, 3), addrN(1)
	b.add(srcTracker, []netip.AddrPort{dialing})
	b.next(t0)
	b.add(srcTracker, []netip.AddrPort{conn})
	b.next(t0)
	b.connected(conn)
	b.add(srcUser, []netip.AddrPort{idle, other})
	b.ban(netip.MustParseAddr("::ffff:1.2.3.4")) // mapped: the same IP
	if !b.isBanned(ip) {
		t.Fatal("not banned")
	}
	if b.has(idle) || b.has(conn) || !b.has(other) {
		t.Errorf("after ban: idle %v connected %v other %v; want only other", b.has(idle), b.has(conn), b.has(other))
	}
	// The dial in flight ends, and its address goes.
	b.failed(dialing, t0)
	if b.has(dialing) || b.dialing != 0 {
		t.Errorf("dial ended after ban: entry kept %v, dialing %d", b.has(dialing), b.dialing)
	}
	// No way back in: any port, any source, a close.
	b.add(srcUser, []netip.AddrPort{idle, netip.AddrPortFrom(ip, 9)})
	b.closed(conn, t0)
	if b.has(idle) || b.has(conn) || b.len() != 1 {
		t.Errorf("banned IP came back: %d entries", b.len())
	}
}

func TestAddrBookEviction(t *testing.T) {
	const cap = 4
	tests := []struct {
		name    string
		fill    func(b *addrBook) // fills the book with addrN(0..3)
		src     addrSource        // of the newcomer addrN(100)
		evicted int               // index evicted, or -1 if the newcomer is refused
	}{
		{"full of equals: newcomer refused", func(b *addrBook) { b.add(srcTracker, addrsN(0, cap)) }, srcTracker, -1},
		{"weaker source evicted", func(b *addrBook) {
			b.add(srcTracker, addrsN(0, 2))
			b.add(srcDHT, addrsN(2, 1))
			b.add(srcTracker, addrsN(3, 1))
		}, srcTracker, 2},
		{"pex cannot evict tracker", func(b *addrBook) { b.add(srcTracker, addrsN(0, cap)) }, srcPEX, -1},
		{"failed dial evicted first, even from a better source", func(b *addrBook) {
			b.add(srcDHT, addrsN(0, 3))
			b.add(srcTracker, addrsN(3, 1))
			failAt(b, addrN(3))
		}, srcPEX, 3},
		{"most failures evicted first", func(b *addrBook) {
			b.add(srcTracker, addrsN(0, cap))
			failAt(b, addrN(1))
			failAt(b, addrN(2))
			failAt(b, addrN(2))
		}, srcTracker, 2},
		{"connected before is kept over fresh", func(b *addrBook) {
			b.add(srcPEX, addrsN(0, cap))
			for i := range cap {
				b.next(t0.Add(time.Hour))
				b.connected(addrN(i))
				b.closed(addrN(i), t0)
			}
		}, srcTracker, -1},
		{"user never evicted, even failed", func(b *addrBook) {
			b.add(srcUser, addrsN(0, cap))
			for i := range cap {
				failAt(b, addrN(i))
			}
		}, srcTracker, -1},
		{"dialing and connected never evicted", func(b *addrBook) {
			b.add(srcPEX, addrsN(0, cap))
			for range cap {
				b.next(t0)
			}
			b.connected(addrN(0))
		}, srcTracker, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newAddrBook(cap)
			tt.fill(b)
			if b.len() != cap {
				t.Fatalf("filled to %d, want %d", b.len(), cap)
			}
			n := b.add(tt.src, []netip.AddrPort{addrN(100)})
			if b.len() != cap {
				t.Errorf("len %d after add, want the cap %d", b.len(), cap)
			}
			if tt.evicted < 0 {
				if n != 0 || b.has(addrN(100)) {
					t.Errorf("newcomer admitted")
				}
				return
			}
			if n != 1 || b.has(addrN(tt.evicted)) {
				t.Errorf("added %d; want addrN(%d) evicted for the newcomer", n, tt.evicted)
			}
		})
	}
}

// failAt dials a (whatever else is due first goes back) and fails it.
func failAt(b *addrBook, a netip.AddrPort) {
	e := b.entries[a]
	b.leave(e)
	e.state = addrDialing
	b.dialing++
	b.failed(a, t0)
}

// One tracker reply can carry ~170,000 compact peers: the book stays at
// its cap, its memory bounded, and picking from it stays a heap pop.
func TestAddrBookTrackerFloodStaysAtCap(t *testing.T) {
	reply := addrsN(0, 170_000)
	flood := func() *addrBook {
		b := newAddrBook(maxAddrs)
		b.add(srcUser, addrsN(1_000_000, 10))
		b.add(srcTracker, reply)
		b.add(srcTracker, reply) // the next announce says it again
		return b
	}
	// The heap is the process's: goroutines other tests left winding down
	// may allocate meanwhile, so the least of three measures counts.
	var b *addrBook
	grown := int64(1 << 62)
	for range 3 {
		var before, after runtime.MemStats
		b = nil
		runtime.GC()
		runtime.ReadMemStats(&before)
		b = flood()
		runtime.GC()
		runtime.ReadMemStats(&after)
		grown = min(grown, int64(after.HeapAlloc)-int64(before.HeapAlloc))
	}
	if b.len() != maxAddrs {
		t.Errorf("book holds %d addresses, want the cap %d", b.len(), maxAddrs)
	}
	t.Logf("book of %d entries: heap grew %d bytes (%d per entry)", b.len(), grown, grown/int64(b.len()))
	if grown > 2<<20 {
		t.Errorf("heap grew %d bytes for a book of %d entries, want under 2 MiB", grown, b.len())
	}
	// The user's addresses come first.
	for i := range 10 {
		a, ok := b.next(t0)
		if e := b.entries[a]; !ok || e.src != srcUser {
			t.Fatalf("pick %d: %v, not a user address", i, a)
		}
	}
	runtime.KeepAlive(reply)
}

// BenchmarkAddrBookConnectMore is the dial-picking cost per tick with a
// full book where nothing is due: what connectMore pays every second.
func BenchmarkAddrBookConnectMore(b *testing.B) {
	book := newAddrBook(maxAddrs)
	book.add(srcTracker, addrsN(0, maxAddrs))
	for i := range maxAddrs {
		book.next(t0)
		book.failed(addrN(i), t0)
	}
	for b.Loop() {
		if _, ok := book.next(t0); ok {
			b.Fatal("due")
		}
	}
}
