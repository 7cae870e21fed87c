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
// have-all, and, told to queue at most 2 requests per peer, rejects
// swarm's requests past that (swarm opens with 4 before it applies the
// peer's reqq): swarm logs both, gives each rejected block back to its
// picker, and completes byte for byte. Seeding to libtorrent, swarm sends
// have-all and no bitfield, so libtorrent completing shows it took it.
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
		if rejects == 0 {
			t.Error("swarm logged no reject from a libtorrent seed that queues 2 requests")
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
