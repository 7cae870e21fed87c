package session

// pieceWrites follows each piece from its blocks' arrival to its hash
// check: a piece is hashed once it is complete and every one of its block
// writes has ended, and never while a write of it failed (it is lost: its
// data is incomplete, and it is fetched afresh once storage works). It does
// no I/O (the disk workers do) and belongs to the torrent's loop.
type pieceWrites struct {
	writing map[int]int  // blocks of each piece still being written
	ready   map[int]bool // complete pieces waiting for their writes
	lost    map[int]bool // pieces some block of which was not written or read back
}

func newPieceWrites() pieceWrites {
	return pieceWrites{writing: map[int]int{}, ready: map[int]bool{}, lost: map[int]bool{}}
}

// queued notes a block of piece pc handed to a writer; complete says the
// piece has all its blocks now.
func (w *pieceWrites) queued(pc int, complete bool) {
	w.writing[pc]++
	if complete {
		w.ready[pc] = true
	}
}

// written notes the end of a block write of pc, failed or not, and reports
// whether pc is now to be hashed.
func (w *pieceWrites) written(pc int, failed bool) (hash bool) {
	w.ended(pc)
	if failed {
		w.lost[pc] = true
		return false
	}
	if w.lost[pc] {
		delete(w.ready, pc)
		return false
	}
	if w.ready[pc] && w.writing[pc] == 0 {
		delete(w.ready, pc)
		return true
	}
	return false
}

// ended notes the end of a block write of pc whose result is not used
// (the loop is stopping: no more hash checks).
func (w *pieceWrites) ended(pc int) {
	if w.writing[pc]--; w.writing[pc] <= 0 {
		delete(w.writing, pc)
	}
}

// lose notes that pc could not be read back for its hash check.
func (w *pieceWrites) lose(pc int) { w.lost[pc] = true }

// retry returns the lost pieces and forgets them, to be fetched afresh.
func (w *pieceWrites) retry() []int {
	lost := make([]int, 0, len(w.lost))
	for pc := range w.lost {
		lost = append(lost, pc)
		delete(w.ready, pc)
	}
	clear(w.lost)
	return lost
}
