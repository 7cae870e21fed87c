package interop_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestGetTellsThePrivateTrackerCompleted runs `swarm get` N times in a row
// against `swarm tracker --private`, as a new member would, half of them
// also given the seed with --peer, so that the download often completes
// before the "started" announce has been answered. Each exits 0 at
// completion, having first told the tracker "completed": the tracker heard
// N "completed" and counts N snatches (issue 13: a tracker counted 5 of 11).
func TestGetTellsThePrivateTrackerCompleted(t *testing.T) {
	const n = 8
	s := newPrivateSetup(t, 1<<20)
	tracker := s.startTracker(t)
	seedPort := freePort(t)
	start(t, "", "swarm seed (alice)", swarmBin, "seed", s.torrents["alice"], "--data", s.src,
		"--listen", fmt.Sprintf("127.0.0.1:%d", seedPort))
	waitListening(t, seedPort, 30*time.Second)
	waitTrackerCounts(t, s.announceURL(t, "alice"), s.infoHash, 1, 0, 20*time.Second)
	for i := range n {
		out := t.TempDir()
		args := []string{"get", s.torrents["bob"], "-o", out, "--listen", "127.0.0.1:0"}
		if i%2 == 1 {
			args = append(args, "--peer", fmt.Sprintf("127.0.0.1:%d", seedPort))
		}
		get := start(t, "", fmt.Sprintf("swarm get (run %d)", i+1), swarmBin, args...)
		if err := get.wait(t, transferTimeout); err != nil {
			t.Fatalf("run %d: %v, want exit status 0", i+1, err)
		}
		sameBytes(t, s.content, filepath.Join(out, "film.bin"))
	}
	bobPK := s.passkeyOf(t, s.announceURL(t, "bob"))
	heard := regexp.MustCompile(`"passkey":"` + bobPK[:4] + `…"[^\n]*"event":"completed"`)
	_, b := s.waitTotals(t, 10*time.Second, func(a, b userTotals) bool { return b.Snatches >= n })
	completed := len(heard.FindAllString(tracker.output(), -1))
	t.Logf("%d downloads: the tracker heard %d \"completed\" from bob and counts %d snatches", n, completed, b.Snatches)
	if b.Snatches != n || completed != n {
		t.Errorf("after %d downloads: %d \"completed\" heard, %d snatches counted; want %d of each", n, completed, b.Snatches, n)
	}
}
