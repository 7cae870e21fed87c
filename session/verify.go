package session

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"time"

	"swarm/peer"
	"swarm/storage"
)

// What follows a block's arrival: its write, the piece's hash check, the
// ban of a peer whose data failed it, and storage errors with their retry.

// onWritten hashes a piece once all its blocks are written.
func (t *Torrent) onWritten(ev blockWritten) {
	pc := int(ev.block.Piece)
	if t.writes.written(pc, ev.err != nil) {
		t.workers.hash(pc, t.geo.PieceOffset(pc), t.geo.PieceLen(pc), t.m.Info.Pieces[pc], t.suspects[pc] != nil)
	}
	if ev.err != nil {
		t.failDisk(ev.err)
	}
}

func (t *Torrent) onHashed(ev pieceHashed) {
	if ev.err != nil {
		t.writes.lose(ev.piece)
		t.failDisk(ev.err)
		return
	}
	if ev.ok {
		t.smartBan(ev)
		if err := t.picker.Verified(ev.piece); err != nil {
			t.log.Error().Err(err).Int("piece", ev.piece).Msg("picker refused a verified piece")
			return
		}
		t.resumeDirty = true
		t.diskRetryWait = 0 // storage works
		t.log.Debug().Int("piece", ev.piece).Msg("piece verified")
		for p := range t.peers {
			// To every peer, seeds too (BEP 3; libtorrent's default): a
			// seed ranks its takers by the pieces it sees them pass on.
			p.send(peer.Message{ID: peer.Have, Index: uint32(ev.piece)})
			t.updateInterest(p)
		}
		if t.picker.Complete() {
			t.markComplete(true)
		}
		return
	}
	t.suspect(ev)
	senders, err := t.picker.Failed(ev.piece)
	if err != nil {
		t.log.Error().Err(err).Int("piece", ev.piece).Msg("picker refused a failed piece")
		return
	}
	t.wasted += t.geo.PieceLen(ev.piece)
	t.hashFails++
	t.log.Warn().Int("piece", ev.piece).Int("senders", len(senders)).Msg("piece failed its hash check")
	// A peer that alone sent a bad piece is lying, and is banned. When
	// several shared in it, each goes on parole: it is given whole pieces
	// nobody else sends blocks of, so its next bad piece is its alone,
	// and a good one clears it (the picker does both; libtorrent's
	// parole mode works the same way). Blocks a banned peer sent before
	// its ban fail the pieces they are in later on: that failure is its own.
	liar := false
	for _, p := range senders {
		liar = liar || t.bannedIDs[p.id]
	}
	switch {
	case liar:
	case len(senders) == 1:
		t.ban(senders[0], ev.piece)
	default:
		for _, p := range senders {
			if t.isSource(p) && !t.picker.OnParole(p) {
				p.log.Info().Int("piece", ev.piece).Int("senders", len(senders)).Msg("peer on parole: it shared in a piece that failed its hash check")
				t.picker.SetParole(p, true)
			}
		}
	}
	for p := range t.peers {
		t.fillRequests(p)
	}
}

// A suspect block is one a peer sent of a piece that failed its hash check
// with blocks from several peers. When the piece later passes, each such
// block that differs from the verified one names a liar for certain ("smart
// ban", as libtorrent calls it), however it behaves on parole; the others
// clear their senders.
type suspectBlock struct {
	index int
	sum   [sha1.Size]byte
	from  *peerConn
}

// maxSuspectBlocks bounds the suspect blocks kept per piece (a few failed
// attempts), so a piece that keeps failing cannot grow them without end.
const maxSuspectBlocks = 256

// suspect notes the blocks of failed piece ev.piece with their senders,
// when more than one peer sent them. Call it before picker.Failed.
func (t *Torrent) suspect(ev pieceHashed) {
	senders := t.picker.BlockSenders(ev.piece)
	if len(senders) != len(ev.blocks) {
		return
	}
	var first *peerConn
	shared := false
	for _, p := range senders {
		switch {
		case p == nil: // pad bytes (BEP 47): nobody sent them
		case first == nil:
			first = p
		case p != first:
			shared = true
		}
	}
	if !shared {
		return
	}
	recs := t.suspects[ev.piece]
	for i, sum := range ev.blocks {
		if senders[i] != nil {
			recs = append(recs, suspectBlock{index: i, sum: sum, from: senders[i]})
		}
	}
	t.suspects[ev.piece] = recs[max(0, len(recs)-maxSuspectBlocks):]
}

