package metadata

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"swarm/peer"
)

// Defaults for the zero fields of Config.
const (
	DefaultMaxConns    = 8
	DefaultDialTimeout = 10 * time.Second
	DefaultPeerTimeout = 30 * time.Second
	DefaultRetryDelay  = 2 * time.Second
	DefaultMaxAttempts = 6
	// DefaultMemoryBudget lets one fetch of the largest info dict we accept
	// (peer.MaxMetadataSize) run beside one of up to 8 MiB, several times any real one (a
	// 1 TiB torrent of 16 MiB pieces has 1.3 MiB of piece hashes).
	DefaultMemoryBudget = peer.MaxMetadataSize + 8<<20
)

// maxRetryDelay caps the doubling wait before a peer that was not ready is dialled again.
const maxRetryDelay = 30 * time.Second

// Limits on what one peer may do before it has given us the metadata.
const (
	// maxChatter bounds the other messages (bitfield, have, pex...) a peer may send us
	// during a fetch.
	maxChatter = 4096
	// requestWindow is how many metadata pieces we ask one peer for at a time. libtorrent
	// keeps two in flight and queues up to 1024 requests when it serves.
	requestWindow = 4
)

// Errors a fetch from one peer can fail with; Fetch logs them and tries the next peer.
var (
	// ErrHashMismatch: a peer's info dict does not hash to the info hash. The peer is never
	// asked again.
	ErrHashMismatch = errors.New("metadata: info dict does not match the info hash")
	// ErrNoMetadataExtension: the peer does not offer ut_metadata or a usable metadata_size.
	ErrNoMetadataExtension = errors.New("metadata: peer does not offer ut_metadata")
	// ErrRejected: the peer rejected a metadata request.
	ErrRejected = errors.New("metadata: peer rejected a request")
	// ErrPeersExhausted: Config.Peers was closed and every peer it gave has failed.
	ErrPeersExhausted = errors.New("metadata: no peer left to ask")
	// errBanned: the peer's IP sent an info dict that failed the hash during this Fetch.
	errBanned = errors.New("metadata: peer's IP is banned: it sent an info dict that failed the hash")
	// errBusy: the peer's claimed size found no room in the memory budget before the peer
	// timed out; the peer may be fine.
	errBusy = errors.New("metadata: no room in the memory budget")
)

// Config says what to fetch and from whom.
type Config struct {
	// InfoHash is the v1 info hash of the torrent: the SHA-1 the info dict must have.
	InfoHash [20]byte
	// PeerID is our peer id in the handshake.
	PeerID [20]byte
	// Peers delivers peer addresses as trackers, the DHT or the magnet link's x.pe find
	// them. An address delivered again is ignored: Fetch itself dials it again if, and only
	// if, it was not ready (see RetryDelay). Invalid addresses and port 0 are skipped. It
	// may stay open: Fetch then waits for more addresses until ctx ends. Required.
	Peers <-chan netip.AddrPort
	// MaxConns is how many peers are tried at the same time; 0 means DefaultMaxConns.
	MaxConns int
	// DialTimeout bounds a TCP connect; 0 means DefaultDialTimeout.
	DialTimeout time.Duration
	// PeerTimeout bounds the whole exchange with one peer, from the dial to the last
	// piece; 0 means DefaultPeerTimeout.
	PeerTimeout time.Duration
	// RetryDelay is how long Fetch waits before dialling again a peer that was not ready:
	// it refused the connection, or hung up or timed out before completing the handshake,
	// as libtorrent does for an info hash until it has finished adding the torrent. The
	// wait doubles after each further such failure, up to 30 s. A peer that completed the
	// handshake and then failed is never dialled again. 0 means DefaultRetryDelay.
	RetryDelay time.Duration
	// MaxAttempts bounds the dials of one address; 0 means DefaultMaxAttempts, 1 never
	// dials an address twice.
	MaxAttempts int
	// Logger receives a Debug line per peer dropped and an Info line when the metadata is
	// verified; nil means none.
	Logger *zerolog.Logger
	// ListenPort is our TCP listen port, sent as "p" in our extension handshake so the peer
	// can connect back; 0 sends none.
	ListenPort uint16
	// Client is our client name and version, sent as "v" in our extension handshake; ""
	// sends none.
	Client string
	// Incoming delivers connections peers opened to us for InfoHash, their handshake
	// done (the session's listener accepts them); Fetch asks them for the metadata too
	// and closes them when done. Up to MaxConns of them run beside MaxConns dials; more
	// are closed at once. nil means none.
	Incoming <-chan Accepted
	// Found, if set, is called (from any goroutine of Fetch) with the listen address of
	// each peer that connected to us and named its port ("p", BEP 10), so it can be
	// dialled later; the address it connected from is only an ephemeral port.
	Found func(netip.AddrPort)
	// Stats, if set, counts what Fetch is doing, for a status line.
	Stats *Stats
	// MemoryBudget bounds, in bytes, the info dict all the fetches in flight may hold at
	// once, counted by the metadata_size each peer claims before it is asked for a piece:
	// a fetch waits (within PeerTimeout) until its claim fits, and while another fetch of
	// the same size runs, since that one's result settles the size for every peer that
	// claims it. 0 means DefaultMemoryBudget; less than peer.MaxMetadataSize is an error.
	MemoryBudget int

	guard *guard // set by Fetch, shared by its fetches
}

