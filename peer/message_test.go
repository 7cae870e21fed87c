package peer_test

import (
	"bytes"
	"testing"

	"swarm/peer"
)

// sameMessage reports whether a and b carry the same message, treating nil and empty
// slices alike.
func sameMessage(a, b peer.Message) bool {
	return a.KeepAlive == b.KeepAlive && a.ID == b.ID &&
		a.Index == b.Index && a.Begin == b.Begin && a.Length == b.Length &&
		a.Port == b.Port && a.ExtendedID == b.ExtendedID &&
		bytes.Equal(a.Bitfield, b.Bitfield) && bytes.Equal(a.Block, b.Block) &&
		bytes.Equal(a.Payload, b.Payload)
}

func TestMessageString(t *testing.T) {
	tests := []struct {
		m    peer.Message
		want string
	}{
		{peer.Message{KeepAlive: true}, "keep-alive"},
		{peer.Message{ID: peer.NotInterested}, "not interested"},
		{peer.Message{ID: peer.Have, Index: 7}, "have 7"},
		{peer.Message{ID: peer.Request, Index: 1, Begin: 16384, Length: 16384}, "request index=1 begin=16384 length=16384"},
		{peer.Message{ID: peer.Piece, Index: 2, Begin: 0, Block: make([]byte, 10)}, "piece index=2 begin=0 block=10 bytes"},
		{peer.Message{ID: peer.Port, Port: 6881}, "port 6881"},
		{peer.Message{ID: 18}, `id 18 payload=""`},
		{peer.Message{ID: peer.Reject, Index: 1, Begin: 0, Length: 16384}, "reject index=1 begin=0 length=16384"},
		{peer.Message{ID: peer.AllowedFast, Index: 3}, "allowed fast 3"},
		{peer.Message{ID: peer.HaveAll}, "have all"},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
