package session

import (
	"crypto/sha1"
	"hash"

	"swarm/metainfo"
	"swarm/piece"
	"swarm/storage"
)

// The blocks of a piece being downloaded stay in memory until the piece is
// complete; a disk worker then hashes it from them and, only if it passes,
// writes it with one call (storage.WriteBuffers, one pwritev per file).
// Nothing is read back to be hashed, a piece that fails never reaches the
// disk, and a piece is verified only once it is written: a SIGKILL loses
// pieces in memory, never one the resume record holds.
//
// Memory is bounded twice. Blocks of incomplete pieces take at most
// heldLimit bytes (plus one block): past it, the piece that receives a
// block is spilled, its blocks written as they come and the piece read
// back for its hash check, as before this path existed. Complete pieces
// queued for or under their check take at most max(2, checkBytes / piece
// length) pieces (diskWorkers.check): a deeper queue would only hold more
// memory while the workers are the bottleneck. So a torrent holds at most
// heldLimit + max(checkBytes, 2 × piece length) of blocks: 20 MiB with
// 256 KiB pieces, 48 MiB with 16 MiB pieces. The blocks of incomplete
// pieces of all the session's torrents take at most heldSessionLimit: a
// peer in the swarms of many torrents, sending every block of piece after
// piece but the last, would otherwise make each hold heldLimit.
const (
	heldLimit        = 16 << 20
	heldSessionLimit = 64 << 20
	checkBytes       = 4 << 20
)

// assembly holds the blocks of incomplete pieces. It belongs to the
// torrent's loop.
type assembly struct {
	pieces map[int]*heldPiece
	bytes  int64 // block bytes held for incomplete pieces
	limit  int64 // heldLimit; tests lower it
}

type heldPiece struct {
	blocks  [][]byte // by block index; nil until it arrives (pad blocks stay nil: zeros)
	spilled bool     // its blocks go to storage as they come; hashed from there
}

func newAssembly() assembly {
	return assembly{pieces: map[int]*heldPiece{}, limit: heldLimit}
}

// storeBlock takes an accepted block; complete says it was the last one
// its piece lacked.
func (t *Torrent) storeBlock(b piece.Block, data []byte, complete bool) {
	pc := int(b.Piece)
	hp := t.held.pieces[pc]
	if hp == nil {
		hp = &heldPiece{blocks: make([][]byte, t.geo.NumBlocks(pc))}
		t.held.pieces[pc] = hp
	}
	if complete {
		delete(t.held.pieces, pc)
	}
	if hp.spilled {
		t.writes.queued(pc, complete)
		t.workers.write(b, data, t.geo.Offset(b))
		return
	}
	i := int(b.Begin / piece.BlockSize)
	if old := hp.blocks[i]; old != nil {
		// Sent again after its sender was banned (picker.Discard).
		t.addHeld(-int64(len(old)))
		putBlock(old)
	}
	hp.blocks[i] = data
	t.addHeld(int64(len(data)))
	switch {
	case complete:
		for _, d := range hp.blocks {
			t.addHeld(-int64(len(d)))
		}
		t.workers.check(pc, hp.blocks, t.m.Info.Pieces[pc], t.suspects[pc] != nil)
	case t.held.bytes > t.held.limit || t.sess.held.Load() > t.sess.heldLimit:
		t.spill(pc, hp)
	}
}

// addHeld counts n more bytes held (less if negative), in the torrent and
// in its session.
func (t *Torrent) addHeld(n int64) {
	t.held.bytes += n
	t.sess.held.Add(n)
}

// releaseHeld gives the session back what the torrent holds once its loop
// has ended; the blocks go to the garbage collector.
func (t *Torrent) releaseHeld() {
	t.sess.held.Add(-t.held.bytes)
	t.held.bytes = 0
	clear(t.held.pieces)
}

// spill writes the blocks held of incomplete piece pc to storage; the rest
// of them follow as they arrive.
func (t *Torrent) spill(pc int, hp *heldPiece) {
	hp.spilled = true
	for i, d := range hp.blocks {
		if d != nil {
			hp.blocks[i] = nil
			t.addHeld(-int64(len(d)))
			t.writes.queued(pc, false)
			t.workers.write(t.geo.Block(pc, i), d, t.geo.Offset(t.geo.Block(pc, i)))
		}
	}
	t.log.Debug().Int("piece", pc).Int64("held", t.held.bytes).Msg("piece spilled to storage: too many blocks held")
}

// dropHeld forgets the blocks held of piece pc, which starts afresh.
func (t *Torrent) dropHeld(pc int) {
	hp := t.held.pieces[pc]
	if hp == nil {
		return
	}
	for _, d := range hp.blocks {
		t.addHeld(-int64(len(d)))
		putBlock(d)
	}
	delete(t.held.pieces, pc)
}

// zeroBlock stands for pad blocks (BEP 47), which are never received:
// storage drops writes to pad files and reads them as zeros.
var zeroBlock = make([]byte, piece.BlockSize)

// check hashes complete piece p from its blocks in memory and, if it
// passes, writes it; the result says ok only once the piece is written.
// It gives the blocks back to the pool. At most cap(w.slots) pieces are
// queued or under check: beyond that it blocks the loop, which stalls the
// readers, until a worker is done (the backpressure of the write queue).
func (w *diskWorkers) check(p int, blocks [][]byte, want metainfo.Hash, blockSums bool) {
	w.start()
	w.slots <- struct{}{}
	w.jobs <- func() event {
		defer func() { <-w.slots }()
		geo := w.t.geo
		bufs := make([][]byte, len(blocks))
		for i, d := range blocks {
			if bufs[i] = d; d == nil {
				bufs[i] = zeroBlock[:geo.Block(p, i).Length]
			}
		}
		h := w.sha.Get().(hash.Hash)
		h.Reset()
		for _, b := range bufs {
			h.Write(b)
		}
		var sum metainfo.Hash
		h.Sum(sum[:0])
		w.sha.Put(h)
		ev := pieceHashed{piece: p, ok: sum == want}
		if !ev.ok || blockSums {
			for _, b := range bufs {
				ev.blocks = append(ev.blocks, sha1.Sum(b))
			}
		}
		if ev.ok {
			if _, err := storage.WriteBuffers(w.t.cfg.Store, bufs, geo.PieceOffset(p)); err != nil {
				ev.ok, ev.err = false, err
			}
		}
		for _, d := range blocks {
			putBlock(d)
		}
		return ev
	}
}