// Accepted is a connection a peer opened to us, after the BitTorrent handshake.
type Accepted struct {
	Conn      net.Conn
	Handshake peer.Handshake // theirs
}

// Stats counts a fetch's connections. Fetch updates it; any goroutine may read it.
type Stats struct {
	Dialling  atomic.Int32 // outgoing connections not yet through the handshake
	Connected atomic.Int32 // peers through the handshake, being asked for the metadata
	Tried     atomic.Int32 // peers connected to or dialled, including again
	Banned    atomic.Int32 // IPs banned for an info dict that failed the hash
}

func (cfg *Config) fill() error {
	if cfg.Peers == nil {
		return errors.New("metadata: Config.Peers is nil")
	}
	if cfg.MaxConns < 0 || cfg.DialTimeout < 0 || cfg.PeerTimeout < 0 || cfg.RetryDelay < 0 || cfg.MaxAttempts < 0 {
		return errors.New("metadata: negative MaxConns, MaxAttempts, timeout or delay in Config")
	}
	if cfg.MemoryBudget != 0 && cfg.MemoryBudget < peer.MaxMetadataSize {
		return fmt.Errorf("metadata: MemoryBudget %d is below the largest info dict we accept (%d)", cfg.MemoryBudget, peer.MaxMetadataSize)
	}
	if cfg.MemoryBudget == 0 {
		cfg.MemoryBudget = DefaultMemoryBudget
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.PeerTimeout == 0 {
		cfg.PeerTimeout = DefaultPeerTimeout
	}
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = DefaultRetryDelay
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Logger == nil {
		nop := zerolog.Nop()
		cfg.Logger = &nop
	}
	if cfg.Stats == nil {
		cfg.Stats = new(Stats)
	}
	cfg.guard = &guard{free: cfg.MemoryBudget, sizes: map[int]bool{}, banned: map[netip.Addr]bool{}, changed: make(chan struct{})}
	return nil
}

// guard is what the fetches of one Fetch share: the memory budget, the sizes being
// fetched and the banned IPs. Any goroutine may call its methods.
type guard struct {
	mu      sync.Mutex          // guards the fields below
	free    int                 // bytes of the budget not reserved by a fetch
	sizes   map[int]bool        // claimed sizes being fetched
	banned  map[netip.Addr]bool // IPs that sent an info dict that failed the hash
	changed chan struct{}       // closed and replaced when a reservation ends or an IP is banned
}

// acquire reserves size bytes for a fetch from ip, waiting until they fit in the budget
// and no other fetch of that size runs, or until ctx ends (errBusy). It fails with
// errBanned once ip is banned. A nil error must be followed by release(size).
func (g *guard) acquire(ctx context.Context, ip netip.Addr, size int) error {
	for {
		g.mu.Lock()
		if g.banned[ip] {
			g.mu.Unlock()
			return errBanned
		}
		if !g.sizes[size] && size <= g.free {
			g.sizes[size] = true
			g.free -= size
			g.mu.Unlock()
			return nil
		}
		changed := g.changed
		g.mu.Unlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w for %d bytes of metadata", errBusy, size)
		case <-changed:
		}
	}
}

