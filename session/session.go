package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"swarm/choke"
	"swarm/dht"
	"swarm/metainfo"
	"swarm/peer"
	"swarm/utp"
)

// Version is swarm's version, sent to peers in the extension handshake.
const Version = "0.1.0"

// Defaults for Config fields left zero.
const (
	DefaultMaxPeers = 50
	// peerIDPrefix follows the Azureus-style convention (BEP 20):
	// -SW0100- is swarm 0.1.0.
	peerIDPrefix = "-SW0100-"
)

// Config configures a Session.
type Config struct {
	// ListenAddr is where peers connect to us, e.g. "127.0.0.1:6881";
	// "" means ":0" (any address, an ephemeral port).
	ListenAddr string
	// Listener, if set, is where peers connect to us instead of a TCP
	// listener opened on ListenAddr, which must then be "". It needs
	// NoUTP (uTP would want a UDP socket on the same port). Once New
	// succeeds the session closes it. Tests pass an in-memory one
	// (internal/memnet).
	Listener net.Listener
	// Dial, if set, opens outgoing peer connections and the connections
	// of HTTP tracker announces (without keep-alive) instead of a
	// net.Dialer; DialTimeout bounds a peer dial through its ctx. Tests
	// pass an in-memory network's (internal/memnet).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// PeerID is ours; zero means a random one with swarm's prefix.
	PeerID [20]byte
	// Logger receives the session's logs; nil means none.
	Logger *zerolog.Logger
	// MaxPeers is the most connections per torrent; 0 means 50.
	MaxPeers int
	// MaxConns is the most peer connections of all torrents together,
	// counting incoming ones still in their handshake and outgoing
	// attempts; 0 means as many as the descriptor limit (RLIMIT_NOFILE)
	// leaves after a reserve for files, the listener, trackers and the
	// DHT. The descriptor limit caps it in any case. Past it new peers are
	// refused, incoming and outgoing, while connected ones are served.
	MaxConns int
	// UploadRate and DownloadRate cap all torrents together, in bytes per
	// second; 0 means unlimited.
	UploadRate, DownloadRate int64
	// DialTimeout bounds one outgoing TCP connect; 0 means 10 s.
	DialTimeout time.Duration
	// PeerIdleTimeout is how long a connected peer may take to send its
	// next whole message (a keep-alive counts) before it is dropped; 0
	// means peer.DefaultIdleTimeout (3 min). Tests lower it to see a peer
	// that trickles bytes dropped.
	PeerIdleTimeout time.Duration
	// UnchokeSlots is the number of regular upload slots per torrent
	// (tit-for-tat); 0 means 4. One optimistic slot comes on top.
	UnchokeSlots int
	// RechokeInterval is how often the slots are re-chosen; 0 means 10 s.
	RechokeInterval time.Duration
	// OptimisticInterval is how often the optimistic slot moves; 0 means 30 s.
	OptimisticInterval time.Duration
	// DHT, if set, is a running DHT node (BEP 5) that public torrents
	// announce to and find peers through; the caller runs and closes it.
	DHT *dht.Node
	// PexInterval is the least time between two peer exchange (BEP 11)
	// messages to one peer; 0 means 60 s. A peer's messages that come
	// faster than one per third of it are ignored. Tests lower it.
	PexInterval time.Duration
	// NoPex turns peer exchange off for every torrent; by default public
	// torrents use it (private ones never do).
	NoPex bool
	// NoUTP turns uTP (BEP 29) off: no UDP socket on the listen port, and
	// outgoing connections TCP only.
	NoUTP bool
	// LPD turns local peer discovery (BEP 14) on: public torrents are
	// announced to the LAN's multicast group and peers announced there are
	// dialled. It stays off when the listener is on loopback.
	LPD bool
	// CapLoopback applies the per-IP caps (2 connections per torrent, 4
	// incoming handshakes at once) to loopback addresses too. By default
	// 127.0.0.0/8 and ::1 are exempt: every peer on one machine shares
	// them (tests, the lab, a local swarm), and a local user can do worse
	// than fill our slots anyway. Tests set it to see the caps work.
	CapLoopback bool
	// TurnoverAfter is how long a connected peer must go without payload
	// either way (or without interest either way) before a new peer may
	// take its place in a full torrent; 0 means 60 s. Tests lower it.
	TurnoverAfter time.Duration
	// Encryption is the MSE/PE policy for every peer, TCP and uTP; the zero
	// value is EncryptionPrefer (both accepted, plaintext dialled first).
	Encryption Encryption
}

