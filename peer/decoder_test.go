package peer_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"swarm/peer"
)

type namedMessage struct {
	name string
	m    peer.Message
}

// allMessages has one message of every kind the package knows, with distinct field values.
func allMessages() []namedMessage {
	return []namedMessage{
		{"keep-alive", peer.Message{KeepAlive: true}},
		{"choke", peer.Message{ID: peer.Choke}},
		{"unchoke", peer.Message{ID: peer.Unchoke}},
		{"interested", peer.Message{ID: peer.Interested}},
		{"not interested", peer.Message{ID: peer.NotInterested}},
		{"have", peer.Message{ID: peer.Have, Index: 0xdeadbeef}},
		{"bitfield", peer.Message{ID: peer.Bitfield, Bitfield: []byte{0xff, 0x80}}},
		{"empty bitfield", peer.Message{ID: peer.Bitfield}},
		{"request", peer.Message{ID: peer.Request, Index: 3, Begin: 2 * peer.BlockSize, Length: peer.BlockSize}},
		{"cancel", peer.Message{ID: peer.Cancel, Index: 4, Begin: 5, Length: 6}},
		{"piece", peer.Message{ID: peer.Piece, Index: 7, Begin: 8, Block: bytes.Repeat([]byte{0x5a}, peer.BlockSize)}},
		{"empty piece", peer.Message{ID: peer.Piece, Index: 9, Begin: 10}},
		{"port", peer.Message{ID: peer.Port, Port: 6881}},
		{"extended", peer.Message{ID: peer.Extended, ExtendedID: 3, Payload: []byte("d1:md11:ut_metadatai3eee")}},
		{"empty extended", peer.Message{ID: peer.Extended, ExtendedID: 1}},
		{"suggest", peer.Message{ID: peer.Suggest, Index: 11}},
		{"have all", peer.Message{ID: peer.HaveAll}},
		{"have none", peer.Message{ID: peer.HaveNone}},
		{"reject", peer.Message{ID: peer.Reject, Index: 12, Begin: peer.BlockSize, Length: peer.BlockSize}},
		{"allowed fast", peer.Message{ID: peer.AllowedFast, Index: 13}},
	}
}

func TestMessagesRoundTrip(t *testing.T) {
	for _, tt := range allMessages() {
		m := tt.m
		t.Run(tt.name, func(t *testing.T) {
			b := peer.AppendMessage(nil, m)
			var got peer.Message
			if err := peer.NewDecoder(bytes.NewReader(b)).Decode(&got); err != nil || !sameMessage(got, m) {
				t.Errorf("Decode(AppendMessage(%v)) = %v, %v, want %v, nil", m, got, err, m)
			}
		})
	}
}

func TestDecoderReadsStreamOfMessages(t *testing.T) {
	var stream []byte
	var want []peer.Message
	for _, tt := range allMessages() {
		stream = peer.AppendMessage(stream, tt.m)
		want = append(want, tt.m)
	}
	d := peer.NewDecoder(bytes.NewReader(stream))
	for i, w := range want {
		var got peer.Message
		if err := d.Decode(&got); err != nil || !sameMessage(got, w) {
			t.Fatalf("message %d: Decode = %v, %v, want %v, nil", i, got, err, w)
		}
	}
	var m peer.Message
	if err := d.Decode(&m); err != io.EOF {
		t.Errorf("Decode at end of stream = %v, want %v", err, io.EOF)
	}
}

