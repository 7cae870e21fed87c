package session

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"swarm/peer"
	"swarm/piece"
)

// Messages from a peer and the requests we send it: what each message
// does to the torrent, and what we ask of the peer in return.

// protocolError is a peer breaking the wire protocol; it is disconnected.
type protocolError struct{ msg string }

func violation(format string, args ...any) error {
	return &protocolError{fmt.Sprintf(format, args...)}
}

// onMessage handles every message but piece.
func (t *Torrent) onMessage(p *peerConn, m peer.Message) error {
	if isFast(m.ID) && !p.fast {
		return violation("%v message without the fast extension (BEP 6) in its handshake", m.ID)
	}
	if t.picker == nil && m.ID != peer.Extended && m.ID != peer.Port {
		return t.beforeContent(p, m)
	}
	n := t.geo.NumPieces()
	switch m.ID {
	case peer.Choke:
		p.peerChoking = true
		p.chokedAt = time.Now()
		if p.fast {
			// BEP 6: a choke no longer discards our requests. The peer
			// rejects each one it drops (onReject releases it) and may
			// still send the others (its allowed-fast pieces, blocks
			// already on their way): released now, those would arrive
			// unasked and be thrown away while another peer sends them
			// again. tickContent releases what is left after chokeGrace.
			break
		}
		// Without the fast extension a choke discards our requests.
		t.releaseToOthers(p)
	case peer.Unchoke:
		p.peerChoking = false
		p.lastBlock = time.Now()
		t.fillRequests(p)
	case peer.Interested:
		p.peerInterested = true
		t.fillSlot(p)
	case peer.NotInterested:
		// A slot held by a peer that wants nothing is upload capacity
		// lying idle until the next rechoke (a leecher that completes
		// holds slots all over the swarm): give it away now, as
		// libtorrent does.
		p.peerInterested = false
		if !p.amChoking {
			t.rechoke(time.Now())
		}
		t.superIdle(p, time.Now())
	case peer.Have:
		if int(m.Index) >= n {
			return violation("have %d of a torrent with %d pieces", m.Index, n)
		}
		if p.has == nil {
			p.has = piece.NewBitfield(n)
		}
		if !p.has.Has(int(m.Index)) {
			p.has.Set(int(m.Index))
			if err := t.picker.PeerHave(p, int(m.Index)); err != nil {
				return err
			}
			t.superAnnounced(p, int(m.Index))
			t.creditHolders(p, int(m.Index))
		}
		t.updateInterest(p)
		t.fillRequests(p)
	case peer.Bitfield:
		// BEP 3 puts the bitfield first, but BEP 10 lets the extension
		// handshake precede it and aria2c has been seen sending one
		// later: a bitfield replaces what we knew, as in libtorrent.
		bf, err := piece.FromBytes(m.Bitfield, n)
		if err != nil {
			return violation("bitfield: %v", err)
		}
		return t.peerHas(p, bf)
	case peer.HaveAll, peer.HaveNone:
		// Five bytes that cost the picker a pass over every piece: once
		// per connection, as BEP 6 has them (the first message).
		if p.saidAllOrNone {
			return violation("a second have-all or have-none")
		}
		p.saidAllOrNone = true
		bf := piece.NewBitfield(n)
		if m.ID == peer.HaveAll {
			bf.SetAll()
			t.fastStats.haveAlls++
			p.log.Debug().Msg("peer has every piece (have all)")
		}
		return t.peerHas(p, bf)
	case peer.Request:
		return t.onRequest(p, m)
	case peer.Cancel:
		b := piece.Block{Piece: m.Index, Begin: m.Begin, Length: m.Length}
		if p.q.cancelUpload(b) && p.fast {
			// BEP 6: a cancelled request is answered, by its block or a
			// reject; libtorrent waits for one or the other.
			p.reject(b)
		}
	case peer.Reject:
		return t.onReject(p, m)
	case peer.Suggest, peer.AllowedFast:
		// Read and checked, not acted on: the picker's rarest-first order
		// serves the swarm better than a peer's suggestion, and we do not
		// request while choked.
		if int(m.Index) >= n {
			return violation("%v %d of a torrent with %d pieces", m.ID, m.Index, n)
		}
	case peer.Extended:
		if m.ExtendedID == peer.ExtensionHandshakeID {
			hs, err := peer.ParseExtensionHandshake(m.Payload)
			if err != nil {
				return violation("%v", err)
			}
			p.reqq = hs.Reqq
			if id, ok := hs.M[peer.MetadataExtension]; ok {
				p.utMetadata = id // 0 turns it off
			}
			p.pex.setID(hs.M)
			if !p.outgoing && hs.Port != 0 {
				p.listen = netip.AddrPortFrom(p.addr.Addr(), hs.Port)
			}
			p.setAgent(hs.V)
			if t.meta != nil {
				t.offerFrom(p, hs.MetadataSize)
			}
		}
		if m.ExtendedID == peer.MetadataID {
			return t.onMetadata(p, m.Payload)
		}
		if m.ExtendedID == peer.PexID {
			return t.onPex(p, m.Payload)
		}
		// Other extensions are ignored, as BEP 10 allows.
	case peer.Port:
		return t.onPort(p, m.Port)
	}
	return nil
}

