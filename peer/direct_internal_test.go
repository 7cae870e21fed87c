package peer

import (
	"bytes"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// A fast peer's stream of blocks, with other messages, short blocks and
// keep-alives mixed in and written in chunks of every size, decodes to the
// same messages when its blocks are read straight into their buffers; and
// most full blocks are.
func TestConnReadsAFastPeersBlocksStraightIntoTheirBuffers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback TCP:", err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	wc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	var rc net.Conn
	select {
	case rc = <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("no connection accepted in 10 s")
	}
	if rc == nil {
		t.Fatal("accept failed")
	}
	c, err := NewConn(rc, Config{NewBlock: func(n int) []byte { return make([]byte, n, BlockSize) }, IdleTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.dec.vec == nil {
		t.Skip("no vectored reads on this system")
	}

	rng := rand.New(rand.NewPCG(1, 2))
	bytesSrc := rand.NewChaCha8([32]byte{1})
	block := func(n int) []byte {
		b := make([]byte, n)
		bytesSrc.Read(b)
		return b
	}
	var want []Message
	for i := range fastAfter/BlockSize + 1 {
		want = append(want, Message{ID: Piece, Index: uint32(i), Block: block(BlockSize)})
	}
	for i := range 1500 {
		var m Message
		switch r := rng.IntN(100); {
		case r < 70:
			m = Message{ID: Piece, Index: uint32(i), Begin: uint32(i) * 7, Block: block(BlockSize)}
		case r < 80:
			m = Message{ID: Have, Index: uint32(i)}
		case r < 84:
			m = Message{ID: Piece, Index: uint32(i), Block: block(1 + rng.IntN(BlockSize-1))}
		case r < 88:
			m = Message{KeepAlive: true}
		case r < 92:
			m = Message{ID: Request, Index: uint32(i), Begin: 16384, Length: BlockSize}
		case r < 96:
			m = Message{ID: Extended, ExtendedID: 3, Payload: block(1 + rng.IntN(40000))}
		default:
			m = Message{ID: Bitfield, Bitfield: block(1 + rng.IntN(20000))}
		}
		want = append(want, m)
	}
	// Then blocks alone, as a seed sends them: most are read straight in.
	onlyBlocks := len(want)
	for i := range 500 {
		want = append(want, Message{ID: Piece, Index: uint32(i), Block: block(BlockSize)})
	}
	var stream []byte
	for _, m := range want[:onlyBlocks] {
		stream = AppendMessage(stream, m)
	}
	mixedLen := len(stream)
	for _, m := range want[onlyBlocks:] {
		stream = AppendMessage(stream, m)
	}
	go func(stream []byte) {
		wr := rand.New(rand.NewPCG(3, 4))
		for sent := 0; len(stream) > 0; {
			n := min(len(stream), 1+wr.IntN(100_000))
			switch {
			case sent >= mixedLen:
				n = min(len(stream), 16*(pieceHdrLen+BlockSize)) // batches, as a seed writes them
			case wr.IntN(4) == 0:
				n = min(len(stream), 1+wr.IntN(20))
			}
			sent += n
			if _, err := wc.Write(stream[:n]); err != nil {
				return
			}
			stream = stream[n:]
			if wr.IntN(8) == 0 {
				time.Sleep(time.Millisecond) // let the reader drain the socket: reads end anywhere
			}
		}
	}(stream)

	var direct int64
	for i, w := range want {
		if i == onlyBlocks {
			direct = c.dec.directBlocks
		}
		var m Message
		if err := c.ReadMessage(&m); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if m.KeepAlive != w.KeepAlive || m.ID != w.ID || m.Index != w.Index || m.Begin != w.Begin || m.Length != w.Length ||
			m.ExtendedID != w.ExtendedID || !bytes.Equal(m.Block, w.Block) || !bytes.Equal(m.Payload, w.Payload) || !bytes.Equal(m.Bitfield, w.Bitfield) {
			t.Fatalf("message %d = %v index %d begin %d (%d block bytes), want %v index %d begin %d (%d block bytes)",
				i, m.ID, m.Index, m.Begin, len(m.Block), w.ID, w.Index, w.Begin, len(w.Block))
		}
	}
	if c.BytesRead() != int64(len(stream)) {
		t.Errorf("BytesRead = %d, want %d", c.BytesRead(), len(stream))
	}
	mixed, alone := direct, c.dec.directBlocks-direct
	t.Logf("blocks read straight into their buffers: %d among other messages, %d of the %d sent alone", mixed, alone, len(want)-onlyBlocks)
	if c.dec.spec == nil || alone < int64(len(want)-onlyBlocks)/2 {
		t.Errorf("%d of the %d blocks sent alone read straight into their buffers, want at least half", alone, len(want)-onlyBlocks)
	}
}
