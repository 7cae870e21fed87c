package piece_test

import (
	"crypto/sha1"
	"testing"

	"bytes"
	"github.com/rs/zerolog"

	"swarm/piece"
)

func TestGeometryBlocks(t *testing.T) {
	const kib = 1 << 10
	tests := []struct {
		name      string
		g         piece.Geometry
		p         int
		wantPiece int64
		want      []piece.Block
	}{
		{"whole piece", piece.Geometry{PieceLength: 32 * kib, Length: 100 * kib}, 0, 32 * kib,
			[]piece.Block{{0, 0, 16 * kib}, {0, 16 * kib, 16 * kib}}},
		{"last piece shorter", piece.Geometry{PieceLength: 32 * kib, Length: 100 * kib}, 3, 4 * kib,
			[]piece.Block{{3, 0, 4 * kib}}},
		{"last block shorter", piece.Geometry{PieceLength: 64 * kib, Length: 64*kib + 20*kib}, 1, 20 * kib,
			[]piece.Block{{1, 0, 16 * kib}, {1, 16 * kib, 4 * kib}}},
		{"piece smaller than a block", piece.Geometry{PieceLength: 8 * kib, Length: 20 * kib}, 2, 4 * kib,
			[]piece.Block{{2, 0, 4 * kib}}},
		{"one byte torrent", piece.Geometry{PieceLength: 16 * kib, Length: 1}, 0, 1,
			[]piece.Block{{0, 0, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.g.PieceLen(tt.p); got != tt.wantPiece {
				t.Errorf("PieceLen(%d) = %d, want %d", tt.p, got, tt.wantPiece)
			}
			got := tt.g.Blocks(tt.p)
			if len(got) != len(tt.want) {
				t.Fatalf("Blocks(%d) = %v, want %v", tt.p, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("Blocks(%d)[%d] = %v, want %v", tt.p, i, got[i], tt.want[i])
				}
				if j, ok := tt.g.BlockIndex(got[i]); !ok || j != i {
					t.Errorf("BlockIndex(%v) = %d, %v, want %d, true", got[i], j, ok, i)
				}
			}
		})
	}
}

func TestGeometryRejectsForeignBlocks(t *testing.T) {
	g := piece.Geometry{PieceLength: 32 << 10, Length: 40 << 10}
	tests := []struct {
		name     string
		b        piece.Block
		contains bool // a valid request from a peer, though not one of ours
	}{
		{"piece out of range", piece.Block{2, 0, 16 << 10}, false},
		{"unaligned begin", piece.Block{0, 1, 16 << 10}, true},
		{"short length", piece.Block{0, 0, 100}, true},
		{"past the last piece", piece.Block{1, 0, 16 << 10}, false},
		{"longer than a block", piece.Block{0, 0, 32 << 10}, false},
		{"empty", piece.Block{0, 0, 0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := g.BlockIndex(tt.b); ok {
				t.Errorf("BlockIndex(%v) ok, want not a block", tt.b)
			}
			if got := g.Contains(tt.b); got != tt.contains {
				t.Errorf("Contains(%v) = %v, want %v", tt.b, got, tt.contains)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	data := []byte("some piece data")
	want := sha1.Sum(data)
	if !piece.Verify(data, want) {
		t.Errorf("Verify(data, sha1(data)) = false")
	}
	data[0] ^= 1
	if piece.Verify(data, want) {
		t.Errorf("Verify(changed data, old hash) = true")
	}
}

func TestBlockLogObject(t *testing.T) {
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	log.Info().Object("block", piece.Block{Piece: 3, Begin: 16384, Length: 100}).Send()
	want := `{"level":"info","block":{"piece":3,"begin":16384,"length":100}}` + "\n"
	if buf.String() != want {
		t.Errorf("log = %s, want %s", buf.String(), want)
	}
}