func TestAppendMessageWireFormat(t *testing.T) {
	tests := []struct {
		name string
		m    peer.Message
		want string
	}{
		{"keep-alive", peer.Message{KeepAlive: true}, "\x00\x00\x00\x00"},
		{"choke", peer.Message{ID: peer.Choke}, "\x00\x00\x00\x01\x00"},
		{"interested", peer.Message{ID: peer.Interested}, "\x00\x00\x00\x01\x02"},
		{"have", peer.Message{ID: peer.Have, Index: 0x01020304}, "\x00\x00\x00\x05\x04\x01\x02\x03\x04"},
		{"bitfield", peer.Message{ID: peer.Bitfield, Bitfield: []byte{0xf0}}, "\x00\x00\x00\x02\x05\xf0"},
		{"request", peer.Message{ID: peer.Request, Index: 1, Begin: 2, Length: 0x4000},
			"\x00\x00\x00\x0d\x06\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x40\x00"},
		{"piece", peer.Message{ID: peer.Piece, Index: 1, Begin: 2, Block: []byte("ab")},
			"\x00\x00\x00\x0b\x07\x00\x00\x00\x01\x00\x00\x00\x02ab"},
		{"cancel", peer.Message{ID: peer.Cancel, Index: 1, Begin: 2, Length: 3},
			"\x00\x00\x00\x0d\x08\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"},
		{"port", peer.Message{ID: peer.Port, Port: 0x1ae1}, "\x00\x00\x00\x03\x09\x1a\xe1"},
		{"extended", peer.Message{ID: peer.Extended, ExtendedID: 0, Payload: []byte("de")}, "\x00\x00\x00\x04\x14\x00de"},
		{"unknown id", peer.Message{ID: 18, Payload: []byte("x")}, "\x00\x00\x00\x02\x12x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := peer.AppendMessage(nil, tt.m); string(got) != tt.want {
				t.Errorf("AppendMessage(%v) = %q, want %q", tt.m, got, tt.want)
			}
		})
	}
}

// frame returns a message with the given length prefix and id, followed by payload.
func frame(length uint32, id peer.ID, payload ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, length)
	return append(append(b, byte(id)), payload...)
}

func TestDecoderRejectsBadLengths(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want peer.LengthError
	}{
		{"oversized piece 2^31", frame(1<<31, peer.Piece), peer.LengthError{ID: peer.Piece, Length: 1 << 31, Min: 9, Max: peer.MaxPieceMessageLen}},
		{"oversized unknown id 2^31", frame(1<<31, 200), peer.LengthError{ID: 200, Length: 1 << 31, Min: 1, Max: peer.MaxPieceMessageLen}},
		{"max uint32", frame(1<<32-1, peer.Extended), peer.LengthError{ID: peer.Extended, Length: 1<<32 - 1, Min: 2, Max: 2 + peer.DefaultMaxExtendedLen}},
		{"piece one byte over a block", frame(peer.MaxPieceMessageLen+1, peer.Piece), peer.LengthError{ID: peer.Piece, Length: peer.MaxPieceMessageLen + 1, Min: 9, Max: peer.MaxPieceMessageLen}},
		{"piece without index", frame(5, peer.Piece, 0, 0, 0, 0), peer.LengthError{ID: peer.Piece, Length: 5, Min: 9, Max: peer.MaxPieceMessageLen}},
		{"bitfield over default", frame(2+peer.DefaultMaxBitfieldLen, peer.Bitfield), peer.LengthError{ID: peer.Bitfield, Length: 2 + peer.DefaultMaxBitfieldLen, Min: 1, Max: 1 + peer.DefaultMaxBitfieldLen}},
		{"choke with payload", frame(2, peer.Choke, 0), peer.LengthError{ID: peer.Choke, Length: 2, Min: 1, Max: 1}},
		{"have of 4 bytes", frame(4, peer.Have, 0, 0, 0), peer.LengthError{ID: peer.Have, Length: 4, Min: 5, Max: 5}},
		{"have of 6 bytes", frame(6, peer.Have, 0, 0, 0, 0, 0), peer.LengthError{ID: peer.Have, Length: 6, Min: 5, Max: 5}},
		{"request of 12 bytes", frame(12, peer.Request), peer.LengthError{ID: peer.Request, Length: 12, Min: 13, Max: 13}},
		{"request of 17 bytes", frame(17, peer.Request), peer.LengthError{ID: peer.Request, Length: 17, Min: 13, Max: 13}},
		{"cancel of 14 bytes", frame(14, peer.Cancel), peer.LengthError{ID: peer.Cancel, Length: 14, Min: 13, Max: 13}},
		{"port of 2 bytes", frame(2, peer.Port, 0), peer.LengthError{ID: peer.Port, Length: 2, Min: 3, Max: 3}},
		{"extended without ext id", frame(1, peer.Extended), peer.LengthError{ID: peer.Extended, Length: 1, Min: 2, Max: 2 + peer.DefaultMaxExtendedLen}},
		{"have all with payload", frame(2, peer.HaveAll, 0), peer.LengthError{ID: peer.HaveAll, Length: 2, Min: 1, Max: 1}},
		{"have none of 2^31", frame(1<<31, peer.HaveNone), peer.LengthError{ID: peer.HaveNone, Length: 1 << 31, Min: 1, Max: 1}},
		{"suggest of 4 bytes", frame(4, peer.Suggest, 0, 0, 0), peer.LengthError{ID: peer.Suggest, Length: 4, Min: 5, Max: 5}},
		{"allowed fast of 6 bytes", frame(6, peer.AllowedFast), peer.LengthError{ID: peer.AllowedFast, Length: 6, Min: 5, Max: 5}},
		{"reject of 12 bytes", frame(12, peer.Reject), peer.LengthError{ID: peer.Reject, Length: 12, Min: 13, Max: 13}},
		{"reject of 2^32-1", frame(1<<32-1, peer.Reject), peer.LengthError{ID: peer.Reject, Length: 1<<32 - 1, Min: 13, Max: 13}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m peer.Message
			err := peer.NewDecoder(bytes.NewReader(tt.in)).Decode(&m)
			var le *peer.LengthError
			if !errors.As(err, &le) || *le != tt.want {
				t.Errorf("Decode(%q) = %v, want %v", tt.in, err, &tt.want)
			}
		})
	}
}

