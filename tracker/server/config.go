package server

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Defaults of Config.
const (
	DefaultInterval        = 30 * time.Minute
	DefaultNumWant         = 50
	DefaultMaxScrapeHashes = 64
	DefaultMaxQueryBytes   = 8 << 10
	DefaultShards          = 64
	DefaultReadTimeout     = 10 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
	DefaultIdleTimeout     = 2 * time.Minute
	DefaultMaxHeaderBytes  = 16 << 10
	DefaultShutdownTimeout = 5 * time.Second
	// DefaultMaxSwarms bounds the torrents an open tracker holds: a swarm
	// with one peer takes about 175 bytes of live heap, and the process
	// about 340 bytes of memory (the garbage collector lets the heap grow
	// to twice what is live), measured with the binary at 100,000, 500,000
	// and a million. Half a million stops a flood of made-up info hashes
	// near 180 MiB, which a small VPS can spare; a tracker of millions of
	// real torrents sets its own.
	DefaultMaxSwarms = 500_000
	DefaultIPBurst   = 1000
	// DefaultPrefixFactor is how many addresses' worth of announces a /24
	// (IPv6: /48) may make together by default. With swarm tracker's 20 a
	// second that is 100: 180,000 torrents announced every 30 minutes, a
	// thousand users with 180 torrents each behind one carrier-grade NAT
	// block; and a block flooding made-up info hashes needs over 80
	// minutes to reach DefaultMaxSwarms (5,000 at once, then 100 a
	// second), while its first swarms expire after an hour.
	DefaultPrefixFactor = 5
	DefaultIPLimitAddrs = 1 << 16
	// DefaultMaxConnsPerIP bounds the HTTP connections one address (an
	// IPv6 client: its /64) holds open at once. A client that announces on
	// a new connection each time holds one for a round trip; libtorrent
	// (qBittorrent, Deluge) opens at most 50 announces at once, and an
	// address shared by many users (a carrier-grade NAT) needs several
	// such clients' worth; 256 is also the daemon RPC's cap. nginx has no
	// default (limit_conn is opt-in; its examples use 1 to 100),
	// opentracker none but the descriptor limit: both bound a connection's
	// memory instead. Here one idle keep-alive connection costs about 18
	// KB, so an address holds at most about 4.6 MB.
	DefaultMaxConnsPerIP = 256
	// DefaultMaxConns bounds the tracker's HTTP connections in all, like
	// nginx's worker_connections: about 290 MB of idle keep-alive
	// connections at worst. Clients that close after each announce (as
	// libtorrent, Transmission and the lean path expect) hold a few dozen
	// at 20,000 announces a second; it takes over 240,000 clients that
	// keep connections open (each for 2 minutes of every 30) to reach it.
	DefaultMaxConns = 16384
)

