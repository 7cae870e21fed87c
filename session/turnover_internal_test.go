package session

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestTurnoverVictim (issue 13): a newcomer to a full torrent replaces the
// least useful peer connected for a minute: no interest either way first,
// then the one idle longest; never one trading payload, never a new one.
func TestTurnoverVictim(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	ago := func(s int) time.Time { return now.Add(-time.Duration(s) * time.Second) }
	// peer: connected and last payload s seconds ago, interest (we, they).
	peer := func(name string, connected, payload int, we, they bool) *peerConn {
		p := &peerConn{connected: ago(connected), lastPayload: ago(payload), amInterested: we, peerInterested: they}
		copy(p.id[:], name)
		return p
	}
	name := func(p *peerConn) string {
		if p == nil {
			return "none"
		}
		return strings.TrimRight(string(p.id[:]), "\x00")
	}
	type pc = *peerConn
	tests := []struct {
		name  string
		peers []pc
		want  int // index of the victim in peers; -1 for none
	}{
		{"no peers", nil, -1},
		{"all newer than a minute, idle", []pc{peer("a", 59, 59, false, false), peer("b", 30, 30, true, true)}, -1},
		{"old but trading", []pc{peer("a", 600, 1, true, false), peer("b", 600, 59, false, true)}, -1},
		{"squatter: interested, no payload for a minute", []pc{peer("trading", 600, 1, true, true), peer("squat", 61, 61, false, true)}, 1},
		{"neither side interested, payload just now", []pc{peer("trading", 600, 1, true, true), peer("done", 120, 2, false, false)}, 1},
		{"no interest goes before idle interest", []pc{peer("idle", 900, 900, true, true), peer("uninterested", 70, 65, false, false)}, 1},
		{"longest without payload goes first", []pc{peer("a", 900, 100, false, true), peer("b", 900, 300, false, true), peer("c", 900, 200, false, true)}, 1},
		{"then the one connected longest", []pc{peer("a", 100, 100, true, false), peer("b", 300, 100, true, false)}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peers := map[*peerConn]struct{}{}
			for _, p := range tt.peers {
				peers[p] = struct{}{}
			}
			var want *peerConn
			if tt.want >= 0 {
				want = tt.peers[tt.want]
			}
			if got := turnoverVictim(peers, now, defaultTurnoverAfter); got != want {
				t.Errorf("turnoverVictim = %s, want %s", name(got), name(want))
			}
		})
	}
}

// TestHandshakeSlotsPerIP: one IP holds at most maxHandshakesPerIP
// incoming handshakes at once; a finished one gives its slot back, other
// IPs are not affected, and an exempt (invalid) IP is never refused.
func TestHandshakeSlotsPerIP(t *testing.T) {
	var l connLimits
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for i := range maxHandshakesPerIP {
		if !l.acquireIP(a) {
			t.Fatalf("handshake %d of %s refused, want %d allowed", i+1, a, maxHandshakesPerIP)
		}
	}
	if l.acquireIP(a) {
		t.Errorf("handshake %d of %s allowed, want refused", maxHandshakesPerIP+1, a)
	}
	if !l.acquireIP(b) {
		t.Errorf("%s refused because of %s", b, a)
	}
	l.releaseIP(a)
	if !l.acquireIP(a) {
		t.Errorf("%s refused after one of its handshakes ended", a)
	}
	for range 100 {
		if !l.acquireIP(netip.Addr{}) {
			t.Fatal("an exempt address was refused")
		}
	}
	for range maxHandshakesPerIP {
		l.releaseIP(a)
	}
	l.releaseIP(b)
	if len(l.byIP) != 0 {
		t.Errorf("byIP = %v after every handshake ended, want empty", l.byIP)
	}
}
