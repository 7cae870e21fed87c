package peer_test

import (
	"errors"
	"testing"

	"swarm/peer"
)

func TestValidateBitfield(t *testing.T) {
	tests := []struct {
		name      string
		b         []byte
		numPieces int
		want      error
	}{
		{"exact multiple of 8", []byte{0xff, 0x00}, 16, nil},
		{"spare bits clear", []byte{0xff, 0xe0}, 11, nil},
		{"one piece", []byte{0x80}, 1, nil},
		{"no pieces, empty", nil, 0, nil},
		{"too short", []byte{0xff}, 9, peer.ErrBitfieldLength},
		{"too long", []byte{0xff, 0, 0}, 16, peer.ErrBitfieldLength},
		{"empty for pieces", nil, 3, peer.ErrBitfieldLength},
		{"spare bit set", []byte{0xff, 0xf0}, 11, peer.ErrBitfieldSpareBits},
		{"last spare bit set", []byte{0x01}, 7, peer.ErrBitfieldSpareBits},
		{"negative piece count", nil, -1, peer.ErrBitfieldLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := peer.ValidateBitfield(tt.b, tt.numPieces); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("ValidateBitfield(%x, %d) = %v, want %v", tt.b, tt.numPieces, err, tt.want)
			}
		})
	}
}

func TestValidateHave(t *testing.T) {
	tests := []struct {
		index     uint32
		numPieces int
		ok        bool
	}{
		{0, 1, true},
		{9, 10, true},
		{10, 10, false},
		{0, 0, false},
		{1<<32 - 1, 10, false},
		{0, -1, false},
	}
	for _, tt := range tests {
		err := peer.ValidateHave(tt.index, tt.numPieces)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, peer.ErrPieceIndex)) {
			t.Errorf("ValidateHave(%d, %d) = %v, want ok=%v", tt.index, tt.numPieces, err, tt.ok)
		}
	}
}

func TestValidateRequest(t *testing.T) {
	// 3 pieces of 32 KiB, the last one 1000 bytes.
	const pieceLen, total = 32 << 10, 2*(32<<10) + 1000
	req := func(index, begin, length uint32) peer.Message {
		return peer.Message{ID: peer.Request, Index: index, Begin: begin, Length: length}
	}
	tests := []struct {
		name string
		m    peer.Message
		ok   bool
	}{
		{"first block", req(0, 0, peer.BlockSize), true},
		{"second block", req(1, peer.BlockSize, peer.BlockSize), true},
		{"small block", req(1, 5, 1), true},
		{"whole last piece", req(2, 0, 1000), true},
		{"length zero", req(0, 0, 0), false},
		{"length over 16 KiB", req(0, 0, peer.BlockSize+1), false},
		{"length 2^31", req(0, 0, 1<<31), false},
		{"index out of range", req(3, 0, 1), false},
		{"past piece end", req(0, peer.BlockSize+1, peer.BlockSize), false},
		{"past short last piece", req(2, 0, 1001), false},
		{"begin near 2^32", req(0, 1<<32-1, 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := peer.ValidateRequest(tt.m, pieceLen, total)
			var re *peer.RequestError
			if (err == nil) != tt.ok || (err != nil && !errors.As(err, &re)) {
				t.Errorf("ValidateRequest(%v) = %v, want ok=%v", tt.m, err, tt.ok)
			}
		})
	}
}

func TestValidateRequestRejectsBadGeometry(t *testing.T) {
	m := peer.Message{ID: peer.Request, Length: 1}
	for _, g := range [][2]int64{{0, 100}, {100, 0}, {-1, 100}} {
		if err := peer.ValidateRequest(m, g[0], g[1]); err == nil {
			t.Errorf("ValidateRequest(%v, %d, %d) = nil, want an error", m, g[0], g[1])
		}
	}
}
