package private

import (
	"testing"
	"time"
)

// TestActivitySweepKeepsWhatAnAnnounceMayAskAbout: a leecher that left is
// still found by a seeder judged over an interval reaching back to it, after
// sweeps (issue 17: a libtorrent seed restored after a SIGKILL announced 9 s
// after its only leecher stopped, with a 2 s interval, and the sweep had
// forgotten the leecher: 9 MB uncredited).
func TestActivitySweepKeepsWhatAnAnnounceMayAskAbout(t *testing.T) {
	const sec = int64(time.Second)
	var a activity
	h := [20]byte{1}
	seeder, leecher := peerKey{1, [20]byte{'s'}}, peerKey{2, [20]byte{'l'}}
	expiry := 4 * sec // two 2 s intervals
	a.observe(h, leecher, true, false, 10*sec, nil)
	a.observe(h, leecher, false, true, 16*sec, nil) // completed and stopped
	horizon := 3*expiry + leaveGrace                // sweepActivity's with no restore grace
	for now := 17 * sec; now <= 26*sec; now += sec {
		a.sweep(now - horizon)
	}
	// A restored seeder at 26 s is judged from 26 s - expiry.
	ask := func(self peerKey, since int64) bool {
		others, _ := a.observe(h, self, false, false, 26*sec, &leechQuery{since: since, expiry: expiry})
		return others
	}
	if !ask(seeder, 22*sec) {
		t.Error("the leecher that left at 16 s is forgotten at 26 s for an interval from 22 s (grace 10 s)")
	}
	if ask(leecher, 22*sec) {
		t.Error("the leecher's own departure counts as someone else leeching")
	}
	if ask(seeder, 27*sec) {
		t.Error("a departure 11 s before the interval counts")
	}
	for now := 27 * sec; now <= 60*sec; now += sec {
		a.sweep(now - horizon)
	}
	if n := len(a.shard(h).swarms); n != 0 {
		t.Errorf("%d swarms left 44 s after anyone left, want 0", n)
	}
}
