package main

import (
	"net"
	"path/filepath"
	"strconv"
	"testing"

	"swarm/metainfo"
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
