package peer_test

import (
	"io"
	"net"
	"testing"

	"swarm/peer"
)

// loopReader returns its data over and over, as a socket full of messages would.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

func pieceMessage(index uint32) peer.Message {
	block := make([]byte, peer.BlockSize)
	for i := range block {
		block[i] = byte(i)
	}
	return peer.Message{ID: peer.Piece, Index: index, Block: block}
}

func BenchmarkDecodePiece(b *testing.B) {
	var stream []byte
	for i := range 64 {
		stream = peer.AppendMessage(stream, pieceMessage(uint32(i)))
	}
	d := peer.NewDecoder(&loopReader{data: stream})
	var m peer.Message
	b.SetBytes(int64(len(stream) / 64))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(&m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePiece(b *testing.B) {
	m := pieceMessage(1)
	enc := peer.NewEncoder(io.Discard)
	b.SetBytes(int64(len(peer.AppendMessage(nil, m))))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enc.Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(b *testing.B) (net.Conn, net.Conn) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Skip("no loopback TCP:", err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	a := <-accepted
	if a == nil {
		b.Fatal("accept failed")
	}
	return d, a
}

// benchmarkConnPieces sends piece messages over loopback TCP in batches of batch messages
// and measures the receiving side.
func benchmarkConnPieces(b *testing.B, batch int) {
	dc, ac := tcpPair(b)
	w, err := peer.NewConn(dc, peer.Config{})
	if err != nil {
		b.Fatal(err)
	}
	r, err := peer.NewConn(ac, peer.Config{})
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([]peer.Message, batch)
	for i := range msgs {
		msgs[i] = pieceMessage(uint32(i))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			var err error
			if batch == 1 {
				err = w.WriteMessage(msgs[0])
			} else {
				err = w.WriteMessages(msgs)
			}
			if err != nil {
				return
			}
		}
	}()
	b.SetBytes(int64(len(peer.AppendMessage(nil, msgs[0]))))
	b.ReportAllocs()
	var m peer.Message
	for b.Loop() {
		if err := r.ReadMessage(&m); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	r.Close()
	w.Close()
	<-done
}

func BenchmarkConnPieceLoopback(b *testing.B)        { benchmarkConnPieces(b, 1) }
func BenchmarkConnPieceBatch16Loopback(b *testing.B) { benchmarkConnPieces(b, 16) }
