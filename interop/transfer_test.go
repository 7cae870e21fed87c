package interop_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

const transferTimeout = 2 * time.Minute

// content makes the test content: "album" is a multi-file folder with
// nested folders, an empty file and a last piece shorter than the rest;
// "single" is one 5 MiB file. It returns the folder holding it and the
// .torrent, made by swarm with the given trackers.
func content(t testing.TB, kind string, trackers ...string) (parent, torrent string) {
	t.Helper()
	parent = t.TempDir()
	path := filepath.Join(parent, kind)
	switch kind {
	case "album":
		writeContent(t, path, 3)
	case "single":
		b := make([]byte, 5<<20+777)
		for i := range b {
			b[i] = byte(i*31 + i>>9)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return parent, makeTorrent(t, path, trackers...)
}

// makeTorrent makes a torrent of path with 32 KiB pieces.
func makeTorrent(t testing.TB, path string, trackers ...string) string {
	t.Helper()
	torrent := filepath.Join(t.TempDir(), filepath.Base(path)+".torrent")
	args := []string{"create", path, "-o", torrent, "--piece-length", "32KiB"}
	for _, tr := range trackers {
		args = append(args, "-t", tr)
	}
	run(t, swarmBin, args...)
	return torrent
}

// contentWithOpentracker makes content and starts an opentracker that
// tracks it; the torrent announces there.
func contentWithOpentracker(t testing.TB, kind string) (parent, torrent string) {
	t.Helper()
	parent, untracked := content(t, kind)
	tr := startOpentracker(t, 0, infoHash(t, untracked))
	return parent, makeTorrent(t, filepath.Join(parent, kind), tr)
}

func infoHash(t testing.TB, torrent string) string { return readWithSwarm(t, torrent).InfoHash }

// trackerOf returns the torrent's first tracker URL.
func trackerOf(t testing.TB, torrent string) string {
	t.Helper()
	out := run(t, swarmBin, "info", "--json", torrent)
	var j struct {
		Trackers [][]string `json:"trackers"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil || len(j.Trackers) == 0 {
		t.Fatalf("no tracker in %s: %v", torrent, err)
	}
	return j.Trackers[0][0]
}

// swarmSeed starts `swarm seed` of torrent from data and waits until it
// accepts peers; it returns the port.
func swarmSeed(t testing.TB, torrent, data string, extra ...string) int {
	t.Helper()
	port := freePort(t)
	args := append([]string{"seed", torrent, "--data", data, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--log-format", "console"}, extra...)
	start(t, "", "swarm seed", swarmBin, args...)
	waitListening(t, port, 30*time.Second)
	return port
}

func swarmGet(t testing.TB, torrent, out string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"get", torrent, "-o", out, "--listen", "127.0.0.1:0", "--log-format", "console"}, extra...)
	return start(t, "", "swarm get", swarmBin, args...)
}

func TestLibtorrentDownloadsFromSwarm(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	for _, kind := range []string{"album", "single"} {
		t.Run(kind, func(t *testing.T) {
			parent, torrent := content(t, kind)
			port := swarmSeed(t, torrent, parent)
			out := t.TempDir()
			lt := start(t, "", "libtorrent get", py, filepath.Join("testdata", "lt_peer.py"), "get", torrent, out, "0", fmt.Sprintf("127.0.0.1:%d", port), "100")
			if err := lt.wait(t, transferTimeout); err != nil {
				t.Fatalf("libtorrent did not complete: %v", err)
			}
			sameTree(t, parent, out)
		})
	}
}

func TestSwarmDownloadsFromLibtorrent(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	for _, kind := range []string{"album", "single"} {
		t.Run(kind, func(t *testing.T) {
			parent, torrent := content(t, kind)
			port := freePort(t)
			lt := start(t, "", "libtorrent seed", py, filepath.Join("testdata", "lt_peer.py"), "seed", torrent, parent, fmt.Sprint(port))
			lt.waitFor(t, regexp.MustCompile(`listening`), 30*time.Second)
			waitListening(t, port, 30*time.Second)
			out := t.TempDir()
			get := swarmGet(t, torrent, out, "--peer", fmt.Sprintf("127.0.0.1:%d", port))
			if err := get.wait(t, transferTimeout); err != nil {
				t.Fatalf("swarm get failed: %v", err)
			}
			sameTree(t, parent, out)
		})
	}
}

func TestAria2DownloadsFromSwarm(t *testing.T) {
	aria := need(t, "aria2c")
	parent, torrent := contentWithOpentracker(t, "album")
	swarmSeed(t, torrent, parent)
	out := t.TempDir()
	args := append(aria2Args(freePort(t), out), "--seed-time=0", torrent)
	a := start(t, "", "aria2c", aria, args...)
	if err := a.wait(t, transferTimeout); err != nil {
		t.Fatalf("aria2c failed: %v", err)
	}
	sameTree(t, parent, out)
}

func TestSwarmDownloadsFromAria2(t *testing.T) {
	aria := need(t, "aria2c")
	parent, torrent := contentWithOpentracker(t, "single")
	args := append(aria2Args(freePort(t), parent), "--check-integrity=true", "--seed-ratio=0.0", torrent)
	start(t, "", "aria2c", aria, args...)
	// The tracker's interval is long: start swarm once aria2c is known.
	waitTrackerCounts(t, trackerOf(t, torrent), infoHash(t, torrent), 1, 0, 30*time.Second)
	out := t.TempDir()
	get := swarmGet(t, torrent, out)
	if err := get.wait(t, transferTimeout); err != nil {
		t.Fatalf("swarm get failed: %v", err)
	}
	sameTree(t, parent, out)
}

var (
	alreadyRe    = regexp.MustCompile(`(\d+) of (\d+) pieces already verified`)
	downloadedRe = regexp.MustCompile(`stopped: downloaded [^(]*\((\d+) bytes\)`)
)

// TestGetResumesWithoutRedownloading interrupts a download (SIGINT, then
// SIGKILL) and checks that each restart fetches only what was missing.
func TestGetResumesWithoutRedownloading(t *testing.T) {
	parent, torrent := content(t, "single")
	const pieceLen = 32 << 10
	total := int64(5<<20 + 777)
	numPieces := int((total + pieceLen - 1) / pieceLen)
	// A slow seeder, so the download is mid-way when it is interrupted.
	port := swarmSeed(t, torrent, parent, "--up-rate", "1MiB")
	out := t.TempDir()
	peer := fmt.Sprintf("127.0.0.1:%d", port)
	for i, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		get := swarmGet(t, torrent, out, "--peer", peer)
		time.Sleep(1500 * time.Millisecond)
		if err := get.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		err := get.wait(t, 10*time.Second)
		if sig == syscall.SIGINT && exitCode(err) != 130 {
			t.Fatalf("run %d: swarm get after SIGINT exited with %v, want status 130 (interrupted before completion)", i, err)
		}
	}
	get := swarmGet(t, torrent, out, "--peer", peer)
	if err := get.wait(t, transferTimeout); err != nil {
		t.Fatalf("final swarm get: %v", err)
	}
	sameTree(t, parent, out)
	m := alreadyRe.FindStringSubmatch(get.output())
	d := downloadedRe.FindStringSubmatch(get.output())
	if m == nil || d == nil {
		t.Fatalf("output lacks the resume or summary line:\n%s", get.output())
	}
	have, _ := strconv.Atoi(m[1])
	downloaded, _ := strconv.ParseInt(d[1], 10, 64)
	if have == 0 {
		t.Fatalf("nothing was kept from the interrupted runs")
	}
	// Everything fetched must be for pieces that were missing; allow one
	// piece of slack for a duplicate block in flight.
	if limit := int64(numPieces-have+1) * pieceLen; downloaded > limit {
		t.Errorf("restart downloaded %d bytes for %d missing pieces (limit %d): verified pieces fetched again", downloaded, numPieces-have, limit)
	}
	t.Logf("restart found %d of %d pieces verified and downloaded %d bytes", have, numPieces, downloaded)
}