func (g *guard) release(size int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.sizes, size)
	g.free += size
	g.wake()
}

// ban bans ip for the rest of the Fetch; it reports whether ip was not banned already.
func (g *guard) ban(ip netip.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.banned[ip] {
		return false
	}
	g.banned[ip] = true
	g.wake()
	return true
}

func (g *guard) isBanned(ip netip.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.banned[ip]
}

// wake tells the fetches waiting in acquire to look again. g.mu must be held.
func (g *guard) wake() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// result is what one peer's fetch reports to Fetch's loop.
type result struct {
	addr     netip.AddrPort
	info     []byte
	err      error
	retry    bool // the peer failed in a way that may pass: it was not ready
	incoming bool // the peer connected to us: addr is not one to dial again
}

// redial is an address waiting to be dialled again.
type redial struct {
	addr netip.AddrPort
	at   time.Time
}

// Fetch gets the info dict of cfg.InfoHash from the peers cfg.Peers delivers and those
// cfg.Incoming hands over, and returns it once its SHA-1 equals the info hash. Up to
// cfg.MaxConns peers are dialled at once, each asked for the whole info dict. A peer that
// was not ready (refused the connection or hung up before the handshake) is dialled again
// after cfg.RetryDelay, doubling, up to cfg.MaxAttempts dials; a peer that fails after the
// handshake is dropped and never dialled again (unless it timed out waiting for room in
// cfg.MemoryBudget), so a peer whose bytes did not match the hash cannot waste a second
// try; its IP is banned, for dials and incoming connections alike. It returns ctx's error when ctx ends first, and
// ErrPeersExhausted (wrapped) when cfg.Peers (and cfg.Incoming, if set) are closed and
// every peer has failed for good. All the goroutines and connections it starts or is
// handed are gone when it returns.
func Fetch(ctx context.Context, cfg Config) ([]byte, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // runs after cancel: every fetch ends once its conn is closed
	defer cancel()

	// results has room for every fetch in flight (MaxConns dialled, MaxConns accepted),
	// so a fetch never blocks on reporting.
	results := make(chan result, 2*cfg.MaxConns)
	// dials counts the dials of every address seen; one in flight or waiting in retries
	// is not dialled again when cfg.Peers delivers it again, nor one that failed for good
	// (marked with a count past MaxAttempts).
	dials := make(map[netip.AddrPort]int)
	var retries []redial // addresses waiting to be dialled again, in no order
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	peers, incoming := cfg.Peers, cfg.Incoming
	active, accepted := 0, 0 // fetches in flight: dialled, and handed over by Incoming
	dial := func(addr netip.AddrPort) {
		dials[addr]++
		active++
		wg.Go(func() {
			info, retry, err := fetchFrom(ctx, &cfg, addr)
			results <- result{addr: addr, info: info, err: err, retry: retry}
		})
	}
	for {
		if peers == nil && incoming == nil && active == 0 && accepted == 0 && len(retries) == 0 {
			return nil, fmt.Errorf("%w: %d peers tried", ErrPeersExhausted, len(dials))
		}
		in := peers
		var due <-chan time.Time
		if active >= cfg.MaxConns {
			in = nil // full: leave addresses in the channel until a slot frees
		} else if i := nextRetry(retries); i >= 0 {
			timer.Reset(time.Until(retries[i].at))
			due = timer.C
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case addr, ok := <-in:
			if !ok {
				peers = nil
				continue
			}
			addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
			if !addr.IsValid() || addr.Port() == 0 || addr.Addr().IsUnspecified() || dials[addr] > 0 || cfg.guard.isBanned(addr.Addr()) {
				continue
			}
			dial(addr)
		case a, ok := <-incoming:
			if !ok {
				incoming = nil
				continue
			}
			if accepted >= cfg.MaxConns {
				a.Conn.Close()
				cfg.Logger.Debug().Stringer("peer", a.Conn.RemoteAddr()).Msg("metadata: incoming peer closed, enough are being asked")
				continue
			}
			if cfg.guard.isBanned(addrOf(a.Conn.RemoteAddr()).Addr()) {
				a.Conn.Close()
				cfg.Logger.Debug().Stringer("peer", a.Conn.RemoteAddr()).Msg("metadata: incoming peer closed, its IP is banned")
				continue
			}
			accepted++
			wg.Go(func() {
				info, addr, err := fetchAccepted(ctx, &cfg, a)
				results <- result{addr: addr, info: info, err: err, incoming: true}
			})
		case <-due:
			i := nextRetry(retries)
			addr := retries[i].addr
			retries = slices.Delete(retries, i, i+1)
			if cfg.guard.isBanned(addr.Addr()) {
				continue
			}
			dial(addr)
		case r := <-results:
			if r.incoming {
				accepted--
			} else {
				active--
			}
			if r.err == nil {
				cfg.Logger.Info().Str("peer", r.addr.String()).Bool("incoming", r.incoming).Int("bytes", len(r.info)).Msg("metadata received")
				return r.info, nil
			}
			if ctx.Err() != nil {
				continue
			}
			if errors.Is(r.err, ErrHashMismatch) {
				cfg.Logger.Info().Str("peer", r.addr.String()).Err(r.err).Msg("metadata: peer sent a bad info dict; its IP is banned for this magnet")
			}
			if r.incoming {
				cfg.Logger.Debug().Str("peer", r.addr.String()).Err(r.err).Msg("metadata peer dropped (incoming)")
				continue
			}
			n := dials[r.addr]
			if !r.retry || n >= cfg.MaxAttempts {
				dials[r.addr] = cfg.MaxAttempts + 1
				cfg.Logger.Debug().Str("peer", r.addr.String()).Int("dials", n).Err(r.err).Msg("metadata peer dropped")
				continue
			}
			wait := backoff(cfg.RetryDelay, n)
			retries = append(retries, redial{r.addr, time.Now().Add(wait)})
			cfg.Logger.Debug().Str("peer", r.addr.String()).Int("dials", n).Dur("retry_in", wait).Err(r.err).Msg("metadata peer not ready")
		}
	}
}

