package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"swarm/choke"
	"swarm/metadata"
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
	// HaveSaved says Have is what the resume record already holds (read
	// from it, not checked): a torrent complete from the start then writes
	// no record until a piece changes. A daemon restarting 1,000 seeds
	// would otherwise write and fsync 1,000 identical records.
	HaveSaved bool
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
	// FilePriorities, if set, holds one priority per file of the info
	// dict (-1 low, 0 normal, 1 high, as Transmission numbers them): new
	// pieces are started from the highest priority first, rarest first
	// within it. A piece takes the highest priority of the files it holds
	// bytes of, pad files aside; give skipped files -1 so that they do
	// not raise a piece they share with a wanted file. Nil means all
	// normal. SetFilePriorities changes them while the torrent runs.
	FilePriorities []int
	// UploadRate and DownloadRate cap this torrent, in bytes per second, on
	// top of the session's caps; 0 means no cap of its own.
	UploadRate, DownloadRate int64
	// FreeRide never unchokes anyone: the torrent downloads and uploads
	// nothing. It exists for the lab, to show what tit-for-tat does to a
	// peer that does not reciprocate.
	FreeRide bool
	// SuperSeed makes a torrent that is complete when it starts a
	// super-seed (BEP 16): it claims to have nothing and tells each peer of
	// one piece at a time, the next only once another peer has announced
	// the last. For an initial seed with little upload; ignored by a
	// torrent that is still downloading.
	SuperSeed bool
	// Open opens the storage of a torrent added by AddMagnet, once its info
	// dict has arrived and matched the info hash: the caller chooses the
	// folder and the files (OpenContent does both). Of the config it
	// returns, Store, Have, SaveResume and Wanted are used; the rest is
	// ignored. It runs on a goroutine of the torrent, which keeps its peers
	// meanwhile; ctx ends when the torrent stops. An error stops the
	// torrent, with the error in its Stats. Required by AddMagnet, refused
	// by NewTorrent.
	Open func(ctx context.Context, m *metainfo.MetaInfo) (TorrentConfig, error)
}

// Torrent is one torrent in a session. Its exported methods are safe to call
// from any goroutine; everything else belongs to its loop.
//
// A torrent added by AddMagnet starts without its info dict, in the
// metadata state: it announces, dials and accepts peers as any torrent
// does, and asks those that offer it for the info dict over ut_metadata
// (BEP 9, magnet.go). Once the dict matches the info hash, cfg.Open opens
// the storage, and the torrent goes on downloading over the same
// connections. m, geo, picker and workers are nil (zero) until then.
type Torrent struct {
	m        *metainfo.MetaInfo // loop state: nil until the info dict is known
	infoHash [20]byte
	cfg      TorrentConfig
	sess     *Session
	log      zerolog.Logger
	geo      piece.Geometry // loop state, zero until the info dict is known

	events     chan event
	done       chan struct{} // closed when every wanted piece is verified
	doneOnce   sync.Once
	opened     chan struct{} // closed when the torrent has its info dict and storage
	stopped    chan struct{} // closed when the loop has ended
	stats      atomic.Pointer[Stats]
	info       atomic.Pointer[metainfo.MetaInfo] // m, for other goroutines
	uploaded   atomic.Int64                      // payload bytes sent, all peers
	trackerErr atomic.Pointer[string]            // why the last announce round failed; nil after a success
	answered   atomic.Int32                      // tracker URLs that have answered an announce
	lookups    atomic.Int32                      // DHT lookups finished
	up, down   budget                            // rate limits: this torrent's and the session's
	halt       context.CancelFunc                // ends the loop (RemoveTorrent); set by startLocked under sess.mu
	announced  atomic.Pointer[AnnounceResult]    // the last announce round, for Detail

	// loop state
	ctx         context.Context                // the loop's, for goroutines it starts
	name        string                         // the info dict's name, or the magnet link's dn until then
	meta        *metadata.Assembler[*peerConn] // the info dict being fetched; nil once known
	stopDHT     context.CancelFunc             // ends the DHT loop (for a private torrent)
	ended       bool                           // shutdown has run
	picker      *piece.Picker[*peerConn]
	choker      *choke.Choker[*peerConn]
	lastRechoke time.Time
	super       *choke.SuperSeed[*peerConn] // with TorrentConfig.SuperSeed (superseed.go); nil before
	evidence    *choke.Evidence[*peerConn]  // who passes pieces on, seen through haves (choking.go); nil before
	peers       map[*peerConn]struct{}
	addrs       *addrBook // addresses to dial, and banned IPs
	bannedIDs   map[[20]byte]bool
	writes      pieceWrites // blocks being written, pieces waiting for their hash check
	held        assembly    // blocks of incomplete pieces, in memory (assemble.go)
	downloaded  int64       // payload bytes received, all peers
	wasted      int64       // bytes received but not used
	hashFails   int         // pieces that failed their hash check
	fastStats   struct{ haveAlls, rejectsIn, rejectsOut int }
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
	reqScratch    []peer.Message // fillRequests' messages, reused
	wg            sync.WaitGroup // connection goroutines, dials and web seed fetches
	webSeeds      []*webSeed     // BEP 19 url-list (webseed.go)
	webClient     *http.Client   // the web seeds'; nil without any
	magnetWS      []string       // a magnet link's ws parameters, the url-list once its info dict is known
	webTimeout    time.Duration  // one web seed fetch's limit; 0 means webSeedTimeout (tests set it)
	announce      chan announceEvent
}

