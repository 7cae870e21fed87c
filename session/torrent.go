package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"swarm/choke"
	"swarm/metainfo"
	"swarm/peer"
	"swarm/piece"
)

// Timing of a torrent's loop.
const (
	tickInterval = time.Second
	// A torrent stopped by a storage error tries again after diskRetryMin,
	// then twice as long each time it fails, up to diskRetryMax: freed
	// space is noticed within a minute, and a disk that stays full costs
	// one failed write a minute.
	diskRetryMin = 5 * time.Second
	diskRetryMax = time.Minute
	// snubTimeout: a peer that sends no block for this long while we have
	// requests out to it is snubbed: its requests go to other peers.
	snubTimeout = 60 * time.Second
	// resumeInterval is how often verified progress is saved.
	resumeInterval = 10 * time.Second
	// maxHalfOpen bounds outgoing connection attempts in flight.
	maxHalfOpen = 8
	// redialMin and redialMax bound how long a failed or closed address
	// rests before we try it again; the rest doubles with each failure.
	redialMin = 2 * time.Second
	redialMax = 2 * time.Minute
)

// Store is what a torrent needs from its storage: reads and writes at an
// offset into the torrent's content, safe to call from several goroutines.
type Store interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	// Flush makes written data durable; resume records are saved after it.
	Flush() error
	Close() error
}

// TorrentConfig says how to run one torrent.
type TorrentConfig struct {
	// Store holds the content; the torrent closes it when it stops.
	Store Store
	// Have lists the pieces already verified in Store (from a resume record
	// or a check); nil means none.
	Have *piece.Bitfield
	// SaveResume, if set, is called (from the loop, after Store.Flush) with
	// the verified pieces every few seconds while they change, and at stop.
	SaveResume func(have *piece.Bitfield) error
	// Seed keeps the torrent running after it completes; otherwise it stops
	// trading once Done is closed (the caller ends the session).
	Seed bool
	// Peers are addresses to connect to at start (and again after failures).
	Peers []netip.AddrPort
	// Trackers are announce URLs by tier (BEP 12); nil means the torrent's
	// own. A private torrent only ever uses these.
	Trackers [][]string
	// Wanted, if set, says which pieces to download; nil means all.
	Wanted func(p int) bool
	// UploadRate and DownloadRate cap this torrent, in bytes per second, on
	// top of the session's caps; 0 means no cap of its own.
	UploadRate, DownloadRate int64
	// FreeRide never unchokes anyone: the torrent downloads and uploads
	// nothing. It exists for the lab, to show what tit-for-tat does to a
	// peer that does not reciprocate.
	FreeRide bool
}

// Torrent is one torrent in a session. Its exported methods are safe to call
// from any goroutine; everything else belongs to its loop.
type Torrent struct {
	m        *metainfo.MetaInfo
	infoHash [20]byte
	cfg      TorrentConfig
	sess     *Session
	log      zerolog.Logger
	geo      piece.Geometry

	events   chan event
	done     chan struct{} // closed when every wanted piece is verified
	doneOnce sync.Once
	stopped  chan struct{} // closed when the loop has ended
	stats    atomic.Pointer[Stats]
	uploaded atomic.Int64 // payload bytes sent, all peers
	up, down budget       // rate limits: this torrent's and the session's

	// loop state
	picker      *piece.Picker[*peerConn]
	choker      *choke.Choker[*peerConn]
	lastRechoke time.Time
	peers       map[*peerConn]struct{}
	addrs       *addrBook // addresses to dial, and banned IPs
	bannedIDs   map[[20]byte]bool
	writes      pieceWrites // blocks being written, pieces waiting for their hash check
	downloaded  int64       // payload bytes received, all peers
	wasted      int64       // bytes received but not used
	hashFails   int         // pieces that failed their hash check
	resumeDirty bool
	lastResume  time.Time
	complete    bool
	diskErr     error
	// stopErr is a storage error no wait will cure (permission denied, a
	// read-only file system, a file where a folder goes): the loop ends.
	stopErr error
	// After a storage error (a full disk), downloading resumes on its own
	// at diskRetry; the wait doubles from diskRetryMin while it keeps
	// failing.
	diskRetry     time.Time
	diskRetryWait time.Duration
	suspects      map[int][]suspectBlock // blocks of failed pieces, for smartBan
	workers       *diskWorkers
	wg            sync.WaitGroup // connection goroutines and dials
	announce      chan announceEvent
}

