package session_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/rs/zerolog"

	"swarm/metainfo"
	"swarm/session"
)

// TestFetchMagnetWaitsForTheOpenedTorrent: FetchMagnet returns once the
// info dict has come from the seed and Open has opened the storage; an
// error of Open comes back as Open returned it; an ended context ends the
// wait with its error.
func TestFetchMagnetWaitsForTheOpenedTorrent(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 200000, 16384)
	seed := runSeed(t, m, content, session.Config{})
	cfg := session.Config{}
	networkConfig(t, &cfg)
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	cfg.Logger = &log
	n, err := session.StartNode(context.Background(), session.NodeConfig{Session: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	link := magnetLink(m, "")
	tc := session.TorrentConfig{Peers: []netip.AddrPort{addrOf(t, seed)}}

	tc.Open = func(context.Context, *metainfo.MetaInfo) (session.TorrentConfig, error) {
		return session.TorrentConfig{Store: &memStore{data: make([]byte, m.Info.Length)}}, nil
	}
	tor, err := n.FetchMagnet(context.Background(), link, tc, func(session.Stats, int) {})
	if err != nil {
		t.Fatal(err)
	}
	if info := tor.Info(); info == nil || info.InfoHash != m.InfoHash {
		t.Fatalf("after FetchMagnet: Info() = %v, want the seed's", info)
	}
	select {
	case <-tor.Opened():
	default:
		t.Error("FetchMagnet returned before the torrent was opened")
	}

	m2, content2 := makeTorrent(t, 100000, 16384)
	seed2 := runSeed(t, m2, content2, session.Config{})
	errRefused := errors.New("open refused")
	tc2 := session.TorrentConfig{Peers: []netip.AddrPort{addrOf(t, seed2)}}
	tc2.Open = func(context.Context, *metainfo.MetaInfo) (session.TorrentConfig, error) {
		return session.TorrentConfig{}, errRefused
	}
	if _, err := n.FetchMagnet(context.Background(), magnetLink(m2, ""), tc2, nil); err != errRefused {
		t.Fatalf("FetchMagnet with a failing Open = %v, want Open's error itself", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	other, _ := makeTorrent(t, 50000, 16384)
	if _, err := n.FetchMagnet(ctx, magnetLink(other, ""), tc2, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("FetchMagnet with an ended context = %v, want context.Canceled", err)
	}
}