// addrOf is a net.Addr as an AddrPort, the zero one if it is not TCP.
func addrOf(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return netip.AddrPortFrom(t.AddrPort().Addr().Unmap(), t.AddrPort().Port())
	}
	return netip.AddrPort{}
}

// nextRetry returns the index of the retry due first, or -1 if there is none. A linear
// scan: retries holds only peers that refused us, a handful.
func nextRetry(retries []redial) int {
	first := -1
	for i, r := range retries {
		if first < 0 || r.at.Before(retries[first].at) {
			first = i
		}
	}
	return first
}

// backoff is the wait before the dial that follows n failed ones: base, doubled n-1 times,
// at most maxRetryDelay (or base, if that is more).
func backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < maxRetryDelay; i++ {
		d = min(2*d, maxRetryDelay)
	}
	return d
}

// fetchFrom takes the whole info dict from the peer at addr and checks its hash. retry
// reports a failure before the handshake completed (a refused dial, a reset, a timeout),
// which may only mean that the peer has not yet added the torrent.
func fetchFrom(ctx context.Context, cfg *Config, addr netip.AddrPort) (info []byte, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.PeerTimeout)
	defer cancel()
	cfg.Stats.Tried.Add(1)
	cfg.Stats.Dialling.Add(1)
	d := net.Dialer{Timeout: cfg.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		cfg.Stats.Dialling.Add(-1)
		return nil, true, err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()

	theirs, err := peer.Initiate(nc, peer.NewHandshake(cfg.InfoHash, cfg.PeerID))
	cfg.Stats.Dialling.Add(-1)
	if err != nil {
		// A peer that answers with something else than a handshake for our info hash will
		// not answer better next time.
		wrong := errors.Is(err, peer.ErrBadProtocol) || errors.Is(err, peer.ErrInfoHashMismatch)
		return nil, !wrong, ctxErr(ctx, fmt.Errorf("handshake: %w", err))
	}
	info, err = exchange(ctx, cfg, nc, theirs, nil)
	// A peer we had no room for may be fine: ask it again later.
	return info, errors.Is(err, errBusy), ctxErr(ctx, err)
}