// Session runs torrents: it accepts peers on one listener and routes them to
// the torrent they ask for by info hash.
type Session struct {
	cfg      Config
	log      zerolog.Logger
	peerID   [20]byte
	key      string // announce key (BEP 7): lets a tracker tell us apart across IP changes
	listener net.Listener
	utp      *utp.Socket   // nil with NoUTP
	http     *http.Client  // for HTTP trackers; nil means http.DefaultClient
	up, down *rate.Limiter // nil when unlimited
	conns    connLimits
	fds      int // descriptor limit when the session was made; 0 if unknown
	// held counts the block bytes the torrents hold for incomplete pieces,
	// bounded by heldLimit (assemble.go).
	held      atomic.Int64
	heldLimit int64

	mu       sync.Mutex // guards torrents, reserve, running, stopping, group
	torrents map[[20]byte]*Torrent
	reserve  int // descriptors the torrents need besides peers
	running  bool
	// stopping is set once Run waits for its goroutines: a torrent added
	// after that would start one the wait does not see (and race it).
	stopping bool
	ctx      context.Context
	wg       sync.WaitGroup
}

// New checks cfg, fills in defaults and opens the listener.
func New(cfg Config) (*Session, error) {
	if cfg.MaxPeers < 0 || cfg.MaxConns < 0 || cfg.UploadRate < 0 || cfg.DownloadRate < 0 || cfg.DialTimeout < 0 || cfg.PeerIdleTimeout < 0 ||
		cfg.UnchokeSlots < 0 || cfg.RechokeInterval < 0 || cfg.OptimisticInterval < 0 || cfg.PexInterval < 0 || cfg.TurnoverAfter < 0 {
		return nil, errors.New("session: negative limit in Config")
	}
	if cfg.Encryption < EncryptionPrefer || cfg.Encryption > EncryptionPlaintext {
		return nil, fmt.Errorf("session: unknown %v in Config", cfg.Encryption)
	}
	if cfg.MaxPeers == 0 {
		cfg.MaxPeers = DefaultMaxPeers
	}
	if cfg.UnchokeSlots == 0 {
		cfg.UnchokeSlots = choke.DefaultSlots
	}
	if cfg.RechokeInterval == 0 {
		cfg.RechokeInterval = choke.DefaultRechokeInterval
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.PexInterval == 0 {
		cfg.PexInterval = defaultPexInterval
	}
	if cfg.TurnoverAfter == 0 {
		cfg.TurnoverAfter = defaultTurnoverAfter
	}
	if cfg.Listener != nil && (cfg.ListenAddr != "" || !cfg.NoUTP) {
		return nil, errors.New("session: Config.Listener needs an empty ListenAddr and NoUTP")
	}
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = ":0"
	}
	s := &Session{cfg: cfg, peerID: cfg.PeerID, torrents: map[[20]byte]*Torrent{}, heldLimit: heldSessionLimit}
	if cfg.Logger != nil {
		s.log = *cfg.Logger
	} else {
		s.log = zerolog.Nop()
	}
	if s.peerID == [20]byte{} {
		copy(s.peerID[:], peerIDPrefix)
		if _, err := rand.Read(s.peerID[len(peerIDPrefix):]); err != nil {
			return nil, err
		}
	}
	var key [4]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	s.key = fmt.Sprintf("%x", key)
	if cfg.Dial != nil {
		s.http = &http.Client{Transport: &http.Transport{DialContext: cfg.Dial, DisableKeepAlives: true}}
	} else {
		s.cfg.Dial = new(net.Dialer).DialContext
	}
	s.up = adjustable(cfg.UploadRate)
	s.down = adjustable(cfg.DownloadRate)
	if cfg.Listener != nil {
		s.listener = cfg.Listener
	} else {
		ln, us, err := listenPeers(cfg.ListenAddr, cfg.NoUTP)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
		}
		s.listener, s.utp = ln, us
	}
	s.fds = fdLimit()
	s.conns.max = connBudget(s.fds, 0, cfg.MaxConns)
	if s.fds > 0 && s.fds-fdReserve < minConns {
		s.log.Warn().Int("limit", s.fds).Msg("the descriptor limit (ulimit -n) leaves room for few peers; raise it")
	}
	return s, nil
}

