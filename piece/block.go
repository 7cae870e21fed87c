package piece

import (
	"crypto/sha1"
	"fmt"

	"github.com/rs/zerolog"

	"swarm/metainfo"
)

// BlockSize is the length of a request (16 KiB): every block of a piece has
// this length except the last, which may be shorter.
const BlockSize = 16 << 10

// Block names a byte range within a piece, as in the request, piece and
// cancel messages of BEP 3.
type Block struct {
	Piece  uint32
	Begin  uint32
	Length uint32
}

// MarshalZerologObject logs the block as {piece, begin, length}.
func (b Block) MarshalZerologObject(e *zerolog.Event) {
	e.Uint32("piece", b.Piece).Uint32("begin", b.Begin).Uint32("length", b.Length)
}

func (b Block) String() string {
	return fmt.Sprintf("piece %d [%d+%d]", b.Piece, b.Begin, b.Length)
}

// Geometry cuts a torrent's content into pieces and blocks.
type Geometry struct {
	// PieceLength is the length of every piece but the last, in bytes; a
	// positive multiple of BlockSize or smaller than it.
	PieceLength int64
	// Length is the total content length in bytes.
	Length int64
}

// GeometryOf returns the geometry of a torrent.
func GeometryOf(info *metainfo.Info) Geometry {
	return Geometry{PieceLength: info.PieceLength, Length: info.Length}
}

// NumPieces returns the number of pieces.
func (g Geometry) NumPieces() int {
	if g.PieceLength <= 0 || g.Length <= 0 {
		return 0
	}
	return int((g.Length + g.PieceLength - 1) / g.PieceLength)
}

// PieceLen returns the length of piece p: PieceLength, or less for the last.
func (g Geometry) PieceLen(p int) int64 {
	if p == g.NumPieces()-1 {
		return g.Length - int64(p)*g.PieceLength
	}
	return g.PieceLength
}

// PieceOffset returns the content offset of piece p's first byte.
func (g Geometry) PieceOffset(p int) int64 { return int64(p) * g.PieceLength }

// NumBlocks returns the number of blocks in piece p.
func (g Geometry) NumBlocks(p int) int {
	return int((g.PieceLen(p) + BlockSize - 1) / BlockSize)
}

// Block returns block i of piece p.
func (g Geometry) Block(p, i int) Block {
	begin := int64(i) * BlockSize
	return Block{Piece: uint32(p), Begin: uint32(begin), Length: uint32(min(BlockSize, g.PieceLen(p)-begin))}
}

// Blocks returns every block of piece p in order.
func (g Geometry) Blocks(p int) []Block {
	out := make([]Block, g.NumBlocks(p))
	for i := range out {
		out[i] = g.Block(p, i)
	}
	return out
}

// BlockIndex returns the index of b within its piece if b is exactly one of
// the blocks Blocks returns (as every block we request is), and false
// otherwise.
func (g Geometry) BlockIndex(b Block) (int, bool) {
	p := int(b.Piece)
	if p >= g.NumPieces() || b.Begin%BlockSize != 0 {
		return 0, false
	}
	i := int(b.Begin / BlockSize)
	if i >= g.NumBlocks(p) || g.Block(p, i).Length != b.Length {
		return 0, false
	}
	return i, true
}

// Contains reports whether b is a non-empty range inside its piece and at
// most BlockSize long: what a peer may request from us.
func (g Geometry) Contains(b Block) bool {
	p := int(b.Piece)
	return p < g.NumPieces() && b.Length > 0 && b.Length <= BlockSize &&
		int64(b.Begin)+int64(b.Length) <= g.PieceLen(p)
}

// Offset returns the content offset of b's first byte.
func (g Geometry) Offset(b Block) int64 { return g.PieceOffset(int(b.Piece)) + int64(b.Begin) }

// Verify reports whether data hashes (SHA-1) to want.
func Verify(data []byte, want metainfo.Hash) bool {
	return sha1.Sum(data) == want
}