// fetchAccepted takes the whole info dict from a peer that connected to us, and checks
// its hash. It closes the connection. addr is the peer's listen address if it named its
// port, else the address it connected from.
func fetchAccepted(ctx context.Context, cfg *Config, a Accepted) (info []byte, addr netip.AddrPort, err error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.PeerTimeout)
	defer cancel()
	defer a.Conn.Close()
	stop := context.AfterFunc(ctx, func() { a.Conn.Close() })
	defer stop()
	cfg.Stats.Tried.Add(1)
	addr = addrOf(a.Conn.RemoteAddr())
	found := func(port uint16) {
		if port == 0 || !addr.IsValid() {
			return
		}
		addr = netip.AddrPortFrom(addr.Addr(), port)
		if cfg.Found != nil {
			cfg.Found(addr)
		}
	}
	info, err = exchange(ctx, cfg, a.Conn, a.Handshake, found)
	return info, addr, ctxErr(ctx, err)
}

// exchange asks a peer through the handshake for the info dict over ut_metadata, once the
// size it claims fits in the memory budget. found, if set, gets the listen port the peer
// names in its extension handshake.
func exchange(ctx context.Context, cfg *Config, nc net.Conn, theirs peer.Handshake, found func(port uint16)) ([]byte, error) {
	cfg.Stats.Connected.Add(1)
	defer cfg.Stats.Connected.Add(-1)
	if !theirs.Reserved.Extended() {
		return nil, fmt.Errorf("%w: no extension protocol bit in the handshake", ErrNoMetadataExtension)
	}
	conn, err := peer.NewConn(nc, peer.Config{
		IdleTimeout:    cfg.PeerTimeout,
		WriteTimeout:   cfg.PeerTimeout,
		MaxExtendedLen: peer.MaxExtensionHandshakeLen,
	})
	if err != nil {
		return nil, err
	}
	f := &fetch{conn: conn, found: found, ip: addrOf(nc.RemoteAddr()).Addr()}
	return f.run(ctx, cfg)
}

// ctxErr prefers ctx's error to err once ctx has ended: a read failing on a closed conn
// then says why it was closed.
func ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", context.Cause(ctx), err)
	}
	return err
}

// fetch is the exchange with one peer after the handshake. One goroutine runs it.
type fetch struct {
	conn    *peer.Conn
	theirID uint8 // the extended id the peer receives ut_metadata under
	chatter int   // messages other than ut_metadata ones read so far
	found   func(port uint16)
	ip      netip.Addr // the peer's, banned if its info dict fails the hash
}

func (f *fetch) run(ctx context.Context, cfg *Config) ([]byte, error) {
	ours := peer.ExtensionHandshake{M: map[string]uint8{peer.MetadataExtension: peer.MetadataID}, V: cfg.Client, Port: cfg.ListenPort}
	payload, err := ours.Marshal()
	if err != nil {
		return nil, err
	}
	if err := f.conn.WriteMessage(peer.Message{ID: peer.Extended, ExtendedID: peer.ExtensionHandshakeID, Payload: payload}); err != nil {
		return nil, fmt.Errorf("write extension handshake: %w", err)
	}
	size, err := f.readExtensionHandshake()
	if err != nil {
		return nil, err
	}
	if err := cfg.guard.acquire(ctx, f.ip, size); err != nil {
		return nil, err
	}
	defer cfg.guard.release(size)

	// Pieces are kept apart until all have come, so memory follows what the peer really
	// sent, never the size it announced.
	n := peer.MetadataPieces(size)
	pieces := make([][]byte, n)
	next, got := 0, 0
	for ; next < min(n, requestWindow); next++ {
		if err := f.request(next); err != nil {
			return nil, err
		}
	}
	for got < n {
		m, err := f.readMetadataMessage()
		if err != nil {
			return nil, err
		}
		switch m.Type {
		case peer.MetadataRequest:
			// We have nothing to give: say so rather than let the peer wait.
			if err := f.chat(); err != nil {
				return nil, err
			}
			if err := f.send(peer.MetadataMessage{Type: peer.MetadataReject, Piece: m.Piece}); err != nil {
				return nil, err
			}
			continue
		case peer.MetadataReject:
			return nil, fmt.Errorf("%w: piece %d", ErrRejected, m.Piece)
		}
		if m.TotalSize != size {
			return nil, fmt.Errorf("metadata: piece %d says total_size %d, handshake said %d", m.Piece, m.TotalSize, size)
		}
		if m.Piece >= next || pieces[m.Piece] != nil {
			return nil, fmt.Errorf("metadata: piece %d that we did not ask for", m.Piece)
		}
		pieces[m.Piece] = bytes.Clone(m.Data) // m.Data is the Decoder's buffer
		got++
		if next < n {
			if err := f.request(next); err != nil {
				return nil, err
			}
			next++
		}
	}
	// Hash the pieces where they are: a second copy of junk would double what a liar costs.
	h := sha1.New()
	for _, p := range pieces {
		h.Write(p)
	}
	if sum := h.Sum(nil); [20]byte(sum) != cfg.InfoHash {
		// Banned before the deferred release, so that peers of the same IP waiting for
		// this size are turned away, not asked.
		if f.ip.IsValid() && cfg.guard.ban(f.ip) {
			cfg.Stats.Banned.Add(1)
		}
		return nil, fmt.Errorf("%w: %d bytes with SHA-1 %x", ErrHashMismatch, size, sum)
	}
	return bytes.Join(pieces, nil), nil
}

