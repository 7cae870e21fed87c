package session_test

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"swarm/dht"
	"swarm/metainfo"
	"swarm/session"
)

// startDHT runs a DHT node on 127.0.0.1 until the test ends.
func startDHT(t *testing.T, bootstrap ...string) *dht.Node {
	t.Helper()
	n, err := dht.New(dht.Config{Addr: "127.0.0.1:0", Bootstrap: bootstrap})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return n
}

// TestLeecherFindsSeedThroughDHT: no tracker and no peer given; the seed
// announces into the DHT and the leecher finds it there (BEP 5).
func TestLeecherFindsSeedThroughDHT(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 1<<20, 64<<10)
	seedNode := startDHT(t)
	leechNode := startDHT(t, seedNode.Addr().String())

	seedSess := newSession(t, session.Config{DHT: seedNode})
	seed, err := seedSess.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: bytes.Clone(content)}, Have: fullBitfield(16), Seed: true})
	if err != nil {
		t.Fatal(err)
	}
	seedSess.AddTorrent(seed)
	runSession(t, seedSess)

	leechSess := newSession(t, session.Config{DHT: leechNode})
	store := &memStore{data: make([]byte, len(content))}
	leech, err := leechSess.NewTorrent(m, session.TorrentConfig{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	leechSess.AddTorrent(leech)
	runSession(t, leechSess)

	select {
	case <-leech.Done():
	case <-time.After(90 * time.Second):
		t.Fatalf("not done after 90 s: %+v", leech.Stats())
	}
	if !bytes.Equal(store.data, content) {
		t.Fatal("downloaded content differs")
	}
}

// TestPrivateTorrentStaysOffTheDHT: a seed with a public and a private
// (BEP 27) torrent announces only the public one into the DHT.
func TestPrivateTorrentStaysOffTheDHT(t *testing.T) {
	checkGoroutines(t)
	pub, pubContent := makeTorrent(t, 256<<10, 64<<10)
	priv, privContent := makePrivateTorrent(t, 256<<10, 64<<10)
	if !priv.Info.Private || pub.InfoHash == priv.InfoHash {
		t.Fatal("test torrents are not one public and one private")
	}
	seedNode := startDHT(t)
	lookupNode := startDHT(t, seedNode.Addr().String())
	seedSess := newSession(t, session.Config{DHT: seedNode})
	for _, tc := range []struct {
		m       *metainfo.MetaInfo
		content []byte
	}{{pub, pubContent}, {priv, privContent}} {
		tor, err := seedSess.NewTorrent(tc.m, session.TorrentConfig{Store: &memStore{data: bytes.Clone(tc.content)}, Have: fullBitfield(4), Seed: true})
		if err != nil {
			t.Fatal(err)
		}
		seedSess.AddTorrent(tor)
	}
	runSession(t, seedSess)

	lookup := func(ih metainfo.Hash) []netip.AddrPort {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		peers, _ := lookupNode.GetPeers(ctx, dht.ID(ih))
		return peers
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(lookup(pub.InfoHash)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the public torrent never appeared in the DHT")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if peers := lookup(priv.InfoHash); len(peers) != 0 {
		t.Errorf("the DHT has peers of the private torrent: %v", peers)
	}
}
