package peer

import "encoding/binary"

// A fast peer's blocks are read from the socket straight into the buffers
// NewBlock gives, instead of through the Decoder's buffer and a copy (the
// copy cost some 6% of a getter's CPU). When a block's rest is to be read,
// one readv(2) asks for that rest, then for specBlocks more piece messages
// as a fast peer sends them (a 13-byte header slot and a spare block buffer
// each), then for whatever follows into the Decoder's buffer. Most of the
// time the speculation holds: the next message's header landed in its slot
// says a full block, whose bytes are then in the spare buffer already.
// When it does not (a have between blocks, the short last block, a read
// that ended inside a header), the bytes from that slot on are copied into
// the Decoder's buffer in order and decoded as usual.
//
// A read also speculates when the Decoder's buffer is empty at a message
// boundary, so a stream of blocks never goes through the buffer. Past the
// speculative slots a read asks for specTail bytes into the buffer only:
// bytes there are copied again.
const (
	specBlocks  = 16
	specTail    = 4 << 10
	pieceHdrLen = 4 + 1 + 8 // length prefix, id, index, begin
)

// vectorReader reads from a socket into several buffers in one system
// call, waiting until it has data; it returns io.EOF, not 0 bytes, at the
// end of the stream.
type vectorReader interface {
	readv(bufs [][]byte) (int, error)
}

// speculation is the state of the last readv's speculative part: pairs
// next..end-1 hold the bytes it put in their header slot and spare
// buffer, in order, and tail bytes went into the Decoder's buffer after
// them.
type speculation struct {
	hdr       [specBlocks][pieceHdrLen]byte
	blocks    [specBlocks][]byte // spare block buffers of BlockSize, from NewBlock
	landed    [specBlocks]int    // bytes in hdr[i] then blocks[i]
	next, end int
	tail      int
	bufs      [][]byte // readv's list, reused
}

func (s *speculation) pending() bool { return s.next < s.end || s.tail > 0 }

// direct fills p[k:] from the socket with readv, speculating past it; with
// nothing to fill, it reads once, speculating. The Decoder's buffer must be
// empty and no speculation pending.
func (d *Decoder) direct(p []byte, k int) error {
	s := d.spec
	for i, b := range s.blocks {
		if b == nil {
			b = d.NewBlock(BlockSize)
			if cap(b) < BlockSize {
				return errShortBlock(BlockSize, cap(b))
			}
			s.blocks[i] = b[:BlockSize]
		}
	}
	d.r, d.w = 0, 0
	for first := true; first || k < len(p); first = false {
		s.bufs = append(s.bufs[:0], p[k:])
		for i := range s.blocks {
			s.bufs = append(s.bufs, s.hdr[i][:], s.blocks[i])
		}
		s.bufs = append(s.bufs, d.buf[:min(len(d.buf), specTail)])
		n, err := d.vec.readv(s.bufs)
		if err != nil {
			return err
		}
		if n <= len(p)-k && k < len(p) {
			k += n
			continue
		}
		n -= len(p) - k
		k = len(p)
		s.next, s.end = 0, 0
		for ; s.end < specBlocks && n > 0; s.end++ {
			s.landed[s.end] = min(n, pieceHdrLen+BlockSize)
			n -= s.landed[s.end]
		}
		s.tail = n
	}
	return nil
}

// fromSpeculation decodes the next message if it is a full block that
// landed in its spare buffer, and reports whether it did. If the next
// message is something else, it moves the speculative bytes into the
// Decoder's buffer, for decode to go on from there.
func (d *Decoder) fromSpeculation(m *Message) (bool, error) {
	s := d.spec
	if s.next == s.end {
		// Every pair is consumed: what came after them is in the buffer.
		d.r, d.w, s.tail = 0, s.tail, 0
		return false, nil
	}
	i := s.next
	h := s.hdr[i][:]
	if got := s.landed[i]; got >= pieceHdrLen && binary.BigEndian.Uint32(h) == MaxPieceMessageLen && ID(h[4]) == Piece {
		s.next++
		m.ID = Piece
		m.Index = binary.BigEndian.Uint32(h[5:])
		m.Begin = binary.BigEndian.Uint32(h[9:])
		m.Block, s.blocks[i] = s.blocks[i], nil
		d.directBlocks++
		if body := got - pieceHdrLen; body < BlockSize {
			// The read ended inside this block: it was the last pair
			// with bytes and none followed.
			return true, noEOF(d.direct(m.Block, body))
		}
		return true, nil
	}
	d.linearize()
	return false, nil
}

// linearize puts the speculative bytes not yet decoded into the Decoder's
// buffer, in stream order.
func (d *Decoder) linearize() {
	s := d.spec
	size := s.tail
	for i := s.next; i < s.end; i++ {
		size += s.landed[i]
	}
	if len(d.buf) < size {
		nb := make([]byte, size)
		copy(nb[size-s.tail:], d.buf[:s.tail])
		d.buf = nb
	} else {
		copy(d.buf[size-s.tail:], d.buf[:s.tail])
	}
	at := 0
	for i := s.next; i < s.end; i++ {
		got := s.landed[i]
		at += copy(d.buf[at:], s.hdr[i][:min(got, pieceHdrLen)])
		if got > pieceHdrLen {
			at += copy(d.buf[at:], s.blocks[i][:got-pieceHdrLen])
		}
	}
	d.r, d.w = 0, size
	s.next, s.end, s.tail = 0, 0, 0
}
