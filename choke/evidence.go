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
// The holder must have had the piece from us (Sent), and each piece counts
// once per holder: a have costs nothing to send, so without those a free
// rider claiming pieces it never had, confirmed by a sybil peer's haves (or
// one piece re-announced by sybils in turn), was credited with the whole
// torrent at once, came first in every slot, and as a holder of every
// piece left the others no sole-holder case to be credited for
// (TestEvidenceIgnoresClaimsOfPiecesNeverSent).
//
// It is not safe for concurrent use.
type Evidence[K comparable] struct {
	pieces   int
	sent     map[K][]uint64 // per peer, a bit per piece we sent it a block of
	credited map[K][]uint64 // per holder, a bit per piece it was credited for
	credit   map[K]int      // pieces the peer was seen to pass on
}

// NewEvidence tracks a torrent of pieces pieces.
func NewEvidence[K comparable](pieces int) *Evidence[K] {
	return &Evidence[K]{pieces: pieces, sent: map[K][]uint64{}, credited: map[K][]uint64{}, credit: map[K]int{}}
}

// Sent records that we sent (or queued) peer k a block of piece i: its
// have of i then proves nothing of anyone else.
func (e *Evidence[K]) Sent(k K, i int) {
	if i < 0 || i >= e.pieces {
		return
	}
	e.set(e.sent, k, i)
}

func (e *Evidence[K]) set(m map[K][]uint64, k K, i int) {
	s := m[k]
	if s == nil {
		s = make([]uint64, (e.pieces+63)/64)
		m[k] = s
	}
	s[i/64] |= 1 << (i % 64)
}

func isSet(s []uint64, i int) bool { return s != nil && s[i/64]&(1<<(i%64)) != 0 }

// Announced takes peer k's have of piece i when holder was the only other
// leecher known to have i (seeds left out: they need no credit). Unless we
// sent k a block of i ourselves, holder passed it on, if we sent it i and
// it was not credited for i before.
func (e *Evidence[K]) Announced(k K, i int, holder K) {
	if i < 0 || i >= e.pieces {
		return
	}
	if isSet(e.sent[k], i) || !isSet(e.sent[holder], i) || isSet(e.credited[holder], i) {
		return
	}
	e.set(e.credited, holder, i)
	e.credit[holder]++
}

// Credit returns how many pieces k was seen to pass on.
func (e *Evidence[K]) Credit(k K) int { return e.credit[k] }

// Forget drops what is known of k (it left).
func (e *Evidence[K]) Forget(k K) {
	delete(e.sent, k)
	delete(e.credited, k)
	delete(e.credit, k)
}
