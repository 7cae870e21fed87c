package peer_test

import (
	"bytes"
	"strings"
	"testing"

	"swarm/peer"
)

func sameMetadataMessage(a, b peer.MetadataMessage) bool {
	return a.Type == b.Type && a.Piece == b.Piece && a.TotalSize == b.TotalSize && bytes.Equal(a.Data, b.Data)
}

func TestMetadataMessageMarshal(t *testing.T) {
	last := bytes.Repeat([]byte{'x'}, 100)
	full := bytes.Repeat([]byte{'y'}, peer.MetadataPieceSize)
	tests := []struct {
		name string
		m    peer.MetadataMessage
		want string
	}{
		{"request", peer.MetadataMessage{Type: peer.MetadataRequest, Piece: 0}, "d8:msg_typei0e5:piecei0ee"},
		{"reject", peer.MetadataMessage{Type: peer.MetadataReject, Piece: 3}, "d8:msg_typei2e5:piecei3ee"},
		{"reject with total_size", peer.MetadataMessage{Type: peer.MetadataReject, Piece: 3, TotalSize: 5},
			"d8:msg_typei2e5:piecei3e10:total_sizei5ee"},
		{"last data piece", peer.MetadataMessage{Type: peer.MetadataData, Piece: 1, TotalSize: peer.MetadataPieceSize + 100, Data: last},
			"d8:msg_typei1e5:piecei1e10:total_sizei16484ee" + string(last)},
		{"full data piece", peer.MetadataMessage{Type: peer.MetadataData, Piece: 0, TotalSize: peer.MetadataPieceSize + 100, Data: full},
			"d8:msg_typei1e5:piecei0e10:total_sizei16484ee" + string(full)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.m.Marshal()
			if err != nil || string(got) != tt.want {
				t.Fatalf("Marshal() = %.80q, %v, want %.80q", got, err, tt.want)
			}
			back, err := peer.ParseMetadataMessage(got)
			if err != nil || !sameMetadataMessage(back, tt.m) {
				t.Errorf("ParseMetadataMessage(%.80q) = %+v, %v, want %+v", got, back, err, tt.m)
			}
		})
	}
}

func TestMetadataMessageMarshalRefusesImpossible(t *testing.T) {
	tests := []struct {
		name string
		m    peer.MetadataMessage
	}{
		{"unknown type", peer.MetadataMessage{Type: 3}},
		{"negative piece", peer.MetadataMessage{Type: peer.MetadataRequest, Piece: -1}},
		{"request with data", peer.MetadataMessage{Type: peer.MetadataRequest, Data: []byte("x")}},
		{"data without total size", peer.MetadataMessage{Type: peer.MetadataData, Data: []byte("x")}},
		{"data of the wrong length", peer.MetadataMessage{Type: peer.MetadataData, TotalSize: 5, Data: []byte("x")}},
		{"data piece out of range", peer.MetadataMessage{Type: peer.MetadataData, Piece: 1, TotalSize: 5, Data: []byte("12345")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := tt.m.Marshal(); err == nil {
				t.Errorf("Marshal(%+v) = %q, want an error", tt.m, b)
			}
		})
	}
}

