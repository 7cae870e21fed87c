package session

import (
	"time"

	"swarm/choke"
	"swarm/peer"
)

// Super-seeding (BEP 16): a seed with TorrentConfig.SuperSeed claims to
// have nothing and reveals one piece at a time to each peer (by a have),
// the next one only once another peer has announced the last: package
// choke's SuperSeed decides which. Requests for pieces a peer was not told
// of are refused. Peers we connect to announce what they get to us as to
// any peer lacking it, which is how pieces are seen to travel.

// superSeeding says whether t reveals its pieces one at a time, and sets
// up the bookkeeping the first time. Loop only.
func (t *Torrent) superSeeding() bool {
	if !t.cfg.SuperSeed || !t.complete || t.picker == nil {
		return false
	}
	if t.super == nil {
		t.super = choke.NewSuperSeed[*peerConn](t.geo.NumPieces(), 0, nil)
	}
	return true
}

// superGreet stands for the bitfield: have-none to a fast peer (nothing to
// one that is not), then the first offer.
func (t *Torrent) superGreet(p *peerConn) {
	if p.fast {
		p.send(peer.Message{ID: peer.HaveNone})
	}
	t.superOffer(p, time.Now())
}

// superOffer tells p of its next piece unless it still has an offer out.
func (t *Torrent) superOffer(p *peerConn, now time.Time) {
	if t.super.Waiting(p) {
		return
	}
	lacks := func(i int) bool { return p.has == nil || !p.has.Has(i) }
	if i, ok := t.super.Offer(now, p, lacks, t.picker.Availability); ok {
		p.log.Debug().Int("piece", i).Msg("super-seed offers a piece")
		p.send(peer.Message{ID: peer.Have, Index: uint32(i)})
	}
}

// superAnnounced takes q's have of piece i: peers whose offer it was passed
// it on, and get their next.
func (t *Torrent) superAnnounced(q *peerConn, i int) {
	if !t.superSeeding() {
		return
	}
	now := time.Now()
	for _, p := range t.super.Seen(q, i) {
		t.superOffer(p, now)
	}
}

// superIdle runs when p lost interest in us: it holds every piece we
// revealed to it. If no other connected peer lacks its waiting piece there
// is nobody to pass it to (a lone leecher, the last ones), so waiting for
// it to travel would only stall p: it gets its next piece now.
func (t *Torrent) superIdle(p *peerConn, now time.Time) {
	if !t.superSeeding() {
		return
	}
	i, ok := t.super.WaitingPiece(p)
	if !ok {
		return
	}
	for q := range t.peers {
		if q != p && (q.has == nil || !q.has.Has(i)) {
			return
		}
	}
	t.super.Release(p)
	t.superOffer(p, now)
}

// superRecheck runs when p said what it has (bitfield, have-all or
// have-none), which may come after our first offer: an offer of a piece it
// already had is replaced at once.
func (t *Torrent) superRecheck(p *peerConn) {
	if !t.superSeeding() {
		return
	}
	t.super.Retract(p, func(i int) bool { return p.has.Has(i) })
	t.superOffer(p, time.Now())
}

// superTick, once a second, replaces offers that waited too long to travel
// (a swarm of one leecher still completes) and makes first offers that
// found nothing before.
func (t *Torrent) superTick(now time.Time) {
	if !t.superSeeding() {
		return
	}
	for _, p := range t.super.Stalled(now) {
		t.superOffer(p, now)
	}
	for p := range t.peers {
		if !t.super.Waiting(p) {
			t.superOffer(p, now)
		} else if !p.peerInterested {
			t.superIdle(p, now) // the others it waited for may have left
		}
	}
}

// superRefuses says whether p may not have piece i: it was not told of it.
func (t *Torrent) superRefuses(p *peerConn, i int) bool {
	return t.superSeeding() && !t.super.Offered(p, i)
}

// superLeft forgets a peer that left.
func (t *Torrent) superLeft(p *peerConn) {
	if t.super != nil {
		t.super.Drop(p)
	}
}