// NewTorrent prepares a torrent for the session; AddTorrent then runs it.
func (s *Session) NewTorrent(m *metainfo.MetaInfo, cfg TorrentConfig) (*Torrent, error) {
	if cfg.Store == nil {
		return nil, errors.New("torrent: no Store")
	}
	if cfg.UploadRate < 0 || cfg.DownloadRate < 0 {
		return nil, errors.New("torrent: negative rate limit")
	}
	geo := piece.GeometryOf(&m.Info)
	pk, err := piece.NewPicker[*peerConn](piece.Config{Geometry: geo})
	if err != nil {
		return nil, err
	}
	ck, err := choke.New[*peerConn](choke.Config{Slots: s.cfg.UnchokeSlots, OptimisticInterval: s.cfg.OptimisticInterval})
	if err != nil {
		return nil, err
	}
	t := &Torrent{
		m:         m,
		infoHash:  m.InfoHash,
		cfg:       cfg,
		sess:      s,
		log:       s.log.With().Str("infohash", m.InfoHash.String()).Str("name", m.Info.Name).Logger(),
		geo:       geo,
		events:    make(chan event, 256),
		done:      make(chan struct{}),
		stopped:   make(chan struct{}),
		picker:    pk,
		choker:    ck,
		peers:     map[*peerConn]struct{}{},
		addrs:     newAddrBook(maxAddrs),
		bannedIDs: map[[20]byte]bool{},
		writes:    newPieceWrites(),
		suspects:  map[int][]suspectBlock{},
		announce:  make(chan announceEvent, 4),
		up:        makeBudget(newLimiter(cfg.UploadRate), s.up),
		down:      makeBudget(newLimiter(cfg.DownloadRate), s.down),
	}
	if cfg.Wanted != nil {
		for p := range geo.NumPieces() {
			if !cfg.Wanted(p) {
				if _, err := pk.SetWanted(p, false); err != nil {
					return nil, err
				}
			}
		}
	}
	if cfg.Have != nil {
		if cfg.Have.Len() != geo.NumPieces() {
			return nil, fmt.Errorf("torrent: have-bitfield of %d pieces for a torrent of %d", cfg.Have.Len(), geo.NumPieces())
		}
		for p := cfg.Have.Next(0); p >= 0; p = cfg.Have.Next(p + 1) {
			if err := pk.SetHave(p); err != nil {
				return nil, err
			}
		}
	}
	t.addrs.add(srcUser, cfg.Peers)
	t.publishStats()
	return t, nil
}

// InfoHash returns the torrent's v1 info hash.
func (t *Torrent) InfoHash() metainfo.Hash { return t.infoHash }

// Done is closed once every wanted piece is verified.
func (t *Torrent) Done() <-chan struct{} { return t.done }

// Stopped is closed once the torrent's loop has ended and its storage is
// flushed and closed.
func (t *Torrent) Stopped() <-chan struct{} { return t.stopped }

// AddPeers gives the torrent more addresses to connect to.
func (t *Torrent) AddPeers(ctx context.Context, addrs []netip.AddrPort) {
	t.post(ctx, peersFound{addrs: addrs, src: srcUser})
}

// post sends an event to the loop; false if ctx ended first.
func (t *Torrent) post(ctx context.Context, ev event) bool {
	select {
	case t.events <- ev:
		return true
	case <-ctx.Done():
		return false
	case <-t.stopped:
		return false
	}
}

// incoming hands an accepted, handshaken connection to the loop.
func (t *Torrent) incoming(ctx context.Context, nc net.Conn, hs peer.Handshake) {
	addr, _ := netip.ParseAddrPort(nc.RemoteAddr().String())
	if !t.post(ctx, peerConnected{nc: nc, hs: hs, addr: addr}) {
		nc.Close()
	}
}

// readBlock reads a verified block for upload; called by writers.
func (t *Torrent) readBlock(b piece.Block, buf []byte) error {
	_, err := t.cfg.Store.ReadAt(buf, t.geo.Offset(b))
	return err
}

