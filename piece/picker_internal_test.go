package piece

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkInvariants recomputes the picker's derived state from scratch and
// compares it with what the picker maintains incrementally.
func (pk *Picker[K]) checkInvariants() error {
	m := pk.numCandidates()
	if pk.start[0] != 0 {
		return fmt.Errorf("start[0] = %d", pk.start[0])
	}
	for a := 0; a+1 < len(pk.start); a++ {
		if pk.start[a] > pk.start[a+1] {
			return fmt.Errorf("start not sorted: %v", pk.start)
		}
		for i := pk.start[a]; i < pk.start[a+1]; i++ {
			if p := pk.order[i]; int(pk.avail[p]) != a {
				return fmt.Errorf("piece %d with availability %d in bucket %d", p, pk.avail[p], a)
			}
		}
	}
	candidates, unstarted, pending := 0, 0, 0
	var tiers [3]int
	for p := range pk.n {
		cand := !pk.have.Has(p) && pk.wanted.Has(p)
		if cand {
			candidates++
			if i := pk.pos[p]; i < 0 || int(i) >= m || int(pk.order[i]) != p {
				return fmt.Errorf("candidate %d at pos %d", p, i)
			}
		} else if pk.pos[p] != -1 {
			return fmt.Errorf("non-candidate %d at pos %d", p, pk.pos[p])
		}
		st := pk.pieces[p]
		if st == nil {
			if cand {
				unstarted++
				tiers[pk.Priority(p)-PriorityLow]++
			}
			continue
		}
		if !cand {
			return fmt.Errorf("non-candidate %d has state", p)
		}
		recv, pend := 0, 0
		for i := range st.blocks {
			bs := &st.blocks[i]
			if bs.received {
				recv++
				if len(bs.reqs) > 0 {
					return fmt.Errorf("piece %d block %d received but requested from %v", p, i, bs.reqs)
				}
			} else if len(bs.reqs) == 0 {
				pend++
				if i < st.next {
					return fmt.Errorf("piece %d: pending block %d below next %d", p, i, st.next)
				}
			}
			if len(bs.reqs) > pk.maxDup {
				return fmt.Errorf("piece %d block %d requested from %d peers", p, i, len(bs.reqs))
			}
			for j, k := range bs.reqs {
				if slices.Contains(bs.reqs[j+1:], k) {
					return fmt.Errorf("piece %d block %d requested twice from %v", p, i, k)
				}
				ps := pk.peers[k]
				if ps == nil {
					return fmt.Errorf("piece %d block %d requested from unknown peer %v", p, i, k)
				}
				if _, ok := ps.reqs[pk.geo.Block(p, i)]; !ok {
					return fmt.Errorf("piece %d block %d: peer %v does not list it", p, i, k)
				}
			}
		}
		if recv != st.received || pend != st.pending {
			return fmt.Errorf("piece %d: received %d pending %d, books say %d %d", p, recv, pend, st.received, st.pending)
		}
		if st.verifying != (recv == len(st.blocks)) {
			return fmt.Errorf("piece %d: verifying %v with %d/%d blocks", p, st.verifying, recv, len(st.blocks))
		}
		if slices.Contains(pk.active, int32(p)) == st.verifying {
			return fmt.Errorf("piece %d: verifying %v, active %v", p, st.verifying, pk.active)
		}
		pending += pend
	}
	if tiers != pk.tierUnstarted {
		return fmt.Errorf("unstarted by priority %v, books say %v", tiers, pk.tierUnstarted)
	}
	if candidates != m || unstarted != pk.unstarted || pending != pk.pending {
		return fmt.Errorf("candidates %d unstarted %d pending %d, books say %d %d %d",
			candidates, unstarted, pending, m, pk.unstarted, pk.pending)
	}
	for _, p := range pk.active {
		if pk.pieces[p] == nil {
			return fmt.Errorf("active piece %d has no state", p)
		}
	}
	avail := make([]int32, pk.n)
	seeds := 0
	for k, ps := range pk.peers {
		if ps.seed {
			seeds++
			if !ps.has.Full() {
				return fmt.Errorf("seed %v without a full bitfield", k)
			}
		}
		wants := 0
		for p := range pk.n {
			if ps.has.Has(p) {
				if !ps.seed {
					avail[p]++
				}
				if pk.pos[p] >= 0 {
					wants++
				}
			}
		}
		if wants != ps.wants {
			return fmt.Errorf("peer %v wants %d, books say %d", k, wants, ps.wants)
		}
		for b := range ps.reqs {
			st := pk.pieces[b.Piece]
			if st == nil || !slices.Contains(st.blocks[b.Begin/BlockSize].reqs, k) {
				return fmt.Errorf("peer %v lists %v, which is not requested from it", k, b)
			}
		}
	}
	if seeds != pk.seeds || !slices.Equal(avail, pk.avail) {
		return fmt.Errorf("seeds %d availability %v, books say %d %v", seeds, avail, pk.seeds, pk.avail)
	}
	return nil
}

