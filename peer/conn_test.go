package peer_test

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"swarm/peer"
)

// connPair returns two Conns joined by a net.Pipe, closed when the test ends.
func connPair(t testing.TB, cfg peer.Config) (*peer.Conn, *peer.Conn) {
	t.Helper()
	a, b := net.Pipe()
	ca, err := peer.NewConn(a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := peer.NewConn(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ca.Close(); cb.Close() })
	return ca, cb
}

func TestConnCarriesEveryMessage(t *testing.T) {
	a, b := connPair(t, peer.Config{})
	msgs := allMessages()
	errc := make(chan error, 1)
	go func() {
		for _, tt := range msgs {
			if err := a.WriteMessage(tt.m); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	var wantBytes int64
	for _, tt := range msgs {
		want := tt.m
		var got peer.Message
		if err := b.ReadMessage(&got); err != nil || !sameMessage(got, want) {
			t.Fatalf("ReadMessage = %v, %v, want %v", got, err, want)
		}
		wantBytes += int64(len(peer.AppendMessage(nil, want)))
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := a.BytesWritten(); got != wantBytes {
		t.Errorf("BytesWritten() = %d, want %d", got, wantBytes)
	}
	if got := b.BytesRead(); got != wantBytes {
		t.Errorf("BytesRead() = %d, want %d", got, wantBytes)
	}
}

func TestConnWriteMessagesBatch(t *testing.T) {
	a, b := connPair(t, peer.Config{})
	block := []byte("block data")
	batch := []peer.Message{
		{ID: peer.Unchoke},
		{ID: peer.Piece, Index: 1, Block: block},
		{ID: peer.Have, Index: 2},
	}
	errc := make(chan error, 1)
	go func() { errc <- a.WriteMessages(batch) }()
	for _, want := range batch {
		var got peer.Message
		if err := b.ReadMessage(&got); err != nil || !sameMessage(got, want) {
			t.Fatalf("ReadMessage = %v, %v, want %v", got, err, want)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestConnReadTimesOutWhenIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		c, err := peer.NewConn(b, peer.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go func() {
			time.Sleep(peer.KeepAliveInterval)
			a.Write(peer.AppendMessage(nil, peer.Message{KeepAlive: true}))
		}()
		start := time.Now()
		var m peer.Message
		if err := c.ReadMessage(&m); err != nil || !m.KeepAlive {
			t.Fatalf("ReadMessage = %v, %v, want keep-alive", m, err)
		}
		// The keep-alive arrived in time; now nothing more comes.
		err = c.ReadMessage(&m)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("ReadMessage on a silent peer = %v, want %v", err, os.ErrDeadlineExceeded)
		}
		if got, want := time.Since(start), peer.KeepAliveInterval+peer.DefaultIdleTimeout; got != want {
			t.Errorf("gave up after %v, want %v", got, want)
		}
	})
}

func TestConnWriteTimesOutWhenPeerDoesNotRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		c, err := peer.NewConn(b, peer.Config{WriteTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.WriteMessage(peer.Message{ID: peer.Interested})
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("WriteMessage to a peer that does not read = %v, want %v", err, os.ErrDeadlineExceeded)
		}
	})
}

func TestConnCloseUnblocksRead(t *testing.T) {
	_, b := connPair(t, peer.Config{})
	errc := make(chan error, 1)
	go func() {
		var m peer.Message
		errc <- b.ReadMessage(&m)
	}()
	b.Close()
	if err := <-errc; !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("ReadMessage after Close = %v, want a closed-connection error", err)
	}
}

func TestConnSetNumPiecesLimitsBitfield(t *testing.T) {
	a, b := connPair(t, peer.Config{})
	b.SetNumPieces(20) // 3 bytes
	go a.WriteMessage(peer.Message{ID: peer.Bitfield, Bitfield: make([]byte, 4)})
	var m peer.Message
	var le *peer.LengthError
	if err := b.ReadMessage(&m); !errors.As(err, &le) || le.Max != 4 {
		t.Errorf("ReadMessage(4-byte bitfield for 20 pieces) = %v, want a LengthError with Max 4", err)
	}
}

func TestNewConnRejectsNegativeTimeouts(t *testing.T) {
	for _, cfg := range []peer.Config{{IdleTimeout: -1}, {WriteTimeout: -time.Second}} {
		a, b := net.Pipe()
		if _, err := peer.NewConn(a, cfg); err == nil {
			t.Errorf("NewConn(%+v) succeeded, want an error", cfg)
		}
		a.Close()
		b.Close()
	}
}
