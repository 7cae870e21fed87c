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
	a.note(h, leecher, true, false, 10*sec)
	a.note(h, leecher, false, true, 16*sec) // completed and stopped
	for now := 17 * sec; now <= 26*sec; now += sec {
		a.sweep(now, expiry)
	}
	// A restored seeder at 26 s is judged from 26 s - expiry.
	if !a.othersLeeching(h, seeder, 22*sec, expiry) {
		t.Error("the leecher that left at 16 s is forgotten at 26 s for an interval from 22 s (grace 10 s)")
	}
	if a.othersLeeching(h, leecher, 22*sec, expiry) {
		t.Error("the leecher's own departure counts as someone else leeching")
	}
	if a.othersLeeching(h, seeder, 27*sec, expiry) {
		t.Error("a departure 11 s before the interval counts")
	}
	for now := 27 * sec; now <= 60*sec; now += sec {
		a.sweep(now, expiry)
	}
	if n := len(a.shard(h).swarms); n != 0 {
		t.Errorf("%d swarms left after 34 s without anyone, want 0", n)
	}
}
