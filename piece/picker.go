package piece

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Defaults for Config fields left zero.
const (
	DefaultRandomFirst   = 4
	DefaultMaxDuplicates = 3
)

// Config configures a Picker.
type Config struct {
	// Geometry cuts the torrent into pieces and blocks; required.
	Geometry Geometry
	// Rand breaks ties between equally rare pieces and chooses the random
	// first pieces. Nil means a source seeded at random; tests pass a seeded
	// one to get the same picks every run.
	Rand *rand.Rand
	// RandomFirst is the number of verified pieces below which new pieces
	// are chosen at random rather than rarest first. 0 means
	// DefaultRandomFirst; negative means always rarest first.
	RandomFirst int
	// MaxDuplicates is the most peers a block is requested from at once in
	// endgame, counting the first. 0 means DefaultMaxDuplicates; 1 turns
	// endgame off.
	MaxDuplicates int
	// Known reports blocks whose bytes are known in advance and so are
	// never requested: those wholly inside BEP 47 pad files (zeros). A
	// piece counts them as received (from the zero K) when it starts; its
	// hash check still covers them. A piece made only of known blocks is
	// requested as usual, so that every piece has a sender to blame. Nil
	// means none.
	Known func(Block) bool
}

// Request is an outstanding request of a block from a peer.
type Request[K comparable] struct {
	Peer  K
	Block Block
}

// Receipt tells the caller what to do with a block that arrived.
type Receipt[K comparable] struct {
	// Accepted is true when the block is new data to write. When false the
	// block is a duplicate or belongs to a piece we have or do not want;
	// drop it.
	Accepted bool
	// Cancel lists other peers the block was also requested from (endgame);
	// send each of them a cancel.
	Cancel []K
	// Complete is true when this block was the last missing one of its
	// piece: hash the piece once it is written, then call Verified or Failed.
	Complete bool
}

// Picker chooses which blocks to request from which peer and keeps the
// books on requests, received blocks and verified pieces. NOTES.md states
// the rules. K identifies a peer; any comparable value works (an ID, a
// pointer).
//
// A Picker is not safe for concurrent use: one goroutine, the torrent's
// owner loop, calls all of its methods.
type Picker[K comparable] struct {
	geo         Geometry
	n           int
	rand        *rand.Rand
	randomFirst int
	maxDup      int
	known       func(Block) bool

	have   *Bitfield
	wanted *Bitfield
	avail  []int32 // peers that have each piece, seeds not included
	seeds  int     // peers that have every piece

	// Candidates are the pieces we lack and want. order[:m] holds them
	// bucketed by avail: bucket a is order[start[a]:start[a+1]], with
	// m = start[len(start)-1]. Within a bucket the order is a uniformly
	// random permutation, which breaks ties at random. pos is the inverse
	// of order, -1 for pieces that are not candidates.
	order []int32
	pos   []int32
	start []int32

	pieces    []*pieceState[K] // per piece; nil unless started
	active    []int32          // started pieces not yet complete, oldest first
	unstarted int              // candidates with no pieceState
	pending   int              // blocks of started pieces neither requested nor received

	peers map[K]*peerState

	// prio is each piece's Priority, nil while all are normal; mixed
	// counts the pieces that are not normal, so that Pick scans by tier
	// only when some are.
	prio  []Priority
	mixed int
	// tierUnstarted counts the unstarted candidates of each priority,
	// low first, so that Pick skips a tier with none.
	tierUnstarted [3]int
}

// Priority ranks pieces: Pick starts no piece while a piece of a higher
// priority that the peer has is not started. The values are Transmission's
// file priorities.
type Priority int8

const (
	PriorityLow    Priority = -1
	PriorityNormal Priority = 0
	PriorityHigh   Priority = 1
)

type pieceState[K comparable] struct {
	blocks    []blockState[K]
	received  int  // blocks received
	pending   int  // blocks neither requested nor received
	next      int  // no pending block has a lower index
	verifying bool // all blocks received; waiting for Verified or Failed
	// owned is set when a peer on parole started the piece: the piece is
	// its alone, so that a hash failure has one sender to blame.
	owned bool
	owner K
}

