package peer

import (
	"encoding/binary"
	"io"
	"net"
)

// AppendMessage appends the wire form of m, length prefix included, to dst and returns the
// extended slice. For an id this package does not know, it writes the id followed by
// m.Payload. It does not check sizes: the receiving Decoder does.
func AppendMessage(dst []byte, m Message) []byte {
	if m.KeepAlive {
		return append(dst, 0, 0, 0, 0)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(messageLen(m)))
	dst = append(dst, byte(m.ID))
	switch m.ID {
	case Choke, Unchoke, Interested, NotInterested, HaveAll, HaveNone:
	case Have, Suggest, AllowedFast:
		dst = binary.BigEndian.AppendUint32(dst, m.Index)
	case Request, Cancel, Reject:
		dst = binary.BigEndian.AppendUint32(dst, m.Index)
		dst = binary.BigEndian.AppendUint32(dst, m.Begin)
		dst = binary.BigEndian.AppendUint32(dst, m.Length)
	case Port:
		dst = binary.BigEndian.AppendUint16(dst, m.Port)
	case Bitfield:
		dst = append(dst, m.Bitfield...)
	case Piece:
		dst = binary.BigEndian.AppendUint32(dst, m.Index)
		dst = binary.BigEndian.AppendUint32(dst, m.Begin)
		dst = append(dst, m.Block...)
	case Extended:
		dst = append(dst, m.ExtendedID)
		dst = append(dst, m.Payload...)
	default:
		dst = append(dst, m.Payload...)
	}
	return dst
}

// AppendPieceHeader appends the first 13 bytes of a piece message carrying a block of
// blockLen bytes: length prefix, id, index and begin. The block itself follows on the wire.
func AppendPieceHeader(dst []byte, index, begin uint32, blockLen int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(1+8+blockLen))
	dst = append(dst, byte(Piece))
	dst = binary.BigEndian.AppendUint32(dst, index)
	return binary.BigEndian.AppendUint32(dst, begin)
}

// pieceHeaderLen is the length of what AppendPieceHeader appends.
const pieceHeaderLen = 4 + 1 + 8

// messageLen returns the length prefix of m: the id byte plus the payload.
func messageLen(m Message) int {
	switch m.ID {
	case Choke, Unchoke, Interested, NotInterested, HaveAll, HaveNone:
		return 1
	case Have, Suggest, AllowedFast:
		return 5
	case Request, Cancel, Reject:
		return 13
	case Port:
		return 3
	case Bitfield:
		return 1 + len(m.Bitfield)
	case Piece:
		return 1 + 8 + len(m.Block)
	case Extended:
		return 2 + len(m.Payload)
	}
	return 1 + len(m.Payload)
}

// Encoder writes messages to a stream. Piece blocks are passed to the writer as they are,
// not copied: on a *net.TCPConn (or another conn that supports it) a piece message or a batch
// goes out in one writev system call, by way of net.Buffers.
type Encoder struct {
	w   io.Writer
	buf []byte      // encoded small messages and piece headers
	vec [][]byte    // backing array of out, reused between calls
	out net.Buffers // what is being written; WriteTo consumes it
}

// NewEncoder returns an Encoder writing to w.
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{w: w}
}

// Encode writes m and returns the number of bytes written. It does not keep m.Block or any
// other slice of m after it returns.
func (e *Encoder) Encode(m Message) (int64, error) {
	if m.KeepAlive || m.ID != Piece {
		e.buf = AppendMessage(e.buf[:0], m)
		n, err := e.w.Write(e.buf)
		return int64(n), err
	}
	ms := [1]Message{m}
	return e.EncodeAll(ms[:])
}

// EncodeAll writes the messages of ms in order with as few writes as it can (one writev on a
// TCP connection), and returns the number of bytes written. Small messages are copied into an
// internal buffer; piece blocks are not copied. It keeps no slice of ms after it returns.
func (e *Encoder) EncodeAll(ms []Message) (int64, error) {
	// Size the buffer first, so that appending never moves it and the slices of it in vec
	// stay valid.
	size := 0
	for _, m := range ms {
		if !m.KeepAlive && m.ID == Piece {
			size += pieceHeaderLen
		} else {
			size += 4 + messageLen(m)
		}
	}
	if cap(e.buf) < size {
		e.buf = make([]byte, 0, size)
	}
	b := e.buf[:0]
	vec := e.vec[:0]
	start := 0
	for _, m := range ms {
		if m.KeepAlive || m.ID != Piece {
			b = AppendMessage(b, m)
			continue
		}
		b = AppendPieceHeader(b, m.Index, m.Begin, len(m.Block))
		vec = append(vec, b[start:len(b)])
		start = len(b)
		if len(m.Block) > 0 {
			vec = append(vec, m.Block)
		}
	}
	if start < len(b) {
		vec = append(vec, b[start:])
	}
	e.buf = b
	e.vec = vec
	e.out = vec
	n, err := e.out.WriteTo(e.w)
	clear(vec) // drop references to the caller's blocks
	e.out = nil
	return n, err
}
