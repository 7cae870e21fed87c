package server

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"swarm/tracker"
)

// genericReason is the failure reason sent for an internal error; the detail
// goes to the log only.
const genericReason = "internal tracker error"

// Server is an HTTP tracker. Its Handler may be served by any http.Server;
// Run serves it on a listener with the timeouts and size limits of Config.
type Server struct {
	cfg     Config
	log     zerolog.Logger
	store   store     // memStore or redisStore
	mem     *registry // the registry of a memStore, nil with Redis
	metrics *metrics
	parse   parseOptions
	handler http.Handler
	bufs    sync.Pool // *scratch
	access  atomic.Pointer[access]
	ipLimit *ipLimiter // nil: no per-address limit
	nets    *ipLimiter // per /24 or /48; nil when ipLimit is
	conns   *connLimit // open HTTP connections, per address and in all
	// connIDKey is the secret of UDP connection ids (see connIDs).
	connIDKey [32]byte

	maxLean int // bounds the lean path's connections: maxLeanConns, less in tests
	// leanWaiting counts the connections waiting in the raw loops' tables
	// (lean_linux.go), for tests.
	leanWaiting atomic.Int64

	sweepMu   sync.Mutex // guards sweepRefs and sweepStop
	sweepRefs int        // Run and RunUDP calls under way
	sweepStop func()     // stops the sweep loop and waits for it

	// Header values shared by every reply (net/http only reads them), so
	// that a reply allocates none.
	contentType, cacheControl []string
}

// scratch is the per-request memory of an announce, reused through a pool.
type scratch struct {
	out  []byte
	head []byte // the lean path's whole reply
	rp   reply
}

// New checks cfg, fills in its defaults and returns a Server with an empty
// registry.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("new tracker server: %w", err)
	}
	s := &Server{
		cfg: cfg,
		log: zerolog.Nop(),
		parse: parseOptions{
			defaultNumWant:  cfg.DefaultNumWant,
			maxNumWant:      cfg.MaxNumWant,
			trustIP:         cfg.TrustIP,
			maxQueryBytes:   cfg.MaxQueryBytes,
			maxScrapeHashes: cfg.MaxScrapeHashes,
			passkeys:        cfg.Hook != nil,
		},
	}
	if cfg.Logger != nil {
		s.log = *cfg.Logger
	}
	maxSwarms := int64(max(cfg.MaxSwarms, 0))
	if cfg.Redis != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rs, err := newRedisStore(ctx, cfg.Redis, redisPrefix, cfg.Now, 2*cfg.Interval, maxSwarms)
		if err != nil {
			return nil, fmt.Errorf("new tracker server: %w", err)
		}
		s.store = rs
	} else {
		reg := newRegistry(cfg.Shards, cfg.Seed, cfg.Now, 2*cfg.Interval)
		reg.maxSwarms = maxSwarms
		s.store, s.mem = memStore{reg}, reg
	}
	s.connIDKey = newConnIDKey()
	s.maxLean = maxLeanConns
	s.access.Store(&access{allow: cfg.Allow, deny: cfg.Deny})
	if cfg.IPRate > 0 {
		s.ipLimit = newIPLimiter(cfg.IPRate, cfg.IPBurst, cfg.IPLimitAddrs, addrBits4, addrBits6)
		s.nets = newIPLimiter(cfg.PrefixRate, cfg.PrefixBurst, cfg.IPLimitAddrs, prefixBits4, prefixBits6)
	}
	s.contentType, s.cacheControl = []string{"text/plain"}, []string{"no-store"}
	s.bufs.New = func() any { return &scratch{out: make([]byte, 0, 1024)} }
	s.metrics = newMetrics(s.store)
	s.conns = newConnLimit(cfg.MaxConnsPerIP, cfg.MaxConns, s.trustedProxy)
	s.metrics.countConns(s.conns)
	for _, c := range cfg.Metrics {
		if err := s.metrics.registry.Register(c); err != nil {
			return nil, fmt.Errorf("new tracker server: metrics: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /announce", s.serveAnnounce)
	mux.HandleFunc("GET /scrape", s.serveScrape)
	if cfg.Hook != nil {
		mux.HandleFunc("GET /{passkey}/announce", s.serveAnnounce)
		mux.HandleFunc("GET /{passkey}/scrape", s.serveScrape)
	}
	mux.Handle("GET /metrics", requireToken(cfg.MetricsToken, s.MetricsHandler()))
	s.handler = s.recoverPanics(mux)
	return s, nil
}

// Close releases the store's connections (Config.Redis); the Server must
// not serve after it.
func (s *Server) Close() error { return s.store.close() }

// Handler returns the tracker's HTTP handler: /announce, /scrape, /metrics.
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves the metrics in the Prometheus text format, without
// Config.MetricsToken's check: for another listener (an admin API) that
// checks its own.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})
}