// Config configures a Server. The zero Config is a working public tracker.
type Config struct {
	// Logger receives lifecycle lines, bad requests at Debug and internal
	// errors at Error; nil means no logging.
	Logger *zerolog.Logger
	// Interval is the "interval" sent to clients; 0 means DefaultInterval
	// (30 minutes). A peer that has not announced for two intervals expires.
	// It is kept to whole seconds.
	Interval time.Duration
	// MinInterval is the "min interval" sent to clients; 0 means Interval/2.
	// It must not exceed Interval.
	MinInterval time.Duration
	// DefaultNumWant is the number of peers in a reply when the client sends
	// no numwant; 0 means DefaultNumWant (50).
	DefaultNumWant int
	// MaxNumWant caps the numwant a client may ask for; 0 means 50. It must
	// be at least DefaultNumWant.
	MaxNumWant int
	// TrustIP makes the tracker record the address in the "ip" parameter
	// instead of the connection's address. Only for a tracker behind a proxy
	// or in a lab: anyone could otherwise announce someone else's address.
	TrustIP bool
	// TrustedProxies are the reverse proxies in front of the tracker: from
	// a connection whose address is in one of them, the client's address
	// is read from X-Forwarded-For (the rightmost address not in them) or
	// X-Real-IP. From any other connection those headers are ignored.
	TrustedProxies []netip.Prefix
	// MetricsToken, when not empty, is the bearer token /metrics requires
	// ("Authorization: Bearer TOKEN"); without it /metrics is open.
	MetricsToken string
	// MaxScrapeHashes bounds the info_hash parameters of one scrape; 0 means
	// DefaultMaxScrapeHashes (64).
	MaxScrapeHashes int
	// MaxQueryBytes bounds the query string of a request in bytes; 0 means
	// DefaultMaxQueryBytes (8 KiB).
	MaxQueryBytes int
	// Shards is the number of registry shards, each with its own mutex; 0
	// means DefaultShards (64). It must be a power of two.
	Shards int
	// Seed seeds the random choice of peers, for reproducible tests; 0 means
	// a random seed.
	Seed uint64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Hook, when not nil, sees every parsed request before it is applied and
	// may refuse it. With a Hook the server also serves /{passkey}/announce
	// and /{passkey}/scrape, and reads a passkey query parameter
	// (/announce?passkey=...: libtorrent refuses any other path for a
	// tracker on a loopback address).
	Hook Hook
	// Metrics are more collectors to serve at /metrics, such as a Hook's.
	Metrics []prometheus.Collector
	// ReadTimeout bounds reading a request, headers included, in Run; 0 means
	// DefaultReadTimeout (10 s). Headers alone get half of it.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a reply in Run; 0 means DefaultWriteTimeout
	// (10 s).
	WriteTimeout time.Duration
	// IdleTimeout bounds how long Run keeps an idle keep-alive connection; 0
	// means DefaultIdleTimeout (2 minutes).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers in Run, in bytes; 0
	// means DefaultMaxHeaderBytes (16 KiB).
	MaxHeaderBytes int
	// ShutdownTimeout is how long Run waits for requests in flight once its
	// context is done, before closing their connections; 0 means
	// DefaultShutdownTimeout (5 s).
	ShutdownTimeout time.Duration
	// MaxSwarms bounds the torrents the registry holds: an announce that
	// would start one more is refused with a failure reason, while swarms
	// already held carry on. 0 means DefaultMaxSwarms (500,000); a
	// negative value means no bound.
	MaxSwarms int
	// Allow and Deny are the allow and deny lists at start (see SetAccess);
	// nil means none.
	Allow, Deny *HashList
	// IPRate limits the announces of one client address to IPRate a second
	// in the long run and IPBurst at once; past it an announce is refused
	// with a failure reason. An IPv6 client counts as its /64. 0 means no
	// limit, PrefixRate's included (private mode limits each passkey
	// instead). With TrustIP, an announce counts against both the address
	// it names and the connection's.
	IPRate float64
	// IPBurst is the announces one address may make at once; 0 means
	// DefaultIPBurst (1000: a client starting with a thousand torrents
	// announces them all together).
	IPBurst int
	// PrefixRate and PrefixBurst limit the announces of one IPv4 /24 or
	// IPv6 /48 together, the same way: one host with many addresses has
	// them in one such block. 0 means DefaultPrefixFactor times IPRate (100
	// a second with swarm tracker's 20) and IPBurst (5,000).
	PrefixRate  float64
	PrefixBurst int
	// IPLimitAddrs is about how many addresses the rate limit tracks at
	// once, twice that at worst (each takes about 66 bytes); an address
	// unseen while that many others announced starts again with a full
	// burst. 0 means DefaultIPLimitAddrs (65,536).
	IPLimitAddrs int
	// MaxConnsPerIP bounds the HTTP connections one client address (an
	// IPv6 client: its /64) holds open at once in Run; a connection over it
	// is closed at once. A trusted proxy (TrustedProxies) has no such cap.
	// 0 means DefaultMaxConnsPerIP (256); a negative value means no bound.
	MaxConnsPerIP int
	// MaxConns bounds Run's HTTP connections in all, the same way; 0 means
	// DefaultMaxConns (16,384); a negative value means no bound.
	MaxConns int
	// Redis, when not empty, is the URL of a Redis (redis://host:port/db)
	// that holds the swarms instead of this process's memory, so that
	// several tracker processes serve the same swarms. Shards and Seed do
	// not apply then. Call Server.Close when done.
	Redis string
}

