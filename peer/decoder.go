package peer

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Size limits, in bytes, of the part of a message after its 4-byte length prefix (the id byte
// and the payload).
const (
	// MaxPieceMessageLen is the longest piece message: id, index, begin and one block.
	MaxPieceMessageLen = 1 + 4 + 4 + BlockSize
	// DefaultMaxBitfieldLen is the bitfield payload limit when Decoder.MaxBitfieldLen is
	// zero: enough for 2 Mi pieces, so a magnet download can take a bitfield before it
	// knows the piece count.
	DefaultMaxBitfieldLen = 256 << 10
	// DefaultMaxExtendedLen is the extended payload limit when Decoder.MaxExtendedLen is
	// zero: 64 KiB, what the largest extension we speak needs (an extension handshake,
	// MaxExtensionHandshakeLen, or a ut_pex message, MaxPexMessageLen; a ut_metadata piece
	// is 16 KiB and a dict of some 50 bytes). A longer one breaks the protocol. Each
	// extended message the session has not handled yet holds a copy of its payload, so
	// the limit also bounds what a peer's stream of them can make it hold.
	DefaultMaxExtendedLen = 64 << 10
)

// decoderBufSize is the bufio size under a Decoder at first. It holds several small messages
// and lets a piece message's header and much of its block arrive in one read system call.
// Once a peer has sent fastAfter bytes of blocks, the buffer grows to fastBufSize: a peer
// sending fast then fills it in one read, a quarter of the system calls (each costs several
// microseconds beyond its copy on a virtual machine: 7.5 µs measured here), while the many
// connections that carry little keep the small buffer.
const (
	decoderBufSize = 64 << 10
	fastBufSize    = 256 << 10
	fastAfter      = 4 << 20
)

// LengthError reports a message whose length prefix is outside what its id allows. The
// Decoder returns it before allocating anything for the message.
type LengthError struct {
	ID       ID     // message id
	Length   uint32 // length prefix as received: id byte plus payload
	Min, Max uint32 // accepted range of Length for this ID
}

func (e *LengthError) Error() string {
	if e.Min == e.Max {
		return fmt.Sprintf("peer: %v message of length %d, want %d", e.ID, e.Length, e.Min)
	}
	return fmt.Sprintf("peer: %v message of length %d, want %d..%d", e.ID, e.Length, e.Min, e.Max)
}

// Decoder reads messages from a stream after the handshake.
//
// It enforces the framing: every length prefix is checked against the limit for its message
// id before anything is allocated, and fixed-size messages must have exactly their size.
// It does not check meaning against the torrent (piece index in range, request length,
// bitfield spare bits); see ValidateHave, ValidateRequest and ValidateBitfield.
//
// Messages with ids this package does not know are read and discarded, up to
// MaxPieceMessageLen bytes each, and Decode goes on to the next message. libtorrent and
// others do the same; it keeps us compatible with peers that send extensions we did not
// negotiate rather than dropping them. Skipped returns how many there were. The messages of
// the fast extension (BEP 6) are decoded whether or not it was negotiated: whether a peer
// may send them is the caller's to check (Reserved.Fast).
//
// The limit fields may be changed between calls to Decode, by the goroutine that calls it.
type Decoder struct {
	// MaxBitfieldLen caps a bitfield payload in bytes. Zero (or less) means
	// DefaultMaxBitfieldLen. Once the piece count is known, set it to (numPieces+7)/8.
	MaxBitfieldLen int
	// MaxExtendedLen caps an extended message's payload, after the extended id byte, in
	// bytes. Zero (or less) means DefaultMaxExtendedLen.
	MaxExtendedLen int
	// NewBlock, if set, returns the buffer a piece message's block is read into; it is called
	// with the block length n (0..BlockSize) and must return a slice with capacity at least n.
	// The block then belongs to the caller and outlives later Decode calls, so it can go
	// to disk without a copy. If nil, the Decoder reads blocks into a buffer it reuses.
	NewBlock func(n int) []byte

	src     io.Reader // the stream, read through buf
	buf     []byte    // buffered bytes are buf[r:w]
	r, w    int
	payload []byte // reused for bitfield, extended and (without NewBlock) block payloads
	skipped uint64
	blocks  int64 // block bytes read, until the buffer grows (-1 after)
	// vec, when set, reads the socket under src with readv(2); a fast peer's
	// blocks then go straight into block buffers (see direct.go).
	vec          vectorReader
	spec         *speculation
	directBlocks int64 // blocks taken from speculation, for tests
}

// NewDecoder returns a Decoder reading from r through a buffer of its own. Do not read from r
// directly afterwards: the Decoder may have buffered bytes of later messages.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{src: r, buf: make([]byte, decoderBufSize)}
}

