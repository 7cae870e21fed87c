package choke_test

import (
	"testing"
	"time"

	"swarm/choke"
)

// TestEvidenceCreditsOnlyTheSoleHolder: a have of a piece one leecher alone
// held credits it, unless we sent the piece ourselves; a forgotten peer
// starts from nothing.
func TestEvidenceCreditsOnlyTheSoleHolder(t *testing.T) {
	e := choke.NewEvidence[string](100)
	e.Announced("b", 7, "a")  // a gave b piece 7
	e.Announced("c", 70, "a") // and c piece 70
	e.Sent("d", 7)
	e.Announced("d", 7, "a") // d had 7 from us
	e.Announced("b", 200, "a")
	if got := e.Credit("a"); got != 2 {
		t.Errorf("Credit(a) = %d, want 2", got)
	}
	if got := e.Credit("rider"); got != 0 {
		t.Errorf("Credit(rider) = %d, want 0", got)
	}
	e.Forget("a")
	if got := e.Credit("a"); got != 0 {
		t.Errorf("Credit(a) after Forget = %d, want 0", got)
	}
}

// seedPeer is an interested peer of a seed with what it is known to have
// uploaded.
func seedPeer(key string, evidence float64) choke.Peer[string] {
	p := old(key, 0)
	p.Evidence = evidence
	return p
}

// TestSeedServesPeersWithEvidenceFirst: a seed's regular slots go to the
// peers seen to pass pieces on; free riders get only the optimistic slot
// while such peers want data, and every slot when nobody else does (a
// seed does not idle); without any evidence the slots rotate among all.
func TestSeedServesPeersWithEvidenceFirst(t *testing.T) {
	c := newChoker(t, 4)
	peers := []choke.Peer[string]{seedPeer("a", 4e6), seedPeer("b", 1e6), seedPeer("c", 2e6), seedPeer("d", 3e6),
		seedPeer("rider1", 0), seedPeer("rider2", 0), seedPeer("rider3", 0)}
	for i := range 20 {
		now := t0.Add(time.Duration(i) * 10 * time.Second)
		got := c.Rechoke(now, peers, true)
		opt, _ := c.Optimistic()
		for _, k := range []string{"a", "b", "c", "d"} {
			if !got[k] && opt != k {
				t.Fatalf("round %d: peer %s, seen uploading, choked: %v", i, k, got)
			}
		}
		for k := range got {
			if k[0] == 'r' && k != opt {
				t.Fatalf("round %d: free rider %s holds a regular slot: %v", i, k, got)
			}
		}
	}
	riders := peers[4:]
	if got := c.Rechoke(t0.Add(time.Hour), riders, true); len(got) != 3 {
		t.Errorf("free riders alone: %d of 3 unchoked, want all", len(got))
	}
	var fresh []choke.Peer[string]
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		fresh = append(fresh, seedPeer(k, 0))
	}
	served := map[string]bool{}
	for i := range 4 {
		now := t0.Add(time.Duration(i) * 10 * time.Second)
		got := c.Rechoke(now, fresh, true)
		for j := range fresh {
			if fresh[j].Unchoked = got[fresh[j].Key]; fresh[j].Unchoked {
				served[fresh[j].Key] = true
				fresh[j].UnchokedAt, fresh[j].SentSinceUnchoke = now, choke.DefaultSeedQuota
			}
		}
	}
	if len(served) != len(fresh) {
		t.Errorf("without evidence 4 rechokes served %d of %d peers, want all in turn", len(served), len(fresh))
	}
}

// TestSeedOptimisticSlotTurnsOverWithItsQuota: a seed's optimistic peer
// keeps its slot until it has had the seed's quota, then it goes to
// another (at a seed's rate the 30 s interval is a whole file).
func TestSeedOptimisticSlotTurnsOverWithItsQuota(t *testing.T) {
	c := newChoker(t, 5)
	peers := []choke.Peer[string]{seedPeer("a", 4e6), seedPeer("b", 3e6), seedPeer("c", 2e6), seedPeer("d", 1e6),
		seedPeer("e", 0), seedPeer("f", 0), seedPeer("g", 0)}
	c.Rechoke(t0, peers, true)
	first, ok := c.Optimistic()
	if !ok {
		t.Fatal("no optimistic peer")
	}
	for i := range peers {
		if peers[i].Key == first {
			peers[i].Unchoked, peers[i].UnchokedAt = true, t0
		}
	}
	c.Rechoke(t0.Add(time.Second), peers, true)
	if opt, _ := c.Optimistic(); opt != first {
		t.Fatalf("optimistic moved from %s to %s before its quota", first, opt)
	}
	for i := range peers {
		if peers[i].Key == first {
			peers[i].SentSinceUnchoke = choke.DefaultSeedQuota
		}
	}
	moved := false
	for i := range 10 { // the new pick is random and may be the same peer
		c.Rechoke(t0.Add(time.Duration(2+i)*time.Second), peers, true)
		if opt, _ := c.Optimistic(); opt != first {
			moved = true
			break
		}
	}
	if !moved {
		t.Errorf("optimistic peer %s kept the slot past its quota", first)
	}
}
