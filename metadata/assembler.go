package metadata

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"time"

	"swarm/peer"
)

// Defaults for the zero fields of Config.
const (
	// DefaultMemoryBudget lets one fetch of the largest info dict we accept
	// (peer.MaxMetadataSize) run beside one of up to 8 MiB, several times any
	// real one (a 1 TiB torrent of 16 MiB pieces has 1.3 MiB of piece hashes).
	DefaultMemoryBudget = peer.MaxMetadataSize + 8<<20
	// DefaultTimeout: a fetch that gets no piece for this long expires.
	DefaultTimeout = 30 * time.Second
)

// maxFetchTimeouts bounds a whole fetch to this many Timeouts, so that a
// peer trickling one piece per Timeout cannot hold its claimed size (and
// every honest peer claiming the same size) for 1,024 of them.
const maxFetchTimeouts = 10

// requestWindow is how many metadata pieces one peer is asked for at a time.
// libtorrent keeps two in flight and queues up to 1024 requests when it serves.
const requestWindow = 4

// Errors the caller branches on. Any error from Data or Reject means the
// peer is of no use for the metadata: drop it.
var (
	// ErrHashMismatch: the info dict a peer sent does not hash to the info
	// hash. The caller bans the peer's IP.
	ErrHashMismatch = errors.New("metadata: info dict does not match the info hash")
	// ErrRejected: the peer rejected a request for a piece of the size it
	// claimed.
	ErrRejected = errors.New("metadata: peer rejected a request")
	// ErrBadSize: the peer claims a metadata_size of 0 or less, or above
	// peer.MaxMetadataSize; it is not asked.
	ErrBadSize = errors.New("metadata: unusable metadata_size")
)

// Config says what an Assembler assembles.
type Config struct {
	// InfoHash is the v1 info hash: the SHA-1 the info dict must have.
	InfoHash [20]byte
	// MemoryBudget bounds, in bytes, the sizes claimed by the fetches in
	// flight together: a fetch starts only when its claimed size fits. 0
	// means DefaultMemoryBudget; less than peer.MaxMetadataSize is an error.
	MemoryBudget int
	// Timeout: a fetch that gets no piece for this long expires (Expired);
	// one that has run ten times as long expires too. 0 means
	// DefaultTimeout.
	Timeout time.Duration
}

// Request asks Peer for metadata piece Piece (a ut_metadata request).
type Request[P comparable] struct {
	Peer  P
	Piece int
}

// Assembler gets one info dict from the peers that offer it, over
// ut_metadata (BEP 9). Each peer that claims a size (metadata_size in its
// extension handshake) is asked for the whole dict on its own, so that a
// dict failing the hash names its sender; the claimed sizes of the fetches
// in flight share a memory budget, and one size is fetched from one peer at
// a time, since that fetch's outcome settles the size for every peer that
// claims it. Pieces are kept apart until all have come, so memory follows
// what a peer really sent, never what it claimed.
//
// It is pure: it does no I/O, reads no clock (callers pass now) and starts
// no goroutines. The caller owns the connections: it sends the requests
// Requests returns and hands in what peers answer. One goroutine at a time
// may use an Assembler (a torrent's loop).
type Assembler[P comparable] struct {
	cfg     Config
	free    int          // budget not reserved by a fetch
	sizes   map[int]bool // claimed sizes being fetched
	offers  map[P]*fetch // peers that claimed a size, with their fetch if one runs
	waiting []P          // peers with an offer and no fetch, in offer order
}

// fetch is one peer's offer and, once started, its fetch.
type fetch struct {
	size    int
	started bool
	pieces  [][]byte
	next    int // pieces requested so far, from 0
	got     int
	start   time.Time
	last    time.Time // when the last piece came (start before)
}

