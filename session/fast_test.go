package session_test

import (
	"bytes"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"swarm/peer"
	"swarm/session"
)

// readUntil decodes messages from a raw peer's connection until want
// accepts one, and returns it; it fails the test after 1000 messages or
// 10 s.
func readUntil(t *testing.T, c net.Conn, d *peer.Decoder, what string, want func(peer.Message) bool) peer.Message {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for range 1000 {
		var m peer.Message
		if err := d.Decode(&m); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if !m.KeepAlive && want(m) {
			m.Bitfield, m.Block = bytes.Clone(m.Bitfield), bytes.Clone(m.Block)
			return m
		}
	}
	t.Fatalf("no %s in 1000 messages", what)
	return peer.Message{}
}

func isID(id peer.ID) func(peer.Message) bool {
	return func(m peer.Message) bool { return m.ID == id }
}

// TestFastSeedServesChokedPeerItsAllowedSet: a seed tells a fast peer it
// has everything by have-all, gives a peer with no pieces its allowed-fast
// set (BEP 6's algorithm), serves a request in that set while choking it,
// and rejects one outside it instead of dropping it silently.
func TestFastSeedServesChokedPeerItsAllowedSet(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 1<<20, 64<<10) // 16 pieces
	seedSess := runSeed(t, m, content, session.Config{})
	c := dialPeer(t, addrOf(t, seedSess), m.InfoHash)
	d := peer.NewDecoder(c)
	first := readUntil(t, c, d, "have all or bitfield", func(m peer.Message) bool {
		return m.ID == peer.HaveAll || m.ID == peer.Bitfield || m.ID == peer.HaveNone
	})
	if first.ID != peer.HaveAll {
		t.Fatalf("a seed told a fast peer what it has by %v, want have all", first)
	}
	if _, err := c.Write(frame(byte(peer.HaveNone))); err != nil {
		t.Fatal(err)
	}
	want, _ := peer.AllowedFastSet(10, 16, netip.MustParseAddr("127.0.0.1"), m.InfoHash)
	var got []uint32
	for len(got) < len(want) {
		got = append(got, readUntil(t, c, d, "allowed fast", isID(peer.AllowedFast)).Index)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("allowed fast set %v, want %v", got, want)
	}
	var outside uint32
	for slices.Contains(want, outside) {
		outside++
	}
	// Never interested, so choked: outside the set rejected, inside served.
	if _, err := c.Write(frame(byte(peer.Request), u32(outside, 0, peer.BlockSize)...)); err != nil {
		t.Fatal(err)
	}
	r := readUntil(t, c, d, "reject", func(m peer.Message) bool { return m.ID == peer.Reject || m.ID == peer.Piece })
	if r.ID != peer.Reject || r.Index != outside || r.Begin != 0 || r.Length != peer.BlockSize {
		t.Fatalf("request for piece %d while choked answered by %v, want its reject", outside, r)
	}
	in := want[0]
	if _, err := c.Write(frame(byte(peer.Request), u32(in, peer.BlockSize, peer.BlockSize)...)); err != nil {
		t.Fatal(err)
	}
	p := readUntil(t, c, d, "piece", func(m peer.Message) bool { return m.ID == peer.Piece || m.ID == peer.Reject })
	off := int(in)*64<<10 + peer.BlockSize
	if p.ID != peer.Piece || p.Index != in || !bytes.Equal(p.Block, content[off:off+peer.BlockSize]) {
		t.Fatalf("request for allowed-fast piece %d while choked answered by %v, want its block", in, p)
	}
}

