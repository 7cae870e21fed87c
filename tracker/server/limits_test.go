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