// run is the torrent's loop: it owns every field marked loop state.
func (t *Torrent) run(ctx context.Context) {
	defer close(t.stopped)
	// The torrent's own context: a storage error that stops it ends its
	// announcer and dials while the session runs on.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t.workers = newDiskWorkers(t, 2)
	t.log.Info().Int("pieces", t.geo.NumPieces()).Int("have", t.picker.Have().Count()).Msg("torrent started")
	if t.picker.Complete() {
		t.markComplete(false) // seeding from the start: nothing completed here
	}
	var announcer sync.WaitGroup
	if tiers := t.trackers(); len(tiers) > 0 {
		announcer.Go(func() { t.announceLoop(ctx, tiers) })
	}
	if node := t.sess.cfg.DHT; node != nil && !t.m.Info.Private {
		announcer.Go(func() { t.dhtLoop(ctx, node) })
	}
	tick := time.NewTicker(tickInterval)
	defer tick.Stop()
	t.connectMore(ctx)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case ev := <-t.events:
			t.handle(ctx, ev)
		case <-tick.C:
			t.tick(ctx, time.Now())
		}
		if t.stopErr != nil {
			break loop
		}
	}
	cancel()
	t.shutdown()
	announcer.Wait()
}

// shutdown closes every connection, waits for their goroutines, drains the
// disk workers and saves the resume record.
func (t *Torrent) shutdown() {
	for p := range t.peers {
		p.cancel()
	}
	// Drain events so readers blocked on post can finish.
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	for {
		select {
		case ev := <-t.events:
			t.drop(ev)
			continue
		case <-done:
		}
		break
	}
	t.workers.close(t.drop)
	t.saveResume(true)
	if err := t.cfg.Store.Close(); err != nil {
		t.log.Error().Err(err).Msg("close storage")
	}
	t.peers = nil
	t.publishStats()
	t.log.Info().Msg("torrent stopped")
}

// drop releases what an event holds when the loop no longer handles it.
func (t *Torrent) drop(ev event) {
	switch ev := ev.(type) {
	case peerBlock:
		putBlock(ev.data)
	case peerConnected:
		ev.nc.Close()
	case blockWritten:
		// No new hash jobs now; an unhashed piece is fetched again later.
		t.writes.ended(int(ev.block.Piece))
	case pieceHashed:
		// Keep a piece verified during shutdown for the resume record.
		if ev.ok && ev.err == nil && t.picker.Verified(ev.piece) == nil {
			t.resumeDirty = true
		}
	}
}

func (t *Torrent) handle(ctx context.Context, ev event) {
	switch ev := ev.(type) {
	case peerConnected:
		t.adopt(ctx, ev)
	case dialFailed:
		t.addrs.failed(ev.addr, time.Now())
		t.log.Debug().Err(ev.err).Str("peer", ev.addr.String()).Msg("connect failed")
	case peerMessage:
		if _, ok := t.peers[ev.p]; ok {
			if err := t.onMessage(ev.p, ev.msg); err != nil {
				t.disconnect(ev.p, err)
			}
		}
	case peerBlock:
		if _, ok := t.peers[ev.p]; !ok {
			putBlock(ev.data)
			return
		}
		if err := t.onBlock(ev.p, ev.block, ev.data); err != nil {
			t.disconnect(ev.p, err)
		}
	case peerClosed:
		if _, ok := t.peers[ev.p]; ok {
			t.disconnect(ev.p, ev.err)
		}
	case blockWritten:
		t.onWritten(ev)
	case pieceHashed:
		t.onHashed(ev)
	case peersFound:
		t.addrs.add(ev.src, ev.addrs)
		t.connectMore(ctx)
	}
}