// Close releases a session that will not Run (its listener); Run closes
// everything itself.
func (s *Session) Close() error {
	if s.utp != nil {
		s.utp.Close()
	}
	return s.listener.Close()
}

// Addr is the address the session listens on.
func (s *Session) Addr() net.Addr { return s.listener.Addr() }

// PeerID is the id the session sends in handshakes.
func (s *Session) PeerID() [20]byte { return s.peerID }

// Run accepts peers and runs every torrent until ctx is done, then stops
// them all (each tells its trackers it stopped and saves its resume record)
// and returns once every goroutine has ended. A failing Accept (a full
// descriptor table) does not end it: accepting is retried with a back-off.
// It returns an error only if called twice.
func (s *Session) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("session: Run called twice")
	}
	s.running, s.ctx = true, ctx
	for _, t := range s.torrents {
		s.startLocked(t)
	}
	s.mu.Unlock()

	stop := context.AfterFunc(ctx, func() { s.listener.Close() })
	defer stop()
	if s.cfg.LPD {
		s.wg.Go(func() { s.runLPD(ctx) })
	}
	s.conns.mu.Lock()
	maxConns := s.conns.max
	s.conns.mu.Unlock()
	s.log.Info().Str("addr", s.listener.Addr().String()).Int("fd_limit", s.fds).Int("max_conns", maxConns).Msg("listening for peers")
	handle := func(conn net.Conn) {
		addr, _ := netip.ParseAddrPort(conn.RemoteAddr().String())
		ip := s.cappedIP(addr)
		if !s.conns.acquireIP(ip) {
			s.log.Debug().Str("peer", addr.String()).Msg("refused: too many handshakes from this IP")
			conn.Close()
			return
		}
		ok, first := s.conns.acquire(true)
		if !ok {
			s.conns.releaseIP(ip)
			s.refused(first, addr.String())
			conn.Close()
			return
		}
		conn = s.counted(conn)
		s.wg.Go(func() { s.handleIncoming(ctx, conn, ip) })
	}
	utpDone := make(chan struct{})
	if s.utp != nil {
		go func() {
			defer close(utpDone)
			acceptLoop(ctx, utpListener{ctx, s.utp}, s.log, handle)
		}()
	} else {
		close(utpDone)
	}
	acceptLoop(ctx, s.listener, s.log, handle)
	s.listener.Close()
	<-utpDone
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	s.wg.Wait()
	if s.utp != nil {
		s.utp.Close() // after the peers: their FINs are sent
	}
	return nil
}

// Back-off after a failed Accept, as net/http's Server does.
const (
	acceptRetryMin = 5 * time.Millisecond
	acceptRetryMax = time.Second
)

// acceptLoop hands every connection ln accepts to handle, until ln is
// closed or ctx ends. A failed Accept (out of descriptors: EMFILE, ENFILE;
// a connection aborted before it was taken: ECONNABORTED; or anything else)
// is tried again after acceptRetryMin, doubling to acceptRetryMax while it
// keeps failing: one Warn when the failures start and one Info when an
// Accept succeeds again, not a line per failure.
func acceptLoop(ctx context.Context, ln net.Listener, log zerolog.Logger, handle func(net.Conn)) {
	var wait time.Duration
	var failures int
	var since time.Time
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			if failures == 0 {
				since = time.Now()
				log.Warn().Err(err).Msg("accept failed; retrying with back-off")
			}
			failures++
			wait = min(max(2*wait, acceptRetryMin), acceptRetryMax)
			if sleep(ctx, wait) != nil {
				return
			}
			continue
		}
		if failures > 0 {
			log.Info().Int("failures", failures).Dur("after", time.Since(since)).Msg("accepting again")
			failures, wait = 0, 0
		}
		handle(conn)
	}
}