// Listen opens a TCP listener on addr ("host:port") suited to Run: TCP
// keep-alive probes are off, since Config.IdleTimeout already closes quiet
// connections, and turning them on costs several setsockopt calls on every
// accepted connection (a third of the throughput when clients do not reuse
// connections).
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("tracker listen: %w", err)
	}
	return ln, nil
}

// Run serves the tracker on ln until ctx is done, then stops accepting, waits
// up to Config.ShutdownTimeout for requests in flight and returns nil. It
// also drops expired peers in the background. Run closes ln. It returns early
// with an error if serving fails. Announces and scrapes on connections the
// client will not reuse take the lean path (lean.go); net/http serves the
// rest.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	base := context.WithoutCancel(ctx)
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadTimeout / 2,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          log.New(debugWriter{s.log}, "", 0),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	defer s.startSweep(ctx)()
	ctx, cancel := context.WithCancel(ctx)
	var wg, lean sync.WaitGroup
	hl := newHandoff(ln.Addr())
	defer func() {
		cancel()
		ln.Close()
		hl.Close()
		wg.Wait()
	}()

	s.log.Info().Stringer("addr", ln.Addr()).Msg("tracker listening")
	serveErr := make(chan error, 1)
	acceptErr := make(chan error, 1)
	wg.Go(func() { serveErr <- hs.Serve(hl) })
	wg.Go(func() {
		acceptErr <- s.accept(ctx, base, ln, hl, &lean)
		lean.Wait()
	})
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve tracker: %w", err)
	case err := <-acceptErr:
		if err == nil {
			err = net.ErrClosed // ln closed under Run
		}
		return fmt.Errorf("serve tracker: %w", err)
	case <-ctx.Done():
	}
	ln.Close()
	<-acceptErr
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer scancel()
	leanDone := make(chan struct{})
	go func() { lean.Wait(); close(leanDone) }()
	select {
	case <-leanDone:
	case <-sctx.Done():
		// Bounded anyway: each lean connection has read and write deadlines.
	}
	err := hs.Shutdown(sctx)
	if err != nil {
		s.log.Warn().Err(err).Msg("tracker shutdown timed out, closing connections")
		hs.Close()
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve tracker: %w", err)
	}
	s.log.Info().Msg("tracker stopped")
	return nil
}

// sweepLoop drops expired peers and empty swarms every half interval, so that
// torrents nobody announces to any more give their memory back.
func (s *Server) sweepLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.store.sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Error().Err(err).Msg("tracker sweep")
			}
		}
	}
}

func (s *Server) serveAnnounce(w http.ResponseWriter, r *http.Request) {
	sc := s.bufs.Get().(*scratch)
	defer s.bufs.Put(sc)
	sc.out = s.announceReply(r.Context(), sc, r.URL.RawQuery, s.clientIP(r), r.PathValue("passkey"))
	s.write(w, sc.out)
}

// announceReply answers an announce's query from a client at remote, with
// passkey from the path (or ""): the bencoded reply or failure, in sc.out.
func (s *Server) announceReply(ctx context.Context, sc *scratch, query string, remote netip.Addr, passkey string) []byte {
	out := sc.out[:0]
	req, bad := parseAnnounce(query, remote, s.parse)
	if bad != nil {
		return appendFailure(out, s.failure(bad))
	}
	if passkey != "" {
		req.Passkey = passkey
	}
	sc.rp.reset(!req.Compact)
	if err := s.announce(ctx, &req, remote, &sc.rp); err != nil {
		return appendFailure(out, s.failure(err))
	}
	return appendAnnounce(out, &sc.rp, int64(s.cfg.Interval/time.Second), int64(s.cfg.MinInterval/time.Second), req.Compact, req.NoPeerID)
}

// announce applies a parsed announce from a client at remote, over HTTP or
// UDP: the rate limits, the allow and deny lists, the Hook, then the
// registry, which fills rp. The error is a refusal for the client or an
// internal error (see failure).
func (s *Server) announce(ctx context.Context, req *AnnounceRequest, remote netip.Addr, rp *reply) error {
	if rf := s.rateLimit(req.Addr.Addr(), remote); rf != nil {
		return rf
	}
	if rf := s.access.Load().check(req.InfoHash); rf != nil {
		return rf
	}
	if s.cfg.Hook != nil {
		// A copy for the Hook: passing req itself would move the caller's
		// request to the heap on every announce, Hook or not.
		hreq := *req
		if err := s.cfg.Hook.BeforeAnnounce(ctx, &hreq); err != nil {
			return err
		}
		*req = hreq
		if !req.Addr.IsValid() || req.NumWant < 0 {
			return fmt.Errorf("hook left announce with address %v, numwant %d", req.Addr, req.NumWant)
		}
	}
	if err := s.storeAnnounce(ctx, req, rp); err != nil {
		return err
	}
	s.metrics.byEvent[req.Event].Inc()
	return nil
}

