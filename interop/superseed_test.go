package interop_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLibtorrentDownloadsFromSwarmSuperSeed (BEP 16, issue 20): a lone
// libtorrent leecher gets the whole file from `swarm seed --super-seed`,
// which reveals one piece at a time (its debug log says so for every
// piece) and, with nobody else to pass a piece to, the next as soon as the
// leecher holds the last.
func TestLibtorrentDownloadsFromSwarmSuperSeed(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	parent, torrent := content(t, "single")
	port := freePort(t)
	seed := start(t, "", "swarm seed", swarmBin, "seed", torrent, "--data", parent, "--super-seed",
		"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--log-format", "json", "--log-level", "debug")
	waitListening(t, port, 30*time.Second)
	out := t.TempDir()
	lt := start(t, "", "libtorrent get", py, filepath.Join("testdata", "lt_peer.py"), "get", torrent, out, "0", fmt.Sprintf("127.0.0.1:%d", port), "100")
	if err := lt.wait(t, transferTimeout); err != nil {
		t.Fatalf("libtorrent did not complete from a super-seed: %v", err)
	}
	sameTree(t, parent, out)
	pieces := readWithSwarm(t, torrent).Pieces
	// One have per piece, at least (a peer that reconnects is offered
	// afresh).
	if n := strings.Count(seed.output(), "super-seed offers a piece"); n < pieces {
		t.Errorf("the super-seed offered %d pieces one by one, want all %d", n, pieces)
	}
}