// adopt starts a connection's goroutines once its handshake is done.
func (t *Torrent) adopt(ctx context.Context, ev peerConnected) {
	reject := ""
	// An outgoing address refused below may be dialed again at once
	// unless a case says otherwise.
	hold := time.Now()
	switch {
	case ev.hs.PeerID == t.sess.peerID:
		reject = "connection to ourselves"
		hold = hold.Add(24 * time.Hour)
	case t.addrs.isBanned(ev.addr.Addr()) || t.bannedIDs[ev.hs.PeerID]:
		reject = "banned peer"
	case len(t.peers) >= t.sess.cfg.MaxPeers:
		reject = "too many peers"
	case t.complete && !t.cfg.Seed:
		reject = "download complete"
	default:
		for p := range t.peers {
			if p.id == ev.hs.PeerID && p.outgoing != ev.outgoing && keepNewConn(ev.outgoing, t.sess.peerID, ev.hs.PeerID) {
				t.disconnect(p, errSimultaneousOpen)
				break
			}
			if p.id == ev.hs.PeerID {
				reject = "duplicate connection"
				if ev.outgoing {
					// The peer connected to us first from another port;
					// its listen address rests until that connection ends.
					p.listen = ev.addr
					hold = hold.Add(redialMax)
				}
				break
			}
		}
	}
	if reject != "" {
		t.log.Debug().Str("peer", ev.addr.String()).Str("reason", reject).Msg("connection refused")
		ev.nc.Close()
		if ev.outgoing {
			t.addrs.hold(ev.addr, hold)
		}
		return
	}
	conn, err := peer.NewConn(ev.nc, peer.Config{NewBlock: getBlock, IdleTimeout: t.sess.cfg.PeerIdleTimeout})
	if err != nil {
		ev.nc.Close()
		if ev.outgoing {
			t.addrs.failed(ev.addr, time.Now())
		}
		return
	}
	conn.SetNumPieces(t.geo.NumPieces())
	pctx, cancel := context.WithCancel(ctx)
	p := &peerConn{
		t: t, conn: conn, addr: ev.addr, id: ev.hs.PeerID, outgoing: ev.outgoing, ctx: pctx, cancel: cancel,
		amChoking: true, peerChoking: true, pipeline: minPipeline, slowStart: true, lastBlock: time.Now(), connected: time.Now(),
		log: t.log.With().Str("peer", ev.addr.String()).Str("client", peer.ClientName(ev.hs.PeerID)).Logger(),
	}
	p.q.wake = make(chan struct{}, 1)
	if ev.outgoing {
		p.listen = ev.addr
		t.addrs.connected(ev.addr)
	}
	t.peers[p] = struct{}{}
	p.log.Debug().Bool("outgoing", ev.outgoing).Msg("peer connected")
	context.AfterFunc(pctx, func() { conn.Close() })
	t.wg.Go(func() { p.readLoop(pctx, ctx) })
	t.wg.Go(func() {
		if err := p.writeLoop(pctx); err != nil && !isNormalClose(err) {
			p.log.Debug().Err(err).Msg("write failed")
		}
		cancel()
	})
	if ev.hs.Reserved.Extended() {
		t.sendExtensionHandshake(p)
	}
	if node := t.sess.cfg.DHT; node != nil && ev.hs.Reserved.DHT() && !t.m.Info.Private {
		p.send(peer.Message{ID: peer.Port, Port: node.Addr().Port()})
	}
	// Tell the peer what we have: a bitfield, unless we have nothing.
	if have := t.picker.Have(); have.Count() > 0 {
		p.send(peer.Message{ID: peer.Bitfield, Bitfield: have.Bytes()})
	}
	t.publishStats()
}

// sendExtensionHandshake tells a BEP 10 peer who we are and how many
// requests we queue; it comes before the bitfield, as libtorrent sends it.
func (t *Torrent) sendExtensionHandshake(p *peerConn) {
	hs := peer.ExtensionHandshake{V: "swarm " + Version, Reqq: maxQueuedUploads, M: map[string]uint8{}}
	t.offerMetadata(&hs)
	if t.pexEnabled() {
		hs.M[peer.PexExtension] = peer.PexID
	}
	if a, ok := t.sess.listener.Addr().(*net.TCPAddr); ok {
		hs.Port = uint16(a.Port)
	}
	payload, err := hs.Marshal()
	if err != nil {
		t.log.Error().Err(err).Msg("encode extension handshake")
		return
	}
	p.send(peer.Message{ID: peer.Extended, ExtendedID: peer.ExtensionHandshakeID, Payload: payload})
}