func TestDecoderRejectsOversizedMessageBeforeAllocating(t *testing.T) {
	in := frame(1<<31, peer.Bitfield)
	r := bytes.NewReader(in)
	d := peer.NewDecoder(r)
	var m peer.Message
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(in)
		if err := d.Decode(&m); err == nil {
			t.Fatal("Decode accepted a 2 GiB bitfield")
		}
	})
	if allocs > 1 { // the *LengthError itself
		t.Errorf("Decode of an oversized message made %v allocations, want at most 1", allocs)
	}
}

func TestDecoderErrorNamesLengthAndID(t *testing.T) {
	var m peer.Message
	err := peer.NewDecoder(bytes.NewReader(frame(1<<31, peer.Piece))).Decode(&m)
	const want = "peer: piece message of length 2147483648, want 9..16393"
	if err == nil || err.Error() != want {
		t.Errorf("Decode error = %v, want %q", err, want)
	}
}

func TestDecoderMaxBitfieldLen(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		bitLen int
		ok     bool
	}{
		{"zero means default: default accepted", 0, peer.DefaultMaxBitfieldLen, true},
		{"zero means default: one over rejected", 0, peer.DefaultMaxBitfieldLen + 1, false},
		{"exact size accepted", 13, 13, true},
		{"one over rejected", 13, 14, false},
		{"larger than default when set", 1 << 20, 1 << 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := peer.AppendMessage(nil, peer.Message{ID: peer.Bitfield, Bitfield: make([]byte, tt.bitLen)})
			d := peer.NewDecoder(bytes.NewReader(in))
			d.MaxBitfieldLen = tt.max
			var m peer.Message
			err := d.Decode(&m)
			if (err == nil) != tt.ok {
				t.Errorf("Decode(bitfield of %d bytes) with MaxBitfieldLen %d = %v, want ok=%v", tt.bitLen, tt.max, err, tt.ok)
			}
		})
	}
}

func TestDecoderMaxExtendedLen(t *testing.T) {
	in := peer.AppendMessage(nil, peer.Message{ID: peer.Extended, ExtendedID: 1, Payload: make([]byte, 100)})
	for _, max := range []int{99, 100} {
		d := peer.NewDecoder(bytes.NewReader(in))
		d.MaxExtendedLen = max
		var m peer.Message
		if err := d.Decode(&m); (err == nil) != (max >= 100) {
			t.Errorf("Decode(extended payload of 100 bytes) with MaxExtendedLen %d = %v", max, err)
		}
	}
}

