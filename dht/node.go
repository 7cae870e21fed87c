package dht

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// version is the client version in our messages (BEP 5 "v"): two letters
// and two bytes.
const version = "SW\x00\x01"

// Config configures a Node. The zero value of every field but Addr's has a
// stated meaning; New refuses negative limits.
type Config struct {
	// Addr is the UDP address to listen on, as "host:port"; "" means any
	// free port on all IPv4 addresses. Tests use "127.0.0.1:0".
	Addr string
	// ID is our node id. Zero means the one saved at StatePath, else a
	// random one.
	ID ID
	// Bootstrap lists "host:port" nodes to join through when the routing
	// table is empty, such as router.bittorrent.com:6881.
	Bootstrap []string
	// StatePath is a file where the node id and routing table are saved
	// every minute and when Run returns, and read back by New. "" means
	// nothing is saved.
	StatePath string
	// Logger receives the node's logs; nil means none.
	Logger *zerolog.Logger

	// Alpha is how many queries a lookup keeps in flight; 0 means 3.
	Alpha int
	// QueryTimeout is how long a query waits for its answer; 0 means 2 s.
	QueryTimeout time.Duration
	// MaxLookupQueries bounds the queries one lookup sends; 0 means 128.
	MaxLookupQueries int
	// MaxOutstanding bounds the queries in flight over all lookups, pings
	// and announces; past it a query fails at once. 0 means 1024.
	MaxOutstanding int
	// MaxInfoHashes bounds the info hashes whose peers we store for
	// others; 0 means 4096.
	MaxInfoHashes int
	// MaxPeersPerHash bounds the peers stored per info hash; 0 means 128.
	MaxPeersPerHash int
	// PeerTTL is how long an announce is kept; 0 means 30 minutes.
	PeerTTL time.Duration
	// TokenPeriod is how often the token secret changes; a token is
	// accepted for one to two periods. 0 means 5 minutes (BEP 5).
	TokenPeriod time.Duration
	// RefreshInterval is how long a bucket may go unchanged before a
	// lookup refreshes it; 0 means 15 minutes (BEP 5).
	RefreshInterval time.Duration
	// ReplyRate and ReplyBurst cap the replies sent to one source address
	// (per second, and at once); 0 means 20 and 40. MaxSources bounds the
	// sources tracked for that; 0 means 16384.
	ReplyRate  float64
	ReplyBurst int
	MaxSources int

	// Now is the clock for tokens, the store and node ages; nil means
	// time.Now. Query timeouts always use real time.
	Now func() time.Time
}