// storeAnnounce applies req to the store. The in-memory registry is called
// directly: through the interface req would escape, a heap allocation on
// every announce; the Redis store gets a copy.
func (s *Server) storeAnnounce(ctx context.Context, req *AnnounceRequest, rp *reply) error {
	if s.mem != nil {
		return s.mem.announce(req, rp)
	}
	r := *req
	return s.store.announce(ctx, &r, rp)
}

// rateLimit charges an announce recording ip, from a connection from
// remote, to the address and network limiters, and returns the refusal if
// one is out of tokens. With TrustIP the connection's address is charged
// too, first: one socket naming a new ip= each time would otherwise find a
// full bucket every time.
func (s *Server) rateLimit(ip, remote netip.Addr) *refusal {
	if s.ipLimit == nil {
		return nil
	}
	now := s.cfg.Now()
	remote = remote.Unmap()
	if s.cfg.TrustIP && remote.IsValid() && remote != ip {
		if rf := s.charge(remote, now); rf != nil {
			return rf
		}
	}
	return s.charge(ip, now)
}

// charge takes a token from ip's bucket, then from its network's. An
// address over its own limit does not charge its network, so that it
// cannot use up its neighbours' share.
func (s *Server) charge(ip netip.Addr, now time.Time) *refusal {
	if !s.ipLimit.allow(ip, now) {
		return errIPRate
	}
	if !s.nets.allow(ip, now) {
		return errPrefixRate
	}
	return nil
}

func (s *Server) serveScrape(w http.ResponseWriter, r *http.Request) {
	sc := s.bufs.Get().(*scratch)
	defer s.bufs.Put(sc)
	sc.out = s.scrapeReply(r.Context(), sc.out[:0], r.URL.RawQuery, s.clientIP(r), r.PathValue("passkey"))
	s.write(w, sc.out)
}

// scrapeReply appends to out the reply to a scrape's query from a client at
// remote, with passkey from the path (or ""), or its failure.
func (s *Server) scrapeReply(ctx context.Context, out []byte, query string, remote netip.Addr, passkey string) []byte {
	req, bad := parseScrape(query, remote, s.parse)
	if bad != nil {
		return appendFailure(out, s.failure(bad))
	}
	if passkey != "" {
		req.Passkey = passkey
	}
	if s.cfg.Hook != nil {
		if err := s.cfg.Hook.BeforeScrape(ctx, &req); err != nil {
			return appendFailure(out, s.failure(err))
		}
	}
	counts := make([]scrapeCounts, len(req.InfoHashes))
	if err := s.store.scrape(ctx, req.InfoHashes, counts); err != nil {
		return appendFailure(out, s.failure(err))
	}
	files := make([]scrapeFile, 0, len(req.InfoHashes))
	for i, h := range req.InfoHashes {
		files = append(files, scrapeFile{hash: h, scrapeCounts: counts[i]})
	}
	s.metrics.scrapes.Inc()
	return appendScrape(out, files)
}

// failure counts a failed request in the metrics and returns the reason to
// send. Client errors show their reason; anything else is logged and hidden.
func (s *Server) failure(err error) string {
	var (
		br     *badRequest
		rf     *refusal
		ce     ClientError
		label  string
		reason string
	)
	switch {
	case errors.As(err, &br):
		label, reason = br.field, br.reason
		s.log.Debug().Str("reason", reason).Msg("bad tracker request")
	case errors.As(err, &rf):
		label, reason = rf.label, rf.reason
		s.log.Debug().Str("reason", reason).Msg("tracker refused a request")
	case errors.As(err, &ce):
		label, reason = "hook", string(ce)
	default:
		label, reason = "internal", genericReason
		s.log.Error().Err(err).Msg("tracker request failed")
	}
	s.metrics.failures.WithLabelValues(label).Inc()
	return reason
}

func (s *Server) write(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h["Content-Type"] = s.contentType
	h["Cache-Control"] = s.cacheControl
	// A failed write means the client hung up: nothing to do.
	_, _ = w.Write(body)
}

// recoverPanics turns a panic in a handler into a generic failure reason and
// an Error log line with the stack, instead of net/http's dropped connection.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			// The query too: a client may send its passkey there
			// (/announce?passkey=...); MaskURL masks every value.
			s.log.Error().Interface("panic", v).Bytes("stack", debug.Stack()).Str("path", tracker.MaskURL(r.URL.RequestURI())).
				Msg("tracker handler panicked")
			s.metrics.failures.WithLabelValues("internal").Inc()
			s.write(w, appendFailure(nil, genericReason))
		}()
		next.ServeHTTP(w, r)
	})
}

// remoteIP is the IP of the connection; invalid if RemoteAddr is not an
// address (some test harnesses), which parseAnnounce refuses.
func remoteIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

// debugWriter sends net/http's own log lines (TLS errors, accept retries) to
// the logger at Debug.
type debugWriter struct{ log zerolog.Logger }

func (d debugWriter) Write(p []byte) (int, error) {
	d.log.Debug().Str("source", "net/http").Msg(string(p))
	return len(p), nil
}
