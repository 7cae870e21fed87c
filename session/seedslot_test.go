package session_test

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"swarm/peer"
	"swarm/session"
)

// TestSeedTurnsSlotOverAfterAPieceAndFinishesIt: a seed's slot goes to a
// waiting peer once its holder has had a piece (not at the next rechoke),
// and the holder still gets the rest of the piece it is in the middle of;
// requests for pieces not begun are rejected (BEP 6). Before (issue 20),
// the seed kept its first takers until the rechoke, and cutting a slot
// short left a piece the peer could not pass on.
func TestSeedTurnsSlotOverAfterAPieceAndFinishesIt(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 4<<20, 64<<10) // 64 pieces of 4 blocks
	seedSess := runSeed(t, m, content, session.Config{})
	addr := addrOf(t, seedSess)
	allowed, _ := peer.AllowedFastSet(10, 64, netip.MustParseAddr("127.0.0.1"), m.InfoHash)
	var pcs []uint32 // three pieces outside the allowed-fast set
	for i := uint32(0); len(pcs) < 3; i++ {
		if !slices.Contains(allowed, i) {
			pcs = append(pcs, i)
		}
	}
	x, y, z := pcs[0], pcs[1], pcs[2]

	type raw struct {
		c net.Conn
		d *peer.Decoder
	}
	joined := 0
	join := func() raw {
		c := dial(t, addr)
		var id [20]byte
		copy(id[:], "-XX0000-seedslot"+string(rune('a'+joined)))
		joined++
		if _, err := peer.Initiate(c, peer.NewHandshake(m.InfoHash, id)); err != nil {
			t.Fatal(err)
		}
		d := peer.NewDecoder(c)
		readUntil(t, c, d, "have all", isID(peer.HaveAll))
		if _, err := c.Write(append(frame(byte(peer.HaveNone)), frame(byte(peer.Interested))...)); err != nil {
			t.Fatal(err)
		}
		return raw{c, d}
	}
	// The seed's 8 slots: a, then 7 peers that ask for nothing.
	a := join()
	readUntil(t, a.c, a.d, "unchoke", isID(peer.Unchoke))
	for range choke8 - 1 {
		r := join()
		readUntil(t, r.c, r.d, "unchoke", isID(peer.Unchoke))
	}
	waiting := join() // no slot left

	// a asks for one block at a time, as its answer comes: x's last three,
	// then y's four, then z's first. The seed counts a block as sent once
	// its write returned, so at a request it counts the blocks before the
	// last or all of them: its quota (a piece, four blocks) is reached at
	// y's second or third block, in the middle of y.
	choked := false
	ask := func(pc, block uint32) peer.Message {
		t.Helper()
		if _, err := a.c.Write(frame(byte(peer.Request), u32(pc, block*peer.BlockSize, peer.BlockSize)...)); err != nil {
			t.Fatal(err)
		}
		for {
			msg := readUntil(t, a.c, a.d, "choke or answer", func(m peer.Message) bool {
				return m.ID == peer.Choke || m.ID == peer.Piece || m.ID == peer.Reject
			})
			if msg.ID != peer.Choke {
				return msg
			}
			choked = true
		}
	}
	for _, r := range [][2]uint32{{x, 1}, {x, 2}, {x, 3}, {y, 0}, {y, 1}, {y, 2}, {y, 3}} {
		if got := ask(r[0], r[1]); got.ID != peer.Piece {
			t.Fatalf("request for block %d of piece %d answered by %v, want the block (the piece begun is finished)", r[1], r[0], got)
		}
	}
	if got := ask(z, 0); got.ID != peer.Reject || !choked {
		t.Fatalf("request for a new piece after the holder's quota answered by %v (choked %v), want a choke and a reject", got, choked)
	}
	readUntil(t, waiting.c, waiting.d, "unchoke of the waiting peer", isID(peer.Unchoke))
}

// choke8 is the seed's slot count (choke.DefaultSeedSlots).
const choke8 = 8
