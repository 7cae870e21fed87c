package interop_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
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

// freeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func freeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// dhtTestTimeout bounds each trackerless test, from the first peer started
// to the last byte checked.
const dhtTestTimeout = 90 * time.Second

// TestMagnetSwarmGetsFromLibtorrentThroughDHT: libtorrent seeds a torrent
// and announces it into a DHT it joined through a swarm node; `swarm get`
// is given nothing but the info hash (a magnet link with no tracker and no
// peer) and that node as bootstrap. It finds libtorrent with get_peers,
// takes the info dict from it over ut_metadata and downloads the file.
//
// In "known before added", the DHT holds libtorrent's address before
// libtorrent has added the torrent (as after a restart: announces outlive
// the process for 30 minutes), so get's first dials are reset: the metadata
// comes from a later dial (the address book redials a failed address after
// a doubling rest) or from libtorrent connecting to get once it has the
// torrent and finds get in the DHT.
func TestMagnetSwarmGetsFromLibtorrentThroughDHT(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	for _, tt := range []struct {
		name     string
		addAfter time.Duration // how long libtorrent waits before adding the torrent
	}{
		{"announced by libtorrent", 0},
		{"known before added", 4 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			parent, torrent := content(t, "single") // no tracker in it
			ih := infoHash(t, torrent)
			link := "magnet:?xt=urn:btih:" + ih
			boot := startDHT(t)
			began := time.Now()
			ltPort := freePort(t)
			lt := start(t, "", "libtorrent seed", py, filepath.Join("testdata", "lt_dht_peer.py"), "seed",
				fmt.Sprint(ltPort), boot.Addr().String(), torrent, parent, fmt.Sprint(tt.addAfter.Seconds()))
			lt.waitFor(t, ltListening, 20*time.Second)
			if tt.addAfter > 0 {
				// The boot node announces libtorrent's port for it, into
				// libtorrent's DHT node (the only other one).
				raw, _ := hex.DecodeString(ih)
				ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
				for {
					_, err := boot.Announce(ctx, dht.ID(raw), ltPort)
					if err == nil {
						break
					}
					if ctx.Err() != nil {
						t.Fatalf("announce libtorrent's port into its DHT node: %v", err)
					}
					time.Sleep(200 * time.Millisecond)
				}
				cancel()
				if strings.Contains(lt.output(), "added") {
					t.Fatalf("libtorrent added the torrent before its address was in the DHT; raise addAfter")
				}
			}

			// Started at once: libtorrent may not have announced yet; get asks
			// the DHT again every 5 s.
			out := t.TempDir()
			get := start(t, "", "swarm get", swarmBin, "get", link, "-o", out, "--listen", "127.0.0.1:0",
				"--dht-port", fmt.Sprint(freeUDPPort(t)), "--dht-bootstrap", boot.Addr().String(),
				"--log-format", "console", "--log-level", "debug")
			// From libtorrent's listen port if get dialled it, from another
			// if libtorrent connected to get.
			fromLT := regexp.MustCompile(`metadata received.*client="libtorrent`)
			get.waitFor(t, fromLT, time.Until(began.Add(dhtTestTimeout)))
			metadataAt := time.Since(began)
			if err := get.wait(t, time.Until(began.Add(dhtTestTimeout))); err != nil {
				t.Fatalf("swarm get %s: %v", link, err)
			}
			sameBytes(t, filepath.Join(parent, "single"), filepath.Join(out, "single"))
			retried := len(regexp.MustCompile(`connect failed.*peer=127\.0\.0\.1:`+fmt.Sprint(ltPort)).FindAllString(get.output(), -1))
			if tt.addAfter > 0 && retried == 0 {
				t.Errorf("get never found libtorrent not ready; the test did not test the retry")
			}
			t.Logf("metadata from libtorrent %v after it started (%d dials not ready), download complete after %v",
				metadataAt.Round(time.Millisecond), retried, time.Since(began).Round(time.Millisecond))
		})
	}
}

// TestMagnetLibtorrentGetsFromSwarmThroughDHT: `swarm seed` announces a
// torrent into a DHT it joined through a swarm node; libtorrent, given
// nothing but the info hash and that node as bootstrap, finds swarm with
// get_peers, takes the info dict from it over ut_metadata and downloads
// the file.
func TestMagnetLibtorrentGetsFromSwarmThroughDHT(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	parent, torrent := content(t, "single") // no tracker in it
	link := "magnet:?xt=urn:btih:" + infoHash(t, torrent)
	boot := startDHT(t)
	began := time.Now()
	seedPort := freePort(t)
	start(t, "", "swarm seed", swarmBin, "seed", torrent, "--data", parent, "--listen", fmt.Sprintf("127.0.0.1:%d", seedPort),
		"--dht-port", fmt.Sprint(freeUDPPort(t)), "--dht-bootstrap", boot.Addr().String(), "--log-format", "console")
	waitListening(t, seedPort, 30*time.Second)
	// libtorrent starts once swarm's announce is stored, so that it is
	// libtorrent's get_peers that brings the two together: a seed looks
	// the torrent up again only after 15 minutes, so it will not dial
	// libtorrent first.
	for boot.Stats().Peers == 0 {
		if time.Since(began) > 30*time.Second {
			t.Fatalf("swarm seed's announce did not reach the bootstrap node in 30 s; stats %+v", boot.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	announcedAt := time.Since(began)

	out := t.TempDir()
	lt := start(t, "", "libtorrent get", py, filepath.Join("testdata", "lt_dht_peer.py"), "get",
		fmt.Sprint(freePort(t)), boot.Addr().String(), link, out, fmt.Sprint(int(dhtTestTimeout.Seconds())))
	meta := lt.waitFor(t, regexp.MustCompile(`metadata (\S+)`), time.Until(began.Add(dhtTestTimeout)))
	if err := lt.wait(t, time.Until(began.Add(dhtTestTimeout))); err != nil {
		t.Fatalf("libtorrent get %s: %v", link, err)
	}
	done := regexp.MustCompile(`complete (\S+)`).FindStringSubmatch(lt.output())
	if done == nil {
		t.Fatalf("libtorrent exited 0 without printing complete")
	}
	if !regexp.MustCompile(fmt.Sprintf(`127\.0\.0\.1:%d .*outgoing connection`, seedPort)).MatchString(lt.output()) {
		t.Errorf("libtorrent never connected to swarm's 127.0.0.1:%d", seedPort)
	}
	sameBytes(t, filepath.Join(parent, "single"), filepath.Join(out, "single"))
	t.Logf("swarm's announce stored %v after swarm seed started; libtorrent had the metadata %s s after adding the magnet link, the whole file %s s after",
		announcedAt.Round(time.Millisecond), meta[1], done[1])
}
