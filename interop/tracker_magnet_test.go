package interop_test

import (
	"net/url"
	"path/filepath"
	"testing"
	"time"
)

// TestTrackerShowsSeedToAria2Magnet: aria2c fetching a magnet link announces
// left=0 before it has the metadata (it does not know the size yet). swarm's
// tracker once took every left=0 peer for a seed and sent seeds leechers
// only, so aria2c and the swarm seed never learnt of each other (issue 21,
// item 2). Now a left=0 peer that has shown no download is sent seeds too.
func TestTrackerShowsSeedToAria2Magnet(t *testing.T) {
	aria := need(t, "aria2c")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	file := filepath.Join(src, "film.bin")
	writeRandomFile(t, file, 3<<20+777, 21)
	announce := startSwarmTracker(t)
	torrent, ih := createWithTracker(t, file, announce, "64KiB")
	startSeeder(t, "swarm", dir, torrent, src)
	waitTrackerCounts(t, announce, ih, 1, 0, 30*time.Second)

	got := filepath.Join(dir, "aria2")
	magnet := "magnet:?xt=urn:btih:" + ih + "&tr=" + url.QueryEscape(announce)
	a := start(t, dir, "aria2c magnet", aria, append(aria2Args(freePort(t), got),
		"--seed-time=0", "--bt-stop-timeout=60", "--console-log-level=notice", magnet)...)
	if err := a.wait(t, 90*time.Second); err != nil {
		t.Fatalf("aria2c: %v", err)
	}
	sameBytes(t, src, got)
}