var errBothSeeds = errors.New("both sides are seeds")

// peerHas takes the pieces p says it has (a bitfield), replacing what we
// knew, and tells it whether we are interested.
func (t *Torrent) peerHas(p *peerConn, bf *piece.Bitfield) error {
	p.has = bf
	if err := t.picker.PeerBitfield(p, bf); err != nil {
		return err
	}
	if bf.Full() && t.complete {
		return errBothSeeds
	}
	t.superRecheck(p)
	t.updateInterest(p)
	t.sendAllowedFast(p)
	return nil
}

// isFast reports the messages of the fast extension (BEP 6).
func isFast(id peer.ID) bool {
	switch id {
	case peer.Suggest, peer.HaveAll, peer.HaveNone, peer.Reject, peer.AllowedFast:
		return true
	}
	return false
}

// reject tells a fast peer we will not serve its request of b (BEP 6).
func (p *peerConn) reject(b piece.Block) {
	p.t.fastStats.rejectsOut++
	p.send(peer.Message{ID: peer.Reject, Index: b.Piece, Begin: b.Begin, Length: b.Length})
}

// allowedFastCount is the size of the allowed-fast set we give a peer
// (BEP 6's k), as libtorrent's allowed_fast_set_size.
const allowedFastCount = 10

// sendAllowedFast gives a fast peer that has fewer than allowedFastCount
// pieces its allowed-fast set (BEP 6), once: the pieces of it we have, which
// it may then request while we choke it, so that a newcomer gets something
// to trade before its first unchoke.
func (t *Torrent) sendAllowedFast(p *peerConn) {
	if !p.fast || p.allowedFast != nil || p.has == nil || p.has.Count() >= allowedFastCount || t.cfg.FreeRide || t.superSeeding() {
		return
	}
	set, ok := peer.AllowedFastSet(allowedFastCount, t.geo.NumPieces(), p.addr.Addr(), t.infoHash)
	if !ok {
		p.allowedFast = []uint32{} // none for IPv6; do not try again
		return
	}
	p.allowedFast = set
	for _, i := range set {
		if t.picker.HasPiece(int(i)) {
			p.send(peer.Message{ID: peer.AllowedFast, Index: i})
		}
	}
}

// onReject takes a fast peer's refusal of a request (BEP 6): the block goes
// back to the picker and to the other peers at once, rather than waiting
// for the snub timeout. A reject of a block we no longer ask of it (one
// released when it choked us) is expected and ignored. The rejecting peer
// is not asked again until its next block or tick, so that a peer refusing
// everything does not start a request-reject loop.
func (t *Torrent) onReject(p *peerConn, m peer.Message) error {
	b := piece.Block{Piece: m.Index, Begin: m.Begin, Length: m.Length}
	if _, ok := t.geo.BlockIndex(b); !ok {
		return violation("reject of %v, not a block of the torrent", b)
	}
	t.fastStats.rejectsIn++
	released := t.picker.Release(p, b)
	p.log.Debug().Stringer("block", b).Bool("released", released).Msg("request rejected")
	if !released {
		return nil
	}
	for q := range t.peers {
		if q != p {
			t.fillRequests(q)
		}
	}
	return nil
}

// onRequest queues a block the peer asks for, after checking it.
func (t *Torrent) onRequest(p *peerConn, m peer.Message) error {
	b := piece.Block{Piece: m.Index, Begin: m.Begin, Length: m.Length}
	if err := peer.ValidateRequest(m, t.geo.PieceLength, t.geo.Length); err != nil {
		return violation("%v", err)
	}
	if !t.picker.HasPiece(int(m.Index)) {
		if !p.fast {
			return violation("request for piece %d, which we do not have", m.Index)
		}
		p.reject(b) // BEP 6: refused aloud; it may have raced a have
		return nil
	}
	if t.superRefuses(p, int(m.Index)) {
		// A super-seed has what the peer asks for but did not say so:
		// refused, aloud to a fast peer.
		if p.fast {
			p.reject(b)
		}
		return nil
	}
	if p.amChoking && !p.allowedWhileChoked(m.Index) {
		// A request racing our choke: BEP 3 lets us ignore it, BEP 6
		// has us reject it.
		if p.fast {
			p.reject(b)
		}
		return nil
	}
	p.queueUpload(b)
	t.uploadEvidence().Sent(p, int(m.Index))
	if !p.amChoking {
		t.rotateSeedSlots(time.Now())
	}
	return nil
}

