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

	"swarm/dht"
	"swarm/metadata"
	"swarm/metainfo"
	"swarm/peer"
	"swarm/tracker"
)

// Timing and bounds of a magnet link's metadata phase.
const (
	// magnetRetryMin: while no peer is connected, trackers and the DHT are
	// asked again this soon, then twice as long each time up to
	// shortOfPeersRetry (trackers, within their min interval) and
	// dhtRetryMax (the DHT). A seed that announces a second after us is
	// found on our next announce, if it has not connected to us first.
	magnetRetryMin = time.Second
	// magnetMaxPeers bounds the addresses kept from trackers, the DHT and
	// the link: the ones the fetch is given and the torrent starts with.
	magnetMaxPeers = 500
	// magnetLeft is the "left" we announce without the metadata: not 0, so
	// that trackers do not take us for a seed. libtorrent sends 16 KiB.
	magnetLeft = 16 << 10
)

// MagnetConfig says what a Magnet looks for and where.
type MagnetConfig struct {
	// InfoHash is the v1 info hash of the torrent (xt=urn:btih).
	InfoHash [20]byte
	// Trackers are the link's trackers (tr), as tiers. During the metadata
	// phase each is announced to, not only the first that answers (BEP 12):
	// finding a peer soon matters most then. They become the torrent's
	// announce list.
	Trackers [][]string
	// Peers are the link's peer addresses (x.pe).
	Peers []netip.AddrPort
}

// MagnetStats is a snapshot of what a Magnet is doing, for a status line.
type MagnetStats struct {
	Trackers         int // tracker URLs
	TrackersAnswered int // of those, the ones that have answered an announce
	PeersFound       int // distinct addresses from trackers, the DHT, the link and peers that connected
	Connecting       int // outgoing connections before the handshake
	Connected        int // peers being asked for the metadata, both directions
	DHT              bool
	DHTNodes         int // nodes in the DHT routing table
	DHTLookups       int // DHT lookups finished
}

// Magnet is a torrent known only by its info hash (a magnet link), before
// its metadata: it announces to its trackers and into the DHT on the
// schedule of a torrent short of peers, dials the peers they name, takes the
// peers that connect to the session for its info hash, and fetches the info
// dict from any of them over ut_metadata (BEP 9). Run returns the torrent;
// the caller then adds it to the session (NewTorrent, AddTorrent).
//
// Its connections are not handed to the torrent: the torrent dials the
// addresses Run returns again (issue 14 fetches the metadata inside the
// torrent's own loop instead).
type Magnet struct {
	sess *Session
	cfg  MagnetConfig
	log  zerolog.Logger
	// incoming hands peers the session accepted for our info hash to the
	// fetch; unbuffered, so a peer is either taken by the fetch or, once
	// done is closed, closed by the session.
	incoming chan metadata.Accepted
	done     chan struct{}
	peers    chan netip.AddrPort // new addresses for the fetch; room for magnetMaxPeers
	fetch    metadata.Stats
	answered atomic.Int32 // trackers that have answered
	lookups  atomic.Int32 // DHT lookups finished
	ran      atomic.Bool

	mu    sync.Mutex // guards found
	found []netip.AddrPort
	seen  map[netip.AddrPort]bool
}

// NewMagnet prepares the metadata phase of a magnet link; Run runs it.
func (s *Session) NewMagnet(cfg MagnetConfig) (*Magnet, error) {
	if cfg.InfoHash == [20]byte{} {
		return nil, errors.New("magnet: no info hash")
	}
	return &Magnet{
		sess:     s,
		cfg:      cfg,
		log:      s.log.With().Str("infohash", metainfo.Hash(cfg.InfoHash).String()).Logger(),
		incoming: make(chan metadata.Accepted),
		done:     make(chan struct{}),
		peers:    make(chan netip.AddrPort, magnetMaxPeers),
		seen:     map[netip.AddrPort]bool{},
	}, nil
}

