package session

import (
	"cmp"
	"slices"
	"time"

	"swarm/choke"
	"swarm/peer"
	"swarm/piece"
)

// Choking: which interested peers we upload to.

// rechoke applies the choker's decision (package choke): tit-for-tat
// while downloading, plus the optimistic slot; slots taken in turn while
// seeding.
func (t *Torrent) rechoke(now time.Time) {
	t.lastRechoke = now
	if t.cfg.FreeRide {
		return
	}
	cands := make([]choke.Peer[*peerConn], 0, len(t.peers))
	for p := range t.peers {
		cands = append(cands, p.chokeView())
	}
	unchoke := t.choker.Rechoke(now, cands, t.complete)
	opt, _ := t.choker.Optimistic()
	for p := range t.peers {
		slot := "regular"
		if p == opt {
			slot = "optimistic"
		}
		t.setChoke(p, !unchoke[p], slot)
		// Every slot is the rule's now, but a regular one that went to a
		// peer giving nothing back (no peer that does wanted it) is held
		// like a free one: the first peer that gives takes it.
		p.freeSlotAt = time.Time{}
		if unchoke[p] && p != opt && !t.complete && !p.chokeView().Reciprocates() {
			p.freeSlotAt = now.Add(-freeSlotGrace)
		}
	}
}

func (p *peerConn) chokeView() choke.Peer[*peerConn] {
	return choke.Peer[*peerConn]{
		Key: p, Interested: p.peerInterested, DownRate: p.rate.rate(), UpRate: p.upRate.rate(),
		Snubbed: p.snubbed, UnchokesUs: !p.peerChoking, Connected: p.connected, Unchoked: !p.amChoking,
		UnchokedAt: p.unchokedAt, SentSinceUnchoke: p.uploaded.Load() - p.upAtUnchoke,
		Evidence: p.evidence(),
	}
}

// evidence is what p is known to have uploaded, in bytes: the blocks it
// gave us (a finished leecher remembers who reciprocated) and, while we
// seed, the pieces we saw it pass on (choke.Evidence).
func (p *peerConn) evidence() float64 {
	e := float64(p.usefulBlocks) * peer.BlockSize
	if p.t.evidence != nil {
		e += float64(p.t.evidence.Credit(p)) * float64(p.t.geo.PieceLength)
	}
	return e
}

// uploadEvidence returns the torrent's choke.Evidence, made the first time.
// Loop only, once the torrent has its content.
func (t *Torrent) uploadEvidence() *choke.Evidence[*peerConn] {
	if t.evidence == nil {
		t.evidence = choke.NewEvidence[*peerConn](t.geo.NumPieces())
	}
	return t.evidence
}

// creditHolders takes p's have of piece i while we seed: if one leecher
// alone had i before, it gave it to p (choke.Evidence). The search stops
// at a second holder, so a have costs a pass over the peers at most.
func (t *Torrent) creditHolders(p *peerConn, i int) {
	if !t.complete {
		return
	}
	var holder *peerConn
	for q := range t.peers {
		if q != p && q.has != nil && q.has.Has(i) && !q.has.Full() {
			if holder != nil {
				return
			}
			holder = q
		}
	}
	if holder != nil {
		t.uploadEvidence().Announced(p, i, holder)
	}
}

// freeSlotGrace is how long a peer given a free slot while we download has
// to give something back (a block, or a slot of its own) before the slot
// may go to a peer that does.
const freeSlotGrace = 2 * time.Second

// reclaimFreeSlots runs every tick while downloading. A slot handed out by
// fillSlot between rechokes went to whoever asked first; at the start of a
// swarm that is every slot, held until the first rechoke 10 s later, and a
// free rider asks as early as anyone. So a free slot whose holder has given
// nothing back after freeSlotGrace moves to a choked, interested peer that
// gives us something (the best by the choker's order); regular and
// optimistic slots keep the rechoke's rule.
func (t *Torrent) reclaimFreeSlots(now time.Time) {
	if t.cfg.FreeRide {
		return
	}
	if t.complete {
		t.rotateSeedSlots(now)
		return
	}
	var takers []choke.Peer[*peerConn]
	for p := range t.peers {
		if v := p.chokeView(); p.amChoking && p.peerInterested && !p.snubbed && v.Reciprocates() {
			takers = append(takers, v)
		}
	}
	if len(takers) == 0 {
		return
	}
	slices.SortFunc(takers, func(a, b choke.Peer[*peerConn]) int { return cmp.Compare(b.DownRate, a.DownRate) })
	for p := range t.peers {
		if len(takers) == 0 {
			return
		}
		if p.amChoking || p.freeSlotAt.IsZero() || now.Sub(p.freeSlotAt) < freeSlotGrace || p.chokeView().Reciprocates() {
			continue
		}
		t.setChoke(p, true, "")
		t.setChoke(takers[0].Key, false, "free")
		takers = takers[1:]
	}
}