// readExtensionHandshake reads messages until the peer's extension handshake and returns
// the metadata size it announces, refusing a peer without ut_metadata or with a size of 0 or
// above peer.MaxMetadataSize.
func (f *fetch) readExtensionHandshake() (int, error) {
	for {
		var m peer.Message
		if err := f.conn.ReadMessage(&m); err != nil {
			return 0, fmt.Errorf("read extension handshake: %w", err)
		}
		if m.KeepAlive || m.ID != peer.Extended || m.ExtendedID != peer.ExtensionHandshakeID {
			if err := f.chat(); err != nil {
				return 0, err
			}
			continue
		}
		h, err := peer.ParseExtensionHandshake(m.Payload)
		if err != nil {
			return 0, err
		}
		f.theirID = h.M[peer.MetadataExtension]
		if f.found != nil {
			f.found(h.Port)
		}
		switch {
		case f.theirID == 0:
			return 0, ErrNoMetadataExtension
		case h.MetadataSize <= 0:
			return 0, fmt.Errorf("%w: metadata_size %d", ErrNoMetadataExtension, h.MetadataSize)
		case h.MetadataSize > peer.MaxMetadataSize:
			return 0, fmt.Errorf("%w: metadata_size %d above our limit of %d", ErrNoMetadataExtension, h.MetadataSize, peer.MaxMetadataSize)
		}
		return h.MetadataSize, nil
	}
}

// readMetadataMessage reads messages until a ut_metadata one, skipping the rest.
func (f *fetch) readMetadataMessage() (peer.MetadataMessage, error) {
	for {
		var m peer.Message
		if err := f.conn.ReadMessage(&m); err != nil {
			return peer.MetadataMessage{}, fmt.Errorf("read metadata: %w", err)
		}
		if m.KeepAlive || m.ID != peer.Extended || m.ExtendedID != peer.MetadataID {
			if err := f.chat(); err != nil {
				return peer.MetadataMessage{}, err
			}
			continue
		}
		return peer.ParseMetadataMessage(m.Payload)
	}
}

// chat counts a message we have no use for and fails once there have been too many.
func (f *fetch) chat() error {
	f.chatter++
	if f.chatter > maxChatter {
		return fmt.Errorf("metadata: %d messages without the metadata", f.chatter)
	}
	return nil
}

func (f *fetch) request(piece int) error {
	return f.send(peer.MetadataMessage{Type: peer.MetadataRequest, Piece: piece})
}

func (f *fetch) send(m peer.MetadataMessage) error {
	payload, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := f.conn.WriteMessage(peer.Message{ID: peer.Extended, ExtendedID: f.theirID, Payload: payload}); err != nil {
		return fmt.Errorf("write metadata message: %w", err)
	}
	return nil
}