// Stats returns what the magnet is doing; safe from any goroutine.
func (m *Magnet) Stats() MagnetStats {
	st := MagnetStats{
		TrackersAnswered: int(m.answered.Load()),
		Connecting:       int(m.fetch.Dialling.Load()),
		Connected:        int(m.fetch.Connected.Load()),
		DHTLookups:       int(m.lookups.Load()),
	}
	for _, tier := range m.cfg.Trackers {
		st.Trackers += len(tier)
	}
	m.mu.Lock()
	st.PeersFound = len(m.found)
	m.mu.Unlock()
	if node := m.sess.cfg.DHT; node != nil {
		st.DHT, st.DHTNodes = true, node.Stats().Nodes
	}
	return st
}

// Run finds peers and fetches the info dict, until it has it or ctx ends.
// It returns the torrent, with the magnet's trackers as its announce list,
// and the peer addresses found (the link's first), for the torrent to dial.
// The session should be running (Session.Run): peers that connect to us
// before it does wait unanswered. One Run per info hash at a time, and none
// for a torrent already in the session; Run may be called once. Every
// goroutine it starts has ended when it returns.
func (m *Magnet) Run(ctx context.Context) (*metainfo.MetaInfo, []netip.AddrPort, error) {
	if !m.ran.CompareAndSwap(false, true) {
		return nil, nil, errors.New("magnet: Run called twice")
	}
	s, ih := m.sess, m.cfg.InfoHash
	s.mu.Lock()
	if s.torrents[ih] != nil || s.magnets[ih] != nil {
		s.mu.Unlock()
		return nil, nil, fmt.Errorf("magnet %x: the torrent is already in the session", ih)
	}
	s.magnets[ih] = m
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.magnets, ih)
		s.mu.Unlock()
		close(m.done)
	}()

	lctx, stopLoops := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopLoops()
	m.add(m.cfg.Peers, true)
	for _, tier := range m.cfg.Trackers {
		for _, u := range tier {
			wg.Go(func() { m.announceLoop(ctx, lctx, u) })
		}
	}
	if node := s.cfg.DHT; node != nil {
		wg.Go(func() { m.dhtLoop(lctx, node) })
	}
	info, err := metadata.Fetch(lctx, metadata.Config{
		InfoHash:   ih,
		PeerID:     s.peerID,
		Peers:      m.peers,
		Incoming:   m.incoming,
		Found:      func(a netip.AddrPort) { m.add([]netip.AddrPort{a}, false) },
		Stats:      &m.fetch,
		Logger:     &m.log,
		ListenPort: s.listenPort(),
		Client:     "swarm " + Version,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("metadata of %x: %w", ih, err)
	}
	mi, err := metainfo.FromInfo(info, m.cfg.Trackers)
	if err != nil {
		return nil, nil, fmt.Errorf("metadata of %x: %w", ih, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return mi, append([]netip.AddrPort(nil), m.found...), nil
}

// accept hands a peer that connected for our info hash to the fetch, or
// closes it once the fetch has ended. It runs on the session's goroutine
// for that connection.
func (m *Magnet) accept(ctx context.Context, conn net.Conn, hs peer.Handshake) {
	select {
	case m.incoming <- metadata.Accepted{Conn: conn, Handshake: hs}:
	case <-m.done:
		conn.Close()
	case <-ctx.Done():
		conn.Close()
	}
}

// add records addresses not seen before, up to magnetMaxPeers, and queues
// them for the fetch to dial if dial is set (never blocking: the queue has
// room for them all). A peer that connected to us is recorded, not dialled:
// the fetch is asking it already.
func (m *Magnet) add(addrs []netip.AddrPort, dial bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range addrs {
		a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
		if !a.IsValid() || a.Port() == 0 || m.seen[a] || len(m.found) >= magnetMaxPeers {
			continue
		}
		m.seen[a] = true
		m.found = append(m.found, a)
		if dial {
			m.peers <- a
		}
	}
}

// announceLoop announces to one tracker: started first, then on the
// tracker's interval, or after magnetRetryMin doubling while no peer is
// connected (never before the tracker's min interval: the Announcer refuses
// with ErrTooSoon). It ends when lctx does; if ctx has ended too (the user
// gave up, not the metadata arrived) it tells the tracker we stopped.
func (m *Magnet) announceLoop(ctx, lctx context.Context, url string) {
	a, err := tracker.NewAnnouncer(tracker.AnnouncerConfig{
		Tiers:      [][]string{{url}},
		Transport:  &tracker.Client{UserAgent: "swarm/" + Version},
		Logger:     &m.log,
		MinBackoff: 15 * time.Second, // as a torrent's
	})
	if err != nil {
		m.log.Warn().Err(err).Str("tracker_url", tracker.MaskURL(url)).Msg("magnet: unusable tracker")
		return
	}
	req := tracker.AnnounceRequest{InfoHash: m.cfg.InfoHash, PeerID: m.sess.peerID, Port: m.sess.listenPort(),
		Left: magnetLeft, Event: tracker.EventStarted, NumWant: 50, Key: m.sess.key, Compact: true}
	answered := false
	retry := magnetRetryMin
	for {
		resp, err := a.Announce(lctx, req)
		switch {
		case err == nil:
			m.log.Debug().Str("tracker_url", tracker.MaskURL(url)).Stringer("event", req.Event).Int("peers", len(resp.Peers)).Msg("magnet: announced")
			if !answered {
				answered = true
				m.answered.Add(1)
			}
			m.add(resp.Peers, true)
			req.Event = tracker.EventNone
		case lctx.Err() != nil:
		case errors.Is(err, tracker.ErrTooSoon):
		default:
			m.log.Debug().Err(err).Str("tracker_url", tracker.MaskURL(url)).Msg("magnet: announce failed")
		}
		wait := time.Until(a.NextAnnounce())
		if m.fetch.Connected.Load() == 0 {
			wait, retry = min(wait, retry), min(2*retry, shortOfPeersRetry)
		}
		select {
		case <-lctx.Done():
			if ctx.Err() != nil && answered {
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lastAnnounceTimeout)
				req.Event = tracker.EventStopped
				a.Announce(sctx, req)
				cancel()
			}
			return
		case <-time.After(max(wait, magnetRetryMin)):
		}
	}
}

// dhtLoop announces the info hash into the DHT (BEP 5) and takes the peers
// the lookups find, as a torrent does, but again after magnetRetryMin
// doubling while no peer is connected.
func (m *Magnet) dhtLoop(ctx context.Context, node *dht.Node) {
	retry, joinRetry := magnetRetryMin, dhtJoinRetry
	for {
		lctx, cancel := context.WithTimeout(ctx, dhtLookupTimeout)
		peers, err := node.Announce(lctx, dht.ID(m.cfg.InfoHash), int(m.sess.listenPort()))
		cancel()
		if ctx.Err() != nil {
			return
		}
		m.lookups.Add(1)
		if err != nil {
			m.log.Debug().Err(err).Msg("magnet: DHT announce failed")
		}
		m.add(peers, true)
		wait := dhtAnnounceInterval
		switch {
		case errors.Is(err, dht.ErrNoNodes) && joinRetry < magnetRetryMin:
			wait, joinRetry = joinRetry, 2*joinRetry // not joined yet: bootstrap is under way
		case m.fetch.Connected.Load() == 0:
			wait, retry = retry, min(2*retry, dhtRetryMax)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// listenPort is the TCP port the session accepts peers on.
func (s *Session) listenPort() uint16 {
	if a, ok := s.listener.Addr().(*net.TCPAddr); ok {
		return uint16(a.Port)
	}
	return 0
}
