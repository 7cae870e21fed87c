package session_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"swarm/peer"
	"swarm/session"
)

// dialPeer connects to a session as a raw peer and completes the handshake.
func dialPeer(t *testing.T, addr netip.AddrPort, infoHash [20]byte) net.Conn {
	t.Helper()
	c := dial(t, addr)
	var id [20]byte
	copy(id[:], "-XX0000-hostilepeer!")
	if _, err := peer.Initiate(c, peer.NewHandshake(infoHash, id)); err != nil {
		t.Fatal(err)
	}
	return c
}

// frame builds a wire message: length prefix, id, payload.
func frame(id byte, payload ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)))
	return append(append(b, id), payload...)
}

func u32(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// waitClosed reads until the session closes the connection.
func waitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the session kept the connection of a peer that broke the protocol")
	}
}

// TestHostilePeersAreDisconnected: each protocol violation drops that
// connection, while a good download from the same seeder finishes.
func TestHostilePeersAreDisconnected(t *testing.T) { simulate(t, testHostilePeersAreDisconnected) }

func testHostilePeersAreDisconnected(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 2<<20+100, 64<<10) // 33 pieces
	n := m.Info.NumPieces()
	seedSess := runSeed(t, m, content, session.Config{})
	seedAddr := addrOf(t, seedSess)

	spare := make([]byte, (n+7)/8)
	spare[len(spare)-1] = 0x01 // bit 39 of a 33-piece torrent
	interested := frame(byte(peer.Interested))
	tests := []struct {
		name string
		msgs [][]byte
	}{
		{"length prefix of 2^31", [][]byte{append(u32(1<<31), byte(peer.Piece))}},
		{"bitfield of the wrong size", [][]byte{frame(byte(peer.Bitfield), make([]byte, 2)...)}},
		{"bitfield with spare bits set", [][]byte{frame(byte(peer.Bitfield), spare...)}},
		{"have out of range", [][]byte{frame(byte(peer.Have), u32(uint32(n))...)}},
		{"request out of range", [][]byte{interested, frame(byte(peer.Request), u32(uint32(n), 0, 16384)...)}},
		{"request of zero bytes", [][]byte{interested, frame(byte(peer.Request), u32(0, 0, 0)...)}},
		{"request over 16 KiB", [][]byte{interested, frame(byte(peer.Request), u32(0, 0, 32768)...)}},
		{"request past the piece end", [][]byte{interested, frame(byte(peer.Request), u32(0, 60000, 16384)...)}},
		{"piece message outside the torrent", [][]byte{frame(byte(peer.Piece), u32(uint32(n+5), 0)...)}},
	}
	// A good leecher downloads while the hostile peers come and go.
	leechSess := newSession(t, session.Config{})
	leechStore := &memStore{data: make([]byte, len(content))}
	leech, err := leechSess.NewTorrent(m, session.TorrentConfig{Store: leechStore, Peers: []netip.AddrPort{seedAddr}})
	if err != nil {
		t.Fatal(err)
	}
	leechSess.AddTorrent(leech)
	runSession(t, leechSess)

	for _, tt := range tests {
		// The cases share the sessions, and t.Run is not allowed in a
		// synctest bubble: the log names the case that fails.
		t.Logf("case %q", tt.name)
		c := dialPeer(t, seedAddr, m.InfoHash)
		for _, msg := range tt.msgs {
			if _, err := c.Write(msg); err != nil {
				break // already dropped
			}
		}
		waitClosed(t, c)
	}
	select {
	case <-leech.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("the good download stalled: %+v", leech.Stats())
	}
	if !bytes.Equal(leechStore.data, content) {
		t.Fatal("the good download differs from the content")
	}
}

// TestPeerSendingBadDataIsBanned: a seeder whose blocks fail the hash check
// is disconnected and not taken back.
func TestPeerSendingBadDataIsBanned(t *testing.T) { simulate(t, testPeerSendingBadDataIsBanned) }

func testPeerSendingBadDataIsBanned(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 256<<10, 64<<10) // 4 pieces
	ln := listen(t)
	leechSess := newSession(t, session.Config{})
	leech, err := leechSess.NewTorrent(m, session.TorrentConfig{
		Store: &memStore{data: make([]byte, len(content))},
		Peers: []netip.AddrPort{netip.MustParseAddrPort(ln.Addr().String())},
	})
	if err != nil {
		t.Fatal(err)
	}
	leechSess.AddTorrent(leech)
	runSession(t, leechSess)

	// The liar: claims every piece and answers each request with zeros.
	var id [20]byte
	copy(id[:], "-XX0000-liar-liar-xx")
	c, err := acceptWithin(ln, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Accept(c, func(ih [20]byte) (peer.Handshake, bool) { return peer.NewHandshake(ih, id), true }); err != nil {
		t.Fatal(err)
	}
	conn, _ := peer.NewConn(c, peer.Config{})
	conn.WriteMessage(peer.Message{ID: peer.Bitfield, Bitfield: []byte{0xf0}})
	conn.WriteMessage(peer.Message{ID: peer.Unchoke})
	c.SetDeadline(time.Now().Add(20 * time.Second))
	closed := false
	for range 1000 {
		var msg peer.Message
		if err := conn.ReadMessage(&msg); err != nil {
			closed = true
			break
		}
		if msg.ID == peer.Request && !msg.KeepAlive {
			if err := conn.WriteMessage(peer.Message{ID: peer.Piece, Index: msg.Index, Begin: msg.Begin, Block: make([]byte, msg.Length)}); err != nil {
				closed = true
				break
			}
		}
	}
	if !closed {
		t.Fatal("the leecher kept a peer whose data failed the hash check")
	}
	// The loop publishes its stats after closing the connection: give it
	// a moment.
	st := leech.Stats()
	for deadline := time.Now().Add(3 * time.Second); st.Wasted == 0 && time.Now().Before(deadline); st = leech.Stats() {
		time.Sleep(10 * time.Millisecond)
	}
	if st.Wasted == 0 || st.Have != 0 {
		t.Errorf("stats after bad data: %+v, want wasted bytes and no verified piece", st)
	}
	// A banned peer is not dialled again, on its port or any other of
	// its IP address (issue 13).
	ln2 := listen(t)
	leech.AddPeers(context.Background(), []netip.AddrPort{netip.MustParseAddrPort(ln2.Addr().String())})
	for _, l := range []net.Listener{ln, ln2} {
		if c2, err := acceptWithin(l, 3*time.Second); err == nil {
			c2.Close()
			t.Errorf("the leecher connected to %s, an address of a banned peer", l.Addr())
		}
	}
}
