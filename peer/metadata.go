package peer

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/anacrolix/torrent/bencode"
)

// MetadataExtension is the extension name of metadata exchange (BEP 9) in the "m" dict of an
// extension handshake.
const MetadataExtension = "ut_metadata"

// MetadataID is the extended message id we ask peers to send ut_metadata messages under, in
// the "m" dict of our extension handshake. libtorrent uses the same number.
const MetadataID uint8 = 2

// MetadataPieceSize is the size of every metadata piece but the last (BEP 9): 16 KiB.
const MetadataPieceSize = 16 << 10

// MaxMetadataSize is the largest info dict, in bytes, we fetch from peers: 16 MiB. It bounds
// the memory a stranger can make us spend on a magnet link. anacrolix/torrent uses the same
// bound; libtorrent ignores a metadata_size above 4 MiB in the extension handshake and
// accepts a total_size up to its max_metadata_size setting (30 MiB by default). An info dict
// holds 20 bytes per piece plus the file list, so 16 MiB describes some 800,000 pieces, far
// beyond ordinary torrents (a 100 GiB torrent of 1 MiB pieces needs 2 MiB).
const MaxMetadataSize = 16 << 20

// Metadata message types (BEP 9, key "msg_type").
const (
	MetadataRequest = 0 // asks for one piece
	MetadataData    = 1 // carries one piece after the dict
	MetadataReject  = 2 // the sender will not send that piece
)

// MetadataMessage is the payload of a ut_metadata extended message (BEP 9): a bencoded dict
// and, for a data message, the piece's bytes right after it.
type MetadataMessage struct {
	// Type is MetadataRequest, MetadataData or MetadataReject.
	Type int
	// Piece is the metadata piece index, from 0.
	Piece int
	// TotalSize is the size of the whole info dict in bytes. A data message must carry it; a
	// request or reject may (libtorrent sends it when it has the metadata). 0 means absent.
	TotalSize int
	// Data holds the piece's bytes in a data message and is empty otherwise. A data piece is
	// MetadataPieceSize bytes, except the last, which holds the rest of TotalSize.
	Data []byte
}

// metadataDict is the bencode form of a MetadataMessage's dict. Pointers tell a missing key
// from a zero.
type metadataDict struct {
	MsgType   *int64 `bencode:"msg_type"`
	Piece     *int64 `bencode:"piece"`
	TotalSize *int64 `bencode:"total_size,omitempty"`
}

// Marshal returns the payload of an Extended message: the bencoded dict and, for a data
// message, Data after it. It checks m as ParseMetadataMessage would, so what it returns
// parses back to m.
func (m MetadataMessage) Marshal() ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("peer: encode metadata message: %w", err)
	}
	typ, piece := int64(m.Type), int64(m.Piece)
	d := metadataDict{MsgType: &typ, Piece: &piece}
	if m.TotalSize > 0 {
		ts := int64(m.TotalSize)
		d.TotalSize = &ts
	}
	b, err := bencode.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("peer: encode metadata message: %w", err)
	}
	return append(b, m.Data...), nil
}

// ParseMetadataMessage parses the payload of a ut_metadata extended message. The payload
// starts with one bencoded dict, whose "msg_type" and "piece" must be integers (unknown keys
// are ignored); the bytes after it are the piece data, which only a data message may have. An
// error names what is wrong: an unknown msg_type, a negative piece, a data message without
// total_size, a piece index beyond total_size, or data of another length than that piece's
// (at most MetadataPieceSize). m.Data aliases payload.
func ParseMetadataMessage(payload []byte) (MetadataMessage, error) {
	if len(payload) > MetadataPieceSize+1024 {
		// A data message is a short dict and one piece; anything longer is not one.
		return MetadataMessage{}, fmt.Errorf("peer: metadata message of %d bytes, limit %d", len(payload), MetadataPieceSize+1024)
	}
	dec := bencode.NewDecoder(bytes.NewReader(payload))
	dec.MaxStrLen = int64(len(payload))
	dec.MaxDepth = 8
	var d metadataDict
	if len(payload) == 0 || payload[0] != 'd' {
		return MetadataMessage{}, errors.New("peer: metadata message does not start with a dict")
	}
	if err := dec.Decode(&d); err != nil {
		return MetadataMessage{}, fmt.Errorf("peer: parse metadata message: %w", err)
	}
	if d.MsgType == nil {
		return MetadataMessage{}, errors.New("peer: metadata message without msg_type")
	}
	if d.Piece == nil {
		return MetadataMessage{}, errors.New("peer: metadata message without piece")
	}
	if *d.MsgType < MetadataRequest || *d.MsgType > MetadataReject {
		return MetadataMessage{}, fmt.Errorf("peer: metadata message: unknown msg_type %d", *d.MsgType)
	}
	if *d.Piece < 0 || int64(int(*d.Piece)) != *d.Piece {
		return MetadataMessage{}, fmt.Errorf("peer: metadata message: piece = %d", *d.Piece)
	}
	m := MetadataMessage{Type: int(*d.MsgType), Piece: int(*d.Piece)}
	if d.TotalSize != nil {
		if *d.TotalSize <= 0 || int64(int(*d.TotalSize)) != *d.TotalSize {
			return MetadataMessage{}, fmt.Errorf("peer: metadata message: total_size = %d", *d.TotalSize)
		}
		m.TotalSize = int(*d.TotalSize)
	}
	if rest := payload[dec.Offset:]; len(rest) > 0 {
		m.Data = rest
	}
	if err := m.check(); err != nil {
		return MetadataMessage{}, fmt.Errorf("peer: metadata message: %w", err)
	}
	return m, nil
}

// check reports what makes m impossible on the wire.
func (m MetadataMessage) check() error {
	switch m.Type {
	case MetadataRequest, MetadataReject:
		if len(m.Data) > 0 {
			return fmt.Errorf("msg_type %d with %d bytes of data", m.Type, len(m.Data))
		}
	case MetadataData:
		if m.TotalSize <= 0 {
			return errors.New("data without total_size")
		}
	default:
		return fmt.Errorf("unknown msg_type %d", m.Type)
	}
	if m.Piece < 0 {
		return fmt.Errorf("piece = %d", m.Piece)
	}
	if m.TotalSize < 0 {
		return fmt.Errorf("total_size = %d", m.TotalSize)
	}
	if m.Type != MetadataData {
		return nil
	}
	n := MetadataPieces(m.TotalSize)
	if m.Piece >= n {
		return fmt.Errorf("piece %d of a %d-byte info dict, which has %d pieces", m.Piece, m.TotalSize, n)
	}
	if want := MetadataPieceLen(m.TotalSize, m.Piece); len(m.Data) != want {
		return fmt.Errorf("piece %d of %d bytes, want %d", m.Piece, len(m.Data), want)
	}
	return nil
}

// MetadataPieces returns the number of metadata pieces of an info dict of size bytes: size
// divided by MetadataPieceSize, rounded up. It is 0 for a size of 0 or less.
func MetadataPieces(size int) int {
	if size <= 0 {
		return 0
	}
	n := size / MetadataPieceSize
	if size%MetadataPieceSize != 0 {
		n++
	}
	return n
}

// MetadataPieceLen returns the length in bytes of metadata piece i of an info dict of size
// bytes: MetadataPieceSize for all but the last piece. It is 0 for an index out of range.
func MetadataPieceLen(size, i int) int {
	if i < 0 || i >= MetadataPieces(size) {
		return 0
	}
	return min(MetadataPieceSize, size-i*MetadataPieceSize)
}