// TestFastLeecherRejectsRequestForPieceItLacks: a fast peer asking for a
// piece we do not have is told so by a reject and stays connected (a peer
// without the extension is dropped for it); a peer that did not set the
// fast bit and sends a fast message breaks the protocol.
func TestFastLeecherRejectsRequestForPieceItLacks(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 256<<10, 64<<10)
	s := newSession(t, session.Config{})
	tor, err := s.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: make([]byte, len(content))}})
	if err != nil {
		t.Fatal(err)
	}
	s.AddTorrent(tor)
	runSession(t, s)
	addr := addrOf(t, s)

	c := dialPeer(t, addr, m.InfoHash)
	d := peer.NewDecoder(c)
	readUntil(t, c, d, "have none", isID(peer.HaveNone))
	c.Write(frame(byte(peer.Interested)))
	c.Write(frame(byte(peer.Request), u32(1, 0, peer.BlockSize)...))
	if r := readUntil(t, c, d, "reject", isID(peer.Reject)); r.Index != 1 || r.Begin != 0 || r.Length != peer.BlockSize {
		t.Fatalf("reject %v, want one of piece 1 block 0", r)
	}

	t.Run("second have-all", func(t *testing.T) {
		c := dialPeer(t, addr, m.InfoHash)
		c.Write(frame(byte(peer.HaveAll)))
		c.Write(frame(byte(peer.HaveAll)))
		waitClosed(t, c)
	})
	t.Run("fast message without the bit", func(t *testing.T) {
		nc, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		h := peer.NewHandshake(m.InfoHash, [20]byte([]byte("-XX0000-notfastpeer!")))
		h.Reserved[7] &^= 0x04
		if _, err := peer.Initiate(nc, h); err != nil {
			t.Fatal(err)
		}
		nc.Write(frame(byte(peer.HaveAll)))
		waitClosed(t, nc)
	})
}

// TestFastRejectedBlocksGoElsewhere: a peer that says have-all and then
// rejects every request (BEP 6) does not hold the download up: each
// rejected block is asked of another peer at once, and the download
// completes long before the 60 s after which a silent peer's requests
// would be given up.
func TestFastRejectedBlocksGoElsewhere(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 1<<20, 64<<10)
	seedSess := runSeed(t, m, content, session.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	leechSess := newSession(t, session.Config{})
	store := &memStore{data: make([]byte, len(content))}
	leech, err := leechSess.NewTorrent(m, session.TorrentConfig{Store: store, Peers: []netip.AddrPort{netip.MustParseAddrPort(ln.Addr().String())}})
	if err != nil {
		t.Fatal(err)
	}
	leechSess.AddTorrent(leech)
	runSession(t, leechSess)

	ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := [20]byte([]byte("-XX0000-rejecter-xxx"))
	if _, err := peer.Accept(c, func(ih [20]byte) (peer.Handshake, bool) { return peer.NewHandshake(ih, id), true }); err != nil {
		t.Fatal(err)
	}
	c.Write(frame(byte(peer.HaveAll)))
	c.Write(frame(byte(peer.Unchoke)))
	d := peer.NewDecoder(c)
	// Reject requests while it is the only peer until a rejected block is
	// asked for again (it went back to the picker: a request still
	// outstanding is never repeated to the same peer), then let the seed
	// in and keep rejecting until the leecher hangs up on us (both seeds)
	// or the deadline passes.
	rejected, again := 0, 0
	seen := map[[3]uint32]bool{}
	rejectNext := func() bool {
		var msg peer.Message
		if err := d.Decode(&msg); err != nil {
			return false
		}
		if msg.ID == peer.Request && !msg.KeepAlive {
			rejected++
			b := [3]uint32{msg.Index, msg.Begin, msg.Length}
			if seen[b] {
				again++
			}
			seen[b] = true
			c.Write(frame(byte(peer.Reject), u32(msg.Index, msg.Begin, msg.Length)...))
		}
		return true
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := 0; i < 1000 && again == 0 && rejectNext(); i++ {
	}
	if again == 0 {
		t.Fatalf("the leecher sent %d requests to a have-all peer that unchoked it and rejected them, none of a rejected block", rejected)
	}
	leech.AddPeers(t.Context(), []netip.AddrPort{addrOf(t, seedSess)})
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for i := 0; i < 100000 && rejectNext(); i++ {
	}
	select {
	case <-leech.Done():
	case <-time.After(time.Second):
		t.Fatalf("download not complete with a rejecting peer: %+v", leech.Stats())
	}
	if !bytes.Equal(store.data, content) {
		t.Fatal("the download differs from the content")
	}
	st := leech.Stats()
	if st.RejectsIn != rejected || st.HaveAlls < 2 {
		t.Errorf("leech stats RejectsIn=%d HaveAlls=%d, want %d and 2 (rejecter and seed)", st.RejectsIn, st.HaveAlls, rejected)
	}
	t.Logf("%d requests rejected, %d of them repeats of a rejected block; download complete", rejected, again)
}
