package dht

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func addrN(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 6881)
}

// idWithPrefix returns an id sharing exactly n leading bits with self.
func idWithPrefix(self ID, n int) ID { return randomWithPrefix(self, n) }

func TestRandomWithPrefixSharesExactlyNBits(t *testing.T) {
	self := RandomID()
	for n := range 160 {
		if got := commonPrefix(self, randomWithPrefix(self, n)); got != n {
			t.Fatalf("commonPrefix(self, randomWithPrefix(self, %d)) = %d", n, got)
		}
	}
}

func TestTableSplitsOnlyAroundOwnID(t *testing.T) {
	self := RandomID()
	tb := newTable(self, t0)
	// 8 far nodes fill bucket 0 before any split.
	for i := range K {
		if !tb.add(NodeInfo{idWithPrefix(self, 0), addrN(i)}, true, t0) {
			t.Fatalf("add far node %d refused with room", i)
		}
	}
	if len(tb.buckets) != 1 {
		t.Fatalf("%d buckets after %d nodes, want 1", len(tb.buckets), K)
	}
	// A ninth node near us splits; the far half stays full at K.
	if !tb.add(NodeInfo{idWithPrefix(self, 5), addrN(100)}, true, t0) {
		t.Fatal("near node refused: the bucket holding our id must split")
	}
	if len(tb.buckets) < 2 || len(tb.buckets[0].nodes) != K {
		t.Fatalf("after split: %d buckets, bucket 0 holds %d, want ≥2 and %d", len(tb.buckets), len(tb.buckets[0].nodes), K)
	}
	// A further far node does not split the far bucket; it waits as a spare.
	far := NodeInfo{idWithPrefix(self, 0), addrN(200)}
	if tb.add(far, true, t0) {
		t.Fatal("far node entered a full far bucket")
	}
	if n := len(tb.buckets[0].spare); n != 1 {
		t.Fatalf("far bucket has %d spares, want 1", n)
	}
	// Many nodes at every distance: no bucket over K, at most 160 buckets,
	// each node in the bucket its prefix says.
	for i := range 3000 {
		tb.add(NodeInfo{idWithPrefix(self, i%40), addrN(1000 + i)}, true, t0)
	}
	for i, b := range tb.buckets {
		if len(b.nodes) > K || len(b.spare) > K {
			t.Errorf("bucket %d holds %d nodes and %d spares, want at most %d each", i, len(b.nodes), len(b.spare), K)
		}
		for _, e := range b.nodes {
			cp := commonPrefix(self, e.ID)
			if cp != i && !(i == len(tb.buckets)-1 && cp >= i) {
				t.Errorf("node with prefix %d in bucket %d", cp, i)
			}
		}
	}
	if len(tb.buckets) > 41 {
		t.Errorf("%d buckets for nodes sharing at most 39 bits", len(tb.buckets))
	}
	if tb.add(NodeInfo{self, addrN(9)}, true, t0) {
		t.Error("table took our own id")
	}
}

func TestTableReplacesFailedNodeWithSpare(t *testing.T) {
	self := RandomID()
	tb := newTable(self, t0)
	tb.add(NodeInfo{idWithPrefix(self, 3), addrN(999)}, true, t0) // forces splits later
	var far []NodeInfo
	for i := range K + 1 {
		n := NodeInfo{idWithPrefix(self, 0), addrN(i)}
		far = append(far, n)
		tb.add(n, true, t0)
	}
	spare := far[K]
	if e, _ := tb.find(spare.ID); e != nil {
		t.Fatal("ninth far node is in the table, want it spare")
	}
	victim := far[2]
	tb.failed(victim.ID, victim.Addr)
	if e, _ := tb.find(victim.ID); e == nil {
		t.Fatal("node removed after one failure, want after two")
	}
	tb.failed(victim.ID, victim.Addr)
	if e, _ := tb.find(victim.ID); e != nil {
		t.Fatal("node still in the table after two failures")
	}
	if e, _ := tb.find(spare.ID); e == nil {
		t.Fatal("spare did not take the failed node's place")
	}
}

func TestTableKeepsKnownAddressAgainstHijack(t *testing.T) {
	self := RandomID()
	tb := newTable(self, t0)
	n := NodeInfo{RandomID(), addrN(1)}
	tb.add(n, true, t0)
	tb.add(NodeInfo{n.ID, addrN(2)}, true, t0)
	if e, _ := tb.find(n.ID); e.Addr != n.Addr {
		t.Fatalf("address changed to %v by a message from elsewhere", e.Addr)
	}
	tb.failed(n.ID, addrN(2)) // a failure at the wrong address does not count
	if e, _ := tb.find(n.ID); e.fails != 0 {
		t.Fatal("failure at another address counted against the node")
	}
}

