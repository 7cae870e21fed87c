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

// TestSeedServesMetadata: a magnet link's torrent gets the info dict from
// a swarm seed over ut_metadata (BEP 9), the dict spanning several 16 KiB
// metadata pieces, and is then named and sized by it.
func TestSeedServesMetadata(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 16<<20, 16<<10) // 1024 pieces: a 20 KiB info dict
	if len(m.InfoBytes) <= 16<<10 {
		t.Fatalf("info dict of %d bytes fits one metadata piece", len(m.InfoBytes))
	}
	seed := runSeed(t, m, content, session.Config{})
	leech := newSession(t, session.Config{})
	runSession(t, leech)
	tor, store := addMagnet(t, leech, magnetLink(m, "&x.pe="+addrOf(t, seed).String()), session.TorrentConfig{})
	select {
	case <-tor.Opened():
	case <-time.After(30 * time.Second):
		t.Fatalf("no metadata within 30 s: %+v", tor.Stats())
	}
	if got := tor.Info(); got == nil || !bytes.Equal(got.InfoBytes, m.InfoBytes) {
		t.Fatal("fetched info dict differs from the seed's")
	}
	if st := tor.Stats(); st.Name != m.Info.Name || st.Length != m.Info.Length || st.Pieces != 1024 || store() == nil {
		t.Errorf("after the metadata: Stats name %q, length %d, %d pieces, store %v; want %q, %d, 1024, opened",
			st.Name, st.Length, st.Pieces, store(), m.Info.Name, m.Info.Length)
	}
}

// liar connects to addr from 127.0.0.2, offers ut_metadata for an info dict
// of size bytes and answers every request with junk; it returns the
// connection's end: closed when the session drops it, with the number of
// requests it got.
func liar(t *testing.T, addr netip.AddrPort, ih [20]byte, size int) <-chan int {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	nc, err := d.Dial("tcp", addr.String())
	if err != nil {
		t.Skipf("cannot connect from 127.0.0.2: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	done := make(chan int, 1)
	if _, err := peer.Initiate(nc, peer.NewHandshake(ih, [20]byte{'l', 'i', 'a', 'r'})); err != nil {
		nc.Close()
		done <- 0
		return done
	}
	c, err := peer.NewConn(nc, peer.Config{IdleTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const ourID = 3
	hs, _ := peer.ExtensionHandshake{M: map[string]uint8{peer.MetadataExtension: ourID}, MetadataSize: size}.Marshal()
	c.WriteMessage(peer.Message{ID: peer.Extended, ExtendedID: peer.ExtensionHandshakeID, Payload: hs})
	go func() {
		requests := 0
		defer func() { done <- requests }()
		for {
			var msg peer.Message
			if err := c.ReadMessage(&msg); err != nil {
				return
			}
			if msg.ID != peer.Extended || msg.ExtendedID != ourID {
				continue
			}
			req, err := peer.ParseMetadataMessage(msg.Payload)
			if err != nil || req.Type != peer.MetadataRequest {
				continue
			}
			requests++
			junk := bytes.Repeat([]byte{'x'}, peer.MetadataPieceLen(size, req.Piece))
			out, _ := peer.MetadataMessage{Type: peer.MetadataData, Piece: req.Piece, TotalSize: size, Data: junk}.Marshal()
			if c.WriteMessage(peer.Message{ID: peer.Extended, ExtendedID: peer.MetadataID, Payload: out}) != nil {
				return
			}
		}
	}()
	return done
}

// TestMagnetBansAPeerWhoseInfoDictFailsTheHash: a peer that connects to a
// magnet link's torrent and sends an info dict that does not hash to the
// info hash is dropped and its IP banned (a second connection from it is
// closed unasked); the torrent then gets the dict from an honest seed on
// another IP.
func TestMagnetBansAPeerWhoseInfoDictFailsTheHash(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 1<<20, 16<<10)
	leech := newSession(t, session.Config{})
	runSession(t, leech)
	tor, store := addMagnet(t, leech, magnetLink(m, ""), session.TorrentConfig{})
	const size = 40000 // three metadata pieces
	var requests int
	select {
	case requests = <-liar(t, addrOf(t, leech), m.InfoHash, size):
	case <-time.After(20 * time.Second):
		t.Fatal("the liar was not dropped within 20 s")
	}
	if requests != peer.MetadataPieces(size) {
		t.Errorf("the liar got %d requests, want %d: the whole dict, once", requests, peer.MetadataPieces(size))
	}
	select {
	case n := <-liar(t, addrOf(t, leech), m.InfoHash, size):
		if n != 0 {
			t.Errorf("a banned IP connecting again got %d requests, want 0", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a banned IP's second connection was not closed within 20 s")
	}
	if st := tor.Stats(); st.State != session.StateMetadata {
		t.Fatalf("State %q after the liar, want still metadata", st.State)
	}
	seed := runSeed(t, m, content, session.Config{})
	tor.AddPeers(t.Context(), []netip.AddrPort{addrOf(t, seed)})
	waitMagnetDone(t, tor, store, m, content)
}

// TestMetadataOnlyForPublicTorrents (issue 13): a public seed offers
// ut_metadata (BEP 9) in its extension handshake and answers requests,
// each piece metadataRounds (2) times at most per connection, then with
// rejects; a private seed (BEP 27) neither offers nor answers, as
// libtorrent does.
func TestMetadataOnlyForPublicTorrents(t *testing.T) {
	for _, private := range []bool{false, true} {
		t.Run(map[bool]string{false: "public", true: "private"}[private], func(t *testing.T) {
			checkGoroutines(t)
			m, content := makeTorrentFlag(t, 1<<20, 64<<10, private)
			r := dialRaw(t, addrOf(t, runSeed(t, m, content, session.Config{})), m.InfoHash, "-XX0000-metadata-000")
			const ourID = 7
			r.handshake(peer.ExtensionHandshake{M: map[string]uint8{peer.MetadataExtension: ourID}})
			b, ok := r.next(peer.ExtensionHandshakeID, time.Now().Add(5*time.Second))
			if !ok {
				t.Fatal("no extension handshake from the seed")
			}
			hs, err := peer.ParseExtensionHandshake(b)
			if err != nil {
				t.Fatal(err)
			}
			_, offered := hs.M[peer.MetadataExtension]
			if offered == private || (hs.MetadataSize != 0) == private {
				t.Fatalf("extension handshake m = %v, metadata_size = %d; want ut_metadata offered: %v", hs.M, hs.MetadataSize, !private)
			}
			req, err := peer.MetadataMessage{Type: peer.MetadataRequest, Piece: 0}.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			// Three requests for the one piece, then interested: the seed
			// answers in order, so its unchoke comes after any answer.
			for range 3 {
				r.extended(peer.MetadataID, req)
			}
			if err := r.conn.WriteMessage(peer.Message{ID: peer.Interested}); err != nil {
				t.Fatal(err)
			}
			var got []int
			for range 100 {
				var msg peer.Message
				if err := r.conn.ReadMessage(&msg); err != nil {
					t.Fatalf("no unchoke after the requests: %v", err)
				}
				if msg.ID == peer.Unchoke {
					break
				}
				if msg.ID == peer.Extended && msg.ExtendedID == ourID {
					mm, err := peer.ParseMetadataMessage(msg.Payload)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, mm.Type)
				}
			}
			want := []int{peer.MetadataData, peer.MetadataData, peer.MetadataReject}
			if private {
				want = nil
			}
			if !slices.Equal(got, want) {
				t.Errorf("answers to 3 requests for the one metadata piece: %v, want %v", got, want)
			}
		})
	}
}