// NewTorrent prepares a torrent for the session; AddTorrent then runs it.
func (s *Session) NewTorrent(m *metainfo.MetaInfo, cfg TorrentConfig) (*Torrent, error) {
	if cfg.Store == nil {
		return nil, errors.New("torrent: no Store")
	}
	if cfg.Open != nil {
		return nil, errors.New("torrent: Open is for AddMagnet; NewTorrent takes the Store")
	}
	t, err := s.newTorrent(m.InfoHash, m.Info.Name, cfg)
	if err != nil {
		return nil, err
	}
	t.setInfo(m)
	if err := t.setContent(cfg); err != nil {
		return nil, err
	}
	t.publishStats()
	return t, nil
}

// newTorrent makes a torrent without its info dict and storage.
func (s *Session) newTorrent(ih metainfo.Hash, name string, cfg TorrentConfig) (*Torrent, error) {
	if cfg.UploadRate < 0 || cfg.DownloadRate < 0 {
		return nil, errors.New("torrent: negative rate limit")
	}
	ck, err := choke.New[*peerConn](choke.Config{Slots: s.cfg.UnchokeSlots, OptimisticInterval: s.cfg.OptimisticInterval})
	if err != nil {
		return nil, err
	}
	t := &Torrent{
		infoHash:  ih,
		cfg:       cfg,
		sess:      s,
		name:      name,
		log:       s.log.With().Str("infohash", ih.String()).Str("name", name).Logger(),
		events:    make(chan event, 256),
		done:      make(chan struct{}),
		opened:    make(chan struct{}),
		stopped:   make(chan struct{}),
		choker:    ck,
		peers:     map[*peerConn]struct{}{},
		addrs:     newAddrBook(maxAddrs),
		bannedIDs: map[[20]byte]bool{},
		writes:    newPieceWrites(),
		held:      newAssembly(),
		suspects:  map[int][]suspectBlock{},
		announce:  make(chan announceEvent, 4),
		up:        makeBudget(adjustable(cfg.UploadRate), s.up),
		down:      makeBudget(adjustable(cfg.DownloadRate), s.down),
	}
	t.addrs.add(srcUser, cfg.Peers)
	return t, nil
}

// setInfo gives the torrent its info dict.
func (t *Torrent) setInfo(m *metainfo.MetaInfo) {
	t.m, t.name = m, m.Info.Name
	t.geo = piece.GeometryOf(&m.Info)
	t.choker.SetSeedQuota(t.geo.PieceLength)
	t.info.Store(m)
}

// setContent takes the storage and what is verified in it (Store, Have,
// SaveResume and Wanted of cfg) and builds the picker; setInfo came first.
func (t *Torrent) setContent(cfg TorrentConfig) error {
	if cfg.Store == nil {
		return errors.New("torrent: no Store")
	}
	pk, err := piece.NewPicker[*peerConn](piece.Config{Geometry: t.geo, Known: padBlocks(&t.m.Info, t.geo)})
	if err != nil {
		return err
	}
	if cfg.Wanted != nil {
		for p := range t.geo.NumPieces() {
			if !cfg.Wanted(p) {
				if _, err := pk.SetWanted(p, false); err != nil {
					return err
				}
			}
		}
	}
	if cfg.Have != nil {
		if cfg.Have.Len() != t.geo.NumPieces() {
			return fmt.Errorf("torrent: have-bitfield of %d pieces for a torrent of %d", cfg.Have.Len(), t.geo.NumPieces())
		}
		for p := cfg.Have.Next(0); p >= 0; p = cfg.Have.Next(p + 1) {
			if err := pk.SetHave(p); err != nil {
				return err
			}
		}
	}
	if err := applyPriorities(pk, &t.m.Info, t.cfg.FilePriorities); err != nil {
		return err
	}
	t.cfg.Store, t.cfg.Have, t.cfg.SaveResume, t.cfg.Wanted, t.cfg.HaveSaved = cfg.Store, cfg.Have, cfg.SaveResume, cfg.Wanted, cfg.HaveSaved
	t.picker = pk
	return nil
}

