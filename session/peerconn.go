package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/rs/zerolog"

	"swarm/peer"
	"swarm/piece"
)

// Limits on what one peer may queue with us.
const (
	// maxQueuedUploads is the most block requests we hold for one peer,
	// as libtorrent's max_allowed_in_request_queue; more is a protocol abuse.
	maxQueuedUploads = 500
	// minPipeline and maxPipeline bound our outstanding requests to one
	// peer; between them the pipeline follows the peer's rate. The top stays
	// under what common clients queue (libtorrent and swarm take 500), and
	// a peer's own reqq (BEP 10) lowers it further.
	minPipeline = 4
	maxPipeline = 250
	// pipelineSeconds is how many seconds of the peer's rate we keep
	// requested, as libtorrent's request_queue_time.
	pipelineSeconds = 3
	// chokeGrace is how long requests to a fast peer that choked us stay
	// outstanding while it neither sends nor rejects them (BEP 6 has it
	// reject those it drops) before they go to other peers.
	chokeGrace = 5 * time.Second
	// maxKeepAlives is the most keep-alives in a row we take from a peer.
	// An honest peer sends one after two quiet minutes, so a thousand is
	// a day and a half of silence; a peer sending them back to back is
	// flooding us.
	maxKeepAlives = 1000
	// maxUnwantedBlocks is how many blocks we could not use (never asked
	// for, or already had) a peer may send beyond the blocks we could use.
	// Cancels racing blocks in flight cost a pipeline's worth at most.
	maxUnwantedBlocks = 2 * maxPipeline
)

// blockPool recycles 16 KiB block buffers between readers, the loop and the
// disk workers, so a transfer does not allocate per block. It holds
// *[]byte, and holders recycles those pointers: a slice put in a sync.Pool
// as it is, or through a new pointer, would allocate once a block.
var (
	blockPool = sync.Pool{New: func() any { b := make([]byte, peer.BlockSize); return &b }}
	holders   = sync.Pool{New: func() any { return new([]byte) }}
)

func getBlock(n int) []byte {
	if n > peer.BlockSize {
		return make([]byte, n)
	}
	h := blockPool.Get().(*[]byte)
	b := *h
	*h = nil
	holders.Put(h)
	return b[:n]
}

func putBlock(b []byte) {
	if cap(b) == peer.BlockSize {
		h := holders.Get().(*[]byte)
		*h = b[:peer.BlockSize]
		blockPool.Put(h)
	}
}

// peerConn is one connected peer. Fields below "loop state" belong to the
// torrent's loop; the queue has its own lock; counters are atomic.
type peerConn struct {
	t    *Torrent
	conn *peer.Conn
	addr netip.AddrPort
	// listen is where the peer accepts connections, when known: addr for
	// an outgoing connection, addr's IP with the port of its extension
	// handshake for an incoming one. The tracker lists peers by it.
	listen   netip.AddrPort
	id       [20]byte
	outgoing bool
	log      zerolog.Logger
	ctx      context.Context    // the connection's; ends when it is dropped
	cancel   context.CancelFunc // ends the writer and closes the connection

	uploaded   atomic.Int64 // payload bytes sent
	downloaded atomic.Int64 // payload bytes received (counted by the loop)

	// loop state
	has            *piece.Bitfield // nil until a bitfield or have arrives
	early          earlyHave       // what it has, said before we knew the piece count
	amChoking      bool
	amInterested   bool
	peerChoking    bool
	peerInterested bool
	pipeline       int
	slowStart      bool      // the pipeline grows per block until the rate levels off
	lastSecond     float64   // bytes received in the last tick, during slow start
	unchokedAt     time.Time // when our last unchoke of it began
	upAtUnchoke    int64     // uploaded at that moment
	freeSlotAt     time.Time // when fillSlot gave it a slot; zero once a rechoke decides
	reqq           int       // most requests the peer queues (BEP 10 reqq); 0 if unknown
	utMetadata     uint8     // the peer's id for ut_metadata (BEP 9); 0 if none
	lastBlock      time.Time // when a block last arrived
	chokedAt       time.Time // when it last choked us
	snubbed        bool      // no block for snubTimeout while we had requests out
	connected      time.Time
	lastPayload    time.Time // when a tick last saw payload either way; connected before
	lastRequest    time.Time // when we last sent requests while none were answered
	rate           rateMeter // download rate from this peer
	upRate         rateMeter // upload rate to this peer
	lastUp         int64     // uploaded at the previous tick
	usefulBlocks   int       // blocks the picker accepted from this peer
	unwanted       int       // blocks it sent that we could not use
	pex            pexState  // peer exchange (BEP 11)
	named          bool      // its client name (BEP 10 "v") is in log
	agent          string    // that client name, cut to maxAgentLen
	dhtPing        time.Time // when its PORT message (BEP 5) last started a DHT ping
	portsIgnored   int       // PORT messages since then that did not
	metaServed     int       // ut_metadata pieces sent to it (BEP 9)
	fast           bool      // both sides speak the fast extension (BEP 6)
	allowedFast    []uint32  // the allowed-fast set we gave it; nil if none yet
	finishing      []uint32  // the piece a seed's choke lets it finish (setChoke); nil if none
	saidAllOrNone  bool      // it sent have-all or have-none (BEP 6)

	q writeQueue
}