// grow makes room for a fast peer, keeping what is buffered: blocks read
// straight into their buffers when the source is a socket and NewBlock is
// set, else a buffer of fastBufSize.
func (d *Decoder) grow() {
	d.blocks = -1 // grown
	if d.vec != nil && d.NewBlock != nil {
		d.spec = &speculation{}
		return
	}
	nb := make([]byte, fastBufSize)
	d.w = copy(nb, d.buf[d.r:d.w])
	d.buf, d.r = nb, 0
}

// fill reads at least one more byte into the buffer, moving what is
// buffered to its front first if the end is reached.
func (d *Decoder) fill() error {
	if d.r > 0 && d.w == len(d.buf) {
		d.w = copy(d.buf, d.buf[d.r:d.w])
		d.r = 0
	}
	for range 100 { // as bufio, give up on a reader that keeps returning nothing
		n, err := d.src.Read(d.buf[d.w:])
		d.w += n
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// peek returns the next n bytes (n at most the buffer's size) without
// consuming them; fewer only with an error.
func (d *Decoder) peek(n int) ([]byte, error) {
	if d.r+n > len(d.buf) {
		d.w = copy(d.buf, d.buf[d.r:d.w])
		d.r = 0
	}
	for d.w-d.r < n {
		if err := d.fill(); err != nil {
			return d.buf[d.r:d.w], err
		}
	}
	return d.buf[d.r : d.r+n], nil
}

// readFull fills p from the buffer, then from the stream: through the
// buffer for a short rest, straight into p for a long one.
func (d *Decoder) readFull(p []byte) error {
	k := copy(p, d.buf[d.r:d.w])
	d.r += k
	if k == len(p) {
		return nil
	}
	if d.spec != nil {
		return d.direct(p, k)
	}
	if len(p)-k >= len(d.buf) {
		_, err := io.ReadFull(d.src, p[k:])
		return err
	}
	d.r, d.w = 0, 0
	for k < len(p) {
		if err := d.fill(); err != nil {
			return err
		}
		n := copy(p[k:], d.buf[d.r:d.w])
		d.r += n
		k += n
	}
	return nil
}

// discard drops the next n bytes.
func (d *Decoder) discard(n int) error {
	for {
		k := min(n, d.w-d.r)
		d.r += k
		if n -= k; n == 0 {
			return nil
		}
		d.r, d.w = 0, 0
		if err := d.fill(); err != nil {
			return err
		}
	}
}

// Skipped returns how many messages with unknown ids Decode has discarded.
func (d *Decoder) Skipped() uint64 { return d.skipped }

// Decode reads the next message into *m, overwriting all of its fields.
//
// m.Bitfield, m.Payload and (when NewBlock is nil) m.Block point into a buffer the Decoder
// reuses: they are valid only until the next call to Decode. Copy them to keep them. In
// steady state Decode does not allocate.
//
// Errors: io.EOF if the stream ends cleanly between messages, io.ErrUnexpectedEOF if it ends
// inside one, *LengthError for a length outside the limits, or the reader's error. After an
// error the stream is out of step and the connection should be closed.
func (d *Decoder) Decode(m *Message) error {
	for {
		skip, err := d.decode(m)
		if err != nil || !skip {
			return err
		}
		d.skipped++
	}
}

// decode reads one message; skip reports an unknown message that was discarded.
func (d *Decoder) decode(m *Message) (skip bool, err error) {
	*m = Message{}
	if d.spec != nil {
		if !d.spec.pending() && d.r == d.w {
			if err := d.direct(nil, 0); err != nil {
				return false, err // io.EOF here is between messages
			}
		}
		if d.spec.pending() {
			if ok, err := d.fromSpeculation(m); ok || err != nil {
				return false, err
			}
		}
	}
	hdr, err := d.peek(4)
	if err != nil {
		if len(hdr) > 0 {
			err = noEOF(err)
		}
		return false, err
	}
	length := binary.BigEndian.Uint32(hdr)
	d.r += 4
	if length == 0 {
		m.KeepAlive = true
		return false, nil
	}
	idb, err := d.peek(1)
	if err != nil {
		return false, noEOF(err)
	}
	id := ID(idb[0])
	d.r++
	m.ID = id
	minLen, maxLen := d.lengthRange(id)
	if length < minLen || length > maxLen {
		return false, &LengthError{ID: id, Length: length, Min: minLen, Max: maxLen}
	}
	n := int(length - 1) // payload length, bounded by maxLen above

	switch id {
	case Choke, Unchoke, Interested, NotInterested, HaveAll, HaveNone:
		return false, nil
	case Have, Request, Cancel, Port, Suggest, Reject, AllowedFast:
		p, err := d.peek(n)
		if err != nil {
			return false, noEOF(err)
		}
		switch id {
		case Have, Suggest, AllowedFast:
			m.Index = binary.BigEndian.Uint32(p)
		case Request, Cancel, Reject:
			m.Index = binary.BigEndian.Uint32(p)
			m.Begin = binary.BigEndian.Uint32(p[4:])
			m.Length = binary.BigEndian.Uint32(p[8:])
		case Port:
			m.Port = binary.BigEndian.Uint16(p)
		}
		d.r += n
		return false, nil
	case Bitfield:
		m.Bitfield, err = d.readPayload(n)
		return false, err
	case Piece:
		p, err := d.peek(8)
		if err != nil {
			return false, noEOF(err)
		}
		m.Index = binary.BigEndian.Uint32(p)
		m.Begin = binary.BigEndian.Uint32(p[4:])
		d.r += 8
		n -= 8
		if d.blocks >= 0 {
			if d.blocks += int64(n); d.blocks >= fastAfter {
				defer d.grow() // once the block is read
			}
		}
		if d.NewBlock != nil {
			b := d.NewBlock(n)
			if cap(b) < n {
				return false, errShortBlock(n, cap(b))
			}
			m.Block = b[:n]
			return false, noEOF(d.readFull(m.Block))
		}
		m.Block, err = d.readPayload(n)
		return false, err
	case Extended:
		p, err := d.peek(1)
		if err != nil {
			return false, noEOF(err)
		}
		m.ExtendedID = p[0]
		d.r++
		m.Payload, err = d.readPayload(n - 1)
		return false, err
	}
	if err := d.discard(n); err != nil {
		return false, noEOF(err)
	}
	return true, nil
}

func errShortBlock(n, c int) error {
	return fmt.Errorf("peer: NewBlock(%d) returned a buffer of capacity %d", n, c)
}

// lengthRange returns the accepted range of the length prefix for messages with id.
func (d *Decoder) lengthRange(id ID) (minLen, maxLen uint32) {
	switch id {
	case Choke, Unchoke, Interested, NotInterested, HaveAll, HaveNone:
		return 1, 1
	case Have, Suggest, AllowedFast:
		return 5, 5
	case Request, Cancel, Reject:
		return 13, 13
	case Port:
		return 3, 3
	case Bitfield:
		return 1, 1 + clampLimit(d.MaxBitfieldLen, DefaultMaxBitfieldLen)
	case Piece:
		return 9, MaxPieceMessageLen
	case Extended:
		return 2, 2 + clampLimit(d.MaxExtendedLen, DefaultMaxExtendedLen)
	}
	return 1, MaxPieceMessageLen
}

// clampLimit turns a configured limit into one that fits a length prefix with room for a
// small header; zero or less means def.
func clampLimit(limit, def int) uint32 {
	const most = 1<<32 - 1 - 16
	switch {
	case limit <= 0:
		return uint32(def)
	case uint64(limit) > most:
		return most
	}
	return uint32(limit)
}

// readPayload reads n bytes into the reused buffer.
func (d *Decoder) readPayload(n int) ([]byte, error) {
	if cap(d.payload) < n {
		d.payload = make([]byte, n)
	}
	b := d.payload[:n]
	return b, noEOF(d.readFull(b))
}
