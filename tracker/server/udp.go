package server

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"swarm/metainfo"
)

// ListenUDP opens n UDP sockets on addr ("host:port"; port 0 picks a free
// one) for RunUDP. With n > 1 they share the port through SO_REUSEPORT and
// the kernel spreads clients over them by address, so that n goroutines
// read at once; n < 1 means 1.
func ListenUDP(ctx context.Context, addr string, n int) ([]*net.UDPConn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("tracker listen udp %q: %w", addr, err)
	}
	n = max(n, 1)
	lc := net.ListenConfig{}
	if n > 1 {
		lc.Control = reusePort
	}
	var conns []*net.UDPConn
	for i := range n {
		if i == 1 {
			// The others take the port the first one got.
			addr = net.JoinHostPort(host, strconv.Itoa(conns[0].LocalAddr().(*net.UDPAddr).Port))
		}
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("tracker listen udp: %w", err)
		}
		c := pc.(*net.UDPConn)
		// A larger receive buffer rides out bursts; the kernel caps it at
		// net.core.rmem_max, and a smaller one still works.
		_ = c.SetReadBuffer(4 << 20)
		conns = append(conns, c)
	}
	return conns, nil
}

// RunUDP serves the UDP tracker protocol (BEP 15, with BEP 41 URL data) on
// conns, one goroutine each, until ctx is done, then closes them and
// returns nil. It shares the swarms, limits, Hook and metrics with the HTTP
// side: Run and RunUDP may serve one Server at once. It drops expired peers
// in the background as Run does. It returns early with an error if reading
// fails.
//
// It keeps nothing per client: connection ids are MACs that it checks
// again (see connIDs), and each goroutine owns one batch of datagram and
// reply buffers, so what a stranger can make it hold is what an announce
// adds to the registry, bounded as over HTTP.
func (s *Server) RunUDP(ctx context.Context, conns ...*net.UDPConn) error {
	defer s.startSweep(ctx)()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		for _, c := range conns {
			c.Close()
		}
	})
	defer func() {
		if stop() { // ctx was not done: close them here
			for _, c := range conns {
				c.Close()
			}
		}
	}()
	if len(conns) > 0 {
		s.log.Info().Stringer("addr", conns[0].LocalAddr()).Int("sockets", len(conns)).Msg("udp tracker listening")
	}
	var wg sync.WaitGroup
	failed := make(chan error, len(conns))
	for _, c := range conns {
		wg.Go(func() {
			if err := s.serveUDP(ctx, c); err != nil {
				failed <- err
				cancel() // stops the others
			}
		})
	}
	wg.Wait()
	close(failed)
	if err := <-failed; err != nil {
		return err
	}
	s.log.Info().Msg("udp tracker stopped")
	return nil
}

// Serve runs Run on ln and, if udp is not empty, RunUDP on udp, until ctx
// is done or one of them fails, which stops the other.
func (s *Server) Serve(ctx context.Context, ln net.Listener, udp ...*net.UDPConn) error {
	if len(udp) == 0 {
		return s.Run(ctx, ln)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.Run(ctx, ln) })
	g.Go(func() error { return s.RunUDP(ctx, udp...) })
	return g.Wait()
}

// serveUDP answers the datagrams of one socket until it is closed.
func (s *Server) serveUDP(ctx context.Context, c *net.UDPConn) error {
	err := serveUDPConn(c, s.newUDPWorker(ctx))
	if ctx.Err() != nil {
		return nil // closed by RunUDP
	}
	return fmt.Errorf("on %v: %w", c.LocalAddr(), err)
}

// udpWorker is the state of one goroutine serving UDP: its MAC and its
// reply buffers, reused for every datagram.
type udpWorker struct {
	s   *Server
	ctx context.Context
	ids *connIDs
	rp  reply
	out []byte
	// hashes and counts are a scrape's, reused.
	hashes []metainfo.Hash
	counts []scrapeCounts
}

func (s *Server) newUDPWorker(ctx context.Context) *udpWorker {
	return &udpWorker{s: s, ctx: ctx, ids: newConnIDs(s.connIDKey[:], s.cfg.Now), out: make([]byte, 0, 1024)}
}