func TestTableClosestOrdersByXOR(t *testing.T) {
	self := RandomID()
	tb := newTable(self, t0)
	for i := range 200 {
		tb.add(NodeInfo{RandomID(), addrN(i)}, true, t0)
	}
	target := RandomID()
	got := tb.closest(target, K, false)
	if len(got) != K {
		t.Fatalf("closest returned %d nodes, want %d", len(got), K)
	}
	for i := 1; i < len(got); i++ {
		if Closer(target, got[i].ID, got[i-1].ID) {
			t.Fatalf("closest not sorted at %d", i)
		}
	}
	for _, n := range tb.nodes() {
		if Closer(target, n.ID, got[K-1].ID) && !containsID(got, n.ID) {
			t.Fatalf("node %v is closer than the %dth returned but missing", n.ID, K)
		}
	}
}

func containsID(ns []NodeInfo, id ID) bool {
	for _, n := range ns {
		if n.ID == id {
			return true
		}
	}
	return false
}

func TestTableStaleBucketsGetRefreshTargets(t *testing.T) {
	self := RandomID()
	tb := newTable(self, t0)
	for i := range 100 {
		tb.add(NodeInfo{RandomID(), addrN(i)}, true, t0)
	}
	if got := tb.stale(t0.Add(time.Minute), 15*time.Minute); len(got) != 0 {
		t.Fatalf("%d refresh targets a minute after a change, want 0", len(got))
	}
	later := t0.Add(16 * time.Minute)
	got := tb.stale(later, 15*time.Minute)
	if len(got) != len(tb.buckets) {
		t.Fatalf("%d refresh targets after 16 minutes, want one per bucket (%d)", len(got), len(tb.buckets))
	}
	for i, id := range got {
		if tb.index(id) != i {
			t.Errorf("refresh target %d falls in bucket %d", i, tb.index(id))
		}
	}
	if again := tb.stale(later, 15*time.Minute); len(again) != 0 {
		t.Errorf("buckets refreshed twice in one interval: %d targets", len(again))
	}
}

func TestTokensRotateAndExpire(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.1")
	ih := RandomID()
	tk := newTokens(5*time.Minute, t0)
	tok := tk.issue(ip, ih, t0)
	cases := []struct {
		name string
		tok  string
		ip   string
		ih   ID
		at   time.Duration
		want bool
	}{
		{"fresh", tok, "192.0.2.1", ih, time.Minute, true},
		{"after one rotation", tok, "192.0.2.1", ih, 7 * time.Minute, true},
		{"other address", tok, "192.0.2.2", ih, time.Minute, false},
		{"other info hash", tok, "192.0.2.1", RandomID(), time.Minute, false},
		{"garbage", "xxxxxxxx", "192.0.2.1", ih, time.Minute, false},
		{"after two rotations", tok, "192.0.2.1", ih, 11 * time.Minute, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := tk.valid(c.tok, netip.MustParseAddr(c.ip), c.ih, t0.Add(c.at)); got != c.want {
				t.Errorf("valid at +%v = %v, want %v", c.at, got, c.want)
			}
		})
	}
	// A long silence leaves no old secret alive.
	tk2 := newTokens(5*time.Minute, t0)
	old := tk2.issue(ip, ih, t0)
	if tk2.valid(old, ip, ih, t0.Add(24*time.Hour)) {
		t.Error("token valid a day later")
	}
}

func TestStoreBounds(t *testing.T) {
	s := newStore(3, 4, 30*time.Minute)
	ih := RandomID()
	for i := range 10 {
		s.add(ih, addrN(i), t0.Add(time.Duration(i)*time.Second))
	}
	got := s.peers(ih, 100, t0.Add(time.Minute))
	if len(got) != 4 {
		t.Fatalf("%d peers stored for one hash, want the cap 4", len(got))
	}
	for _, p := range got {
		if p == addrN(0) {
			t.Error("oldest announce kept over newer ones")
		}
	}
	if n := len(s.peers(ih, 2, t0.Add(time.Minute))); n != 2 {
		t.Errorf("peers(n=2) returned %d", n)
	}
	s.add(RandomID(), addrN(1), t0)
	s.add(RandomID(), addrN(1), t0)
	if s.add(RandomID(), addrN(1), t0) {
		t.Error("a fourth info hash was stored with a cap of 3")
	}
	if !s.add(RandomID(), addrN(1), t0.Add(31*time.Minute)) {
		t.Error("no room for a new info hash after the old ones expired")
	}
	if got := s.peers(ih, 100, t0.Add(31*time.Minute)); len(got) != 0 {
		t.Errorf("expired peers returned: %v", got)
	}
}

func TestLimiterCapsRepliesPerSource(t *testing.T) {
	l := newLimiter(10, 5, 2)
	a, b, c := addrN(1), addrN(2), addrN(3)
	n := 0
	for range 20 {
		if l.allow(a, t0) {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("%d replies allowed at once, want the burst 5", n)
	}
	if !l.allow(a, t0.Add(200*time.Millisecond)) {
		t.Error("no reply allowed after 0.2 s at 10/s")
	}
	if !l.allow(b, t0) {
		t.Error("a second source was limited by the first")
	}
	if l.allow(c, t0) {
		t.Error("a third source tracked with room for 2 while both are busy")
	}
	if !l.allow(c, t0.Add(time.Minute)) {
		t.Error("a new source refused after the others had refilled")
	}
}

func ExampleID_String() {
	fmt.Println(ID{0xab, 0xcd})
	// Output: abcd000000000000000000000000000000000000
}