// redisPrefix starts the names of the tracker's keys in Redis.
const redisPrefix = "swarm:tracker:"

// withDefaults fills in the zero fields and checks the combinations.
func (c Config) withDefaults() (Config, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Interval, DefaultInterval)
	c.Interval = c.Interval.Truncate(time.Second)
	def(&c.MinInterval, c.Interval/2)
	// Replies carry whole seconds. Rounding the min interval up keeps a
	// client that follows the reply clear of a hook (the private tracker)
	// enforcing the exact value: 100ms goes out as 1, not 0.
	if r := c.MinInterval % time.Second; r != 0 {
		c.MinInterval += time.Second - r
	}
	defInt(&c.DefaultNumWant, DefaultNumWant)
	defInt(&c.MaxNumWant, DefaultNumWant)
	defInt(&c.MaxScrapeHashes, DefaultMaxScrapeHashes)
	defInt(&c.MaxQueryBytes, DefaultMaxQueryBytes)
	defInt(&c.Shards, DefaultShards)
	def(&c.ReadTimeout, DefaultReadTimeout)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	defInt(&c.MaxHeaderBytes, DefaultMaxHeaderBytes)
	def(&c.ShutdownTimeout, DefaultShutdownTimeout)
	defInt(&c.MaxSwarms, DefaultMaxSwarms)
	defInt(&c.IPBurst, DefaultIPBurst)
	defInt(&c.IPLimitAddrs, DefaultIPLimitAddrs)
	defInt(&c.MaxConnsPerIP, DefaultMaxConnsPerIP)
	defInt(&c.MaxConns, DefaultMaxConns)
	if c.PrefixRate == 0 {
		c.PrefixRate = DefaultPrefixFactor * c.IPRate
	}
	defInt(&c.PrefixBurst, DefaultPrefixFactor*c.IPBurst)
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.Interval < time.Second:
		return c, fmt.Errorf("interval %v is under one second", c.Interval)
	case c.MinInterval < 0 || c.MinInterval > c.Interval:
		return c, fmt.Errorf("min interval %v is not between 0 and interval %v", c.MinInterval, c.Interval)
	case c.DefaultNumWant < 0 || c.MaxNumWant < 0:
		return c, errors.New("negative numwant in config")
	case c.DefaultNumWant > c.MaxNumWant:
		return c, fmt.Errorf("default numwant %d exceeds max numwant %d", c.DefaultNumWant, c.MaxNumWant)
	case c.MaxScrapeHashes < 0 || c.MaxQueryBytes < 0 || c.MaxHeaderBytes < 0:
		return c, errors.New("negative size limit in config")
	case c.Shards < 0 || c.Shards&(c.Shards-1) != 0:
		return c, fmt.Errorf("shards %d is not a power of two", c.Shards)
	case c.ReadTimeout < 0 || c.WriteTimeout < 0 || c.IdleTimeout < 0 || c.ShutdownTimeout < 0:
		return c, errors.New("negative timeout in config")
	case c.IPRate < 0 || c.IPBurst < 1 || c.IPLimitAddrs < 1:
		return c, fmt.Errorf("ip rate %v, burst %d, addresses %d: want a rate of at least 0, the others at least 1", c.IPRate, c.IPBurst, c.IPLimitAddrs)
	case c.PrefixRate < 0 || c.PrefixBurst < 1:
		return c, fmt.Errorf("prefix rate %v, burst %d: want a rate of at least 0 and a burst of at least 1", c.PrefixRate, c.PrefixBurst)
	}
	return c, nil
}

// Hook sees each parsed request before the registry applies it; it is where a
// private mode (passkeys, registered torrents, accounting) plugs in. It may
// change the request. Returning a ClientError refuses the request with that
// reason; any other error is logged and answered with a generic reason. A Hook
// is called from many goroutines at once.
type Hook interface {
	BeforeAnnounce(ctx context.Context, req *AnnounceRequest) error
	BeforeScrape(ctx context.Context, req *ScrapeRequest) error
}

// ClientError is a failure reason meant for the client. A Hook returns one to
// refuse a request; the text is sent as the bencoded "failure reason".
type ClientError string

func (e ClientError) Error() string { return string(e) }
