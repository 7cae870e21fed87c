package choke_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"swarm/choke"
)

func lacksAll(int) bool { return true }
func noneHave(int) int  { return 0 }

// TestSuperSeedOffersDistinctPiecesToDistinctPeers: eight peers of an
// eight-piece torrent are each told of a different piece; a ninth gets the
// piece fewest have among those offered once.
func TestSuperSeedOffersDistinctPiecesToDistinctPeers(t *testing.T) {
	s := choke.NewSuperSeed[string](8, 0, rand.New(rand.NewPCG(1, 2)))
	seen := map[int]string{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		i, ok := s.Offer(t0, k, lacksAll, noneHave)
		if !ok {
			t.Fatalf("no piece offered to %s", k)
		}
		if other, dup := seen[i]; dup {
			t.Fatalf("piece %d offered to %s and %s while pieces were never offered", i, other, k)
		}
		seen[i] = k
		if !s.Offered(k, i) || !s.Waiting(k) {
			t.Fatalf("after offering %d to %s: Offered %v, Waiting %v", i, k, s.Offered(k, i), s.Waiting(k))
		}
	}
	avail := func(i int) int {
		if i == 5 {
			return 1 // every other piece is at two peers
		}
		return 2
	}
	if i, _ := s.Offer(t0, "i", lacksAll, avail); i != 5 {
		t.Errorf("ninth peer offered piece %d, want 5, the rarest", i)
	}
}

// TestSuperSeedWaitsForThePieceToTravel: a peer is told of its next piece
// only once another peer announces its last one; its own announcement does
// not count.
func TestSuperSeedWaitsForThePieceToTravel(t *testing.T) {
	s := choke.NewSuperSeed[string](4, 0, rand.New(rand.NewPCG(3, 4)))
	ia, _ := s.Offer(t0, "a", lacksAll, noneHave)
	ib, _ := s.Offer(t0, "b", lacksAll, noneHave)
	if got := s.Seen("a", ia); len(got) != 0 {
		t.Errorf("a announcing its own piece freed %v, want nobody", got)
	}
	if !s.Waiting("a") {
		t.Fatal("a's offer no longer waits after its own announcement")
	}
	if got := s.Seen("c", ib); !slices.Equal(got, []string{"b"}) {
		t.Errorf("c announcing b's piece freed %v, want [b]", got)
	}
	if got := s.Seen("b", ia); !slices.Equal(got, []string{"a"}) {
		t.Errorf("b announcing a's piece freed %v, want [a]", got)
	}
	next, ok := s.Offer(t0, "a", func(i int) bool { return i != ib }, noneHave)
	if !ok || next == ia || next == ib {
		t.Errorf("a's next offer = %d, %v; want one of the two pieces never offered", next, ok)
	}
	if !s.Offered("a", ia) {
		t.Error("a may no longer request its first piece")
	}
	if s.Offered("a", ib) {
		t.Error("a may request b's piece, which it was never told of")
	}
}

// TestSuperSeedStalledOfferMovesOn: an offer nobody passed on is replaced
// after the stall timeout, so a lone leecher still gets the file.
func TestSuperSeedStalledOfferMovesOn(t *testing.T) {
	s := choke.NewSuperSeed[string](3, 10*time.Second, rand.New(rand.NewPCG(5, 6)))
	s.Offer(t0, "a", lacksAll, noneHave)
	if got := s.Stalled(t0.Add(9 * time.Second)); len(got) != 0 {
		t.Errorf("stalled after 9 s: %v", got)
	}
	if got := s.Stalled(t0.Add(10 * time.Second)); !slices.Equal(got, []string{"a"}) {
		t.Errorf("stalled after 10 s: %v, want [a]", got)
	}
	for range 2 {
		if _, ok := s.Offer(t0, "a", lacksAll, noneHave); !ok {
			t.Fatal("no next piece for a")
		}
		s.Stalled(t0.Add(time.Hour))
	}
	if i, ok := s.Offer(t0, "a", lacksAll, noneHave); ok {
		t.Errorf("a offered piece %d after all three", i)
	}
}

// TestSuperSeedRetractsAPieceThePeerHad: an offer made before the peer's
// bitfield arrived, of a piece it had, is withdrawn.
func TestSuperSeedRetractsAPieceThePeerHad(t *testing.T) {
	s := choke.NewSuperSeed[string](2, 0, rand.New(rand.NewPCG(7, 8)))
	i, _ := s.Offer(t0, "a", lacksAll, noneHave)
	s.Retract("a", func(j int) bool { return j == i })
	if s.Waiting("a") {
		t.Fatal("offer of a piece the peer had still waits")
	}
	if j, ok := s.Offer(t0, "a", func(j int) bool { return j != i }, noneHave); !ok || j == i {
		t.Errorf("next offer %d, %v; want the other piece", j, ok)
	}
}
