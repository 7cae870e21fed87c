package session_test

import (
	"bytes"
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"swarm/metadata"
	"swarm/peer"
	"swarm/session"
)

// TestSeedServesMetadata: a client holding only the info hash gets the info
// dict from a swarm seed over ut_metadata (BEP 9). The torrent's info dict
// spans several 16 KiB metadata pieces.
func TestSeedServesMetadata(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 16<<20, 16<<10) // 1024 pieces: a 20 KiB info dict
	if len(m.InfoBytes) <= 16<<10 {
		t.Fatalf("info dict of %d bytes fits one metadata piece", len(m.InfoBytes))
	}
	s := newSession(t, session.Config{})
	seed, err := s.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: content}, Have: fullBitfield(len(m.Info.Pieces)), Seed: true})
	if err != nil {
		t.Fatal(err)
	}
	s.AddTorrent(seed)
	runSession(t, s)

	peers := make(chan netip.AddrPort, 1)
	peers <- addrOf(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := metadata.Fetch(ctx, metadata.Config{InfoHash: m.InfoHash, PeerID: [20]byte{1, 2, 3}, Peers: peers})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(info, m.InfoBytes) {
		t.Fatal("fetched info dict differs from the seed's")
	}
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
