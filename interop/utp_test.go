package interop_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestLibtorrentDownloadsFromSwarmOverUTP (issue 21, item 4): libtorrent
// with its default connection settings (uTP first, then TCP; an encrypted
// handshake first) downloads from a swarm seed, and its first connection
// is uTP: swarm accepts uTP on the UDP port of its listen port.
func TestLibtorrentDownloadsFromSwarmOverUTP(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	parent, torrent := content(t, "album")
	port := swarmSeed(t, torrent, parent)
	out := t.TempDir()
	lt := start(t, "", "libtorrent get", py, filepath.Join("testdata", "lt_peer.py"), "get", torrent, out, "0", fmt.Sprintf("127.0.0.1:%d", port), "100", "--utp")
	m := lt.waitFor(t, regexp.MustCompile(`connected ([0-9.]+) utp=([01])`), transferTimeout)
	if m[2] != "1" {
		t.Fatalf("libtorrent connected to swarm over TCP after %s s; want uTP", m[1])
	}
	if err := lt.wait(t, transferTimeout); err != nil {
		t.Fatalf("libtorrent did not complete: %v", err)
	}
	sameTree(t, parent, out)
	t.Logf("libtorrent connected over uTP %s s after connect_peer", m[1])
}

// TestSwarmDownloadsFromLibtorrentOverUTP: swarm downloads from a
// libtorrent seed with TCP off (qBittorrent's "uTP only"), which accepts
// TCP connections and closes them: swarm dials it again over uTP.
func TestSwarmDownloadsFromLibtorrentOverUTP(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	parent, torrent := content(t, "single")
	port := freePort(t)
	lt := start(t, "", "libtorrent seed", py, filepath.Join("testdata", "lt_peer.py"), "seed", torrent, parent, fmt.Sprint(port), "--utp", "--no-tcp")
	lt.waitFor(t, regexp.MustCompile(`listening`), 30*time.Second)
	out := t.TempDir()
	get := swarmGet(t, torrent, out, "--peer", fmt.Sprintf("127.0.0.1:%d", port))
	if err := get.wait(t, transferTimeout); err != nil {
		t.Fatalf("swarm get over uTP failed: %v", err)
	}
	sameTree(t, parent, out)
}
