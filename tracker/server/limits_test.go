package server_test

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/server"
)

// failure announces r from ip and returns the failure reason, "" if the
// tracker answered with peers.
func failure(tb testing.TB, s *server.Server, ip string, r tracker.AnnounceRequest) string {
	tb.Helper()
	remote := netip.AddrPortFrom(netip.MustParseAddr(ip), 1).String()
	body := get(tb, s.Handler(), remote, "/announce?"+r.Query())
	_, err := tracker.ParseAnnounceResponse(body)
	var fe *tracker.FailureError
	switch {
	case errors.As(err, &fe):
		return fe.Reason
	case err != nil:
		tb.Fatalf("announce: %v (%q)", err, body)
	}
	return ""
}

// hashN is a distinct info hash for each n.
func hashN(n int) metainfo.Hash {
	var h metainfo.Hash
	copy(h[:], fmt.Sprintf("swarm-%014d", n))
	return h
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestMaxSwarmsBoundsHeap: one address announcing made-up info hashes past
// Config.MaxSwarms is refused, the heap stops growing at the cap, and the
// swarms already held keep working (issue 13). It logs the heap per swarm.
func TestMaxSwarmsBoundsHeap(t *testing.T) {
	const (
		maxSwarms = 20000
		flood     = 3 * maxSwarms
	)
	nop := zerolog.Nop() // a test logger would keep 40,000 refusals in memory
	s, _ := newTestServer(t, server.Config{MaxSwarms: maxSwarms, Logger: &nop})
	before := liveHeap()
	for n := range maxSwarms {
		if reason := failure(t, s, "10.0.0.1", testPeer(hashN(n), 1, 5)); reason != "" {
			t.Fatalf("announce %d of %d: refused: %s", n, maxSwarms, reason)
		}
	}
	atCap := liveHeap()
	refused := 0
	for n := maxSwarms; n < flood; n++ {
		reason := failure(t, s, "10.0.0.1", testPeer(hashN(n), 1, 5))
		if !strings.Contains(reason, "tracker is full") {
			t.Fatalf("announce of swarm %d past the cap of %d: failure %q, want the tracker is full", n, maxSwarms, reason)
		}
		refused++
	}
	after := liveHeap()
	perSwarm := float64(atCap-before) / maxSwarms
	t.Logf("%d swarms of one peer: %.0f bytes of heap each; %d more refused, heap %+d bytes after them",
		maxSwarms, perSwarm, refused, int64(after)-int64(atCap))
	if perSwarm > 400 {
		t.Errorf("%.0f bytes of heap per swarm, want under 400", perSwarm)
	}
	if growth := int64(after) - int64(atCap); growth > 1<<20 {
		t.Errorf("heap grew %d bytes over %d refused announces, want under 1 MiB", growth, refused)
	}
	// Existing swarms carry on: a second peer joins one and sees the first.
	resp := announce(t, s.Handler(), "10.0.0.2", testPeer(hashN(7), 2, 5), "")
	if len(resp.Peers) != 1 {
		t.Errorf("a new peer in an existing swarm got %d peers, want 1", len(resp.Peers))
	}
	// A stopped event frees a slot for a new torrent.
	stop := testPeer(hashN(0), 1, 5)
	stop.Event = tracker.EventStopped
	if reason := failure(t, s, "10.0.0.1", stop); reason != "" {
		t.Fatalf("stopped: %s", reason)
	}
	if reason := failure(t, s, "10.0.0.1", testPeer(hashN(flood), 1, 5)); reason != "" {
		t.Errorf("announce after a swarm emptied: refused: %s", reason)
	}
}

func TestParseHashList(t *testing.T) {
	a, b := strings.Repeat("ab", 20), strings.Repeat("CD", 20)
	l, err := server.ParseHashList(strings.NewReader("# torrents\n" + a + "\n\n  " + b + "  # a comment\n"))
	if err != nil {
		t.Fatal(err)
	}
	ha, _ := metainfo.ParseHash(a)
	hb, _ := metainfo.ParseHash(strings.ToLower(b))
	if l.Len() != 2 || !l.Contains(ha) || !l.Contains(hb) || l.Contains(metainfo.Hash{}) {
		t.Errorf("ParseHashList: %d hashes, contains a %v, b %v", l.Len(), l.Contains(ha), l.Contains(hb))
	}
	for _, bad := range []string{a + "\nnot a hash\n", a[:39] + "\n", a + "00\n"} {
		if _, err := server.ParseHashList(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line ") {
			t.Errorf("ParseHashList(%q) = %v, want an error naming the line", bad, err)
		}
	}
}

// TestAllowAndDenyLists: with an allow list only its info hashes are
// tracked; a deny list refuses its own; replacing the lists (SIGHUP in
// swarm tracker) drops the swarms now refused at once.
func TestAllowAndDenyLists(t *testing.T) {
	list := func(hs ...metainfo.Hash) *server.HashList {
		var b strings.Builder
		for _, h := range hs {
			b.WriteString(h.String() + "\n")
		}
		l, err := server.ParseHashList(strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a, b, c := hashN(1), hashN(2), hashN(3)
	s, _ := newTestServer(t, server.Config{Allow: list(a, b), Deny: list(b)})
	const notAllowed, denied = "not on its allow list", "on its deny list"
	for _, tt := range []struct {
		h    metainfo.Hash
		want string
	}{{a, ""}, {b, denied}, {c, notAllowed}} {
		if got := failure(t, s, "10.0.0.1", testPeer(tt.h, 1, 5)); !strings.Contains(got, tt.want) || tt.want == "" && got != "" {
			t.Errorf("announce %s: failure %q, want %q", tt.h, got, tt.want)
		}
	}
	if dropped := s.SetAccess(nil, list(a)); dropped != 1 {
		t.Errorf("SetAccess denying a: dropped %d swarms, want a's", dropped)
	}
	if body := string(get(t, s.Handler(), "10.0.0.1:1", "/metrics")); !strings.Contains(body, "swarm_tracker_leechers 0\n") {
		t.Errorf("after a's swarm was dropped the metrics still count its leecher")
	}
	for _, tt := range []struct {
		h    metainfo.Hash
		want string
	}{{a, denied}, {b, ""}, {c, ""}} {
		if got := failure(t, s, "10.0.0.1", testPeer(tt.h, 1, 5)); !strings.Contains(got, tt.want) || tt.want == "" && got != "" {
			t.Errorf("after SetAccess, announce %s: failure %q, want %q", tt.h, got, tt.want)
		}
	}
}

// TestIPRateLimit: one address gets its burst, then one announce per
// 1/IPRate; other addresses are not affected; IPv6 addresses of one /64
// share a bucket.
func TestIPRateLimit(t *testing.T) {
	s, clock := newTestServer(t, server.Config{IPRate: 2, IPBurst: 5})
	const slow = "too many announces from your address"
	for _, ip := range []string{"10.0.0.1", "2001:db8:1:2::1"} {
		for i := range 5 {
			if got := failure(t, s, ip, testPeer(hashN(i), 1, 5)); got != "" {
				t.Fatalf("%s: announce %d of the burst of 5: %s", ip, i+1, got)
			}
		}
		if got := failure(t, s, ip, testPeer(hashN(9), 1, 5)); !strings.Contains(got, slow) {
			t.Errorf("%s: sixth announce at once: failure %q, want %q", ip, got, slow)
		}
	}
	if got := failure(t, s, "2001:db8:1:2::ffff", testPeer(hashN(9), 1, 5)); !strings.Contains(got, slow) {
		t.Errorf("another address of the same /64: failure %q, want %q", got, slow)
	}
	if got := failure(t, s, "2001:db8:1:3::1", testPeer(hashN(9), 1, 5)); got != "" {
		t.Errorf("an address of another /64: %q, want an answer", got)
	}
	if got := failure(t, s, "10.0.0.2", testPeer(hashN(9), 1, 5)); got != "" {
		t.Errorf("another IPv4 address: %q, want an answer", got)
	}
	clock.Advance(500 * time.Millisecond) // one token at 2 a second
	if got := failure(t, s, "10.0.0.1", testPeer(hashN(9), 1, 5)); got != "" {
		t.Errorf("after 0.5 s: %q, want an answer", got)
	}
	if got := failure(t, s, "10.0.0.1", testPeer(hashN(9), 1, 5)); !strings.Contains(got, slow) {
		t.Errorf("again at once: failure %q, want %q", got, slow)
	}
}

// TestPrefixRateLimit: the addresses of one IPv4 /24 (IPv6 /48) share a
// second, coarser bucket, so that one host with many addresses gets no more
// than its network's share; an address over its own limit does not use up
// its neighbours' share; an honest network well under the default is never
// refused.
func TestPrefixRateLimit(t *testing.T) {
	const slowNet = "too many announces from your network"
	t.Run("many addresses of one host", func(t *testing.T) {
		// The defaults of swarm tracker: 20 a second and 1000 at once per
		// address, 5 times that per network. The clock stands still, so
		// only the bursts count: 1,024 addresses of 4 /24s, 30 announces
		// each (all within an address's burst) get 4 × 5,000.
		nop := zerolog.Nop()
		s, _ := newTestServer(t, server.Config{IPRate: 20, Logger: &nop})
		ok, refused := 0, 0
		for a := range 1024 {
			ip := netip.AddrFrom4([4]byte{10, 9, byte(a >> 8), byte(a)}).String()
			for n := range 30 {
				switch got := failure(t, s, ip, testPeer(hashN(a*30+n), 1, 5)); {
				case got == "":
					ok++
				case strings.Contains(got, slowNet):
					refused++
				default:
					t.Fatalf("%s: failure %q, want %q or none", ip, got, slowNet)
				}
			}
		}
		t.Logf("1,024 addresses in 4 /24s: %d swarms, %d announces refused", ok, refused)
		if want := 4 * 5 * server.DefaultIPBurst; ok != want {
			t.Errorf("%d announces answered, want %d (4 networks' bursts)", ok, want)
		}
	})
	t.Run("neighbours and IPv6", func(t *testing.T) {
		s, _ := newTestServer(t, server.Config{IPRate: 2, IPBurst: 5, PrefixRate: 4, PrefixBurst: 10})
		// 10.0.0.1 takes its 5 and is refused 20 more times: those do not
		// count against 10.0.0.0/24, so 10.0.0.2 still gets its 5.
		for i := range 25 {
			got := failure(t, s, "10.0.0.1", testPeer(hashN(i), 1, 5))
			if (i < 5) != (got == "") {
				t.Fatalf("10.0.0.1: announce %d: failure %q", i+1, got)
			}
		}
		for i := range 5 {
			if got := failure(t, s, "10.0.0.2", testPeer(hashN(i), 2, 5)); got != "" {
				t.Fatalf("10.0.0.2 after its neighbour was refused: announce %d: %q", i+1, got)
			}
		}
		if got := failure(t, s, "10.0.0.3", testPeer(hashN(0), 3, 5)); !strings.Contains(got, slowNet) {
			t.Errorf("a third address of a /24 that used its 10: failure %q, want %q", got, slowNet)
		}
		if got := failure(t, s, "10.0.1.3", testPeer(hashN(0), 3, 5)); got != "" {
			t.Errorf("an address of the next /24: %q, want an answer", got)
		}
		// Ten /64s of one /48 share it; another /48 does not.
		for i := range 10 {
			ip := fmt.Sprintf("2001:db8:7:%x::1", i)
			if got := failure(t, s, ip, testPeer(hashN(i), 1, 5)); got != "" {
				t.Fatalf("%s: %q", ip, got)
			}
		}
		if got := failure(t, s, "2001:db8:7:ff::1", testPeer(hashN(0), 1, 5)); !strings.Contains(got, slowNet) {
			t.Errorf("an eleventh /64 of one /48: failure %q, want %q", got, slowNet)
		}
		if got := failure(t, s, "2001:db8:8::1", testPeer(hashN(0), 1, 5)); got != "" {
			t.Errorf("another /48: %q, want an answer", got)
		}
	})
	t.Run("an honest carrier-grade NAT block", func(t *testing.T) {
		// 256 addresses sharing 150,000 torrents announced every 30
		// minutes: 83 a second, evenly spread. 10,000 of them (two
		// minutes) under the defaults: none refused.
		s, clock := newTestServer(t, server.Config{IPRate: 20})
		for i := range 10000 {
			ip := netip.AddrFrom4([4]byte{100, 64, 0, byte(i)}).String()
			if got := failure(t, s, ip, testPeer(hashN(i), i, 5)); got != "" {
				t.Fatalf("announce %d of the block: %q", i, got)
			}
			clock.Advance(1800 * time.Second / 150000)
		}
	})
}

// TestTrustIPLimitsTheConnection: with TrustIP an announce counts against
// the connection's address as well as the one its ip= names, so one socket
// naming a new address each time is refused after its burst.
func TestTrustIPLimitsTheConnection(t *testing.T) {
	s, _ := newTestServer(t, server.Config{TrustIP: true, IPRate: 2, IPBurst: 5})
	const slow = "too many announces from your address"
	ok := 0
	for i := range 100 {
		extra := fmt.Sprintf("&ip=10.%d.%d.1", i/256, i%256)
		body := get(t, s.Handler(), "192.0.2.1:4000", "/announce?"+testPeer(hashN(i), 1, 5).Query()+extra)
		_, err := tracker.ParseAnnounceResponse(body)
		var fe *tracker.FailureError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &fe) && strings.Contains(fe.Reason, slow):
		default:
			t.Fatalf("announce %d: %v", i, err)
		}
	}
	if ok != 5 {
		t.Errorf("one connection address naming 100 ip= addresses: %d answered, want its burst of 5", ok)
	}
	// The address named is still limited on its own: other connections
	// naming 10.0.0.1 (which had one) get 4 more between them.
	ok = 0
	for i := range 10 {
		remote := fmt.Sprintf("192.0.2.%d:4000", 10+i)
		body := get(t, s.Handler(), remote, "/announce?"+testPeer(hashN(i), 1, 5).Query()+"&ip=10.0.0.1")
		if _, err := tracker.ParseAnnounceResponse(body); err == nil {
			ok++
		}
	}
	if ok != 4 {
		t.Errorf("10 connection addresses naming one ip=: %d answered, want 4 (its burst of 5 less the first)", ok)
	}
}