// writeQueue is a peer's outbound queue: the loop appends without blocking,
// the writer goroutine drains it.
//
// Everything a remote peer can make us queue is bounded in bytes, counted
// from the push until the writer has written it (issue 13): control
// messages at their cost (controlCost) up to maxControlQueue, requested
// blocks at their length up to maxQueuedUploads blocks of 16 KiB. Past
// either bound the peer is not reading what it asks for: the queue is
// emptied, refuses everything from then on, and the peer is dropped.
type writeQueue struct {
	mu       sync.Mutex // guards the fields below
	msgs     []peer.Message
	uploads  []piece.Block
	last     piece.Block   // the last upload the writer took; zero before the first
	ctrl     int           // cost of the control messages queued or being written
	upCount  int           // uploads queued or being written
	upBytes  int           // their block bytes
	refused  int           // bytes of requests refused since the writer last finished a batch
	overflow error         // why the queue was closed; nil while it is open
	wake     chan struct{} // capacity 1: a pending wake-up
}

// Bounds of a peer's outbound queue.
const (
	// maxControlQueue bounds the cost of the control messages queued for
	// one peer: 1 MiB, twice libtorrent's default send buffer watermark
	// (500 KiB), and far more than an honest peer that reads ever lets
	// pile up: our bitfield (128 B to 256 KiB), a full pipeline of
	// requests (250 × 113 B), a pex message, and the ut_metadata pieces it
	// asked for (16 KiB each: the whole info dict of a torrent of 50,000
	// pieces, were they all asked for at once and none sent yet). A peer
	// that keeps asking for answers it never reads reaches it after
	// sending some 100 KiB of small messages, or 60 requests for metadata
	// pieces, and is dropped.
	maxControlQueue = 1 << 20
	// messageOverhead is what a queued message costs beside its bytes on
	// the wire: the peer.Message value that holds it. Counting it keeps
	// 5-byte messages (choke, unchoke) from costing 20 times what they
	// are charged.
	messageOverhead = int(unsafe.Sizeof(peer.Message{}))
	// maxRefused: a peer whose queue of requests is full may send more
	// (requests racing our answers), which are dropped as libtorrent and
	// anacrolix drop them; one that asks for another full queue (8 MiB)
	// while the writer cannot send anything is not reading, and is dropped.
	maxRefused = maxQueuedUploads * peer.BlockSize
)

// controlCost is what queueing m is charged against maxControlQueue.
func controlCost(m peer.Message) int { return m.WireLen() + messageOverhead }

// errNotReading is the error of a peer dropped for an overfull queue.
var errNotReading = errors.New("peer does not read what it asks for")

// push queues control messages. It fails once the queue is over its bound
// (then and after), and the peer must be dropped.
func (q *writeQueue) push(ms ...peer.Message) error {
	q.mu.Lock()
	if q.overflow == nil {
		for _, m := range ms {
			q.ctrl += controlCost(m)
		}
		if q.ctrl > maxControlQueue {
			q.close(fmt.Errorf("%w: %d bytes of messages queued, limit %d", errNotReading, q.ctrl, maxControlQueue))
		} else {
			q.msgs = append(q.msgs, ms...)
		}
	}
	err := q.overflow
	q.mu.Unlock()
	if err == nil {
		q.signal()
	}
	return err
}