// handle answers one datagram from from, returning the reply or nil to
// send nothing. Datagrams that do not carry a valid connection id (or, for a
// connect, the protocol id) get no reply: answering a forged source address
// would make the tracker a reflector. A request with a valid id that the
// tracker refuses gets an error reply with the reason HTTP would give.
func (w *udpWorker) handle(b []byte, from netip.AddrPort) (out []byte) {
	defer func() {
		if v := recover(); v != nil {
			w.s.log.Error().Interface("panic", v).Bytes("stack", debug.Stack()).Msg("udp tracker handler panicked")
			w.s.metrics.failures.WithLabelValues("internal").Inc()
			out = nil
		}
	}()
	m := w.s.metrics
	h, ok := parseUDPHeader(b)
	if !ok {
		m.udpDropped[dropShort].Inc()
		return nil
	}
	ip := from.Addr().Unmap()
	switch h.action {
	case udpConnect:
		if h.connID != udpProtocolID {
			m.udpDropped[dropProtocolID].Inc()
			return nil
		}
		m.udpConnects.Inc()
		return appendUDPConnect(w.out[:0], h.txID, w.ids.make(ip))
	case udpAnnounce, udpScrape:
		if !w.ids.valid(h.connID, ip) {
			m.udpDropped[dropConnID].Inc()
			return nil
		}
	default:
		m.udpDropped[dropAction].Inc()
		return nil
	}
	if h.action == udpAnnounce {
		return w.announce(b, h.txID, ip)
	}
	return w.scrape(b, h.txID, ip)
}

func (w *udpWorker) announce(b []byte, txID uint32, ip netip.Addr) []byte {
	s := w.s
	req, bad := parseUDPAnnounce(b, ip, s.parse)
	if bad != nil {
		return appendUDPError(w.out[:0], txID, s.failure(bad))
	}
	w.rp.reset(false)
	w.rp.oneFamily = true
	if err := s.announce(w.ctx, &req, ip, &w.rp); err != nil {
		return appendUDPError(w.out[:0], txID, s.failure(err))
	}
	// Peers of one size only, those of the family sampled (a Hook could
	// have changed the address).
	if req.Addr.Addr().Is4() {
		w.rp.v6 = w.rp.v6[:0]
	} else {
		w.rp.v4 = w.rp.v4[:0]
	}
	return appendUDPAnnounce(w.out[:0], txID, int64(s.cfg.Interval/time.Second), &w.rp)
}

// scrape answers a scrape of the info hashes after the header, at most
// Config.MaxScrapeHashes, with one entry per hash in the order asked. BEP 41
// options exist for announces only, so a private tracker's Hook sees no
// passkey here.
func (w *udpWorker) scrape(b []byte, txID uint32, ip netip.Addr) []byte {
	s := w.s
	hashes := b[udpHeaderLen:]
	n := len(hashes) / 20
	switch {
	case n == 0:
		return appendUDPError(w.out[:0], txID, s.failure(bad("info_hash", "missing info_hash (full scrapes are not served)")))
	case n > s.cfg.MaxScrapeHashes:
		return appendUDPError(w.out[:0], txID, s.failure(bad("info_hash", "more than %d info_hash parameters", s.cfg.MaxScrapeHashes)))
	}
	if s.cfg.Hook != nil {
		req := ScrapeRequest{Addr: ip}
		for i := range n {
			req.InfoHashes = append(req.InfoHashes, metainfo.Hash(hashes[20*i:]))
		}
		if err := s.cfg.Hook.BeforeScrape(w.ctx, &req); err != nil {
			return appendUDPError(w.out[:0], txID, s.failure(err))
		}
	}
	w.hashes = w.hashes[:0]
	for i := range n {
		w.hashes = append(w.hashes, metainfo.Hash(hashes[20*i:]))
	}
	w.counts = append(w.counts[:0], make([]scrapeCounts, n)...)
	if err := s.store.scrape(w.ctx, w.hashes, w.counts); err != nil {
		return appendUDPError(w.out[:0], txID, s.failure(err))
	}
	out := appendUDPScrapeHeader(w.out[:0], txID)
	for _, c := range w.counts {
		out = appendUDPScrapeEntry(out, c)
	}
	s.metrics.scrapes.Inc()
	return out
}

// newConnIDKey returns a random secret for connection ids: a tracker that
// restarts invalidates the ids it gave, and clients connect again.
func newConnIDKey() (k [32]byte) {
	rand.Read(k[:]) // never fails (crypto/rand)
	return k
}

// startSweep starts the loop that drops expired peers unless Run or RunUDP
// already runs it; the returned func stops it once every caller has.
func (s *Server) startSweep(ctx context.Context) (release func()) {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	if s.sweepRefs++; s.sweepRefs == 1 {
		ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.sweepLoop(ctx)
		}()
		s.sweepStop = func() {
			cancel()
			<-done
		}
	}
	return func() {
		s.sweepMu.Lock()
		defer s.sweepMu.Unlock()
		if s.sweepRefs--; s.sweepRefs == 0 {
			s.sweepStop()
		}
	}
}