// rotateSeedSlots turns a seed's slots over between rechokes; it runs when
// a holder asks for a block and every tick. The choker ranks peers with
// evidence of uploading first (choke.EvidenceBar), then in turn; this
// decides when to ask it again: as soon as a holder has had its quota (a
// piece) while a peer the choker would put before it waits (one with
// evidence, or any if the holder has none). Waiting for the next rechoke,
// 10 s away, kept the seed on its first takers while the other leechers of
// a new swarm waited up to 1.5 s for a first piece to trade (lab timeline,
// issue 20), and gave free riders that asked first a file's worth each.
// Taking a slot from a holder without evidence at once when a peer with
// evidence waits, rather than after its piece, changed nothing measurable
// (lab, simulated, 10 runs each: free riders ÷ others 1.16 vs 1.14 with
// seeds staying, 1.27 vs 1.28 with leechers leaving).
func (t *Torrent) rotateSeedSlots(now time.Time) {
	if !t.complete || t.cfg.FreeRide {
		return
	}
	quota := t.choker.SeedQuota()
	due := false // a holder has had its quota (most calls end here)
	for p := range t.peers {
		due = due || !p.amChoking && p.peerInterested && p.uploaded.Load()-p.upAtUnchoke >= quota
	}
	if !due {
		return
	}
	views := make([]choke.Peer[*peerConn], 0, len(t.peers))
	for p := range t.peers {
		views = append(views, p.chokeView())
	}
	bar := choke.EvidenceBar(views)
	proven := func(v choke.Peer[*peerConn]) bool { return v.Evidence > 0 && v.Evidence >= bar }
	waiting, provenWaiting := false, false
	for _, v := range views {
		if v.Interested && !v.Unchoked {
			waiting = true
			provenWaiting = provenWaiting || proven(v)
		}
	}
	for _, v := range views {
		if v.Unchoked && v.Interested && v.SentSinceUnchoke >= quota && (provenWaiting || waiting && !proven(v)) {
			t.rechoke(now)
			return
		}
	}
}

// fillSlot unchokes a newly interested peer at once if a slot is free, so
// it need not wait for the next rechoke.
func (t *Torrent) fillSlot(p *peerConn) {
	if t.cfg.FreeRide {
		return
	}
	held := 0
	for q := range t.peers {
		if !q.amChoking && q.peerInterested {
			held++
		}
	}
	if held < t.choker.Slots(t.complete) {
		t.setChoke(p, false, "free")
	}
}

// logSlotEnd logs the end of p's slot, if p holds one, with the bytes it
// served: at a choke, and when p goes (disconnect, shutdown), so that the
// lab's trace counts every slot, those of a leecher that leaves included.
func (t *Torrent) logSlotEnd(p *peerConn) {
	if p.amChoking {
		return
	}
	if e := p.log.Debug(); e.Enabled() {
		e.Str("event", "choke").Int64("bytes", p.uploaded.Load()-p.upAtUnchoke).
			Stringer("listen", p.listen).Bool("seeding", t.complete).Msg("choking")
	}
}

// setChoke chokes or unchokes p; slot names the kind of slot an unchoke
// gives (regular, optimistic, or free: one left over between rechokes) for
// the debug log, which is how the lab traces who serves whom (swarm lab
// --trace).
func (t *Torrent) setChoke(p *peerConn, choked bool, slot string) {
	if choked == p.amChoking {
		return
	}
	if choked {
		t.logSlotEnd(p)
	} else if e := p.log.Debug(); e.Enabled() {
		e.Str("event", "unchoke").Str("slot", slot).Float64("down_rate", p.rate.rate()).Float64("evidence", p.evidence()).
			Stringer("listen", p.listen).Bool("seeding", t.complete).Msg("choking")
	}
	p.amChoking = choked
	if choked {
		if !p.fast {
			p.q.clearUploads(nil)
			p.send(peer.Message{ID: peer.Choke})
			return
		}
		// A fast peer keeps what it asked of its allowed-fast set and is
		// told of every other request we drop (BEP 6). A seed also
		// finishes the piece it is in the middle of: its slots turn over
		// every piece (rotateSeedSlots), and a piece cut short is one the
		// peer cannot pass on until someone sends the rest.
		p.finishing = nil
		if cur, mid := p.q.pieceInProgress(t.geo); mid && t.complete {
			p.finishing = []uint32{cur}
		}
		dropped := p.q.clearUploads(func(b piece.Block) bool { return p.allowedWhileChoked(b.Piece) })
		p.send(peer.Message{ID: peer.Choke})
		for _, b := range dropped {
			p.reject(b)
		}
	} else {
		p.unchokedAt, p.upAtUnchoke = time.Now(), p.uploaded.Load()
		if slot == "free" {
			p.freeSlotAt = p.unchokedAt
		}
		p.send(peer.Message{ID: peer.Unchoke})
	}
}
