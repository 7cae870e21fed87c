package session

import (
	"time"

	"swarm/choke"
	"swarm/peer"
	"swarm/piece"
)

// Choking: which interested peers we upload to.

// rechoke applies the choker's decision (package choke): tit-for-tat
// while downloading, fastest takers while seeding, plus the optimistic slot.
func (t *Torrent) rechoke(now time.Time) {
	t.lastRechoke = now
	if t.cfg.FreeRide {
		return
	}
	cands := make([]choke.Peer[*peerConn], 0, len(t.peers))
	for p := range t.peers {
		cands = append(cands, choke.Peer[*peerConn]{
			Key: p, Interested: p.peerInterested, DownRate: p.rate.rate(), UpRate: p.upRate.rate(),
			Snubbed: p.snubbed, Connected: p.connected, Unchoked: !p.amChoking,
			UnchokedAt: p.unchokedAt, SentSinceUnchoke: p.uploaded.Load() - p.upAtUnchoke,
		})
	}
	unchoke := t.choker.Rechoke(now, cands, t.complete)
	for p := range t.peers {
		t.setChoke(p, !unchoke[p])
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
	if held < t.sess.cfg.UnchokeSlots+1 {
		t.setChoke(p, false)
	}
}

func (t *Torrent) setChoke(p *peerConn, choked bool) {
	if choked == p.amChoking {
		return
	}
	p.amChoking = choked
	if choked {
		if !p.fast {
			p.q.clearUploads(nil)
			p.send(peer.Message{ID: peer.Choke})
			return
		}
		// A fast peer keeps what it asked of its allowed-fast set and is
		// told of every other request we drop (BEP 6).
		dropped := p.q.clearUploads(func(b piece.Block) bool { return p.allowedWhileChoked(b.Piece) })
		p.send(peer.Message{ID: peer.Choke})
		for _, b := range dropped {
			p.reject(b)
		}
	} else {
		p.unchokedAt, p.upAtUnchoke = time.Now(), p.uploaded.Load()
		p.send(peer.Message{ID: peer.Unchoke})
	}
}
