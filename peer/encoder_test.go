package peer_test

import (
	"bytes"
	"io"
	"testing"

	"swarm/peer"
)

// writeRecorder records each Write call separately.
type writeRecorder struct{ writes [][]byte }

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

func (w *writeRecorder) all() []byte { return bytes.Join(w.writes, nil) }

func TestEncoderEncodeWritesAppendMessageBytes(t *testing.T) {
	for _, tt := range allMessages() {
		m := tt.m
		t.Run(tt.name, func(t *testing.T) {
			var w writeRecorder
			n, err := peer.NewEncoder(&w).Encode(m)
			want := peer.AppendMessage(nil, m)
			if err != nil || n != int64(len(want)) || !bytes.Equal(w.all(), want) {
				t.Errorf("Encode(%v) wrote %q, n=%d, err=%v, want %q", m, w.all(), n, err, want)
			}
		})
	}
}

func TestEncoderEncodeAllKeepsOrder(t *testing.T) {
	block := []byte("0123456789")
	ms := []peer.Message{
		{ID: peer.Unchoke},
		{ID: peer.Piece, Index: 1, Begin: 0, Block: block},
		{ID: peer.Have, Index: 5},
		{ID: peer.Have, Index: 6},
		{ID: peer.Piece, Index: 1, Begin: 10, Block: block},
		{ID: peer.Piece, Index: 1, Begin: 20},
		{KeepAlive: true},
	}
	var want []byte
	for _, m := range ms {
		want = peer.AppendMessage(want, m)
	}
	var w writeRecorder
	enc := peer.NewEncoder(&w)
	for round := range 3 { // buffers are reused between calls
		w.writes = nil
		n, err := enc.EncodeAll(ms)
		if err != nil || n != int64(len(want)) || !bytes.Equal(w.all(), want) {
			t.Errorf("round %d: EncodeAll wrote %q, n=%d, err=%v, want %q", round, w.all(), n, err, want)
		}
	}
}

func TestEncoderDoesNotCopyBlocksToOneBuffer(t *testing.T) {
	// On a plain io.Writer net.Buffers writes each segment in turn: the block must be its
	// own Write, which shows it was not copied into the header buffer.
	block := bytes.Repeat([]byte{7}, peer.BlockSize)
	var w writeRecorder
	if _, err := peer.NewEncoder(&w).Encode(peer.Message{ID: peer.Piece, Index: 2, Begin: 3, Block: block}); err != nil {
		t.Fatal(err)
	}
	if len(w.writes) != 2 || len(w.writes[0]) != 13 || len(w.writes[1]) != peer.BlockSize {
		lens := []int{}
		for _, b := range w.writes {
			lens = append(lens, len(b))
		}
		t.Errorf("Encode(piece) made writes of %v bytes, want [13 %d]", lens, peer.BlockSize)
	}
}

func TestEncoderEncodeAllocatesNothingInSteadyState(t *testing.T) {
	block := make([]byte, peer.BlockSize)
	enc := peer.NewEncoder(io.Discard)
	msgs := []peer.Message{{ID: peer.Have, Index: 1}, {ID: peer.Piece, Block: block}}
	enc.EncodeAll(msgs)
	allocs := testing.AllocsPerRun(100, func() {
		enc.Encode(peer.Message{ID: peer.Piece, Block: block})
		enc.Encode(peer.Message{ID: peer.Have, Index: 3})
		enc.EncodeAll(msgs)
	})
	if allocs != 0 {
		t.Errorf("Encode/EncodeAll made %v allocations per run, want 0", allocs)
	}
}