type blockState[K comparable] struct {
	received bool
	known    bool // known in advance (Config.Known); never requested
	from     K    // sender, once received
	reqs     []K  // peers it is requested from; empty once received
}

type peerState struct {
	has   *Bitfield
	seed  bool // has every piece; counted in seeds, not avail
	wants int  // candidates it has
	reqs  map[Block]struct{}
	// parole: the peer sent blocks of a piece that failed its hash check
	// together with other peers; it gets pieces of its own until one of
	// them verifies (it is honest) or fails (it lied).
	parole bool
}

// NewPicker returns a picker for a torrent of which we have nothing, want
// every piece and know no peers.
func NewPicker[K comparable](cfg Config) (*Picker[K], error) {
	g := cfg.Geometry
	if g.PieceLength <= 0 || g.Length <= 0 {
		return nil, fmt.Errorf("picker: geometry needs positive piece length and length, got %d and %d", g.PieceLength, g.Length)
	}
	n := g.NumPieces()
	if n > math.MaxInt32 || g.PieceLength > math.MaxInt32 {
		return nil, fmt.Errorf("picker: %d pieces of %d bytes is too many or too large", n, g.PieceLength)
	}
	if cfg.MaxDuplicates < 0 {
		return nil, fmt.Errorf("picker: negative MaxDuplicates %d", cfg.MaxDuplicates)
	}
	pk := &Picker[K]{
		geo:           g,
		n:             n,
		rand:          cfg.Rand,
		randomFirst:   cmp.Or(cfg.RandomFirst, DefaultRandomFirst),
		maxDup:        cmp.Or(cfg.MaxDuplicates, DefaultMaxDuplicates),
		known:         cfg.Known,
		have:          NewBitfield(n),
		wanted:        NewBitfield(n),
		avail:         make([]int32, n),
		order:         make([]int32, n),
		pos:           make([]int32, n),
		start:         []int32{0, int32(n)},
		pieces:        make([]*pieceState[K], n),
		unstarted:     n,
		tierUnstarted: [3]int{1: n},
		peers:         make(map[K]*peerState),
	}
	if pk.rand == nil {
		pk.rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	pk.wanted.SetAll()
	for i := range pk.order {
		pk.order[i] = int32(i)
	}
	pk.rand.Shuffle(n, func(i, j int) { pk.order[i], pk.order[j] = pk.order[j], pk.order[i] })
	for i, p := range pk.order {
		pk.pos[p] = int32(i)
	}
	return pk, nil
}

// Geometry returns the torrent's geometry.
func (pk *Picker[K]) Geometry() Geometry { return pk.geo }

// NumPieces returns the number of pieces.
func (pk *Picker[K]) NumPieces() int { return pk.n }

// Have returns a copy of the set of verified pieces.
func (pk *Picker[K]) Have() *Bitfield { return pk.have.Clone() }

// HasPiece reports whether piece p is verified.
func (pk *Picker[K]) HasPiece(p int) bool { return pk.have.Has(p) }

// Complete reports whether every wanted piece is verified.
func (pk *Picker[K]) Complete() bool { return pk.numCandidates() == 0 }

// Missing returns the number of wanted pieces not yet verified.
func (pk *Picker[K]) Missing() int { return pk.numCandidates() }

// Availability returns the number of known peers that have piece p.
func (pk *Picker[K]) Availability(p int) int {
	if uint(p) >= uint(pk.n) {
		return 0
	}
	return int(pk.avail[p]) + pk.seeds
}

// Endgame reports whether every missing block of every wanted piece is
// requested or received, so that Pick hands out duplicate requests.
func (pk *Picker[K]) Endgame() bool {
	return pk.unstarted == 0 && pk.pending == 0 && pk.numCandidates() > 0
}

// SetHave marks piece p verified without downloading it, as when resuming.
// Requests outstanding for p are forgotten; blocks of p that arrive later
// are not accepted.
func (pk *Picker[K]) SetHave(p int) error {
	if err := pk.checkPiece(p); err != nil {
		return err
	}
	if pk.have.Has(p) {
		return nil
	}
	pk.have.Set(p)
	if pk.pos[p] >= 0 {
		pk.removeCandidate(p)
	}
	return nil
}

// SetWanted sets whether piece p is to be downloaded. Unwanting a piece in
// progress throws away its received blocks and returns its outstanding
// requests, to be cancelled.
func (pk *Picker[K]) SetWanted(p int, want bool) ([]Request[K], error) {
	if err := pk.checkPiece(p); err != nil {
		return nil, err
	}
	if want == pk.wanted.Has(p) {
		return nil, nil
	}
	if want {
		pk.wanted.Set(p)
		if !pk.have.Has(p) {
			pk.addCandidate(p)
		}
		return nil, nil
	}
	pk.wanted.Clear(p)
	if pk.pos[p] < 0 {
		return nil, nil
	}
	return pk.removeCandidate(p), nil
}

// SetPriority sets the priority of piece p: new pieces are started from
// the highest priority the peer has, rarest first within it. Pieces
// already started keep their place (they are finished first).
func (pk *Picker[K]) SetPriority(p int, pr Priority) error {
	if err := pk.checkPiece(p); err != nil {
		return err
	}
	if pr < PriorityLow || pr > PriorityHigh {
		return fmt.Errorf("picker: priority %d of piece %d is not -1, 0 or 1", pr, p)
	}
	if pk.prio == nil {
		if pr == PriorityNormal {
			return nil
		}
		pk.prio = make([]Priority, pk.n)
	}
	if (pk.prio[p] == PriorityNormal) != (pr == PriorityNormal) {
		if pr == PriorityNormal {
			pk.mixed--
		} else {
			pk.mixed++
		}
	}
	unstarted := pk.pos[p] >= 0 && pk.pieces[p] == nil
	if unstarted {
		pk.addUnstarted(p, -1)
	}
	pk.prio[p] = pr
	if unstarted {
		pk.addUnstarted(p, 1)
	}
	return nil
}

// addUnstarted adds d to the unstarted candidates, p among them.
func (pk *Picker[K]) addUnstarted(p, d int) {
	pk.unstarted += d
	pk.tierUnstarted[pk.Priority(p)-PriorityLow] += d
}

// Priority returns the priority of piece p.
func (pk *Picker[K]) Priority(p int) Priority {
	if pk.prio == nil || uint(p) >= uint(pk.n) {
		return PriorityNormal
	}
	return pk.prio[p]
}

// Wanted reports whether piece p is to be downloaded.
func (pk *Picker[K]) Wanted(p int) bool { return pk.wanted.Has(p) }

// PeerBitfield records the pieces peer k has (its bitfield message),
// replacing what was known. A full bitfield counts k as a seed.
func (pk *Picker[K]) PeerBitfield(k K, bf *Bitfield) error {
	if bf.Len() != pk.n {
		return fmt.Errorf("picker: bitfield of %d pieces for a torrent of %d", bf.Len(), pk.n)
	}
	ps := pk.peer(k)
	pk.forget(ps)
	if bf.Full() {
		pk.becomeSeed(ps)
		return nil
	}
	ps.has = bf.Clone()
	for p := bf.Next(0); p >= 0; p = bf.Next(p + 1) {
		pk.inc(p)
		if pk.pos[p] >= 0 {
			ps.wants++
		}
	}
	return nil
}

// PeerHasAll records that peer k has every piece (a full bitfield, or
// have-all of BEP 6).
func (pk *Picker[K]) PeerHasAll(k K) {
	ps := pk.peer(k)
	pk.forget(ps)
	pk.becomeSeed(ps)
}

// PeerHasNone records that peer k has no piece (have-none of BEP 6).
func (pk *Picker[K]) PeerHasNone(k K) { pk.forget(pk.peer(k)) }

// PeerHave records that peer k has piece p (its have message). An index
// out of range is an error: the peer broke the protocol.
func (pk *Picker[K]) PeerHave(k K, p int) error {
	if err := pk.checkPiece(p); err != nil {
		return err
	}
	ps := pk.peer(k)
	if ps.has.Has(p) {
		return nil
	}
	ps.has.Set(p)
	pk.inc(p)
	if pk.pos[p] >= 0 {
		ps.wants++
	}
	return nil
}

// PeerLeft forgets peer k: its pieces no longer count towards availability
// and its outstanding requests are released. It returns those requests.
func (pk *Picker[K]) PeerLeft(k K) []Block {
	ps := pk.peers[k]
	if ps == nil {
		return nil
	}
	released := pk.ReleasePeer(k)
	pk.forget(ps)
	delete(pk.peers, k)
	return released
}

// PeerHas returns whether peer k has piece p.
func (pk *Picker[K]) PeerHas(k K, p int) bool {
	ps := pk.peers[k]
	return ps != nil && ps.has.Has(p)
}

// Interesting reports whether peer k has a piece we want and lack: whether
// to tell it we are interested.
func (pk *Picker[K]) Interesting(k K) bool {
	ps := pk.peers[k]
	return ps != nil && ps.wants > 0
}

// Outstanding returns the number of blocks requested from peer k and not
// yet received or released.
func (pk *Picker[K]) Outstanding(k K) int {
	if ps := pk.peers[k]; ps != nil {
		return len(ps.reqs)
	}
	return 0
}

// Requested reports whether block b is outstanding from peer k.
func (pk *Picker[K]) Requested(k K, b Block) bool {
	ps := pk.peers[k]
	if ps == nil {
		return false
	}
	_, ok := ps.reqs[b]
	return ok
}

// Pick chooses up to n blocks to request from peer k, which must have
// unchoked us, and records them as requested from k. It returns nil when k
// has nothing we want that is not already requested.
func (pk *Picker[K]) Pick(k K, n int) []Block {
	ps := pk.peers[k]
	if ps == nil || n <= 0 || ps.wants == 0 {
		return nil
	}
	var out []Block
	// 1. Finish what is started.
	if pk.pending > 0 {
		for _, p := range pk.active {
			st := pk.pieces[p]
			if st.pending > 0 && ps.has.Has(int(p)) && pk.mayShare(k, ps, st) {
				out = pk.take(k, ps, int(p), st, out, n)
				if len(out) == n {
					return out
				}
			}
		}
	}
	// 2. Start new pieces: random ones until we have a few, then the rarest;
	// when priorities differ, one pass per priority, highest first.
	if pk.unstarted > 0 {
		m := pk.numCandidates()
		lo := int(pk.start[0])
		if !ps.seed {
			lo = int(pk.start[1]) // bucket 0 holds pieces only seeds have
		}
		first := lo
		if pk.have.Count() < pk.randomFirst && m > lo {
			first = lo + pk.rand.IntN(m-lo)
		}
		top, bottom := PriorityNormal, PriorityNormal
		if pk.mixed > 0 {
			top, bottom = PriorityHigh, PriorityLow
		}
	tiers:
		for tier := top; tier >= bottom; tier-- {
			if pk.tierUnstarted[tier-PriorityLow] == 0 {
				continue
			}
			for i := range m - lo {
				j := first + i
				if j >= m {
					j -= m - lo
				}
				p := int(pk.order[j])
				if pk.pieces[p] != nil || !ps.has.Has(p) || (pk.mixed > 0 && pk.prio[p] != tier) {
					continue
				}
				st := pk.startPiece(p)
				if ps.parole {
					st.owned, st.owner = true, k
				}
				out = pk.take(k, ps, p, st, out, n)
				if len(out) == n || pk.unstarted == 0 {
					break tiers
				}
				if pk.tierUnstarted[tier-PriorityLow] == 0 {
					continue tiers
				}
			}
		}
	}
	// 3. Endgame: duplicate requests, least duplicated blocks first.
	if len(out) < n && pk.unstarted == 0 && pk.pending == 0 {
		for dup := 1; dup < pk.maxDup && len(out) < n; dup++ {
			for _, p := range pk.active {
				st := pk.pieces[p]
				if !ps.has.Has(int(p)) || !pk.mayShare(k, ps, st) {
					continue
				}
				for i := range st.blocks {
					bs := &st.blocks[i]
					if bs.received || len(bs.reqs) != dup || slices.Contains(bs.reqs, k) {
						continue
					}
					b := pk.geo.Block(int(p), i)
					bs.reqs = append(bs.reqs, k)
					ps.reqs[b] = struct{}{}
					out = append(out, b)
					if len(out) == n {
						return out
					}
				}
			}
		}
	}
	return out
}

// mayShare reports whether peer k may be asked for blocks of started piece
// st: a piece started by a peer on parole is that peer's alone, and a peer
// on parole gets only its own pieces.
func (pk *Picker[K]) mayShare(k K, ps *peerState, st *pieceState[K]) bool {
	if ps.parole || st.owned {
		return st.owned && st.owner == k
	}
	return true
}

// SetParole puts peer k on parole or takes it off. A peer on parole is
// asked only for pieces no other peer sends blocks of, so that when one
// fails its hash check the liar is known. The session sets it for every
// peer that shared in a failed piece; Verified lifts it when a piece the
// peer sent alone passes.
func (pk *Picker[K]) SetParole(k K, on bool) {
	ps := pk.peer(k)
	if ps.parole == on {
		return
	}
	ps.parole = on
	if !on {
		pk.disown(k)
	}
}

// OnParole reports whether peer k is on parole.
func (pk *Picker[K]) OnParole(k K) bool {
	ps := pk.peers[k]
	return ps != nil && ps.parole
}

// disown opens the pieces peer k started on parole to every peer.
func (pk *Picker[K]) disown(k K) {
	for _, p := range pk.active {
		if st := pk.pieces[p]; st.owned && st.owner == k {
			var zero K
			st.owned, st.owner = false, zero
		}
	}
}

// take requests from k the pending blocks of started piece p, appending
// them to out until it holds n.
func (pk *Picker[K]) take(k K, ps *peerState, p int, st *pieceState[K], out []Block, n int) []Block {
	for i := st.next; i < len(st.blocks) && st.pending > 0 && len(out) < n; i++ {
		bs := &st.blocks[i]
		st.next = i + 1
		if bs.received || len(bs.reqs) > 0 {
			continue
		}
		if out == nil {
			out = make([]Block, 0, min(n, 64))
		}
		b := pk.geo.Block(p, i)
		bs.reqs = append(bs.reqs, k)
		st.pending--
		pk.pending--
		ps.reqs[b] = struct{}{}
		out = append(out, b)
	}
	return out
}

// Received records that block b arrived from peer k and says what to do with
// it. An error means b is not a block of this torrent (the peer broke the
// protocol). A block that was not requested is still accepted if it is
// missing; the session never passes one (it drops blocks not requested of
// that peer, so no peer writes into our files unasked), but a caller may.
func (pk *Picker[K]) Received(k K, b Block) (Receipt[K], error) {
	i, ok := pk.geo.BlockIndex(b)
	if !ok {
		return Receipt[K]{}, fmt.Errorf("picker: %v is not a block of this torrent", b)
	}
	p := int(b.Piece)
	if ps := pk.peers[k]; ps != nil {
		delete(ps.reqs, b)
	}
	if pk.pos[p] < 0 {
		return Receipt[K]{}, nil // verified or unwanted
	}
	st := pk.pieces[p]
	if st == nil {
		st = pk.startPiece(p)
	}
	bs := &st.blocks[i]
	if bs.received {
		bs.reqs = slices.DeleteFunc(bs.reqs, func(r K) bool { return r == k })
		return Receipt[K]{}, nil
	}
	var r Receipt[K]
	r.Accepted = true
	if len(bs.reqs) == 0 {
		st.pending--
		pk.pending--
	}
	for _, o := range bs.reqs {
		if o != k {
			delete(pk.peers[o].reqs, b)
			r.Cancel = append(r.Cancel, o)
		}
	}
	bs.reqs = bs.reqs[:0]
	bs.received = true
	bs.from = k
	st.received++
	if st.received == len(st.blocks) {
		st.verifying = true
		pk.deactivate(p)
		r.Complete = true
	}
	return r, nil
}

// Release gives up the request of block b from peer k (timed out, or
// rejected under BEP 6) so that the block can be picked again. It reports
// whether the request was outstanding.
func (pk *Picker[K]) Release(k K, b Block) bool {
	ps := pk.peers[k]
	if ps == nil {
		return false
	}
	if _, ok := ps.reqs[b]; !ok {
		return false
	}
	delete(ps.reqs, b)
	pk.unrequest(k, b)
	return true
}

// ReleasePeer gives up every outstanding request of peer k, as when it
// chokes us, and returns them in piece order.
func (pk *Picker[K]) ReleasePeer(k K) []Block {
	ps := pk.peers[k]
	if ps == nil {
		return nil
	}
	if ps.parole {
		// A peer that chokes us or leaves would hold its pieces up:
		// others may finish them.
		pk.disown(k)
	}
	if len(ps.reqs) == 0 {
		return nil
	}
	out := make([]Block, 0, len(ps.reqs))
	for b := range ps.reqs {
		out = append(out, b)
		pk.unrequest(k, b)
	}
	clear(ps.reqs)
	slices.SortFunc(out, func(a, b Block) int {
		return cmp.Or(cmp.Compare(a.Piece, b.Piece), cmp.Compare(a.Begin, b.Begin))
	})
	return out
}

// unrequest removes k from the requesters of b.
func (pk *Picker[K]) unrequest(k K, b Block) {
	st := pk.pieces[b.Piece]
	if st == nil {
		return
	}
	i := int(b.Begin / BlockSize)
	bs := &st.blocks[i]
	bs.reqs = slices.DeleteFunc(bs.reqs, func(r K) bool { return r == k })
	if len(bs.reqs) == 0 && !bs.received {
		st.pending++
		pk.pending++
		st.next = min(st.next, i)
	}
}

// Discard forgets the blocks peer k sent of pieces not yet complete, as
// when it is banned for lying: they are requested again rather than left to
// fail their pieces' hash checks. It returns the bytes dropped.
func (pk *Picker[K]) Discard(k K) int64 {
	var zero K
	var n int64
	for _, p := range pk.active {
		st := pk.pieces[p]
		for i := range st.blocks {
			if bs := &st.blocks[i]; bs.received && !bs.known && bs.from == k {
				bs.received, bs.from = false, zero
				st.received--
				st.pending++
				pk.pending++
				st.next = min(st.next, i)
				n += int64(pk.geo.Block(int(p), i).Length)
			}
		}
	}
	return n
}

// Abandon forgets what was received of piece p, which is started but not
// verified, as when its blocks could not be written: the piece is picked
// again from scratch, and nobody is blamed. It returns the requests still
// outstanding for p, to be cancelled. A hash check of p that is already
// under way no longer counts (Verified and Failed return ErrNotComplete).
func (pk *Picker[K]) Abandon(p int) []Request[K] {
	if uint(p) >= uint(pk.n) || pk.pos[p] < 0 || pk.pieces[p] == nil {
		return nil
	}
	reqs := pk.dropState(p)
	pk.addUnstarted(p, 1)
	return reqs
}

// ErrNotComplete is returned by Verified and Failed for a piece that is not
// waiting to be verified.
var ErrNotComplete = errors.New("piece is not complete")

// Verified records that complete piece p passed its hash check. A peer on
// parole that sent every block of p is taken off parole.
func (pk *Picker[K]) Verified(p int) error {
	if err := pk.checkVerifying(p); err != nil {
		return err
	}
	if st := pk.pieces[p]; st.owned {
		alone := true
		for i := range st.blocks {
			alone = alone && st.blocks[i].from == st.owner
		}
		if alone {
			pk.SetParole(st.owner, false)
		}
	}
	pk.have.Set(p)
	pk.removeCandidate(p)
	return nil
}

// BlockSenders returns the peer that sent each block of complete piece p,
// in block order, while p waits for Verified or Failed; nil otherwise. A
// block known in advance (Config.Known) has the zero K as its sender.
func (pk *Picker[K]) BlockSenders(p int) []K {
	if pk.checkVerifying(p) != nil {
		return nil
	}
	st := pk.pieces[p]
	out := make([]K, len(st.blocks))
	for i := range st.blocks {
		out[i] = st.blocks[i].from
	}
	return out
}

// Failed records that complete piece p failed its hash check: its blocks
// are thrown away, to be downloaded again, and it returns the peers that
// sent them, each once.
func (pk *Picker[K]) Failed(p int) ([]K, error) {
	if err := pk.checkVerifying(p); err != nil {
		return nil, err
	}
	st := pk.pieces[p]
	var senders []K
	for i := range st.blocks {
		if k := st.blocks[i].from; !st.blocks[i].known && !slices.Contains(senders, k) {
			senders = append(senders, k)
		}
	}
	pk.pieces[p] = nil
	pk.addUnstarted(p, 1)
	return senders, nil
}

func (pk *Picker[K]) checkVerifying(p int) error {
	if err := pk.checkPiece(p); err != nil {
		return err
	}
	if st := pk.pieces[p]; st == nil || !st.verifying {
		return fmt.Errorf("picker: piece %d: %w", p, ErrNotComplete)
	}
	return nil
}

func (pk *Picker[K]) checkPiece(p int) error {
	if uint(p) >= uint(pk.n) {
		return fmt.Errorf("picker: piece index %d out of range [0,%d)", p, pk.n)
	}
	return nil
}

func (pk *Picker[K]) numCandidates() int { return int(pk.start[len(pk.start)-1]) }

func (pk *Picker[K]) peer(k K) *peerState {
	ps := pk.peers[k]
	if ps == nil {
		ps = &peerState{has: NewBitfield(pk.n), reqs: make(map[Block]struct{})}
		pk.peers[k] = ps
	}
	return ps
}

// forget removes what ps has from availability; its requests stay.
func (pk *Picker[K]) forget(ps *peerState) {
	if ps.seed {
		pk.seeds--
		ps.seed = false
	} else {
		for p := ps.has.Next(0); p >= 0; p = ps.has.Next(p + 1) {
			pk.dec(p)
		}
	}
	ps.has = NewBitfield(pk.n)
	ps.wants = 0
}

func (pk *Picker[K]) becomeSeed(ps *peerState) {
	ps.seed = true
	ps.has.SetAll()
	ps.wants = pk.numCandidates()
	pk.seeds++
}

func (pk *Picker[K]) startPiece(p int) *pieceState[K] {
	nb := pk.geo.NumBlocks(p)
	st := &pieceState[K]{blocks: make([]blockState[K], nb), pending: nb}
	// One backing array holds every block's first requester, so requests
	// outside endgame allocate once per piece rather than once per block.
	first := make([]K, nb)
	for i := range st.blocks {
		st.blocks[i].reqs = first[i : i : i+1]
	}
	if pk.known != nil {
		k := 0
		for i := range st.blocks {
			if pk.known(pk.geo.Block(p, i)) {
				k++
			}
		}
		if k < nb {
			for i := range st.blocks {
				if pk.known(pk.geo.Block(p, i)) {
					st.blocks[i].received, st.blocks[i].known = true, true
				}
			}
			st.received, st.pending = k, nb-k
		}
	}
	pk.pieces[p] = st
	pk.addUnstarted(p, -1)
	pk.pending += st.pending
	pk.active = append(pk.active, int32(p))
	return st
}

func (pk *Picker[K]) deactivate(p int) {
	if i := slices.Index(pk.active, int32(p)); i >= 0 {
		pk.active = slices.Delete(pk.active, i, i+1)
	}
}

// addCandidate makes p, which we lack and now want, a candidate.
func (pk *Picker[K]) addCandidate(p int) {
	a := int(pk.avail[p])
	pk.ensureBucket(a)
	last := len(pk.start) - 1
	m := pk.start[last]
	pk.order[m] = int32(p)
	pk.pos[p] = m
	pk.start[last]++
	// p is the last of the top bucket; walk it down to bucket a.
	for b := last - 1; b > a; b-- {
		pk.swap(int(pk.pos[p]), int(pk.start[b]))
		pk.start[b]++
	}
	pk.shuffleIn(p, a)
	pk.addUnstarted(p, 1)
	pk.adjustWants(p, +1)
}

// removeCandidate drops p from the candidates (verified or unwanted),
// throwing away its state. It returns the requests that were outstanding.
func (pk *Picker[K]) removeCandidate(p int) []Request[K] {
	a := int(pk.avail[p])
	last := len(pk.start) - 1
	// Walk p up to the top bucket, then off the end.
	for b := a; b < last; b++ {
		end := int(pk.start[b+1]) - 1
		pk.swap(int(pk.pos[p]), end)
		if b+1 < last {
			pk.start[b+1]--
		}
	}
	pk.start[last]--
	pk.pos[p] = -1
	pk.trimBuckets()
	pk.adjustWants(p, -1)

	if pk.pieces[p] == nil {
		pk.addUnstarted(p, -1)
		return nil
	}
	return pk.dropState(p)
}

// dropState forgets started piece p: its blocks, received or not, and its
// outstanding requests, which it returns.
func (pk *Picker[K]) dropState(p int) []Request[K] {
	st := pk.pieces[p]
	var reqs []Request[K]
	for i := range st.blocks {
		bs := &st.blocks[i]
		if bs.received {
			continue
		}
		b := pk.geo.Block(p, i)
		for _, r := range bs.reqs {
			delete(pk.peers[r].reqs, b)
			reqs = append(reqs, Request[K]{Peer: r, Block: b})
		}
	}
	pk.pending -= st.pending
	if !st.verifying {
		pk.deactivate(p)
	}
	pk.pieces[p] = nil
	return reqs
}

func (pk *Picker[K]) adjustWants(p int, d int) {
	for _, ps := range pk.peers {
		if ps.has.Has(p) {
			ps.wants += d
		}
	}
}

// inc adds one to the availability of p, moving it to the next bucket.
func (pk *Picker[K]) inc(p int) {
	a := int(pk.avail[p])
	pk.avail[p]++
	if pk.pos[p] < 0 {
		return
	}
	pk.ensureBucket(a + 1)
	// Swap p to the end of bucket a and move the boundary below it.
	pk.swap(int(pk.pos[p]), int(pk.start[a+1])-1)
	pk.start[a+1]--
	pk.shuffleIn(p, a+1)
}

// dec subtracts one from the availability of p, moving it down a bucket.
func (pk *Picker[K]) dec(p int) {
	a := int(pk.avail[p])
	pk.avail[p]--
	if pk.pos[p] < 0 {
		return
	}
	pk.swap(int(pk.pos[p]), int(pk.start[a]))
	pk.start[a]++
	pk.shuffleIn(p, a-1)
	pk.trimBuckets()
}

// shuffleIn swaps p, just moved into bucket a, with a random member of it,
// so that each bucket stays in random order.
func (pk *Picker[K]) shuffleIn(p, a int) {
	lo, hi := int(pk.start[a]), int(pk.start[a+1])
	if hi-lo > 1 {
		pk.swap(int(pk.pos[p]), lo+pk.rand.IntN(hi-lo))
	}
}

func (pk *Picker[K]) swap(i, j int) {
	pi, pj := pk.order[i], pk.order[j]
	pk.order[i], pk.order[j] = pj, pi
	pk.pos[pi], pk.pos[pj] = int32(j), int32(i)
}

// ensureBucket makes buckets up to a exist (empty ones at the top).
func (pk *Picker[K]) ensureBucket(a int) {
	for len(pk.start)-2 < a {
		pk.start = append(pk.start, pk.start[len(pk.start)-1])
	}
}

// trimBuckets drops empty buckets at the top, keeping bucket 0.
func (pk *Picker[K]) trimBuckets() {
	for len(pk.start) > 2 && pk.start[len(pk.start)-2] == pk.start[len(pk.start)-1] {
		pk.start = pk.start[:len(pk.start)-1]
	}
}