// disconnect drops a peer and gives its requests back to the picker.
func (t *Torrent) disconnect(p *peerConn, err error) {
	if _, ok := t.peers[p]; !ok {
		return
	}
	delete(t.peers, p)
	p.cancel()
	if !p.amChoking && p.peerInterested {
		t.rechoke(time.Now()) // its slot goes to someone else now
	}
	t.picker.PeerLeft(p)
	// An incoming peer's port is not its listen port: only p.listen is
	// worth dialing, and it is p.addr when we dialed.
	if p.listen.IsValid() {
		t.addrs.closed(p.listen, time.Now())
	}
	if isNormalClose(err) || errors.Is(err, errBothSeeds) {
		p.log.Debug().Err(err).Msg("peer disconnected")
	} else {
		p.log.Info().Err(err).Msg("peer disconnected")
	}
	// Its blocks are pickable again: give them to others.
	for q := range t.peers {
		t.fillRequests(q)
	}
	t.publishStats()
}

// protocolError is a peer breaking the wire protocol; it is disconnected.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return "protocol violation: " + e.msg }

func violation(format string, args ...any) error {
	return &protocolError{fmt.Sprintf(format, args...)}
}

// onMessage handles every message but piece.
func (t *Torrent) onMessage(p *peerConn, m peer.Message) error {
	n := t.geo.NumPieces()
	switch m.ID {
	case peer.Choke:
		p.peerChoking = true
		// Without the fast extension a choke discards our requests.
		t.picker.ReleasePeer(p)
		for q := range t.peers {
			if q != p {
				t.fillRequests(q)
			}
		}
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
		p.has = bf
		if err := t.picker.PeerBitfield(p, bf); err != nil {
			return err
		}
		if bf.Full() && t.complete {
			return errBothSeeds
		}
		t.updateInterest(p)
	case peer.Request:
		return t.onRequest(p, m)
	case peer.Cancel:
		p.q.cancelUpload(piece.Block{Piece: m.Index, Begin: m.Begin, Length: m.Length})
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

// onRequest queues a block the peer asks for, after checking it.
func (t *Torrent) onRequest(p *peerConn, m peer.Message) error {
	b := piece.Block{Piece: m.Index, Begin: m.Begin, Length: m.Length}
	if err := peer.ValidateRequest(m, t.geo.PieceLength, t.geo.Length); err != nil {
		return violation("%v", err)
	}
	if !t.picker.HasPiece(int(m.Index)) {
		return violation("request for piece %d, which we do not have", m.Index)
	}
	if p.amChoking {
		return nil // a request racing our choke; BEP 3 lets us ignore it
	}
	p.queueUpload(b)
	return nil
}

// onBlock takes a piece message: bookkeeping here, the write on a worker.
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
	t.writes.queued(int(b.Piece), rc.Complete)
	t.workers.write(b, data, t.geo.Offset(b))
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

// markComplete notes that every wanted piece is verified; announce says
// whether the trackers hear "completed" (only for a download that finished).
func (t *Torrent) markComplete(announce bool) {
	if t.complete {
		return
	}
	t.complete = true
	t.log.Info().Msg("all wanted pieces verified")
	t.saveResume(true)
	// The announcer reads left from the published stats: publish first,
	// or "completed" goes out with the old left and the tracker keeps
	// counting us as a leecher until the next announce.
	t.publishStats()
	if announce {
		select {
		case t.announce <- announceCompleted:
		default:
		}
	}
	for p := range t.peers {
		if p.has != nil && p.has.Full() {
			t.disconnect(p, errBothSeeds)
		}
	}
	t.publishStats()
	t.doneOnce.Do(func() { close(t.done) })
}

// updateInterest tells the peer whether we want something it has.
func (t *Torrent) updateInterest(p *peerConn) {
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

// fillRequests tops up the requests outstanding to p to its pipeline depth.
func (t *Torrent) fillRequests(p *peerConn) {
	if p.peerChoking || !p.amInterested || t.diskErr != nil {
		return
	}
	n := p.pipeline - t.picker.Outstanding(p)
	if n <= 0 {
		return
	}
	blocks := t.picker.Pick(p, n)
	if len(blocks) == 0 {
		return
	}
	if t.picker.Outstanding(p) == len(blocks) {
		p.lastRequest = time.Now()
	}
	msgs := make([]peer.Message, len(blocks))
	for i, b := range blocks {
		msgs[i] = peer.Message{ID: peer.Request, Index: b.Piece, Begin: b.Begin, Length: b.Length}
	}
	p.send(msgs...)
}

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
		p.q.clearUploads()
		p.send(peer.Message{ID: peer.Choke})
	} else {
		p.unchokedAt, p.upAtUnchoke = time.Now(), p.uploaded.Load()
		p.send(peer.Message{ID: peer.Unchoke})
	}
}

// tick runs once a second: rates, pipelines, snubbing, dialing, resume.
func (t *Torrent) tick(ctx context.Context, now time.Time) {
	for p := range t.peers {
		d := p.downloaded.Swap(0)
		p.rate.add(d)
		u := p.uploaded.Load()
		p.upRate.add(u - p.lastUp)
		p.lastUp = u
		if p.slowStart {
			// Slow start ends when a second brings less than 10% more
			// than the one before: the peer's rate is found.
			if last := float64(p.rate.last()); last > 0 {
				if last < p.lastSecond*1.1 {
					p.slowStart = false
				}
				p.lastSecond = last
			}
		}
		if !p.slowStart {
			// Keep pipelineSeconds of the peer's rate in flight.
			p.pipeline = min(maxPipeline, max(minPipeline, int(p.rate.recent(recentWindow)*pipelineSeconds/peer.BlockSize)))
		}
		if p.reqq > 0 {
			p.pipeline = min(p.pipeline, p.reqq)
		}
		if t.picker.Outstanding(p) > 0 && now.Sub(p.lastBlock) > snubTimeout {
			p.log.Debug().Msg("snubbed: no block for 60 s; its requests go elsewhere")
			p.snubbed = true
			t.picker.ReleasePeer(p)
			p.lastBlock = now
			for q := range t.peers {
				if q != p {
					t.fillRequests(q)
				}
			}
		}
		t.fillRequests(p)
	}
	if now.Sub(t.lastRechoke) >= t.sess.cfg.RechokeInterval {
		t.rechoke(now)
	}
	t.pexTick(now)
	t.retryDisk(now)
	t.connectMore(ctx)
	if t.resumeDirty && now.Sub(t.lastResume) >= resumeInterval {
		t.saveResume(false)
	}
	t.publishStats()
}

// connectMore dials addresses from the book while we are short of peers;
// each costs a heap pop, so a full book costs nothing per tick.
func (t *Torrent) connectMore(ctx context.Context) {
	if t.complete && !t.cfg.Seed {
		return
	}
	now := time.Now()
	for len(t.peers)+t.addrs.dialing < t.sess.cfg.MaxPeers && t.addrs.dialing < maxHalfOpen && t.sess.conns.room() {
		addr, ok := t.addrs.next(now)
		if !ok {
			return
		}
		if t.connectedTo(addr) {
			// A peer that connected to us listens there: not while it stays.
			t.addrs.hold(addr, now.Add(redialMin))
			continue
		}
		t.wg.Go(func() { t.dial(ctx, addr) })
	}
}

func (t *Torrent) connectedTo(addr netip.AddrPort) bool {
	for p := range t.peers {
		if p.addr == addr || p.listen == addr {
			return true
		}
	}
	return false
}

// dial connects to addr and does the handshake, off the loop.
func (t *Torrent) dial(ctx context.Context, addr netip.AddrPort) {
	nc, err := t.sess.dialPeer(ctx, addr)
	if err != nil {
		t.post(ctx, dialFailed{addr: addr, err: err})
		return
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	hs, err := peer.Initiate(nc, t.sess.handshake(t.infoHash))
	if !stop() {
		return
	}
	if err != nil {
		nc.Close()
		t.post(ctx, dialFailed{addr: addr, err: fmt.Errorf("handshake: %w", err)})
		return
	}
	if !t.post(ctx, peerConnected{nc: nc, hs: hs, addr: addr, outgoing: true}) {
		nc.Close()
	}
}

// saveResume flushes storage and records the verified pieces.
func (t *Torrent) saveResume(force bool) {
	if t.cfg.SaveResume == nil || (!t.resumeDirty && !force) {
		return
	}
	t.lastResume = time.Now()
	if err := t.cfg.Store.Flush(); err != nil {
		t.log.Warn().Err(err).Msg("flush storage before saving resume record")
		return
	}
	if err := t.cfg.SaveResume(t.picker.Have()); err != nil {
		t.log.Warn().Err(err).Msg("save resume record")
		return
	}
	t.resumeDirty = false
}
