package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"swarm/metainfo"
	"swarm/tracker/server"
)

func infoHashOf(t *testing.T, torrent string) string {
	t.Helper()
	m, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	return m.InfoHash.String()
}

// TestGetMagnetFromPeer: with only a magnet link naming a peer (x.pe), get
// fetches the info dict from the seed (BEP 9) and then the content.
func TestGetMagnetFromPeer(t *testing.T) {
	parent, torrent := makeContent(t, "mag", map[string]int{"a.bin": 300000, "b/c.bin": 70000})
	_, addr := startSeed(t, torrent, parent, "--dht=false")
	out := t.TempDir()
	link := "magnet:?xt=urn:btih:" + infoHashOf(t, torrent) + "&dn=mag&x.pe=" + addr
	g := startSwarm(t, "get", link, "-o", out, "--listen", "127.0.0.1:0", "--dht=false", "-q")
	if err := g.wait(t, transferTimeout); err != nil {
		t.Fatalf("get magnet: %v", err)
	}
	sameFile(t, filepath.Join(parent, "mag", "a.bin"), filepath.Join(out, "mag", "a.bin"))
	sameFile(t, filepath.Join(parent, "mag", "b", "c.bin"), filepath.Join(out, "mag", "b", "c.bin"))
}

// TestGetMagnetThroughDHT: a magnet link with no tracker and no peer; the
// seed announces into the DHT and get finds it there, through the seed's
// node as bootstrap.
func TestGetMagnetThroughDHT(t *testing.T) {
	parent, torrent := makeContent(t, "dhtmag", map[string]int{"a.bin": 200000})
	port := freeUDPPort(t)
	startSeed(t, torrent, parent, "--dht-port", strconv.Itoa(port))
	out := t.TempDir()
	link := "magnet:?xt=urn:btih:" + infoHashOf(t, torrent)
	g := startSwarm(t, "get", link, "-o", out, "--listen", "127.0.0.1:0", "--dht-bootstrap", "127.0.0.1:"+strconv.Itoa(port), "-q")
	if err := g.wait(t, transferTimeout); err != nil {
		t.Fatalf("get magnet through the DHT: %v", err)
	}
	sameFile(t, filepath.Join(parent, "dhtmag", "a.bin"), filepath.Join(out, "dhtmag", "a.bin"))
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestGetMagnetAnnouncesItsListenPort: while the metadata of a magnet link
// is fetched, its tracker hears the port get listens on and the peer id it
// downloads with, not placeholders, so peers the tracker hands out can
// reach it from the first announce.
func TestGetMagnetAnnouncesItsListenPort(t *testing.T) {
	parent, torrent := makeContent(t, "portmag", map[string]int{"a.bin": 100000})
	_, seedAddr := startSeed(t, torrent, parent, "--dht=false")
	seed := netip.MustParseAddrPort(seedAddr)
	var mu sync.Mutex
	type announce struct{ port, peerID string }
	var heard []announce
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		heard = append(heard, announce{q.Get("port"), q.Get("peer_id")})
		mu.Unlock()
		ip := seed.Addr().As4()
		peers := string(ip[:]) + string([]byte{byte(seed.Port() >> 8), byte(seed.Port())})
		fmt.Fprintf(w, "d8:intervali60e5:peers6:%se", peers)
	}))
	defer srv.Close()

	listen := freeTCPPort(t)
	out := t.TempDir()
	link := "magnet:?xt=urn:btih:" + infoHashOf(t, torrent) + "&tr=" + url.QueryEscape(srv.URL+"/announce")
	g := startSwarm(t, "get", link, "-o", out, "--listen", "127.0.0.1:"+strconv.Itoa(listen), "--dht=false", "-q")
	if err := g.wait(t, transferTimeout); err != nil {
		t.Fatalf("get magnet: %v", err)
	}
	sameFile(t, filepath.Join(parent, "portmag", "a.bin"), filepath.Join(out, "portmag", "a.bin"))
	mu.Lock()
	defer mu.Unlock()
	if len(heard) < 2 {
		t.Fatalf("the tracker heard %d announces, want one while fetching the metadata and more after", len(heard))
	}
	for i, a := range heard {
		if a.port != strconv.Itoa(listen) || a.peerID != heard[0].peerID {
			t.Errorf("announce %d: port %s, peer id %q; want port %d and the first announce's peer id %q", i, a.port, a.peerID, listen, heard[0].peerID)
		}
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestGetMagnetFromASeedThatStartsLater: get starts with a magnet link
// whose only source is a tracker that knows no seed yet, with a real
// tracker's intervals (30 min, and no regular announce within 15). The
// seed starts once get has announced: the tracker gives it get's address,
// it connects, and get takes the metadata from it (issue 21: the session
// turned away peers for a torrent it did not have yet, so get waited
// forever). The status line says what the metadata phase is doing.
func TestGetMagnetFromASeedThatStartsLater(t *testing.T) {
	parent, torrent := makeContent(t, "late", map[string]int{"a.bin": 300000})
	srv, err := server.New(server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tr := httptest.NewServer(srv.Handler())
	defer tr.Close()
	announce := tr.URL + "/announce"

	out := t.TempDir()
	link := "magnet:?xt=urn:btih:" + infoHashOf(t, torrent) + "&tr=" + url.QueryEscape(announce)
	g := startSwarm(t, "get", link, "-o", out, "--listen", "127.0.0.1:0", "--dht=false", "--log-level", "error")
	// The status line comes once a second; the seed starts after it says the tracker answered.
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(g.out.String(), "metadata: 1/1 trackers answered  0 peers, 0 connected"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no status line of the metadata phase within 20 s:\n%s", g.out.String())
		}
	}
	startSeed(t, torrent, parent, "--dht=false", "-t", announce)
	if err := g.wait(t, transferTimeout); err != nil {
		t.Fatalf("get magnet: %v", err)
	}
	sameFile(t, filepath.Join(parent, "late", "a.bin"), filepath.Join(out, "late", "a.bin"))
}