// New checks cfg and fills in its defaults.
func New[P comparable](cfg Config) (*Assembler[P], error) {
	if cfg.MemoryBudget < 0 || cfg.Timeout < 0 {
		return nil, errors.New("metadata: negative MemoryBudget or Timeout")
	}
	if cfg.MemoryBudget != 0 && cfg.MemoryBudget < peer.MaxMetadataSize {
		return nil, fmt.Errorf("metadata: MemoryBudget %d is below the largest info dict we accept (%d)", cfg.MemoryBudget, peer.MaxMetadataSize)
	}
	if cfg.MemoryBudget == 0 {
		cfg.MemoryBudget = DefaultMemoryBudget
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Assembler[P]{cfg: cfg, free: cfg.MemoryBudget, sizes: map[int]bool{}, offers: map[P]*fetch{}}, nil
}

// Offer records that p has the info dict and claims it is size bytes (its
// extension handshake's metadata_size). A peer's later offer replaces its
// earlier one and restarts its fetch. A size of 0 or less, or above
// peer.MaxMetadataSize, is refused with ErrBadSize and p is not asked.
func (a *Assembler[P]) Offer(p P, size int) error {
	if size <= 0 || size > peer.MaxMetadataSize {
		return fmt.Errorf("%w: %d bytes (limit %d)", ErrBadSize, size, peer.MaxMetadataSize)
	}
	if f := a.offers[p]; f != nil && f.size == size {
		return nil
	}
	a.Drop(p)
	a.offers[p] = &fetch{size: size}
	a.waiting = append(a.waiting, p)
	return nil
}

// Drop forgets p (it disconnected, or the caller gave up on it) and frees
// what its fetch held.
func (a *Assembler[P]) Drop(p P) {
	f := a.offers[p]
	if f == nil {
		return
	}
	delete(a.offers, p)
	if f.started {
		a.release(f)
		return
	}
	for i, q := range a.waiting {
		if q == p {
			a.waiting = append(a.waiting[:i], a.waiting[i+1:]...)
			break
		}
	}
}

func (a *Assembler[P]) release(f *fetch) {
	delete(a.sizes, f.size)
	a.free += f.size
	f.pieces = nil
}

// Requests starts the fetches whose claimed size fits in the budget and is
// not being fetched, in the order peers offered, and returns the requests
// to send: up to requestWindow pieces in flight per fetch. Call it after
// Offer, Drop, Data, Reject and Expired.
func (a *Assembler[P]) Requests(now time.Time) []Request[P] {
	var out []Request[P]
	kept := a.waiting[:0]
	for _, p := range a.waiting {
		f := a.offers[p]
		if a.sizes[f.size] || f.size > a.free {
			kept = append(kept, p)
			continue
		}
		a.sizes[f.size] = true
		a.free -= f.size
		f.started, f.start, f.last = true, now, now
		f.pieces = make([][]byte, peer.MetadataPieces(f.size))
	}
	clear(a.waiting[len(kept):])
	a.waiting = kept
	for p, f := range a.offers {
		if !f.started {
			continue
		}
		for ; f.next < len(f.pieces) && f.next-f.got < requestWindow; f.next++ {
			out = append(out, Request[P]{Peer: p, Piece: f.next})
		}
	}
	return out
}

// Data takes a data message from p. It returns the info dict once p's
// fetch is whole and hashes to the info hash; then the Assembler's work is
// done. An error means p is of no use: it sent a piece we did not ask it
// for, or of another total_size than it claimed, or an info dict that
// fails the hash (ErrHashMismatch); its fetch is over and its offer
// forgotten.
func (a *Assembler[P]) Data(p P, m peer.MetadataMessage, now time.Time) ([]byte, error) {
	f := a.offers[p]
	switch {
	case f == nil || !f.started:
		return nil, fmt.Errorf("metadata: piece %d that we did not ask for", m.Piece)
	case m.TotalSize != f.size:
		a.Drop(p)
		return nil, fmt.Errorf("metadata: piece %d says total_size %d, the extension handshake said %d", m.Piece, m.TotalSize, f.size)
	case m.Piece >= f.next || f.pieces[m.Piece] != nil:
		a.Drop(p)
		return nil, fmt.Errorf("metadata: piece %d that we did not ask for", m.Piece)
	}
	f.pieces[m.Piece] = bytes.Clone(m.Data) // m.Data may be a reused buffer
	f.got++
	f.last = now
	if f.got < len(f.pieces) {
		return nil, nil
	}
	// Hash the pieces where they are: a second copy of junk would double
	// what a liar costs.
	h := sha1.New()
	for _, b := range f.pieces {
		h.Write(b)
	}
	sum := [20]byte(h.Sum(nil))
	pieces := f.pieces
	a.Drop(p)
	if sum != a.cfg.InfoHash {
		return nil, fmt.Errorf("%w: %d bytes with SHA-1 %x", ErrHashMismatch, f.size, sum)
	}
	return bytes.Join(pieces, nil), nil
}

// Reject takes p's reject of a piece. A reject of a piece we asked for
// ends p's fetch (ErrRejected); one of anything else is ignored, as BEP 9
// lets a peer that has not got the metadata reject what nobody asked.
func (a *Assembler[P]) Reject(p P, piece int) error {
	f := a.offers[p]
	if f == nil || !f.started || piece >= f.next {
		return nil
	}
	a.Drop(p)
	return fmt.Errorf("%w: piece %d", ErrRejected, piece)
}

// Expired returns the peers whose fetch got no piece for Timeout, or has
// run ten Timeouts, and forgets them; the caller drops them.
func (a *Assembler[P]) Expired(now time.Time) []P {
	var out []P
	for p, f := range a.offers {
		if f.started && (now.Sub(f.last) >= a.cfg.Timeout || now.Sub(f.start) >= maxFetchTimeouts*a.cfg.Timeout) {
			out = append(out, p)
		}
	}
	for _, p := range out {
		a.Drop(p)
	}
	return out
}

// Fetching returns how many fetches are in flight.
func (a *Assembler[P]) Fetching() int { return len(a.sizes) }

// Reserved returns the bytes of the budget the fetches in flight hold.
func (a *Assembler[P]) Reserved() int { return a.cfg.MemoryBudget - a.free }
