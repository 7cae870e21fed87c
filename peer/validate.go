package peer

import (
	"errors"
	"fmt"
)

// Errors of the Validate functions, wrapped with the numbers involved. Test for them with
// errors.Is.
var (
	ErrPieceIndex        = errors.New("peer: piece index out of range")
	ErrBitfieldLength    = errors.New("peer: bitfield has the wrong length")
	ErrBitfieldSpareBits = errors.New("peer: bitfield spare bits set")
)

// RequestError reports a request (or cancel) that does not fit the torrent.
type RequestError struct {
	Index, Begin, Length uint32
	Reason               string // what is wrong, e.g. "length 0 outside 1..16384"
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("peer: bad request index=%d begin=%d length=%d: %s", e.Index, e.Begin, e.Length, e.Reason)
}

// ValidateBitfield checks a bitfield message's payload for a torrent of numPieces pieces: it
// must be exactly (numPieces+7)/8 bytes long and its spare bits, after the last piece, must
// be zero (BEP 3).
func ValidateBitfield(b []byte, numPieces int) error {
	if numPieces < 0 {
		return fmt.Errorf("%w: %d bytes for %d pieces", ErrBitfieldLength, len(b), numPieces)
	}
	if want := (numPieces + 7) / 8; len(b) != want {
		return fmt.Errorf("%w: %d bytes, want %d for %d pieces", ErrBitfieldLength, len(b), want, numPieces)
	}
	if spare := numPieces % 8; spare != 0 {
		if last := b[len(b)-1]; last&(0xff>>spare) != 0 {
			return fmt.Errorf("%w: last byte %#02x for %d pieces", ErrBitfieldSpareBits, last, numPieces)
		}
	}
	return nil
}

// ValidateHave checks that a have message's index names one of numPieces pieces.
func ValidateHave(index uint32, numPieces int) error {
	if uint64(index) >= uint64(max(numPieces, 0)) {
		return fmt.Errorf("%w: have %d, torrent has %d pieces", ErrPieceIndex, index, numPieces)
	}
	return nil
}

// ValidateRequest checks a request or cancel message against the torrent's layout, given its
// piece length and total length in bytes: the index must name a piece, the length must be
// 1..BlockSize, and the block must lie inside its piece (the last piece may be short).
func ValidateRequest(m Message, pieceLength, totalLength int64) error {
	fail := func(format string, args ...any) error {
		return &RequestError{Index: m.Index, Begin: m.Begin, Length: m.Length, Reason: fmt.Sprintf(format, args...)}
	}
	if pieceLength <= 0 || totalLength <= 0 {
		return fail("torrent of %d bytes in pieces of %d", totalLength, pieceLength)
	}
	if m.Length == 0 || m.Length > BlockSize {
		return fail("length %d outside 1..%d", m.Length, BlockSize)
	}
	numPieces := (totalLength + pieceLength - 1) / pieceLength
	if int64(m.Index) >= numPieces {
		return fail("index %d, torrent has %d pieces", m.Index, numPieces)
	}
	thisLen := min(pieceLength, totalLength-int64(m.Index)*pieceLength)
	if end := int64(m.Begin) + int64(m.Length); end > thisLen {
		return fail("block ends at %d, piece has %d bytes", end, thisLen)
	}
	return nil
}
