package interop_test

import (
	"testing"
	"time"

	"swarm/internal/redistest"
)

// TestTwoTrackersShareRedis: two `swarm tracker --redis` processes on one
// redis-server serve the same swarms. A seed announces to the first only,
// a download to the second only, and they find each other; after kill -9
// of the first tracker the second still serves the swarm to a new download.
func TestTwoTrackersShareRedis(t *testing.T) {
	url := redistest.Start(t)
	tracker := func(name string) (*proc, string) {
		// A 30 s interval: the seed's entry (announced to the first tracker
		// only) outlives the kill by a minute, the expiry.
		p := start(t, t.TempDir(), name, swarmBin, "tracker", "--listen", "127.0.0.1:0", "--redis", url,
			"--interval", "30s", "--min-interval", trackerTestMinInterval, "--log-level", "debug")
		return p, p.waitFor(t, trackerURLRe, 10*time.Second)[1]
	}
	a, annA := tracker("swarm tracker A")
	_, annB := tracker("swarm tracker B")
	parent, torrent := content(t, "single")
	ih := infoHash(t, torrent)

	swarmSeed(t, torrent, parent, "-t", annA)
	waitTrackerCounts(t, annB, ih, 1, 0, 20*time.Second) // seen through B
	out := t.TempDir()
	get := swarmGet(t, torrent, out, "-t", annB, "--dht=false")
	if err := get.wait(t, transferTimeout); err != nil {
		t.Fatalf("swarm get through tracker B: %v", err)
	}
	sameTree(t, parent, out)

	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill -9 tracker A (pid %d): %v", a.cmd.Process.Pid, err)
	}
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("tracker A (pid %d) still runs 10 s after SIGKILL", a.cmd.Process.Pid)
	}
	waitTrackerCounts(t, annB, ih, 1, 0, 5*time.Second)
	out2 := t.TempDir()
	get2 := swarmGet(t, torrent, out2, "-t", annB, "--dht=false")
	if err := get2.wait(t, transferTimeout); err != nil {
		t.Fatalf("swarm get through tracker B after tracker A died: %v", err)
	}
	sameTree(t, parent, out2)
}