func TestParseMetadataMessage(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want peer.MetadataMessage
	}{
		{"libtorrent request", "d8:msg_typei0e5:piecei7ee", peer.MetadataMessage{Type: peer.MetadataRequest, Piece: 7}},
		{"libtorrent reject with total_size", "d8:msg_typei2e5:piecei0e10:total_sizei31235ee",
			peer.MetadataMessage{Type: peer.MetadataReject, TotalSize: 31235}},
		{"single-piece data", "d8:msg_typei1e5:piecei0e10:total_sizei3eeabc",
			peer.MetadataMessage{Type: peer.MetadataData, TotalSize: 3, Data: []byte("abc")}},
		{"data that looks like bencode", "d8:msg_typei1e5:piecei0e10:total_sizei4eed1:e",
			peer.MetadataMessage{Type: peer.MetadataData, TotalSize: 4, Data: []byte("d1:e")}},
		{"unknown keys ignored", "d1:ai1e8:msg_typei0e5:piecei1e1:zli1eee", peer.MetadataMessage{Type: peer.MetadataRequest, Piece: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := peer.ParseMetadataMessage([]byte(tt.in))
			if err != nil || !sameMetadataMessage(got, tt.want) {
				t.Errorf("ParseMetadataMessage(%q) = %+v, %v, want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseMetadataMessageRejectsBadInput(t *testing.T) {
	tests := []struct {
		name, in, errWant string
	}{
		{"empty", "", "dict"},
		{"not a dict", "i1e", "dict"},
		{"truncated dict", "d8:msg_typei0e5:piecei0", "parse"},
		{"no msg_type", "d5:piecei0ee", "without msg_type"},
		{"no piece", "d8:msg_typei0ee", "without piece"},
		{"msg_type a string", "d8:msg_type1:05:piecei0ee", "parse"},
		{"unknown msg_type", "d8:msg_typei3e5:piecei0ee", "unknown msg_type 3"},
		{"negative msg_type", "d8:msg_typei-1e5:piecei0ee", "unknown msg_type -1"},
		{"negative piece", "d8:msg_typei0e5:piecei-1ee", "piece = -1"},
		{"huge piece", "d8:msg_typei0e5:piecei99999999999999999999ee", "parse"},
		{"zero total_size", "d8:msg_typei2e5:piecei0e10:total_sizei0ee", "total_size = 0"},
		{"request with trailing bytes", "d8:msg_typei0e5:piecei0eexyz", "3 bytes of data"},
		{"data without total_size", "d8:msg_typei1e5:piecei0eeabc", "without total_size"},
		{"data shorter than its piece", "d8:msg_typei1e5:piecei0e10:total_sizei4eeabc", "of 3 bytes, want 4"},
		{"data longer than its piece", "d8:msg_typei1e5:piecei0e10:total_sizei2eeabc", "of 3 bytes, want 2"},
		{"data piece beyond total_size", "d8:msg_typei1e5:piecei1e10:total_sizei3eeabc", "piece 1 of a 3-byte"},
		{"data piece over 16 KiB", "d8:msg_typei1e5:piecei0e10:total_sizei16385ee" + strings.Repeat("x", 16385), "want 16384"},
		{"oversized payload", "d8:msg_typei1e5:piecei0e10:total_sizei99999ee" + strings.Repeat("x", 20000), "limit"},
		{"string length beyond payload", "d8:msg_typei0e5:piece99999:x", "parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := peer.ParseMetadataMessage([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.errWant) {
				t.Errorf("ParseMetadataMessage(%.60q) = %+v, %v, want an error containing %q", tt.in, got, err, tt.errWant)
			}
		})
	}
}

func TestMetadataPieces(t *testing.T) {
	const ps = peer.MetadataPieceSize
	tests := []struct {
		size, pieces, lastLen int
	}{
		{-1, 0, 0},
		{0, 0, 0},
		{1, 1, 1},
		{ps - 1, 1, ps - 1},
		{ps, 1, ps},
		{ps + 1, 2, 1},
		{3*ps + 10, 4, 10},
		{peer.MaxMetadataSize, peer.MaxMetadataSize / ps, ps},
	}
	for _, tt := range tests {
		if got := peer.MetadataPieces(tt.size); got != tt.pieces {
			t.Errorf("MetadataPieces(%d) = %d, want %d", tt.size, got, tt.pieces)
		}
		if got := peer.MetadataPieceLen(tt.size, tt.pieces-1); got != tt.lastLen {
			t.Errorf("MetadataPieceLen(%d, %d) = %d, want %d", tt.size, tt.pieces-1, got, tt.lastLen)
		}
		if got := peer.MetadataPieceLen(tt.size, tt.pieces); got != 0 {
			t.Errorf("MetadataPieceLen(%d, %d) = %d, want 0 (out of range)", tt.size, tt.pieces, got)
		}
	}
}

func FuzzMetadataMessage(f *testing.F) {
	f.Add([]byte("d8:msg_typei0e5:piecei0ee"))
	f.Add([]byte("d8:msg_typei2e5:piecei0e10:total_sizei31235ee"))
	f.Add([]byte("d8:msg_typei1e5:piecei1e10:total_sizei16390eeabcdef"))
	f.Add([]byte("d8:msg_typei1e5:piecei0e10:total_sizei4eed1:e"))
	f.Add([]byte("d1:ai1e8:msg_typei0e5:piecei1e1:zli1eee"))
	f.Add([]byte("d8:msg_typei3e5:piecei0ee"))

	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := peer.ParseMetadataMessage(data)
		if err != nil {
			return
		}
		if m.Type < peer.MetadataRequest || m.Type > peer.MetadataReject || m.Piece < 0 || m.TotalSize < 0 {
			t.Fatalf("ParseMetadataMessage(%q) = %+v, out of range", data, m)
		}
		if len(m.Data) > peer.MetadataPieceSize || (m.Type != peer.MetadataData && len(m.Data) > 0) {
			t.Fatalf("ParseMetadataMessage(%q) = %d bytes of data for msg_type %d", data, len(m.Data), m.Type)
		}
		if m.Type == peer.MetadataData && len(m.Data) != peer.MetadataPieceLen(m.TotalSize, m.Piece) {
			t.Fatalf("ParseMetadataMessage(%q): piece %d of %d bytes with total_size %d", data, m.Piece, len(m.Data), m.TotalSize)
		}
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal(ParseMetadataMessage(%q)) failed: %v", data, err)
		}
		back, err := peer.ParseMetadataMessage(b)
		if err != nil || !sameMetadataMessage(back, m) {
			t.Fatalf("ParseMetadataMessage(Marshal(%+v)) = %+v, %v, want the same", m, back, err)
		}
	})
}