// pushUpload queues a requested block. queued is false if the peer has a
// full queue already (the request is dropped); err is set once it has
// asked for maxRefused more bytes than that, and the peer must be dropped.
func (q *writeQueue) pushUpload(b piece.Block) (queued bool, err error) {
	q.mu.Lock()
	defer func() {
		q.mu.Unlock()
		if queued {
			q.signal()
		}
	}()
	if q.overflow != nil {
		return false, q.overflow
	}
	if q.upCount >= maxQueuedUploads {
		if q.refused += int(b.Length); q.refused > maxRefused {
			q.close(fmt.Errorf("%w: asked for %d bytes past its queue of %d blocks (%d bytes)", errNotReading, q.refused, q.upCount, q.upBytes))
			return false, q.overflow
		}
		return false, nil
	}
	q.uploads = append(q.uploads, b)
	q.upCount++
	q.upBytes += int(b.Length)
	return true, nil
}

// close empties the queue and refuses everything from now on. q.mu held.
func (q *writeQueue) close(err error) {
	q.overflow = err
	q.msgs, q.uploads = nil, nil
}

// err returns why the queue was closed, or nil.
func (q *writeQueue) err() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.overflow
}

// cancelUpload drops a queued block the peer no longer wants, and reports
// whether it was still queued (not yet taken by the writer).
func (q *writeQueue) cancelUpload(b piece.Block) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, u := range q.uploads {
		if u == b {
			q.uploads = append(q.uploads[:i], q.uploads[i+1:]...)
			q.upCount--
			q.upBytes -= int(b.Length)
			return true
		}
	}
	return false
}

// clearUploads drops the queued blocks keep does not keep (every one if
// keep is nil), as when we choke the peer, and returns them.
func (q *writeQueue) clearUploads(keep func(piece.Block) bool) []piece.Block {
	q.mu.Lock()
	defer q.mu.Unlock()
	var dropped []piece.Block
	kept := q.uploads[:0]
	for _, u := range q.uploads {
		if keep != nil && keep(u) {
			kept = append(kept, u)
			continue
		}
		dropped = append(dropped, u)
		q.upCount--
		q.upBytes -= int(u.Length)
	}
	clear(q.uploads[len(kept):])
	q.uploads = kept
	return dropped
}

// pieceInProgress returns the piece a peer we choke is in the middle of:
// the first queued block's piece if the writer has already sent that
// piece's first blocks (the block does not begin it), or, with nothing
// queued, the piece of the last block the writer took if that block did
// not end it. The choke can fall between the writer taking a block and the
// peer's next request for the same piece (a peer that asks one block at a
// time, or a writer quicker than its requests).
func (q *writeQueue) pieceInProgress(g piece.Geometry) (uint32, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.uploads) > 0 {
		return q.uploads[0].Piece, q.uploads[0].Begin != 0
	}
	last := q.last
	return last.Piece, last.Length > 0 && int64(last.Begin+last.Length) < g.PieceLen(int(last.Piece))
}

// allowedWhileChoked reports whether the peer may have piece i while we
// choke it: a piece of the allowed-fast set we gave it (BEP 6), or the one
// a seed's choke let it finish.
func (p *peerConn) allowedWhileChoked(i uint32) bool {
	return p.fast && (slices.Contains(p.allowedFast, i) || slices.Contains(p.finishing, i))
}

func (q *writeQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take removes what is queued: control messages first, then up to max
// uploads. Their bytes stay counted until the writer calls sent.
func (q *writeQueue) take(msgs []peer.Message, ups []piece.Block, max int) ([]peer.Message, []piece.Block) {
	q.mu.Lock()
	defer q.mu.Unlock()
	msgs = append(msgs, q.msgs...)
	clear(q.msgs)
	q.msgs = shrink(q.msgs[:0])
	n := min(max, len(q.uploads))
	if n > 0 {
		q.last = q.uploads[n-1]
	}
	ups = append(ups, q.uploads[:n]...)
	q.uploads = append(q.uploads[:0], q.uploads[n:]...)
	return msgs, ups
}

// uploadsQueued reports whether a requested block waits in the queue.
func (q *writeQueue) uploadsQueued() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.uploads) > 0
}

// sent releases the bytes of a batch the writer has written: control
// messages of cost ctrl and the uploads ups.
func (q *writeQueue) sent(ctrl int, ups []piece.Block) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ctrl -= ctrl
	q.upCount -= len(ups)
	for _, b := range ups {
		q.upBytes -= int(b.Length)
	}
	q.refused = 0
}

// shrink drops a large empty backing array, so that a burst of messages
// does not keep its memory for the life of the connection.
func shrink[T any](s []T) []T {
	if cap(s) > 1024 {
		return nil
	}
	return s
}

