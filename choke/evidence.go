package choke

// Evidence tells a seed which peers pass pieces on. A seed receives
// nothing, so it cannot rank peers by what they send it; but leechers
// announce every piece they complete to every peer, seeds included (BEP 3's
// have), so a seed sees pieces travel. When peer B announces piece i, we
// sent B no block of i, and one leecher alone was known to have i, that
// leecher gave it to B: it is credited with the piece. This is
// super-seeding's idea (BEP 16: a piece seen at another peer was passed
// on), applied to a seed that serves everyone. A free rider is never
// credited: nobody gets a piece from it.
//
// Only such certain cases count. Crediting every holder of a piece, or
// sharing the credit in proportion to what each already had (an online
// expectation-maximisation), credited free riders that held a seed's slot
// early as much as uploaders (lab, issue 20): once pieces have several
// holders, haves cannot tell who gave what. So the evidence comes from the
// first seconds of a piece's spread, and is zero for most uploaders later;
// a finished leecher has better evidence, what each peer sent it.
//
// It is not safe for concurrent use.
type Evidence[K comparable] struct {
	pieces int
	sent   map[K][]uint64 // per peer, a bit per piece we sent it a block of
	credit map[K]int      // pieces the peer was seen to pass on
}

// NewEvidence tracks a torrent of pieces pieces.
func NewEvidence[K comparable](pieces int) *Evidence[K] {
	return &Evidence[K]{pieces: pieces, sent: map[K][]uint64{}, credit: map[K]int{}}
}

// Sent records that we sent (or queued) peer k a block of piece i: its
// have of i then proves nothing of anyone else.
func (e *Evidence[K]) Sent(k K, i int) {
	if i < 0 || i >= e.pieces {
		return
	}
	s := e.sent[k]
	if s == nil {
		s = make([]uint64, (e.pieces+63)/64)
		e.sent[k] = s
	}
	s[i/64] |= 1 << (i % 64)
}

// Announced takes peer k's have of piece i when holder was the only other
// leecher known to have i (seeds left out: they need no credit). Unless we
// sent k a block of i ourselves, holder passed it on.
func (e *Evidence[K]) Announced(k K, i int, holder K) {
	if i < 0 || i >= e.pieces {
		return
	}
	if s := e.sent[k]; s != nil && s[i/64]&(1<<(i%64)) != 0 {
		return
	}
	e.credit[holder]++
}

// Credit returns how many pieces k was seen to pass on.
func (e *Evidence[K]) Credit(k K) int { return e.credit[k] }

// Forget drops what is known of k (it left).
func (e *Evidence[K]) Forget(k K) {
	delete(e.sent, k)
	delete(e.credit, k)
}
