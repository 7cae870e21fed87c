package session

import (
	"crypto/sha1"
	"sync"

	"swarm/metainfo"
	"swarm/piece"
)

// diskWorkers run a torrent's block writes and piece hash checks off its
// loop, and post the results back as events.
type diskWorkers struct {
	t    *Torrent
	jobs chan func() event
	wg   sync.WaitGroup
	// Workers hand results to a forwarder that queues them without bound
	// and feeds the loop, because the loop may itself be blocked handing a
	// worker a job: workers must never wait for the loop. The queue is
	// bounded in practice by the requests in flight.
	results chan event
	fwd     sync.WaitGroup
	bufs    sync.Pool // piece-length buffers for hash checks
	n       int       // goroutines, started by the first job
	// slots holds a token for each complete piece held in memory that is
	// queued or under check: at most max(2, checkBytes / piece length).
	slots chan struct{}
	sha   sync.Pool // SHA-1 states for check
}

func newDiskWorkers(t *Torrent, n int) *diskWorkers {
	w := &diskWorkers{t: t, n: n}
	pl := int(t.geo.PieceLength)
	w.bufs.New = func() any { b := make([]byte, pl); return &b }
	w.sha.New = func() any { return sha1.New() }
	w.slots = make(chan struct{}, max(2, checkBytes/pl))
	return w
}

// start starts the goroutines on the first job, not before: a seed never
// writes or hashes, and a daemon seeding 1,000 torrents would otherwise
// hold 3,000 idle goroutines and their channels. Called from the loop
// only, as write, hash and close are.
func (w *diskWorkers) start() {
	if w.jobs != nil {
		return
	}
	w.jobs, w.results = make(chan func() event, 256), make(chan event, 64)
	for range w.n {
		w.wg.Go(func() {
			for job := range w.jobs {
				w.results <- job()
			}
		})
	}
	w.fwd.Go(w.forward)
}

func (w *diskWorkers) forward() {
	var queue []event
	in := w.results
	for in != nil || len(queue) > 0 {
		var out chan event
		var next event
		if len(queue) > 0 {
			out, next = w.t.events, queue[0]
		}
		select {
		case ev, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			queue = append(queue, ev)
		case out <- next:
			queue[0] = nil
			queue = queue[1:]
		}
	}
}

// write stores a block, then returns its buffer to the pool.
func (w *diskWorkers) write(b piece.Block, data []byte, off int64) {
	w.start()
	w.jobs <- func() event {
		_, err := w.t.cfg.Store.WriteAt(data, off)
		putBlock(data)
		return blockWritten{block: b, err: err}
	}
}

// hash reads a piece back and checks it against its SHA-1. A piece that
// fails, or passes with blockSums set, also gets the SHA-1 of each block.
func (w *diskWorkers) hash(p int, off, length int64, want metainfo.Hash, blockSums bool) {
	w.start()
	w.jobs <- func() event {
		bp := w.bufs.Get().(*[]byte)
		defer w.bufs.Put(bp)
		buf := (*bp)[:length]
		if _, err := w.t.cfg.Store.ReadAt(buf, off); err != nil {
			return pieceHashed{piece: p, err: err}
		}
		ev := pieceHashed{piece: p, ok: sha1.Sum(buf) == want}
		if !ev.ok || blockSums {
			for b := buf; len(b) > 0; b = b[min(len(b), piece.BlockSize):] {
				ev.blocks = append(ev.blocks, sha1.Sum(b[:min(len(b), piece.BlockSize)]))
			}
		}
		return ev
	}
}

// close waits for queued jobs to finish, handing their results to drop
// (the loop no longer runs).
func (w *diskWorkers) close(drop func(event)) {
	if w.jobs == nil {
		return // never started
	}
	close(w.jobs)
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(w.results); w.fwd.Wait(); close(done) }()
	for {
		select {
		case ev := <-w.t.events:
			drop(ev)
		case <-done:
			for {
				select {
				case ev := <-w.t.events:
					drop(ev)
				default:
					return
				}
			}
		}
	}
}