func (c *Config) setDefaults() error {
	if c.Alpha < 0 || c.QueryTimeout < 0 || c.MaxLookupQueries < 0 || c.MaxOutstanding < 0 ||
		c.MaxInfoHashes < 0 || c.MaxPeersPerHash < 0 || c.PeerTTL < 0 || c.TokenPeriod < 0 ||
		c.RefreshInterval < 0 || c.ReplyRate < 0 || c.ReplyBurst < 0 || c.MaxSources < 0 {
		return errors.New("dht: negative limit in Config")
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Alpha, 3)
	def(&c.MaxLookupQueries, 128)
	def(&c.MaxOutstanding, 1024)
	def(&c.MaxInfoHashes, 4096)
	def(&c.MaxPeersPerHash, 128)
	def(&c.ReplyBurst, 40)
	def(&c.MaxSources, 16384)
	defDur(&c.QueryTimeout, 2*time.Second)
	defDur(&c.PeerTTL, 30*time.Minute)
	defDur(&c.TokenPeriod, 5*time.Minute)
	defDur(&c.RefreshInterval, 15*time.Minute)
	if c.ReplyRate == 0 {
		c.ReplyRate = 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Addr == "" {
		c.Addr = ":0"
	}
	return nil
}

// Node is one DHT node: a UDP socket, a routing table, a peer store and
// the lookups running over them. New opens the socket; Run serves it until
// its context ends and then closes it.
type Node struct {
	cfg     Config
	id      ID
	conn    *net.UDPConn
	addr    netip.AddrPort
	log     zerolog.Logger
	running atomic.Bool
	done    chan struct{} // closed when Run returns; lookups stop waiting
	pingq   chan NodeInfo // new nodes that queried us, for maintain to ping
	orphans chan orphan   // unanswered queries of ended lookups, for maintain to expire
	closeMu sync.Once

	mu      sync.Mutex // guards the fields below; never held across I/O
	table   *table
	store   *store
	tokens  *tokens
	limiter *limiter
	txs     map[string]pending
	nextTx  uint32
	stats   Stats
}

// pending is a query waiting for its answer.
type pending struct {
	addr netip.AddrPort
	ch   chan<- reply // buffered; the reader never blocks on it
}

type reply struct {
	tx  string
	msg Msg
}

// Stats is a snapshot of a Node's counters.
type Stats struct {
	ID         ID
	Nodes      int // in the routing table
	Buckets    int
	InfoHashes int // whose peers we store for others
	Peers      int
	Pending    int // queries in flight

	QueriesSent     uint64
	QueriesReceived uint64
	Timeouts        uint64
	Limited         uint64 // queries left unanswered by the per-source reply limit
	BadPackets      uint64
}

// ErrNoNodes reports a lookup with nobody to ask: an empty routing table
// and no reachable bootstrap node.
var ErrNoNodes = errors.New("dht: no nodes to ask")

// New opens the node's UDP socket and loads its saved state.
func New(cfg Config) (*Node, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, done: make(chan struct{}), pingq: make(chan NodeInfo, 64), orphans: make(chan orphan, 256), txs: map[string]pending{}}
	n.log = zerolog.Nop()
	if cfg.Logger != nil {
		n.log = *cfg.Logger
	}
	var saved *state
	if cfg.StatePath != "" {
		s, err := loadState(cfg.StatePath)
		if err != nil {
			return nil, err
		}
		saved = s
	}
	n.id = cfg.ID
	if n.id == (ID{}) && saved != nil {
		n.id = saved.id
	}
	if n.id == (ID{}) {
		n.id = RandomID()
	}
	ua, err := net.ResolveUDPAddr("udp4", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("dht: listen address %q: %w", cfg.Addr, err)
	}
	conn, err := net.ListenUDP("udp4", ua)
	if err != nil {
		return nil, fmt.Errorf("dht: %w", err)
	}
	n.conn = conn
	n.addr = conn.LocalAddr().(*net.UDPAddr).AddrPort()
	now := cfg.Now()
	n.table = newTable(n.id, now)
	n.store = newStore(cfg.MaxInfoHashes, cfg.MaxPeersPerHash, cfg.PeerTTL)
	n.tokens = newTokens(cfg.TokenPeriod, now)
	n.limiter = newLimiter(cfg.ReplyRate, cfg.ReplyBurst, cfg.MaxSources)
	var b [4]byte
	rand.Read(b[:])
	n.nextTx = binary.BigEndian.Uint32(b[:])
	if saved != nil {
		// Saved nodes go in unconfirmed: the first lookup asks them and
		// failed ones leave.
		for _, ni := range saved.nodes {
			n.table.add(ni, false, now)
		}
	}
	n.log = n.log.With().Str("dht_id", n.id.String()).Stringer("dht_addr", n.addr).Logger()
	return n, nil
}

// ID returns the node's id.
func (n *Node) ID() ID { return n.id }

// Addr returns the UDP address the node listens on.
func (n *Node) Addr() netip.AddrPort { return n.addr }

// Close closes the socket of a Node whose Run was never called. Run closes
// it itself; Close after Run is harmless.
func (n *Node) Close() error {
	var err error
	n.closeMu.Do(func() { err = n.conn.Close() })
	return err
}

// Stats returns a snapshot of the node's counters.
func (n *Node) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.stats
	s.ID = n.id
	s.Nodes, s.Buckets = n.table.len(), len(n.table.buckets)
	s.InfoHashes, s.Peers = n.store.len()
	s.Pending = len(n.txs)
	return s
}

// Run answers queries and keeps the routing table fresh until ctx ends,
// then saves the state, closes the socket and returns nil after every
// goroutine it started has ended. It joins the DHT through the saved nodes
// and Config.Bootstrap at once. It may be called once.
func (n *Node) Run(ctx context.Context) error {
	if !n.running.CompareAndSwap(false, true) {
		return errors.New("dht: Run called twice")
	}
	defer close(n.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { n.Close() })
	defer stop()
	n.log.Info().Msg("dht node listening")

	var readErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		readErr = n.readLoop()
		cancel()
	})
	wg.Go(func() { n.maintain(ctx) })
	wg.Wait()
	n.Close()
	if err := n.save(); err != nil {
		n.log.Warn().Err(err).Msg("dht state not saved")
	}
	if readErr != nil && ctx.Err() == nil {
		return readErr
	}
	return nil
}

