package interop_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFastExtensionWithLibtorrent: the fast extension (BEP 6) against
// libtorrent both ways. libtorrent seeding tells swarm what it has by
// have-all, which swarm logs, and completes byte for byte. libtorrent is
// told to queue at most 2 requests per peer (its reqq) and rejects what is
// past that: swarm keeps to the reqq, so it gets at most a few rejects
// (its opening requests, if they beat libtorrent's extension handshake),
// where it used to get thousands (4361 on this 5 MiB file) when slow start
// grew its pipeline past the reqq between ticks. Seeding to libtorrent,
// swarm sends have-all and no bitfield, so libtorrent completing shows it
// took it.
func TestFastExtensionWithLibtorrent(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	t.Run("libtorrent seeds", func(t *testing.T) {
		parent, torrent := content(t, "single")
		port := freePort(t)
		lt := start(t, "", "libtorrent seed", py, filepath.Join("testdata", "lt_peer.py"), "seed", torrent, parent, fmt.Sprint(port), "--max-queue", "2")
		lt.waitFor(t, regexp.MustCompile(`listening`), 30*time.Second)
		waitListening(t, port, 30*time.Second)
		out := t.TempDir()
		get := swarmGet(t, torrent, out, "--peer", fmt.Sprintf("127.0.0.1:%d", port), "--log-level", "debug")
		if err := get.wait(t, transferTimeout); err != nil {
			t.Fatalf("swarm get failed: %v", err)
		}
		sameTree(t, parent, out)
		log := get.output()
		haveAll := strings.Count(log, "peer has every piece (have all)")
		rejects := strings.Count(log, "request rejected")
		t.Logf("swarm saw %d have-all and %d rejects from libtorrent", haveAll, rejects)
		if haveAll == 0 {
			t.Error("swarm logged no have-all from a libtorrent seed")
		}
		if rejects > 16 {
			t.Errorf("swarm got %d rejects from a libtorrent seed that queues 2 requests: it asks past the peer's reqq", rejects)
		}
	})
	t.Run("libtorrent downloads", func(t *testing.T) {
		parent, torrent := content(t, "single")
		port := swarmSeed(t, torrent, parent)
		out := t.TempDir()
		lt := start(t, "", "libtorrent get", py, filepath.Join("testdata", "lt_peer.py"), "get", torrent, out, "0", fmt.Sprintf("127.0.0.1:%d", port), "100")
		if err := lt.wait(t, transferTimeout); err != nil {
			t.Fatalf("libtorrent did not complete from a swarm seed that sends have-all: %v", err)
		}
		sameTree(t, parent, out)
	})
}