// TestDefaultMaxExtendedLenFitsEveryExtension: the 64 KiB default (issue 13)
// takes the largest message of each extension we speak, and one byte more
// is a LengthError.
func TestDefaultMaxExtendedLenFitsEveryExtension(t *testing.T) {
	piece, err := peer.MetadataMessage{Type: peer.MetadataData, Piece: peer.MaxMetadataSize/peer.MetadataPieceSize - 1,
		TotalSize: peer.MaxMetadataSize, Data: make([]byte, peer.MetadataPieceSize)}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		n    int
	}{
		{"largest ut_metadata piece", len(piece)},
		{"largest extension handshake", peer.MaxExtensionHandshakeLen},
		{"largest ut_pex message", peer.MaxPexMessageLen},
	} {
		if tt.n > peer.DefaultMaxExtendedLen {
			t.Errorf("%s: %d bytes, over DefaultMaxExtendedLen %d", tt.name, tt.n, peer.DefaultMaxExtendedLen)
		}
	}
	for _, n := range []int{peer.DefaultMaxExtendedLen, peer.DefaultMaxExtendedLen + 1} {
		in := peer.AppendMessage(nil, peer.Message{ID: peer.Extended, ExtendedID: 9, Payload: make([]byte, n)})
		var m peer.Message
		err := peer.NewDecoder(bytes.NewReader(in)).Decode(&m)
		var le *peer.LengthError
		if ok := n <= peer.DefaultMaxExtendedLen; (err == nil) != ok || !ok && !errors.As(err, &le) {
			t.Errorf("Decode(extended payload of %d bytes) = %v", n, err)
		}
	}
}

