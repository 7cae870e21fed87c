package choke_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"swarm/choke"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newChoker(t *testing.T, seed uint64) *choke.Choker[string] {
	t.Helper()
	c, err := choke.New[string](choke.Config{Rand: rand.New(rand.NewPCG(seed, 1))})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// old returns an interested peer connected long ago.
func old(key string, down float64) choke.Peer[string] {
	return choke.Peer[string]{Key: key, Interested: true, DownRate: down, Connected: t0.Add(-time.Hour)}
}

func TestLeecherUnchokesFastestUploadersToUs(t *testing.T) {
	c := newChoker(t, 1)
	peers := []choke.Peer[string]{old("a", 100), old("b", 500), old("c", 300), old("d", 50), old("e", 400), old("rider", 0)}
	got := c.Rechoke(t0, peers, false)
	for _, k := range []string{"b", "e", "c", "a"} {
		if !got[k] {
			t.Errorf("peer %s, among the 4 fastest to us, is choked: %v", k, got)
		}
	}
	opt, ok := c.Optimistic()
	if !ok || (opt != "d" && opt != "rider") {
		t.Errorf("optimistic = %q, %v; want one of the choked peers d, rider", opt, ok)
	}
	if len(got) != 5 {
		t.Errorf("unchoked %d peers, want 4 regular + 1 optimistic: %v", len(got), got)
	}
}

// TestFreeRiderGetsOnlyTheOptimisticSlot runs ten minutes of rechokes: the
// peer that never uploads is unchoked only while it holds the optimistic
// slot, and reciprocating peers keep their regular slots throughout.
func TestFreeRiderGetsOnlyTheOptimisticSlot(t *testing.T) {
	c := newChoker(t, 2)
	peers := []choke.Peer[string]{old("a", 100), old("b", 200), old("c", 300), old("d", 400), old("e", 10), old("rider", 0)}
	riderUnchoked := 0
	for i := range 60 {
		now := t0.Add(time.Duration(i) * 10 * time.Second)
		got := c.Rechoke(now, peers, false)
		for _, k := range []string{"a", "b", "c", "d"} {
			if !got[k] {
				t.Fatalf("round %d: reciprocating peer %s choked", i, k)
			}
		}
		opt, _ := c.Optimistic()
		if got["rider"] {
			riderUnchoked++
			if opt != "rider" {
				t.Fatalf("round %d: free rider unchoked outside the optimistic slot", i)
			}
		}
	}
	if riderUnchoked == 0 || riderUnchoked == 60 {
		t.Errorf("free rider unchoked in %d of 60 rounds; want some (optimistic) but not all", riderUnchoked)
	}
}

func TestOptimisticSlotHoldsForItsInterval(t *testing.T) {
	c := newChoker(t, 3)
	var peers []choke.Peer[string]
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		peers = append(peers, old(k, 0))
	}
	peers[0].DownRate, peers[1].DownRate, peers[2].DownRate, peers[3].DownRate = 4, 3, 2, 1
	c.Rechoke(t0, peers, false)
	first, _ := c.Optimistic()
	for _, d := range []time.Duration{10 * time.Second, 20 * time.Second, 29 * time.Second} {
		c.Rechoke(t0.Add(d), peers, false)
		if got, _ := c.Optimistic(); got != first {
			t.Fatalf("optimistic moved from %s to %s after %v, before 30 s", first, got, d)
		}
	}
	// Over many intervals it visits several peers.
	seen := map[string]bool{}
	for i := 1; i <= 20; i++ {
		c.Rechoke(t0.Add(time.Duration(i)*30*time.Second), peers, false)
		k, _ := c.Optimistic()
		seen[k] = true
	}
	if len(seen) < 3 {
		t.Errorf("optimistic visited only %v in 20 rotations", seen)
	}
	// A peer that loses interest loses the slot at the next rechoke.
	cur, _ := c.Optimistic()
	for i := range peers {
		if peers[i].Key == cur {
			peers[i].Interested = false
		}
	}
	got := c.Rechoke(t0.Add(20*30*time.Second+time.Second), peers, false)
	if now, _ := c.Optimistic(); now == cur || got[cur] {
		t.Errorf("peer %s kept the optimistic slot after losing interest", cur)
	}
}

func TestNewPeersAreThreeTimesLikelierOptimistic(t *testing.T) {
	c := newChoker(t, 4)
	peers := []choke.Peer[string]{old("a", 9), old("b", 8), old("c", 7), old("d", 6), // regular slots
		old("x", 0), old("y", 0), old("z", 0),
		{Key: "new", Interested: true, Connected: t0.Add(-10 * time.Second)}}
	const rounds = 6000
	count := map[string]int{}
	for i := range rounds {
		// Each rotation is due: step by the optimistic interval.
		c.Rechoke(t0.Add(time.Duration(i)*30*time.Second), peers, false)
		k, _ := c.Optimistic()
		count[k]++
		peers[7].Connected = t0.Add(time.Duration(i+1)*30*time.Second - 10*time.Second) // stays new
	}
	// Weights: new 3, x, y, z 1 each: new should win half the draws.
	if share := float64(count["new"]) / rounds; share < 0.46 || share > 0.54 {
		t.Errorf("new peer held the optimistic slot in %.1f%% of rotations, want about 50%% (counts %v)", 100*share, count)
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		if count[k] != 0 {
			t.Errorf("peer %s holds a regular slot but was drawn optimistic %d times", k, count[k])
		}
	}
}

