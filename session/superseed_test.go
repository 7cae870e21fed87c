package session_test

import (
	"bytes"
	"net"
	"testing"

	"swarm/peer"
	"swarm/session"
)

// TestSuperSeedRevealsOnePieceToEachPeer (BEP 16, issue 20): a super-seed
// tells a fast peer have-none, never a bitfield or have-all, then one piece
// by a have, a different one to each of three peers; it refuses a piece it
// did not reveal, serves the one it did, and reveals a peer's next piece
// once another peer announces the last.
func TestSuperSeedRevealsOnePieceToEachPeer(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 1<<20, 64<<10) // 16 pieces
	s := newSession(t, session.Config{})
	seed, err := s.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: bytes.Clone(content)},
		Have: fullBitfield(m.Info.NumPieces()), Seed: true, SuperSeed: true})
	if err != nil {
		t.Fatal(err)
	}
	s.AddTorrent(seed)
	runSession(t, s)

	type leech struct {
		c     net.Conn
		d     *peer.Decoder
		piece uint32
	}
	var ls []leech
	offered := map[uint32]bool{}
	for i := range 3 {
		c := dial(t, addrOf(t, s))
		var id [20]byte
		copy(id[:], "-XX0000-superleech"+string(rune('a'+i)))
		if _, err := peer.Initiate(c, peer.NewHandshake(m.InfoHash, id)); err != nil {
			t.Fatal(err)
		}
		d := peer.NewDecoder(c)
		if _, err := c.Write(frame(byte(peer.HaveNone))); err != nil {
			t.Fatal(err)
		}
		first := readUntil(t, c, d, "what the seed has", func(m peer.Message) bool {
			return m.ID == peer.HaveAll || m.ID == peer.Bitfield || m.ID == peer.HaveNone || m.ID == peer.Have
		})
		if first.ID != peer.HaveNone {
			t.Fatalf("peer %d: super-seed's first word on its pieces is %v, want have none", i, first)
		}
		have := readUntil(t, c, d, "an offered piece", func(m peer.Message) bool {
			return m.ID == peer.Have || m.ID == peer.HaveAll || m.ID == peer.Bitfield
		})
		if have.ID != peer.Have {
			t.Fatalf("peer %d: super-seed revealed %v, want one have", i, have)
		}
		if offered[have.Index] {
			t.Fatalf("peer %d: piece %d offered twice while 13 were never offered", i, have.Index)
		}
		offered[have.Index] = true
		ls = append(ls, leech{c, d, have.Index})
	}

	a, b := ls[0], ls[1]
	// A piece not revealed to a: rejected (a is fast), though the seed
	// has it.
	if _, err := a.c.Write(frame(byte(peer.Request), u32(b.piece, 0, peer.BlockSize)...)); err != nil {
		t.Fatal(err)
	}
	r := readUntil(t, a.c, a.d, "reject", func(m peer.Message) bool { return m.ID == peer.Reject || m.ID == peer.Piece })
	if r.ID != peer.Reject || r.Index != b.piece {
		t.Fatalf("request of unrevealed piece %d answered by %v, want its reject", b.piece, r)
	}
	// Its own piece is served once it is unchoked.
	if _, err := a.c.Write(frame(byte(peer.Interested))); err != nil {
		t.Fatal(err)
	}
	readUntil(t, a.c, a.d, "unchoke", isID(peer.Unchoke))
	if _, err := a.c.Write(frame(byte(peer.Request), u32(a.piece, 0, peer.BlockSize)...)); err != nil {
		t.Fatal(err)
	}
	p := readUntil(t, a.c, a.d, "piece", func(m peer.Message) bool { return m.ID == peer.Piece || m.ID == peer.Reject })
	off := int(a.piece) * 64 << 10
	if p.ID != peer.Piece || p.Index != a.piece || !bytes.Equal(p.Block, content[off:off+peer.BlockSize]) {
		t.Fatalf("request of revealed piece %d answered by %v, want its block", a.piece, p)
	}
	// b announces a's piece: a passed it on, so a hears of another.
	if _, err := b.c.Write(frame(byte(peer.Have), u32(a.piece)...)); err != nil {
		t.Fatal(err)
	}
	next := readUntil(t, a.c, a.d, "a second offer", func(m peer.Message) bool {
		return m.ID == peer.Have || m.ID == peer.HaveAll || m.ID == peer.Bitfield
	})
	if next.ID != peer.Have || offered[next.Index] {
		t.Fatalf("after a's piece travelled the seed sent a %v, want a have of a piece not offered yet (offered: %v)", next, offered)
	}
}
