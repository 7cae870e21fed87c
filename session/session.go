package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"swarm/choke"
	"swarm/dht"
	"swarm/peer"
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
	// PeerID is ours; zero means a random one with swarm's prefix.
	PeerID [20]byte
	// Logger receives the session's logs; nil means none.
	Logger *zerolog.Logger
	// MaxPeers is the most connections per torrent; 0 means 50.
	MaxPeers int
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
}

// Session runs torrents: it accepts peers on one listener and routes them to
// the torrent they ask for by info hash.
type Session struct {
	cfg      Config
	log      zerolog.Logger
	peerID   [20]byte
	key      string // announce key (BEP 7): lets a tracker tell us apart across IP changes
	listener net.Listener
	up, down *rate.Limiter // nil when unlimited

	mu       sync.Mutex // guards torrents, magnets, running, group
	torrents map[[20]byte]*Torrent
	magnets  map[[20]byte]*Magnet // magnet links fetching their metadata
	running  bool
	ctx      context.Context
	wg       sync.WaitGroup
}

// New checks cfg, fills in defaults and opens the listener.
func New(cfg Config) (*Session, error) {
	if cfg.MaxPeers < 0 || cfg.UploadRate < 0 || cfg.DownloadRate < 0 || cfg.DialTimeout < 0 || cfg.PeerIdleTimeout < 0 ||
		cfg.UnchokeSlots < 0 || cfg.RechokeInterval < 0 || cfg.OptimisticInterval < 0 || cfg.PexInterval < 0 {
		return nil, errors.New("session: negative limit in Config")
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
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = ":0"
	}
	s := &Session{cfg: cfg, peerID: cfg.PeerID, torrents: map[[20]byte]*Torrent{}, magnets: map[[20]byte]*Magnet{}}
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
	s.up = newLimiter(cfg.UploadRate)
	s.down = newLimiter(cfg.DownloadRate)
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	s.listener = ln
	return s, nil
}

// Close releases a session that will not Run (its listener); Run closes
// everything itself.
func (s *Session) Close() error { return s.listener.Close() }

// Addr is the address the session listens on.
func (s *Session) Addr() net.Addr { return s.listener.Addr() }

// PeerID is the id the session sends in handshakes.
func (s *Session) PeerID() [20]byte { return s.peerID }

// Run accepts peers and runs every torrent until ctx is done, then stops
// them all (each tells its trackers it stopped and saves its resume record)
// and returns once every goroutine has ended. It returns nil after a clean
// shutdown.
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
	s.log.Info().Str("addr", s.listener.Addr().String()).Msg("listening for peers")
	var acceptErr error
	for {
		conn, err := s.listener.Accept()
		if err != nil {
			if ctx.Err() == nil {
				acceptErr = fmt.Errorf("accept: %w", err)
			}
			break
		}
		s.wg.Go(func() { s.handleIncoming(ctx, conn) })
	}
	s.listener.Close()
	s.wg.Wait()
	return acceptErr
}

// startLocked starts t's goroutines under the session; s.mu is held.
func (s *Session) startLocked(t *Torrent) {
	s.wg.Go(func() { t.run(s.ctx) })
}

// handleIncoming does the accepting side of a handshake and hands the
// connection to its torrent, or to the magnet fetching its metadata.
func (s *Session) handleIncoming(ctx context.Context, conn net.Conn) {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var t *Torrent
	var mg *Magnet
	theirs, err := peer.Accept(conn, func(ih [20]byte) (peer.Handshake, bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		t, mg = s.torrents[ih], s.magnets[ih]
		return s.handshake(ih), t != nil || mg != nil
	})
	if err != nil {
		s.log.Debug().Err(err).Str("peer", conn.RemoteAddr().String()).Msg("incoming handshake failed")
		conn.Close()
		return
	}
	if !stop() { // ctx ended during the handshake: conn is already closed
		return
	}
	if t == nil {
		mg.accept(ctx, conn, theirs)
		return
	}
	t.incoming(ctx, conn, theirs)
}

// handshake is ours for the torrent ih: BEP 10 always, BEP 5 with a DHT.
func (s *Session) handshake(ih [20]byte) peer.Handshake {
	h := peer.NewHandshake(ih, s.peerID)
	if s.cfg.DHT != nil {
		h.Reserved.SetDHT()
	}
	return h
}

// AddTorrent adds a torrent to the session; if Run is running it starts at
// once, otherwise when Run is called.
func (s *Session) AddTorrent(t *Torrent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.torrents[t.infoHash]; dup {
		return fmt.Errorf("torrent %x is already in the session", t.infoHash)
	}
	s.torrents[t.infoHash] = t
	t.sess = s
	if s.running {
		s.startLocked(t)
	}
	return nil
}
