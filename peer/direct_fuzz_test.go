package peer

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// chunkReader is a vectorReader over a byte slice whose reads end where
// sizes says (cycling), as a hostile peer's slow drips and odd writes do.
type chunkReader struct {
	data  []byte
	sizes []byte
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) { return c.readv([][]byte{p}) }

func (c *chunkReader) readv(bufs [][]byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	limit := len(c.data)
	if len(c.sizes) > 0 {
		s := int(c.sizes[c.i%len(c.sizes)])
		c.i++
		limit = min(limit, 1+s*s*7) // 1 byte to some 455 KB
	}
	n := 0
	for _, b := range bufs {
		k := copy(b, c.data[:min(len(c.data), limit-n)])
		c.data = c.data[k:]
		if n += k; n == limit {
			break
		}
	}
	return n, nil
}

// FuzzDecodeDirect decodes a stream with blocks read straight into their
// buffers (the readv path of a fast peer), in reads of fuzzed sizes, and
// checks it yields what the plain Decoder yields, that no block buffer is
// handed out twice, and that a block keeps its bytes after later reads.
func FuzzDecodeDirect(f *testing.F) {
	blk := func(n int, v byte) []byte { return bytes.Repeat([]byte{v}, n) }
	var blocks, mixed []byte
	for i := range 3 {
		blocks = AppendMessage(blocks, Message{ID: Piece, Index: uint32(i), Block: blk(BlockSize, byte(i))})
	}
	mixed = AppendMessage(mixed, Message{ID: Piece, Index: 1, Block: blk(BlockSize, 1)})
	mixed = AppendMessage(mixed, Message{ID: Have, Index: 7})
	mixed = AppendMessage(mixed, Message{ID: Piece, Index: 2, Block: blk(100, 2)})
	mixed = AppendMessage(mixed, Message{ID: Piece, Index: 3, Block: blk(BlockSize, 3)})
	mixed = AppendMessage(mixed, Message{ID: Extended, ExtendedID: 1, Payload: blk(3000, 4)})
	mixed = AppendMessage(mixed, Message{KeepAlive: true})
	mixed = AppendMessage(mixed, Message{ID: Piece, Index: 5, Block: blk(BlockSize, 5)})
	f.Add(blocks, []byte{})
	f.Add(blocks, []byte{1, 50, 3, 200})
	f.Add(mixed, []byte{0, 9, 49})
	f.Add(append(bytes.Clone(blocks[:BlockSize+5]), []byte{0x80, 0, 0, 0, byte(Piece)}...), []byte{48})
	// A piece header that lies: a full block's length, then a bitfield's id.
	lie := bytes.Clone(blocks)
	lie[4+MaxPieceMessageLen+4] = byte(Bitfield)
	f.Add(lie, []byte{255, 2})

	f.Fuzz(func(t *testing.T, data, sizes []byte) { checkDirect(t, data, sizes) })
}

// checkDirect is FuzzDecodeDirect's check of one input.
func checkDirect(t *testing.T, data, sizes []byte) {
	const maxBitfield, maxExtended = 64 << 10, 64 << 10
	{
		// What the plain Decoder makes of data.
		plain := NewDecoder(bytes.NewReader(data))
		plain.MaxBitfieldLen, plain.MaxExtendedLen = maxBitfield, maxExtended
		plain.NewBlock = func(n int) []byte { return make([]byte, n) }
		var want []Message
		var wantErr error
		for {
			var m Message
			if wantErr = plain.Decode(&m); wantErr != nil {
				break
			}
			want = append(want, cloneMsg(m))
		}

		cr := &chunkReader{data: data, sizes: sizes}
		d := NewDecoder(cr)
		d.MaxBitfieldLen, d.MaxExtendedLen = maxBitfield, maxExtended
		handed := map[*byte]bool{}
		d.NewBlock = func(n int) []byte {
			b := make([]byte, n, BlockSize)
			handed[&b[:1][0]] = false
			return b
		}
		d.vec, d.blocks = cr, -1
		d.spec = &speculation{}
		var got []Message
		var err error
		for {
			var m Message
			if err = d.Decode(&m); err != nil {
				break
			}
			if len(m.Block) > 0 {
				p := &m.Block[:1][0]
				if handed[p] {
					t.Fatalf("message %d: a block buffer handed out twice", len(got))
				}
				handed[p] = true
			}
			got = append(got, m) // blocks not copied: they must keep their bytes
			if len(got) > len(want) {
				break
			}
		}
		if len(got) != len(want) || (err == nil) != (wantErr == nil) || (err == io.EOF) != (wantErr == io.EOF) {
			t.Fatalf("direct decode: %d messages then %v; plain: %d then %v", len(got), err, len(want), wantErr)
		}
		var le *LengthError
		if errors.As(wantErr, &le) != errors.As(err, &le) {
			t.Fatalf("direct decode ended with %v, plain with %v", err, wantErr)
		}
		for i := range got {
			g, w := got[i], want[i]
			if g.KeepAlive != w.KeepAlive || g.ID != w.ID || g.Index != w.Index || g.Begin != w.Begin || g.Length != w.Length ||
				g.ExtendedID != w.ExtendedID || g.Port != w.Port || !bytes.Equal(g.Block, w.Block) {
				t.Fatalf("message %d = %v index %d (%d block bytes), want %v index %d (%d block bytes)", i, g.ID, g.Index, len(g.Block), w.ID, w.Index, len(w.Block))
			}
		}
	}
}

func cloneMsg(m Message) Message {
	m.Bitfield = bytes.Clone(m.Bitfield)
	m.Block = bytes.Clone(m.Block)
	m.Payload = bytes.Clone(m.Payload)
	return m
}