// smartBan compares verified piece ev.piece with the blocks suspected when
// it failed before: the sender of a block that differs lied and is banned;
// a peer whose blocks all matched is taken off parole.
func (t *Torrent) smartBan(ev pieceHashed) {
	recs := t.suspects[ev.piece]
	if recs == nil {
		return
	}
	delete(t.suspects, ev.piece)
	if len(ev.blocks) == 0 {
		return
	}
	lied := map[*peerConn]bool{}
	for _, r := range recs {
		if r.index < len(ev.blocks) && r.sum != ev.blocks[r.index] {
			lied[r.from] = true
		} else if _, ok := lied[r.from]; !ok {
			lied[r.from] = false
		}
	}
	for p, bad := range lied {
		switch {
		case bad && !t.bannedIDs[p.id]:
			p.log.Info().Int("piece", ev.piece).Msg("smart ban: a block it sent differs from the piece as verified")
			t.ban(p, ev.piece)
		case !bad:
			if t.isSource(p) && t.picker.OnParole(p) {
				t.picker.SetParole(p, false)
			}
		}
	}
}

// ban disconnects a peer whose data failed the hash check of piece pc, if
// it is still connected, and refuses its IP address and peer id for this
// torrent from then on, as libtorrent does: a new port or a new peer id
// does not get a liar back in, and its other connections go too. That
// holds on loopback as well: 127.0.0.1 and 127.0.0.2 are different
// addresses, but every client on one machine that connects from 127.0.0.1
// is banned with the liar among them.
func (t *Torrent) ban(p *peerConn, pc int) {
	if t.banWebSeed(p, pc) {
		return
	}
	ip := p.addr.Addr().Unmap()
	t.addrs.ban(ip)
	t.bannedIDs[p.id] = true
	t.wasted += t.picker.Discard(p)
	err := violation("sent data that failed the hash check of piece %d", pc)
	if _, ok := t.peers[p]; !ok {
		p.log.Info().Err(err).Msg("peer banned after it left")
	}
	t.disconnect(p, err)
	for q := range t.peers {
		if q.addr.Addr().Unmap() == ip {
			t.wasted += t.picker.Discard(q)
			t.disconnect(q, fmt.Errorf("banned address: a peer at %s sent data that failed the hash check", ip))
		}
	}
}

// failDisk stops downloading after a storage error. A full disk (or quota)
// may clear by itself: verified data stays, the torrent keeps seeding what
// it has, and retryDisk tries again later. Any other error (permission
// denied, a read-only file system, a file where a folder goes, a name too
// long) will not clear by waiting, and retrying it would show a download
// that never moves: the torrent stops at once, with the error in its stats.
func (t *Torrent) failDisk(err error) {
	if !errors.Is(err, storage.ErrDiskFull) {
		if t.stopErr == nil {
			t.stopErr, t.diskErr = err, err
			t.log.Error().Err(err).Msg("storage failed: torrent stopped")
			t.publishStats()
		}
		return
	}
	if t.diskErr == nil {
		t.diskErr = err
		t.diskRetryWait = min(max(2*t.diskRetryWait, diskRetryMin), diskRetryMax)
		t.diskRetry = time.Now().Add(t.diskRetryWait)
		t.log.Error().Err(err).Dur("retry_in", t.diskRetryWait).Msg("storage failed: downloading paused")
		for p := range t.peers {
			t.picker.ReleasePeer(p)
			if p.amInterested {
				p.amInterested = false
				p.send(peer.Message{ID: peer.NotInterested})
			}
		}
		t.publishStats()
	}
}

// retryDisk resumes downloading after a storage error, once its wait is
// over: the pieces whose blocks were not written start afresh (no peer is
// blamed for them), and if storage fails again, failDisk waits twice as
// long before the next try.
func (t *Torrent) retryDisk(now time.Time) {
	if t.diskErr == nil || now.Before(t.diskRetry) {
		return
	}
	for _, pc := range t.writes.retry() {
		t.dropHeld(pc)
		for _, r := range t.picker.Abandon(pc) {
			r.Peer.send(peer.Message{ID: peer.Cancel, Index: r.Block.Piece, Begin: r.Block.Begin, Length: r.Block.Length})
		}
	}
	t.log.Info().AnErr("after", t.diskErr).Msg("storage retried: downloading resumed")
	t.diskErr = nil
	for p := range t.peers {
		t.updateInterest(p)
		t.fillRequests(p)
	}
	t.publishStats()
}
