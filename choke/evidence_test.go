package choke_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"swarm/choke"
)

// TestEvidenceCreditsOnlyTheSoleHolder: a have of a piece one leecher alone
// held credits it, unless we sent the piece ourselves; a forgotten peer
// starts from nothing.
func TestEvidenceCreditsOnlyTheSoleHolder(t *testing.T) {
	e := choke.NewEvidence[string](100)
	e.Sent("a", 7)
	e.Sent("a", 70)
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

// TestEvidenceIgnoresClaimsOfPiecesNeverSent: a free rider that claims
// pieces it never had from us, and sybils that announce them after it, earn
// it nothing; a piece it did have counts once, however many sybils (each
// the sole other holder in turn, the one before having left) announce it.
func TestEvidenceIgnoresClaimsOfPiecesNeverSent(t *testing.T) {
	const pieces = 1000
	e := choke.NewEvidence[string](pieces)
	e.Sent("rider", 3)
	for i := range pieces {
		e.Announced("sybil", i, "rider")
	}
	for _, s := range []string{"sybil2", "sybil3", "sybil4"} {
		e.Announced(s, 3, "rider")
		e.Forget(s)
	}
	if got := e.Credit("rider"); got != 1 {
		t.Errorf("Credit(rider) = %d after sybils announced its %d claimed pieces, want 1 (the piece we sent it)", got, pieces)
	}
}

// seedPeer is an interested peer of a seed with what it is known to have
// uploaded.
func seedPeer(key string, evidence float64) choke.Peer[string] {
	p := old(key, 0)
	p.Evidence = evidence
	return p
}

// TestSeedServesPeersWithEvidenceFirst: a seed's slots go to the peers
// seen to pass pieces on; free riders get none while more such peers want
// data than there are slots, and every slot when nobody else wants data (a
// seed does not idle); without any evidence the slots rotate among all.
// A seed has no optimistic slot.
func TestSeedServesPeersWithEvidenceFirst(t *testing.T) {
	c, err := choke.New[string](choke.Config{SeedSlots: 4, Rand: rand.New(rand.NewPCG(4, 1))})
	if err != nil {
		t.Fatal(err)
	}
	peers := []choke.Peer[string]{seedPeer("a", 4e6), seedPeer("b", 1e6), seedPeer("c", 2e6), seedPeer("d", 3e6), seedPeer("e", 2e6),
		seedPeer("rider1", 0), seedPeer("rider2", 0), seedPeer("rider3", 0)}
	for i := range 20 {
		now := t0.Add(time.Duration(i) * 10 * time.Second)
		got := c.Rechoke(now, peers, true)
		if len(got) != 4 {
			t.Fatalf("round %d: %d unchoked, want the 4 slots: %v", i, len(got), got)
		}
		for k := range got {
			if k[0] == 'r' {
				t.Fatalf("round %d: free rider %s holds a slot while peers seen uploading wait: %v", i, k, got)
			}
		}
		if _, ok := c.Optimistic(); ok {
			t.Fatalf("round %d: a seed holds an optimistic slot", i)
		}
		for j := range peers {
			if peers[j].Unchoked = got[peers[j].Key]; peers[j].Unchoked {
				peers[j].UnchokedAt, peers[j].SentSinceUnchoke = now, choke.DefaultSeedQuota
			}
		}
	}
	riders := peers[5:]
	if got := c.Rechoke(t0.Add(time.Hour), riders, true); len(got) != 3 {
		t.Errorf("free riders alone: %d of 3 unchoked, want all", len(got))
	}
	if got := c.Rechoke(t0.Add(time.Hour), append([]choke.Peer[string]{peers[0]}, riders...), true); len(got) != 4 {
		t.Errorf("one peer seen uploading and 3 free riders: %d unchoked, want all 4 (the slots it leaves go to free riders)", len(got))
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