// startLocked starts t's goroutines under the session; s.mu is held.
func (s *Session) startLocked(t *Torrent) {
	ctx, cancel := context.WithCancel(s.ctx)
	t.halt = cancel
	s.wg.Go(func() { t.run(ctx) })
}

// handleIncoming does the accepting side of a handshake and hands the
// connection to its torrent (one fetching its metadata included); it gives
// back the handshake slots taken for it (ip's among them).
func (s *Session) handleIncoming(ctx context.Context, conn net.Conn, ip netip.Addr) {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var t *Torrent
	var theirs peer.Handshake
	hsConn, wire, skey, err := s.sniff(conn)
	if err == nil {
		theirs, err = peer.Accept(hsConn, func(ih [20]byte) (peer.Handshake, bool) {
			if skey != nil && ih != *skey {
				return peer.Handshake{}, false // MSE was keyed for another torrent
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			t = s.torrents[ih]
			return s.handshake(ih), t != nil
		})
	}
	s.conns.releaseIP(ip)
	s.logRecovered(s.conns.handshakeDone())
	// A full torrent still gets the peer: its loop may make room by
	// dropping an idle one (adopt), or refuses it.
	if err != nil {
		s.log.Debug().Err(err).Str("peer", conn.RemoteAddr().String()).Msg("incoming handshake failed")
		conn.Close()
		return
	}
	if !stop() { // ctx ended during the handshake: conn is already closed
		return
	}
	t.incoming(ctx, wire, theirs)
}

// dialPeer opens a connection to addr counted in the session's limits, or
// fails with errTooManyConns when they are reached. TCP comes first: most
// peers take it, and a refusal is known at once, while a uTP SYN to a
// TCP-only peer goes unanswered until it times out. uTP is tried when TCP
// fails (a peer with TCP off or firewalled).
func (s *Session) dialPeer(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	if ok, first := s.conns.acquire(false); !ok {
		s.refused(first, addr.String())
		return nil, errTooManyConns
	}
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	nc, err := s.cfg.Dial(dctx, "tcp", addr.String())
	cancel()
	if err != nil && s.utp != nil && ctx.Err() == nil {
		uc, uerr := s.dialUTP(ctx, addr, utpDialTimeout)
		if uerr == nil {
			nc, err = uc, nil
		} else {
			err = fmt.Errorf("%w; then uTP: %v", err, uerr)
		}
	}
	if err != nil {
		s.releaseConn()
		return nil, err
	}
	return s.counted(nc), nil
}

// handshake is ours for the torrent ih: BEP 10 always, BEP 5 with a DHT.
func (s *Session) handshake(ih [20]byte) peer.Handshake {
	h := peer.NewHandshake(ih, s.peerID)
	if s.cfg.DHT != nil {
		h.Reserved.SetDHT()
	}
	return h
}

// errSessionStopped is AddTorrent's answer once Run has stopped.
var errSessionStopped = errors.New("session stopped")

// AddTorrent adds a torrent to the session; if Run is running it starts at
// once, otherwise when Run is called. Once Run has stopped it fails.
func (s *Session) AddTorrent(t *Torrent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return errSessionStopped
	}
	if _, dup := s.torrents[t.infoHash]; dup {
		return fmt.Errorf("torrent %x is already in the session", t.infoHash)
	}
	s.torrents[t.infoHash] = t
	t.sess = s
	var info *metainfo.Info
	if t.m != nil {
		info = &t.m.Info
	}
	s.reserve += torrentReserve(info)
	s.conns.setMax(connBudget(s.fds, s.reserve, s.cfg.MaxConns))
	if s.running {
		s.startLocked(t)
	}
	return nil
}