// send queues control messages (never a piece) for the writer. A peer
// whose queue is over its bound is dropped: its connection closes now, and
// its reader reports the queue's error to the loop.
func (p *peerConn) send(ms ...peer.Message) {
	if err := p.q.push(ms...); err != nil {
		p.cancel()
	}
}

// queueUpload queues a block the peer asked for; a peer that asks for far
// more than its queue holds is dropped, as send does.
func (p *peerConn) queueUpload(b piece.Block) {
	queued, err := p.q.pushUpload(b)
	switch {
	case err != nil:
		p.cancel()
	case !queued && p.fast:
		// Past the queue we advertise (reqq): a fast peer is told
		// (BEP 6) and may ask someone else at once.
		p.reject(b)
	case !queued:
		// Past the queue we advertise (reqq): drop the request, as
		// libtorrent does; the peer asks again when it times out.
		p.log.Debug().Int("queued", maxQueuedUploads).Msg("request queue full; request dropped")
	}
}

// maxAgentLen bounds the client name (BEP 10 "v") we keep for the log.
const maxAgentLen = 64

// setAgent puts the client name from the peer's extension handshake in its
// log lines. Only the first one counts, cut to maxAgentLen: a peer that
// sends handshake after handshake with a long name must not grow its
// logger (each With copies the fields before it).
func (p *peerConn) setAgent(v string) {
	if v == "" || p.named {
		return
	}
	p.named = true
	if len(v) > maxAgentLen {
		v = v[:maxAgentLen]
	}
	p.agent = v
	p.log = p.log.With().Str("agent", v).Logger()
}

// readLoop decodes messages and hands them to the torrent's loop until the
// connection fails or ctx (the peer's) ends; then it reports peerClosed
// under the torrent's context tctx, so the loop always hears of it even when
// the peer's context was cancelled first (by a failed write).
func (p *peerConn) readLoop(ctx, tctx context.Context) {
	err := p.read(ctx)
	if qerr := p.q.err(); qerr != nil {
		err = qerr // the connection was closed for it
	} else if ctx.Err() != nil && err != nil && !isNormalClose(err) {
		err = context.Cause(ctx)
	}
	p.t.post(tctx, peerClosed{p: p, err: err})
}