// TestPickerInvariantsUnderRandomOperations drives a picker with random
// calls and recomputes its books after each one.
func TestPickerInvariantsUnderRandomOperations(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 1))
			g := Geometry{PieceLength: 2 * BlockSize, Length: int64(r.IntN(30)+1)*BlockSize + int64(r.IntN(BlockSize))}
			pk, err := NewPicker[int](Config{Geometry: g, Rand: rand.New(rand.NewPCG(seed, 2)), MaxDuplicates: r.IntN(3)})
			if err != nil {
				t.Fatal(err)
			}
			n := pk.NumPieces()
			verifying := func() []int {
				var v []int
				for p, st := range pk.pieces {
					if st != nil && st.verifying {
						v = append(v, p)
					}
				}
				return v
			}
			for step := range 2000 {
				k := r.IntN(6)
				var op string
				switch x := r.IntN(100); {
				case x < 5:
					op = "bitfield"
					bf := NewBitfield(n)
					for p := range n {
						if r.IntN(3) == 0 {
							bf.Set(p)
						}
					}
					if err := pk.PeerBitfield(k, bf); err != nil {
						t.Fatal(err)
					}
				case x < 7:
					op = "hasall"
					pk.PeerHasAll(k)
				case x < 8:
					op = "hasnone"
					pk.PeerHasNone(k)
				case x < 20:
					op = "have"
					if err := pk.PeerHave(k, r.IntN(n)); err != nil {
						t.Fatal(err)
					}
				case x < 23:
					op = "left"
					pk.PeerLeft(k)
				case x < 40:
					op = "pick"
					pk.Pick(k, r.IntN(5)+1)
				case x < 65:
					op = "received"
					var b Block
					if ps := pk.peers[k]; ps != nil && len(ps.reqs) > 0 && r.IntN(4) > 0 {
						for b = range ps.reqs {
							break
						}
					} else {
						b = g.Block(r.IntN(n), 0)
					}
					if _, err := pk.Received(k, b); err != nil {
						t.Fatal(err)
					}
				case x < 70:
					op = "release"
					if ps := pk.peers[k]; ps != nil {
						for b := range ps.reqs {
							pk.Release(k, b)
							break
						}
					}
				case x < 73:
					op = "releasepeer"
					pk.ReleasePeer(k)
				case x < 85:
					op = "verify"
					if v := verifying(); len(v) > 0 {
						p := v[r.IntN(len(v))]
						if r.IntN(4) == 0 {
							_, err = pk.Failed(p)
						} else {
							err = pk.Verified(p)
						}
						if err != nil {
							t.Fatal(err)
						}
					}
				case x < 88:
					op = "priority"
					if err := pk.SetPriority(r.IntN(n), Priority(r.IntN(3)-1)); err != nil {
						t.Fatal(err)
					}
				case x < 92:
					op = "wanted"
					if _, err := pk.SetWanted(r.IntN(n), r.IntN(3) > 0); err != nil {
						t.Fatal(err)
					}
				default:
					op = "sethave"
					if r.IntN(4) == 0 {
						if err := pk.SetHave(r.IntN(n)); err != nil {
							t.Fatal(err)
						}
					}
				}
				if err := pk.checkInvariants(); err != nil {
					t.Fatalf("step %d (%s by peer %d): %v", step, op, k, err)
				}
			}
		})
	}
}