// InfoHash returns the torrent's v1 info hash.
func (t *Torrent) InfoHash() metainfo.Hash { return t.infoHash }

// Info returns the torrent's metainfo, or nil while a magnet link's torrent
// is still fetching its info dict.
func (t *Torrent) Info() *metainfo.MetaInfo { return t.info.Load() }

// Name is the info dict's name, or a magnet link's display name (dn, or
// the info hash in hex) until the info dict has arrived.
func (t *Torrent) Name() string { return t.Stats().Name }

// Opened is closed once the torrent has its info dict and its storage: at
// once for NewTorrent, after the metadata and TorrentConfig.Open for
// AddMagnet. It is never closed if the torrent stops before.
func (t *Torrent) Opened() <-chan struct{} { return t.opened }

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
	t.ctx = ctx
	if t.picker != nil {
		t.startContent()
	} else {
		t.log.Info().Msg("torrent started: fetching its metadata from peers")
	}
	var announcer sync.WaitGroup
	if tiers := t.trackers(); len(tiers) > 0 {
		announcer.Go(func() { t.announceLoop(ctx, tiers) })
	}
	// A magnet link does not say whether the torrent is private: until the
	// info dict does, the DHT is a source like any other, as in libtorrent.
	if node := t.sess.cfg.DHT; node != nil && !t.private() {
		dctx, stop := context.WithCancel(ctx)
		t.stopDHT = stop
		announcer.Go(func() { t.dhtLoop(dctx, node) })
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

// startContent starts what needs the storage: the disk workers, and
// seeding if every wanted piece is there.
func (t *Torrent) startContent() {
	t.workers = newDiskWorkers(t, 2)
	t.log.Info().Int("pieces", t.geo.NumPieces()).Int("have", t.picker.Have().Count()).Msg("torrent started")
	close(t.opened)
	if t.picker.Complete() {
		t.markComplete(false) // seeding from the start: nothing completed here
	}
	t.startWebSeeds()
	t.fillWebSeeds(time.Now())
}

// private reports whether the torrent is private (BEP 27); false while its
// info dict is unknown.
func (t *Torrent) private() bool { return t.m != nil && t.m.Info.Private }

// fail stops the torrent for an error no wait will cure; it shows in Stats.
func (t *Torrent) fail(err error) {
	if t.stopErr == nil {
		t.stopErr = err
		t.log.Error().Err(err).Msg("torrent stopped")
		t.publishStats()
	}
}

// shutdown closes every connection, waits for their goroutines, drains the
// disk workers and saves the resume record.
func (t *Torrent) shutdown() {
	for p := range t.peers {
		p.cancel()
		t.logSlotEnd(p)
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
	if t.webClient != nil {
		t.webClient.CloseIdleConnections()
	}
	if t.workers != nil {
		t.workers.close(t.drop)
	}
	for len(t.events) > 0 {
		t.drop(<-t.events)
	}
	if t.picker != nil {
		// A seed whose record already holds every piece wrote nothing
		// since: no record to write (1,000 of them cost a daemon's stop
		// 1,000 fsyncs). Anything else saves, so that the record's file
		// stamps match what was written.
		t.saveResume(!t.complete || !t.cfg.HaveSaved)
	}
	if t.cfg.Store != nil {
		if err := t.cfg.Store.Close(); err != nil {
			t.log.Error().Err(err).Msg("close storage")
		}
	}
	t.releaseHeld()
	t.peers = nil
	t.ended = true
	t.publishStats()
	t.log.Info().Msg("torrent stopped")
}

// drop releases what an event holds when the loop no longer handles it.
func (t *Torrent) drop(ev event) {
	switch ev := ev.(type) {
	case peerBlock:
		putBlock(ev.data)
	case webSeedFetched:
		dropWebSeedFetched(ev)
	case peerConnected:
		ev.nc.Close()
	case contentOpened:
		if ev.cfg.Store != nil {
			ev.cfg.Store.Close()
		}
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
		onBlock := t.onBlock
		if t.picker == nil {
			onBlock = func(p *peerConn, _ piece.Block, data []byte) error { return t.unwantedBlock(p, data) }
		}
		if err := onBlock(ev.p, ev.block, ev.data); err != nil {
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
	case contentOpened:
		t.onOpened(ev)
	case prioritiesSet:
		t.setPriorities(ev.prios)
	case webSeedFetched:
		t.onWebSeedFetched(ev)
	}
}

func (e *protocolError) Error() string { return "protocol violation: " + e.msg }

// markComplete notes that every wanted piece is verified; announce says
// whether the trackers hear "completed" (only for a download that finished).
func (t *Torrent) markComplete(announce bool) {
	if t.complete {
		return
	}
	t.complete = true
	t.log.Info().Msg("all wanted pieces verified")
	t.saveResume(announce || !t.cfg.HaveSaved)
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
	t.cfg.HaveSaved = true
}