func TestDecoderReportsTruncatedStream(t *testing.T) {
	full := peer.AppendMessage(nil, peer.Message{ID: peer.Piece, Index: 1, Block: make([]byte, 100)})
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"inside length prefix", full[:2], io.ErrUnexpectedEOF},
		{"before id", full[:4], io.ErrUnexpectedEOF},
		{"inside piece header", full[:7], io.ErrUnexpectedEOF},
		{"inside block", full[:len(full)-1], io.ErrUnexpectedEOF},
		{"inside have", peer.AppendMessage(nil, peer.Message{ID: peer.Have})[:6], io.ErrUnexpectedEOF},
		{"inside bitfield", frame(3, peer.Bitfield, 1), io.ErrUnexpectedEOF},
		{"before ext id", frame(3, peer.Extended), io.ErrUnexpectedEOF},
		{"inside unknown", frame(3, 99, 1), io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m peer.Message
			if err := peer.NewDecoder(bytes.NewReader(tt.in)).Decode(&m); err != tt.want {
				t.Errorf("Decode(%q) = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

func TestDecoderSkipsUnknownIDs(t *testing.T) {
	var in []byte
	in = append(in, frame(1, 18)...)                                                           // an id nobody assigned
	in = append(in, frame(13, 0x30, make([]byte, 12)...)...)                                   // another
	in = append(in, frame(peer.MaxPieceMessageLen, 200, make([]byte, peer.BlockSize+8)...)...) // largest allowed
	in = peer.AppendMessage(in, peer.Message{ID: peer.Unchoke})
	d := peer.NewDecoder(bytes.NewReader(in))
	var m peer.Message
	if err := d.Decode(&m); err != nil || !sameMessage(m, peer.Message{ID: peer.Unchoke}) {
		t.Errorf("Decode = %v, %v, want unchoke", m, err)
	}
	if got := d.Skipped(); got != 3 {
		t.Errorf("Skipped() = %d, want 3", got)
	}
}

func TestDecoderNewBlockHandsOverBlocks(t *testing.T) {
	var in []byte
	in = peer.AppendMessage(in, peer.Message{ID: peer.Piece, Block: []byte("first")})
	in = peer.AppendMessage(in, peer.Message{ID: peer.Piece, Block: []byte("second")})
	d := peer.NewDecoder(bytes.NewReader(in))
	var asked []int
	d.NewBlock = func(n int) []byte {
		asked = append(asked, n)
		return make([]byte, n, peer.BlockSize)
	}
	var m1, m2 peer.Message
	if err := d.Decode(&m1); err != nil {
		t.Fatal(err)
	}
	if err := d.Decode(&m2); err != nil {
		t.Fatal(err)
	}
	if string(m1.Block) != "first" || string(m2.Block) != "second" {
		t.Errorf("blocks = %q, %q, want %q, %q (the first must survive the second Decode)", m1.Block, m2.Block, "first", "second")
	}
	if len(asked) != 2 || asked[0] != 5 || asked[1] != 6 {
		t.Errorf("NewBlock called with %v, want [5 6]", asked)
	}
}

func TestDecoderRejectsShortNewBlock(t *testing.T) {
	in := peer.AppendMessage(nil, peer.Message{ID: peer.Piece, Block: []byte("data")})
	d := peer.NewDecoder(bytes.NewReader(in))
	d.NewBlock = func(n int) []byte { return make([]byte, n-1) }
	var m peer.Message
	if err := d.Decode(&m); err == nil {
		t.Errorf("Decode with a NewBlock that returns too little = %v, want an error", m)
	}
}

func TestDecoderReusesBufferWithoutNewBlock(t *testing.T) {
	block := bytes.Repeat([]byte{1}, peer.BlockSize)
	var in []byte
	for range 10 {
		in = peer.AppendMessage(in, peer.Message{ID: peer.Piece, Block: block})
	}
	r := bytes.NewReader(in)
	d := peer.NewDecoder(r)
	var m peer.Message
	d.Decode(&m) // grows the buffer
	allocs := testing.AllocsPerRun(5, func() {
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Decode of a piece message made %v allocations, want 0", allocs)
	}
}

// chunkReader returns at most n bytes a call, and notes the largest buffer
// it was handed.
type chunkReader struct {
	r       io.Reader
	n       int
	largest int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	c.largest = max(c.largest, len(p))
	return c.r.Read(p[:min(len(p), c.n)])
}

// A Decoder grows its buffer once a peer has sent a few MiB of blocks (fewer
// read system calls), without losing or reordering bytes it had buffered.
func TestDecoderGrowsItsBufferForAFastPeer(t *testing.T) {
	const blocks = 300 // 4.7 MiB: past the point where the buffer grows
	var in []byte
	for i := range blocks {
		in = peer.AppendMessage(in, peer.Message{ID: peer.Piece, Index: uint32(i), Block: bytes.Repeat([]byte{byte(i)}, peer.BlockSize)})
		in = peer.AppendMessage(in, peer.Message{ID: peer.Have, Index: uint32(i)})
	}
	src := &chunkReader{r: bytes.NewReader(in), n: 7001} // leaves partial messages buffered
	d := peer.NewDecoder(src)
	d.NewBlock = func(n int) []byte { return make([]byte, n) }
	for i := range blocks {
		var m, h peer.Message
		if err := d.Decode(&m); err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if err := d.Decode(&h); err != nil {
			t.Fatalf("have after block %d: %v", i, err)
		}
		if m.ID != peer.Piece || m.Index != uint32(i) || !bytes.Equal(m.Block, bytes.Repeat([]byte{byte(i)}, peer.BlockSize)) || h.ID != peer.Have || h.Index != uint32(i) {
			t.Fatalf("message %d = piece %d (%d bytes), %v %d; want piece %d of bytes %d, then have %d", i, m.Index, len(m.Block), h.ID, h.Index, i, i, i)
		}
	}
	var m peer.Message
	if err := d.Decode(&m); err != io.EOF {
		t.Errorf("Decode at the end = %v, want io.EOF", err)
	}
	if src.largest < 256<<10 {
		t.Errorf("largest read asked of the connection: %d bytes; want the grown 256 KiB buffer", src.largest)
	}
}