func (p *peerConn) read(ctx context.Context) error {
	keepAlives := 0
	for {
		var m peer.Message
		if err := p.conn.ReadMessage(&m); err != nil {
			return err
		}
		if m.KeepAlive {
			if keepAlives++; keepAlives > maxKeepAlives {
				return violation("%d keep-alives in a row", keepAlives)
			}
			continue
		}
		keepAlives = 0
		var ev event
		if m.ID == peer.Piece {
			// Holding the reader back holds the sender back through
			// TCP flow control.
			if err := sleep(ctx, p.t.down.reserve(len(m.Block))); err != nil {
				return err
			}
			ev = peerBlock{p: p, block: piece.Block{Piece: m.Index, Begin: m.Begin, Length: uint32(len(m.Block))}, data: m.Block}
		} else {
			// The decoder reuses its buffers: copy what the loop keeps.
			m.Bitfield = clone(m.Bitfield)
			m.Payload = clone(m.Payload)
			ev = peerMessage{p: p, msg: m}
		}
		if !p.t.post(ctx, ev) {
			return ctx.Err()
		}
	}
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// writeLoop sends what the loop queues: control messages as they come, and
// requested blocks read from storage, batched into few system calls. It
// sends a keep-alive after two quiet minutes.
func (p *peerConn) writeLoop(ctx context.Context) error {
	keepAlive := time.NewTimer(peer.KeepAliveInterval)
	defer keepAlive.Stop()
	var msgs []peer.Message
	var ups []piece.Block
	var bufs [][]byte
	// flush writes msgs in one batch and gives their block buffers back.
	flush := func() error {
		if len(msgs) == 0 {
			return nil
		}
		err := p.conn.WriteMessages(msgs)
		var n int64
		for _, m := range msgs {
			if m.ID == peer.Piece {
				n += int64(len(m.Block))
			}
		}
		for i, b := range bufs {
			putBlock(b)
			bufs[i] = nil
		}
		clear(msgs) // their payloads are garbage now
		msgs, bufs = shrink(msgs[:0]), bufs[:0]
		if err != nil {
			return err
		}
		p.uploaded.Add(n)
		p.t.uploaded.Add(n)
		keepAlive.Reset(peer.KeepAliveInterval)
		return nil
	}
	// waitSending waits d for upload tokens, writing the control messages
	// queued meanwhile. It returns early, with no error, when ctx ends.
	waitSending := func(d time.Duration) error {
		if d <= 0 {
			return nil
		}
		timer := time.NewTimer(d)
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
				return nil
			case <-p.q.wake:
				msgs, _ = p.q.take(msgs[:0], nil, 0)
				ctrl := 0
				for _, m := range msgs {
					ctrl += controlCost(m)
				}
				if err := flush(); err != nil {
					return err
				}
				p.q.sent(ctrl, nil)
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-keepAlive.C:
			if err := p.conn.WriteMessage(peer.Message{KeepAlive: true}); err != nil {
				return err
			}
			keepAlive.Reset(peer.KeepAliveInterval)
			continue
		case <-p.q.wake:
		}
		for {
			batch, reserved := 16, false
			var giveBack func()
			if p.t.up.limited() {
				// Under a rate limit, wait for a block's tokens before
				// taking it from the queue, one block at a time: until
				// then a cancel (an endgame copy another peer sent first)
				// or our choke still finds it queued, and it is never
				// sent. Requests and haves for this peer are sent while
				// the writer waits, not after.
				batch = 0
				if p.q.uploadsQueued() {
					wait, undo := p.t.up.reserveUndo(peer.BlockSize)
					if err := waitSending(wait); err != nil {
						undo()
						return err
					}
					if ctx.Err() != nil {
						return nil
					}
					batch, reserved, giveBack = 1, true, undo
				}
			}
			msgs, ups = p.q.take(msgs[:0], ups[:0], batch)
			if giveBack != nil && len(ups) == 0 {
				giveBack() // cancelled while we waited: the tokens are someone else's
			}
			if len(msgs) == 0 && len(ups) == 0 {
				break
			}
			ctrl := 0
			for _, m := range msgs {
				ctrl += controlCost(m)
			}
			for _, b := range ups {
				// Under a rate limit, send what is ready before waiting for
				// the next block's tokens, so data flows evenly rather
				// than in bursts of a whole batch.
				if !reserved {
					if wait := p.t.up.reserve(int(b.Length)); wait > 0 {
						if err := flush(); err != nil {
							return err
						}
						if sleep(ctx, wait) != nil {
							return nil
						}
					}
				}
				buf := getBlock(int(b.Length))
				if err := p.t.readBlock(b, buf); err != nil {
					putBlock(buf)
					return fmt.Errorf("read block %v for upload: %w", b, err)
				}
				bufs = append(bufs, buf)
				msgs = append(msgs, peer.Message{ID: peer.Piece, Index: b.Piece, Begin: b.Begin, Block: buf})
			}
			if err := flush(); err != nil {
				return err
			}
			p.q.sent(ctrl, ups)
		}
	}
}

// isNormalClose reports errors that end a connection without anyone being
// at fault: the peer hung up, or we are shutting down.
func isNormalClose(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, context.Canceled) || errors.Is(err, io.ErrUnexpectedEOF)
}

// rateMeter is a rate over a sliding window of one-second buckets, fed by
// the loop once per tick. It never reads the clock itself.
type rateMeter struct {
	buckets [rateWindow]int64
	i       int
	filled  int
}

// rateWindow is the span of rate() in seconds: 20 s, the rolling rate
// tit-for-tat compares; recent() looks at the last few seconds only.
const rateWindow = 20

// add records the bytes moved during the last tick.
func (r *rateMeter) add(n int64) {
	r.i = (r.i + 1) % rateWindow
	r.buckets[r.i] = n
	r.filled = min(r.filled+1, rateWindow)
}

// rate returns bytes per second over the window.
func (r *rateMeter) rate() float64 {
	if r.filled == 0 {
		return 0
	}
	var sum int64
	for _, b := range r.buckets {
		sum += b
	}
	return float64(sum) / float64(r.filled)
}

// recent returns bytes per second over the last n ticks (n ≤ rateWindow),
// for displays and the request pipeline, which must follow changes fast.
func (r *rateMeter) recent(n int) float64 {
	n = min(n, r.filled)
	if n == 0 {
		return 0
	}
	var sum int64
	for k := range n {
		sum += r.buckets[(r.i-k+rateWindow)%rateWindow]
	}
	return float64(sum) / float64(n)
}

// last returns the bytes moved in the latest tick.
func (r *rateMeter) last() int64 { return r.buckets[r.i] }