// readLoop reads datagrams until the socket closes.
func (n *Node) readLoop() error {
	buf := make([]byte, MaxPacket+1)
	for {
		size, from, err := n.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("dht: read: %w", err)
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if size > MaxPacket || from.Port() == 0 {
			n.count(func(s *Stats) { s.BadPackets++ })
			continue
		}
		m, err := ParseMsg(buf[:size])
		if err != nil {
			n.count(func(s *Stats) { s.BadPackets++ })
			if e := n.log.Debug(); e.Enabled() {
				e.Err(err).Stringer("node", from).Msg("bad krpc packet")
			}
			continue
		}
		if m.Y == typeQuery {
			n.handleQuery(m, from)
		} else {
			n.handleReply(m, from)
		}
	}
}

func (n *Node) count(f func(*Stats)) {
	n.mu.Lock()
	f(&n.stats)
	n.mu.Unlock()
}

// handleReply hands a response or error to the query waiting for it. The
// source must be the address the query went to, so an off-path attacker
// has to guess both the transaction id and where we sent it.
func (n *Node) handleReply(m Msg, from netip.AddrPort) {
	n.mu.Lock()
	p, ok := n.txs[m.T]
	if !ok || p.addr != from {
		n.stats.BadPackets++
		n.mu.Unlock()
		return
	}
	delete(n.txs, m.T)
	if m.Y == typeResponse && m.RO == 0 {
		n.table.add(NodeInfo{ID: ID([]byte(m.R.ID)), Addr: from}, true, n.cfg.Now())
	}
	n.mu.Unlock()
	select {
	case p.ch <- reply{tx: m.T, msg: m}:
	default:
	}
}

// send encodes and writes one message.
func (n *Node) send(m Msg, to netip.AddrPort) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	_, err = n.conn.WriteToUDPAddrPort(b, to)
	return err
}

var errBusy = errors.New("dht: too many queries in flight")

// startQuery registers a transaction and sends the query; the answer
// arrives on ch.
func (n *Node) startQuery(to netip.AddrPort, method string, a Args, ch chan<- reply) (string, error) {
	if !to.Addr().Is4() {
		return "", fmt.Errorf("dht: %s: only IPv4 is supported", to)
	}
	n.mu.Lock()
	if len(n.txs) >= n.cfg.MaxOutstanding {
		n.mu.Unlock()
		return "", errBusy
	}
	var tx string
	for {
		n.nextTx++
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], n.nextTx)
		if tx = string(b[:]); n.txs[tx].ch == nil {
			break
		}
	}
	n.txs[tx] = pending{addr: to, ch: ch}
	n.stats.QueriesSent++
	n.mu.Unlock()
	a.ID = string(n.id[:])
	if err := n.send(Msg{T: tx, Y: typeQuery, Q: method, A: &a, V: version}, to); err != nil {
		n.cancelQuery(tx)
		return "", err
	}
	return tx, nil
}

// cancelQuery forgets a transaction; a late answer is then dropped.
func (n *Node) cancelQuery(tx string) {
	n.mu.Lock()
	delete(n.txs, tx)
	n.mu.Unlock()
}

// timedOut forgets a transaction that got no answer and tells the table.
func (n *Node) timedOut(tx string, id ID, idKnown bool, addr netip.AddrPort) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.txs[tx]; !ok {
		return
	}
	delete(n.txs, tx)
	n.stats.Timeouts++
	if idKnown {
		n.table.failed(id, addr)
	}
}

// query sends one query and waits for its answer. A KRPC error comes back
// as a *KRPCError.
func (n *Node) query(ctx context.Context, to NodeInfo, idKnown bool, method string, a Args) (Msg, error) {
	ch := make(chan reply, 1)
	tx, err := n.startQuery(to.Addr, method, a, ch)
	if err != nil {
		return Msg{}, err
	}
	timer := time.NewTimer(n.cfg.QueryTimeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		if r.msg.Y == typeError {
			return r.msg, r.msg.E
		}
		return r.msg, nil
	case <-timer.C:
		n.timedOut(tx, to.ID, idKnown, to.Addr)
		return Msg{}, fmt.Errorf("dht: %s %s: no answer within %v", method, to.Addr, n.cfg.QueryTimeout)
	case <-ctx.Done():
		n.cancelQuery(tx)
		return Msg{}, ctx.Err()
	case <-n.done:
		n.cancelQuery(tx)
		return Msg{}, net.ErrClosed
	}
}

// Ping asks addr for its id; a node that answers joins the routing table.
// The session calls it for the DHT port a peer announces (BEP 5's PORT
// message).
func (n *Node) Ping(ctx context.Context, addr netip.AddrPort) (ID, error) {
	m, err := n.query(ctx, NodeInfo{Addr: addr}, false, methodPing, Args{})
	if err != nil {
		return ID{}, err
	}
	return ID([]byte(m.R.ID)), nil
}
