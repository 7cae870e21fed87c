package interop_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// A hybrid v1+v2 torrent made by libtorrent (BEP 52, with BEP 47 pad files
// after every file so that each starts on a piece boundary): libtorrent
// seeds it, swarm gets it byte for byte with no pad file on disk and the
// executable bit kept (attribute x), and swarm seeds it back to libtorrent.
func TestHybridTorrentRoundTripWithLibtorrent(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	parent := t.TempDir()
	album := filepath.Join(parent, "album")
	writeContent(t, album, 19) // sizes 0, 1234, 16385, 70000, 150000, 300001
	tool := filepath.Join(album, "tool.sh")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\necho hybrid\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	torrent := filepath.Join(t.TempDir(), "album.torrent")
	run(t, py, filepath.Join("testdata", "lt_create.py"), album, torrent, "32768", "hybrid")

	var info struct {
		Hybrid bool `json:"hybrid"`
		Files  []struct {
			Path    string `json:"path"`
			Padding bool   `json:"padding"`
		} `json:"files"`
	}
	if err := json.Unmarshal([]byte(run(t, swarmBin, "info", "--json", torrent)), &info); err != nil {
		t.Fatal(err)
	}
	pads := 0
	for _, f := range info.Files {
		if f.Padding {
			pads++
		}
	}
	if !info.Hybrid || pads == 0 {
		t.Fatalf("swarm info: hybrid %v with %d pad files; want a hybrid torrent with pad files", info.Hybrid, pads)
	}

	// libtorrent seeds, swarm gets.
	ltPort := freePort(t)
	lt := start(t, "", "libtorrent seed", py, filepath.Join("testdata", "lt_peer.py"), "seed", torrent, parent, fmt.Sprint(ltPort))
	lt.waitFor(t, regexp.MustCompile(`listening`), 30*time.Second)
	waitListening(t, ltPort, 30*time.Second)
	got := t.TempDir()
	get := swarmGet(t, torrent, got, "--peer", fmt.Sprintf("127.0.0.1:%d", ltPort))
	if err := get.wait(t, transferTimeout); err != nil {
		t.Fatalf("swarm get of a hybrid torrent failed: %v", err)
	}
	sameTree(t, parent, got) // exact: a pad file on disk is an extra file
	fi, err := os.Stat(filepath.Join(got, "album", "tool.sh"))
	if err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("tool.sh (attr x) downloaded as %v, %v; want owner-executable", fi.Mode(), err)
	}

	// swarm seeds what it got, libtorrent gets.
	port := swarmSeed(t, torrent, got)
	out := t.TempDir()
	ltGet := start(t, "", "libtorrent get", py, filepath.Join("testdata", "lt_peer.py"), "get", torrent, out, "0", fmt.Sprintf("127.0.0.1:%d", port), "100")
	if err := ltGet.wait(t, transferTimeout); err != nil {
		t.Fatalf("libtorrent did not complete the hybrid torrent from swarm: %v", err)
	}
	sameTree(t, parent, out)
}