// onBlock takes a piece message: bookkeeping here, the hash check and the
// write on a worker once the piece is complete (assemble.go).
func (t *Torrent) onBlock(p *peerConn, b piece.Block, data []byte) error {
	if _, ok := t.geo.BlockIndex(b); !ok {
		putBlock(data)
		return violation("piece message %v is not a block of the torrent", b)
	}
	if !t.picker.Requested(p, b) {
		// Not asked of this peer, or no longer (cancelled in endgame,
		// released when it choked us): dropped, even in a piece we want,
		// so no peer can put data into our files unasked; it counts as
		// wasted, never as downloaded (the tracker's figure) or towards
		// the peer's rate (the choker's).
		return t.unwantedBlock(p, data)
	}
	p.downloaded.Add(int64(len(data)))
	t.downloaded += int64(len(data))
	p.lastBlock = time.Now()
	p.snubbed = false
	if p.slowStart {
		// Like TCP's slow start: one more request per block received
		// doubles the pipeline each round trip, so a fast peer is filled
		// within milliseconds while a slow one never gets a deep queue.
		p.pipeline = min(maxPipeline, p.pipeline+1)
	}
	rc, err := t.picker.Received(p, b)
	if err != nil {
		putBlock(data)
		return err
	}
	for _, q := range rc.Cancel {
		if _, ok := t.peers[q]; ok {
			q.send(peer.Message{ID: peer.Cancel, Index: b.Piece, Begin: b.Begin, Length: b.Length})
		}
	}
	if !rc.Accepted {
		return t.unwantedBlock(p, data)
	}
	p.usefulBlocks++
	t.storeBlock(b, data, rc.Complete)
	t.fillRequests(p)
	return nil
}

// unwantedBlock drops a block we cannot use; a peer sending many more of
// those than blocks we could use is dropped.
func (t *Torrent) unwantedBlock(p *peerConn, data []byte) error {
	t.wasted += int64(len(data))
	putBlock(data)
	if p.unwanted++; p.unwanted > p.usefulBlocks+maxUnwantedBlocks {
		return violation("sent %d blocks we could not use (%d we could)", p.unwanted, p.usefulBlocks)
	}
	t.fillRequests(p)
	return nil
}

// updateInterest tells the peer whether we want something it has.
func (t *Torrent) updateInterest(p *peerConn) {
	if t.picker == nil {
		return
	}
	want := t.diskErr == nil && t.picker.Interesting(p)
	if want != p.amInterested {
		p.amInterested = want
		id := peer.NotInterested
		if want {
			id = peer.Interested
		}
		p.send(peer.Message{ID: id})
	}
}

// releaseToOthers gives up every request outstanding to p and offers the
// blocks to the other peers at once.
func (t *Torrent) releaseToOthers(p *peerConn) {
	t.picker.ReleasePeer(p)
	for q := range t.peers {
		if q != p {
			t.fillRequests(q)
		}
	}
}

// fillRequests tops up the requests outstanding to p to its pipeline depth.
func (t *Torrent) fillRequests(p *peerConn) {
	if t.picker == nil || p.peerChoking || !p.amInterested || t.diskErr != nil {
		return
	}
	depth := p.pipeline
	if p.reqq > 0 {
		// Never more than the peer queues: slow start grows the pipeline
		// per block between the ticks that clamp it, and a fast peer
		// rejects what is past its reqq (libtorrent does).
		depth = min(depth, p.reqq)
	}
	out := t.picker.Outstanding(p)
	n := depth - out
	if n <= 0 || out > 0 && n < depth/8 {
		// A fast peer's requests go out an eighth of its pipeline at a
		// time, the rest of it still outstanding: one write and one wake
		// of its writer a batch, not a block.
		return
	}
	blocks := t.picker.Pick(p, n)
	if len(blocks) == 0 {
		return
	}
	if t.picker.Outstanding(p) == len(blocks) {
		p.lastRequest = time.Now()
	}
	msgs := t.reqScratch[:0]
	for _, b := range blocks {
		msgs = append(msgs, peer.Message{ID: peer.Request, Index: b.Piece, Begin: b.Begin, Length: b.Length})
	}
	p.send(msgs...) // copies them
	t.reqScratch = msgs[:0]
}
