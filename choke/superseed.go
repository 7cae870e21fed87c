package choke

import (
	"math/rand/v2"
	"time"
)

// SuperSeed decides which pieces an initial seed in super-seeding mode
// (BEP 16) reveals to whom. The seed claims to have nothing and tells each
// peer of one piece at a time: the one offered to fewest peers so far, the
// rarest among those; a peer is told of its next piece only once another
// peer has announced its last one, that is once it passed it on. So the
// seed's upload goes to pieces the swarm lacks, and a peer that shares
// nothing gets one piece from it, not the file.
//
// A peer whose piece has not travelled after the stall timeout is offered
// another anyway, so that a swarm of one leecher, or of peers that cannot
// reach each other, still completes. It is not safe for concurrent use.
type SuperSeed[K comparable] struct {
	offers  []int // per piece: the peers it was offered to
	peers   map[K]*superPeer
	stall   time.Duration
	rand    *rand.Rand
	scratch []int
}

type superPeer struct {
	offered []bool    // per piece: told of it (it may request it)
	piece   int       // the offer waiting to travel; -1 if none
	at      time.Time // when that offer was made
}

// DefaultSuperSeedStall is how long a super-seed waits for an offered piece
// to be seen elsewhere before offering the peer another.
const DefaultSuperSeedStall = 30 * time.Second

// NewSuperSeed tracks offers of pieces pieces; stall 0 means
// DefaultSuperSeedStall, r nil a randomly seeded source (ties between
// equally rare pieces are broken at random).
func NewSuperSeed[K comparable](pieces int, stall time.Duration, r *rand.Rand) *SuperSeed[K] {
	if stall <= 0 {
		stall = DefaultSuperSeedStall
	}
	if r == nil {
		r = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return &SuperSeed[K]{offers: make([]int, pieces), peers: map[K]*superPeer{}, stall: stall, rand: r}
}

func (s *SuperSeed[K]) peer(k K) *superPeer {
	p := s.peers[k]
	if p == nil {
		p = &superPeer{offered: make([]bool, len(s.offers)), piece: -1}
		s.peers[k] = p
	}
	return p
}

// Offered says whether k was told of piece i, and so may request it.
func (s *SuperSeed[K]) Offered(k K, i int) bool {
	p := s.peers[k]
	return p != nil && i >= 0 && i < len(p.offered) && p.offered[i]
}

// Waiting says whether k has an offer that has not travelled yet.
func (s *SuperSeed[K]) Waiting(k K) bool {
	p := s.peers[k]
	return p != nil && p.piece >= 0
}

// Offer picks the next piece to tell k of, among those it lacks
// (lacks(i)): fewest offers first, then lowest availability (avail(i), the
// peers known to have it), at random among equals. It returns false if k
// lacks nothing we have not told it of already.
func (s *SuperSeed[K]) Offer(now time.Time, k K, lacks func(int) bool, avail func(int) int) (int, bool) {
	p := s.peer(k)
	best := s.scratch[:0]
	for i := range s.offers {
		if p.offered[i] || !lacks(i) {
			continue
		}
		if len(best) > 0 {
			b := best[0]
			if c := compareOffer(s.offers[i], avail(i), s.offers[b], avail(b)); c > 0 {
				continue
			} else if c < 0 {
				best = best[:0]
			}
		}
		best = append(best, i)
	}
	s.scratch = best
	if len(best) == 0 {
		p.piece = -1
		return 0, false
	}
	i := best[s.rand.IntN(len(best))]
	s.offers[i]++
	p.offered[i], p.piece, p.at = true, i, now
	return i, true
}

func compareOffer(offersA, availA, offersB, availB int) int {
	if offersA != offersB {
		return offersA - offersB
	}
	return availA - availB
}

// Seen takes q's announcement (have) of piece i and returns the peers whose
// waiting offer was i: it travelled, so each may be offered the next. q
// itself is not among them: a peer saying it got the piece we offered it
// proves nothing.
func (s *SuperSeed[K]) Seen(q K, i int) []K {
	var done []K
	for k, p := range s.peers {
		if k != q && p.piece == i {
			p.piece = -1
			done = append(done, k)
		}
	}
	return done
}

// Stalled returns the peers whose offer has waited longer than the stall
// timeout; they may be offered the next piece.
func (s *SuperSeed[K]) Stalled(now time.Time) []K {
	var out []K
	for k, p := range s.peers {
		if p.piece >= 0 && now.Sub(p.at) >= s.stall {
			p.piece = -1
			out = append(out, k)
		}
	}
	return out
}

// Drop forgets a peer that left. Its offers still count: the pieces went
// out (or may have).
func (s *SuperSeed[K]) Drop(k K) { delete(s.peers, k) }

// Retract withdraws k's waiting offer if had says k already had the piece
// (its bitfield came after the offer), so that the next Offer picks
// another; the piece stays allowed.
func (s *SuperSeed[K]) Retract(k K, had func(int) bool) {
	if p := s.peers[k]; p != nil && p.piece >= 0 && had(p.piece) {
		s.offers[p.piece]--
		p.piece = -1
	}
}

// WaitingPiece returns k's offer that has not travelled yet, if any.
func (s *SuperSeed[K]) WaitingPiece(k K) (int, bool) {
	if p := s.peers[k]; p != nil && p.piece >= 0 {
		return p.piece, true
	}
	return 0, false
}

// Release ends k's wait without its piece being seen elsewhere: the caller
// knows there is nobody to pass it to.
func (s *SuperSeed[K]) Release(k K) {
	if p := s.peers[k]; p != nil {
		p.piece = -1
	}
}
