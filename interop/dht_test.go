package interop_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/dht"
)

// startDHT runs a swarm DHT node on 127.0.0.1 until the test ends.
func startDHT(t *testing.T, bootstrap ...string) *dht.Node {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	n, err := dht.New(dht.Config{Addr: "127.0.0.1:0", Bootstrap: bootstrap, Logger: &log, QueryTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("dht node did not stop within 10 s")
		}
	})
	return n
}

var ltListening = regexp.MustCompile(`listening (\d+)`)

// TestDHTSwarmFindsLibtorrentAnnounce: libtorrent announces an info hash
// into a DHT it joined through swarm's node; a second swarm node finds
// libtorrent's peer address with get_peers.
func TestDHTSwarmFindsLibtorrentAnnounce(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	a := startDHT(t)
	ih := dht.RandomID()
	port := freePort(t)
	lt := start(t, "", "lt_dht announce", py, "testdata/lt_dht.py", "announce", fmt.Sprint(port), a.Addr().String(), hex.EncodeToString(ih[:]), t.TempDir())
	lt.waitFor(t, ltListening, 20*time.Second)
	b := startDHT(t, a.Addr().String())

	want := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var peers []netip.AddrPort
	for ctx.Err() == nil {
		peers, _ = b.GetPeers(ctx, ih)
		if slices.Contains(peers, want) {
			// libtorrent announced to swarm's nodes (it is the only other
			// node), so their stores took its announce_peer and token.
			if a.Stats().Peers+b.Stats().Peers == 0 {
				t.Errorf("found %v but neither swarm node stores a peer", want)
			}
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Fatalf("swarm's get_peers never found libtorrent's %v; last answer %v; stats A %+v B %+v", want, peers, a.Stats(), b.Stats())
}

// TestDHTLibtorrentFindsSwarmAnnounce: a swarm node announces an info hash
// with announce_peer; libtorrent, in the same DHT, finds it with
// dht_get_peers.
func TestDHTLibtorrentFindsSwarmAnnounce(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	a := startDHT(t)
	b := startDHT(t, a.Addr().String())
	ih := dht.RandomID()
	const peerPort = 7777
	want := fmt.Sprintf("127.0.0.1:%d", peerPort)
	lt := start(t, "", "lt_dht get", py, "testdata/lt_dht.py", "get", fmt.Sprint(freePort(t)), a.Addr().String(), hex.EncodeToString(ih[:]), want, "60")
	lt.waitFor(t, ltListening, 20*time.Second)

	// Announce until libtorrent has found us (its lookups repeat every 2 s),
	// so it does not matter which of the two joined first.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var err error
	for ctx.Err() == nil && !strings.Contains(lt.output(), "found "+want) {
		_, err = b.Announce(ctx, ih, peerPort)
		select {
		case <-lt.done:
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
		if isDone(lt) {
			break
		}
	}
	if !strings.Contains(lt.output(), "found "+want) {
		t.Fatalf("libtorrent never found %s (last Announce error %v); stats A %+v B %+v", want, err, a.Stats(), b.Stats())
	}
}

func isDone(p *proc) bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
