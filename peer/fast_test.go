package peer_test

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"

	"swarm/peer"
)

// TestAllowedFastSetVectors checks the published test vectors of BEP 6: peer 80.4.4.200, info
// hash 20 bytes of 0xaa, 1313 pieces.
func TestAllowedFastSetVectors(t *testing.T) {
	var ih [20]byte
	for i := range ih {
		ih[i] = 0xaa
	}
	tests := []struct {
		addr string
		k    int
		want []uint32
	}{
		{"80.4.4.200", 7, []uint32{1059, 431, 808, 1217, 287, 376, 1188}},
		{"80.4.4.200", 9, []uint32{1059, 431, 808, 1217, 287, 376, 1188, 353, 508}},
		{"80.4.4.1", 7, []uint32{1059, 431, 808, 1217, 287, 376, 1188}}, // same /24, same set
		{"::ffff:80.4.4.200", 7, []uint32{1059, 431, 808, 1217, 287, 376, 1188}},
	}
	for _, tt := range tests {
		got, ok := peer.AllowedFastSet(tt.k, 1313, netip.MustParseAddr(tt.addr), ih)
		if !ok || !slices.Equal(got, tt.want) {
			t.Errorf("AllowedFastSet(%d, 1313, %s) = %v, %v, want %v, true", tt.k, tt.addr, got, ok, tt.want)
		}
	}
}

func TestAllowedFastSetEdges(t *testing.T) {
	var ih [20]byte
	v4 := netip.MustParseAddr("10.1.2.3")
	// More pieces asked for than the torrent has: every piece once, and the loop ends.
	got, ok := peer.AllowedFastSet(10, 3, v4, ih)
	slices.Sort(got)
	if !ok || !slices.Equal(got, []uint32{0, 1, 2}) {
		t.Errorf("AllowedFastSet(10, 3) = %v, %v, want [0 1 2], true", got, ok)
	}
	for _, tt := range []struct {
		name string
		k, n int
		addr netip.Addr
	}{
		{"IPv6", 10, 100, netip.MustParseAddr("2001:db8::1")},
		{"no pieces", 10, 0, v4},
		{"k zero", 0, 100, v4},
	} {
		if got, ok := peer.AllowedFastSet(tt.k, tt.n, tt.addr, ih); ok || got != nil {
			t.Errorf("%s: AllowedFastSet = %v, %v, want nil, false", tt.name, got, ok)
		}
	}
}

// TestFastMessagesWire checks the wire form of the BEP 6 messages byte for byte.
func TestFastMessagesWire(t *testing.T) {
	tests := []struct {
		m    peer.Message
		want string
	}{
		{peer.Message{ID: peer.Suggest, Index: 0x01020304}, "\x00\x00\x00\x05\x0d\x01\x02\x03\x04"},
		{peer.Message{ID: peer.HaveAll}, "\x00\x00\x00\x01\x0e"},
		{peer.Message{ID: peer.HaveNone}, "\x00\x00\x00\x01\x0f"},
		{peer.Message{ID: peer.Reject, Index: 1, Begin: 0x4000, Length: 0x4000}, "\x00\x00\x00\x0d\x10\x00\x00\x00\x01\x00\x00\x40\x00\x00\x00\x40\x00"},
		{peer.Message{ID: peer.AllowedFast, Index: 7}, "\x00\x00\x00\x05\x11\x00\x00\x00\x07"},
	}
	for _, tt := range tests {
		if got := peer.AppendMessage(nil, tt.m); !bytes.Equal(got, []byte(tt.want)) {
			t.Errorf("AppendMessage(%v) = %q, want %q", tt.m, got, tt.want)
		}
	}
}
