package session_test

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"swarm/metadata"
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