func TestSnubbedAndUninterestedPeersHoldNoRegularSlot(t *testing.T) {
	c := newChoker(t, 5)
	snub := old("snub", 1000)
	snub.Snubbed = true
	bored := old("bored", 2000)
	bored.Interested = false
	peers := []choke.Peer[string]{snub, bored, old("a", 1), old("b", 2), old("c", 3), old("d", 4)}
	got := c.Rechoke(t0, peers, false)
	if got["bored"] {
		t.Errorf("a peer that is not interested was unchoked")
	}
	if opt, _ := c.Optimistic(); got["snub"] && opt != "snub" {
		t.Errorf("a snubbed peer holds a regular slot")
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		if !got[k] {
			t.Errorf("peer %s should fill a slot the snubbed peer could not take", k)
		}
	}
}

func TestSeederUnchokesFastestDownloaders(t *testing.T) {
	c, err := choke.New[string](choke.Config{SeedSlots: 4, Rand: rand.New(rand.NewPCG(6, 1))})
	if err != nil {
		t.Fatal(err)
	}
	var peers []choke.Peer[string]
	for i, k := range []string{"a", "b", "c", "d", "e", "f"} {
		// f takes from us fastest, a slowest; what they send us runs the
		// other way and must not matter to a seed.
		p := old(k, float64(1000-i*100))
		p.UpRate = float64(i * 100)
		peers = append(peers, p)
	}
	got := c.Rechoke(t0, peers, true)
	for _, k := range []string{"c", "d", "e", "f"} {
		if !got[k] {
			t.Errorf("seeding: fast downloader %s choked: %v", k, got)
		}
	}
	if len(got) != 4 {
		t.Errorf("seeding with 4 slots unchoked %d peers: %v", len(got), got)
	}
}

// TestSeederHasItsOwnSlotsAndNoOptimistic: a seed fills SeedSlots (8 by
// default) with interested peers, a downloader its 4 regular slots and the
// optimistic one; Slots says which for the session's slots between
// rechokes.
func TestSeederHasItsOwnSlotsAndNoOptimistic(t *testing.T) {
	var peers []choke.Peer[string]
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		peers = append(peers, old(k, 0))
	}
	for _, seeding := range []bool{false, true} {
		c := newChoker(t, 8)
		want := 5
		if seeding {
			want = choke.DefaultSeedSlots
		}
		if got := c.Slots(seeding); got != want {
			t.Errorf("Slots(%v) = %d, want %d", seeding, got, want)
		}
		if got := c.Rechoke(t0, peers, seeding); len(got) != want {
			t.Errorf("seeding %v: %d of 10 interested peers unchoked, want %d: %v", seeding, len(got), want, got)
		}
		if _, ok := c.Optimistic(); ok == seeding {
			t.Errorf("seeding %v: optimistic slot held %v", seeding, ok)
		}
	}
}

// TestSeedQuotaIsSettable: the session makes a seeding slot last one piece.
func TestSeedQuotaIsSettable(t *testing.T) {
	c := newChoker(t, 9)
	if got := c.SeedQuota(); got != choke.DefaultSeedQuota {
		t.Errorf("SeedQuota() = %d, want the default %d", got, choke.DefaultSeedQuota)
	}
	c.SetSeedQuota(256 << 10)
	c.SetSeedQuota(0) // ignored
	if got := c.SeedQuota(); got != 256<<10 {
		t.Errorf("SeedQuota() after SetSeedQuota(256 KiB) = %d", got)
	}
	// A holder past a piece gives its slot to a waiting peer.
	held := old("held", 0)
	held.Unchoked, held.UnchokedAt, held.SentSinceUnchoke = true, t0.Add(-time.Second), 300<<10
	c2, err := choke.New[string](choke.Config{SeedSlots: 1})
	if err != nil {
		t.Fatal(err)
	}
	c2.SetSeedQuota(256 << 10)
	if got := c2.Rechoke(t0, []choke.Peer[string]{held, old("waiting", 0)}, true); !got["waiting"] || got["held"] {
		t.Errorf("one slot, holder past its quota: %v, want the waiting peer", got)
	}
}

// TestSeederRotatesSlots: holders that have had their quota give their
// slots to the peers that waited longest; a holder short of its quota keeps
// its slot, but not beyond an optimistic interval.
func TestSeederRotatesSlots(t *testing.T) {
	c, err := choke.New[string](choke.Config{SeedSlots: 4, Rand: rand.New(rand.NewPCG(7, 1))})
	if err != nil {
		t.Fatal(err)
	}
	held := func(k string, sent int64, since time.Duration) choke.Peer[string] {
		p := old(k, 0)
		p.Unchoked, p.UnchokedAt, p.SentSinceUnchoke, p.UpRate = true, t0.Add(-since), sent, 1e6
		return p
	}
	waited := func(k string, lastSlot time.Duration) choke.Peer[string] {
		p := old(k, 0)
		if lastSlot > 0 {
			p.UnchokedAt = t0.Add(-lastSlot)
		}
		return p
	}
	peers := []choke.Peer[string]{
		held("served1", 2<<20, 10*time.Second), held("served2", 2<<20, 10*time.Second),
		held("midpiece", 100<<10, 10*time.Second), held("stale", 100<<10, time.Hour),
		waited("never", 0), waited("long-ago", 5*time.Minute), waited("recent", 20*time.Second),
	}
	got := c.Rechoke(t0, peers, true)
	for _, k := range []string{"midpiece", "never", "long-ago", "recent"} {
		if !got[k] {
			t.Errorf("%s should hold a regular slot: %v", k, got)
		}
	}
	for _, k := range []string{"served1", "served2", "stale"} {
		if got[k] {
			t.Errorf("%s kept a regular slot after its turn: %v", k, got)
		}
	}
}

func TestNewRejectsNegativeConfig(t *testing.T) {
	if _, err := choke.New[int](choke.Config{Slots: -1}); err == nil {
		t.Error("New accepted a negative slot count")
	}
}
