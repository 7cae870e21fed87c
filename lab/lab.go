package lab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"swarm/internal/randfile"
	"swarm/metainfo"
	"swarm/piece"
	"swarm/session"
	"swarm/storage"
	"swarm/tracker/server"
)

// Config describes one experiment.
type Config struct {
	Rates
	// PieceLength of the sample torrent; 0 means 256 KiB.
	PieceLength int64
	// FreeRiders of the leechers never unchoke anyone, so upload nothing;
	// they are the first ones, and Result marks them.
	FreeRiders int
	// LeaveWhenDone makes leechers leave once they hold the file, as many
	// real ones do, instead of seeding until the last is done. The bound
	// assumes they stay.
	LeaveWhenDone bool
	// SuperSeed makes the seed a super-seed (BEP 16).
	SuperSeed bool
	// Dir holds the seed's file; "" means a temporary folder removed at the
	// end.
	Dir string
	// Session is a template for every peer's session (choking intervals,
	// slots); listen address and rates are set by Run.
	Session session.Config
	// Logger receives every peer's logs; nil means none.
	Logger *zerolog.Logger
	// Trace, if set, receives who unchoked whom: one TraceEvent per choke
	// and unchoke of every peer, then one TraceServed per pair of peers
	// (JSON lines). The peers then log at debug level into the trace
	// filter instead of into Logger.
	Trace io.Writer
	// Progress, if set, is called every ProgressInterval (default 250 ms)
	// while leechers download, from Run's goroutine.
	Progress         func(Snapshot)
	ProgressInterval time.Duration
	// SampleInterval is how often the Timeline samples every peer's
	// counters; 0 means 100 ms.
	SampleInterval time.Duration
	// Network, if set, carries the peers instead of TCP on 127.0.0.1, and
	// there is no tracker: each leecher is given the seed's address and
	// up to 49 other leechers' (a tracker's numwant of 50). Under
	// testing/synctest with an in-memory network (internal/memnet) a run
	// takes no real time and measures the engine's own losses against
	// the bound, apart from CPU load.
	Network *Network
	// Timeout bounds the download phase; 0 means 10 times the bound plus a
	// minute.
	Timeout time.Duration
}

// Network is where the peers of a run listen and dial.
type Network struct {
	Listen func() (net.Listener, error)
	Dial   func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Snapshot is the state of every leecher during a run.
type Snapshot struct {
	Elapsed  time.Duration
	Seed     session.Stats
	Leechers []session.Stats
}

// Result is what one experiment measured.
type Result struct {
	Rates
	PieceLength int64
	// Measured is the time from the start of the leechers until the last
	// of them held the whole file; Bound and ClientServer are the
	// theoretical times (see Rates), all in seconds.
	Measured, Bound, ClientServer float64
	// Ratio is Measured/Bound: 1 is the physical limit.
	Ratio float64
	// Finish is each leecher's time to completion, in seconds, in leecher
	// order; FreeRider marks the free riders.
	Finish    []float64
	FreeRider []bool
	// Timeline is what every upload link did during the run, and Usage its
	// summary against the bound.
	Timeline Timeline
	Usage    Usage
}

// peersFor gives leecher i what a tracker with numwant 50 would: the seed
// (addrs[0]) and up to 49 other leechers, chosen at random.
func peersFor(i int, addrs []netip.AddrPort) []netip.AddrPort {
	others := slices.Clone(addrs[1:])
	others = slices.Delete(others, i, i+1)
	rand.Shuffle(len(others), func(a, b int) { others[a], others[b] = others[b], others[a] })
	return append([]netip.AddrPort{addrs[0]}, others[:min(len(others), 49)]...)
}

// peerIP is the loopback address of peer k of a run (the seed is 0):
// 127.0.0.2, 127.0.0.3, and so on. Linux routes all of 127.0.0.0/8 to
// the loopback interface; elsewhere only 127.0.0.1 may exist, and ok is
// false.
func peerIP(k int) (ip netip.Addr, ok bool) {
	if runtime.GOOS != "linux" || k > 1<<16-3 {
		return netip.Addr{}, false
	}
	n := k + 2
	return netip.AddrFrom4([4]byte{127, 0, byte(n >> 8), byte(n)}), true
}

// Means returns the mean time to completion of the free riders (0 if there
// are none) and of the other leechers (0 if all ride free), in seconds.
func (r Result) Means() (riders, others float64) {
	var rs, os []float64
	for i, f := range r.Finish {
		if r.FreeRider[i] {
			rs = append(rs, f)
		} else {
			os = append(os, f)
		}
	}
	return mean(rs), mean(os)
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

func errorf(format string, args ...any) error { return fmt.Errorf("lab: "+format, args...) }

// Run sets up a tracker, a seed and cfg.Leechers leechers on loopback (each
// peer on an address of its own on Linux, see peerIP),
// starts the leechers together and returns once all hold the whole file
// (checked byte for byte against the seed's), or an error.
func Run(ctx context.Context, cfg Config) (res Result, err error) {
	if err := cfg.check(); err != nil {
		return res, err
	}
	if cfg.FreeRiders < 0 || cfg.FreeRiders > cfg.Leechers {
		return res, errorf("%d free riders among %d leechers", cfg.FreeRiders, cfg.Leechers)
	}
	if cfg.PieceLength == 0 {
		cfg.PieceLength = metainfo.DefaultPieceLength
	}
	if cfg.ProgressInterval == 0 {
		cfg.ProgressInterval = 250 * time.Millisecond
	}
	if cfg.SampleInterval == 0 {
		cfg.SampleInterval = 100 * time.Millisecond
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Duration(10*cfg.P2PBound()*float64(time.Second)) + time.Minute
	}
	log := zerolog.Nop()
	if cfg.Logger != nil {
		log = *cfg.Logger
	}
	peerLog := log
	var tr *tracer
	if cfg.Trace != nil {
		tr = newTracer(cfg.Trace, cfg.Leechers)
		peerLog = tr.logger()
	}
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "swarm-lab-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
		cfg.Dir = dir
	}

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var runErrs errList
	defer func() {
		cancel()
		wg.Wait()
		if err == nil {
			err = runErrs.err()
		}
		// After the sessions have stopped: each logs the slots still open
		// as it stops.
		if tr != nil {
			if ferr := tr.finish(); err == nil {
				err = ferr
			}
		}
	}()

	// The tracker, unless the peers are given each other's addresses.
	var tiers [][]string
	var announce string
	if cfg.Network == nil {
		trk, err := server.New(server.Config{Interval: 5 * time.Second, Logger: &log})
		if err != nil {
			return res, err
		}
		ln, err := server.Listen(ctx, "127.0.0.1:0")
		if err != nil {
			return res, err
		}
		wg.Go(func() { runErrs.add("tracker", trk.Run(ctx, ln)) })
		announce = "http://" + ln.Addr().String() + "/announce"
		tiers = [][]string{{announce}}
	}
	// On a Network every peer listens before any starts, so that each
	// leecher can be given the others' addresses.
	tmpls := make([]session.Config, cfg.Leechers+1) // the seed's first
	var addrs []netip.AddrPort
	for i := range tmpls {
		tmpls[i] = cfg.Session
		if cfg.Network == nil {
			if ip, ok := peerIP(i); ok {
				// Each peer on an address of its own, as in a real swarm,
				// with the per-IP caps applied as there: from one address
				// all 257 of a run looked like one host.
				tmpls[i].ListenAddr = netip.AddrPortFrom(ip, 0).String()
				tmpls[i].Dial = (&net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0))}).DialContext
				tmpls[i].CapLoopback = true
			}
			continue
		}
		ln, err := cfg.Network.Listen()
		if err != nil {
			return res, err
		}
		tmpls[i].Listener, tmpls[i].Dial, tmpls[i].NoUTP = ln, cfg.Network.Dial, true
		addrs = append(addrs, netip.MustParseAddrPort(ln.Addr().String()))
	}

	// The sample file and its torrent.
	path := filepath.Join(cfg.Dir, "lab.bin")
	if err := randfile.WriteFile(path, cfg.Size, 1); err != nil {
		return res, err
	}
	m, err := metainfo.Build(ctx, metainfo.BuildConfig{Path: path, PieceLength: cfg.PieceLength, Tiers: tiers})
	if err != nil {
		return res, err
	}
	content, err := os.ReadFile(path)
	if err != nil {
		return res, err
	}

	// The seed.
	seedStore, err := storage.NewFile(cfg.Dir, &m.Info)
	if err != nil {
		return res, err
	}
	have := piece.NewBitfield(len(m.Info.Pieces))
	have.SetAll()
	seedPeer, err := startPeer(ctx, &wg, &runErrs, "seed", m, tmpls[0], &peerLog, cfg.SeedUpload, 0, session.TorrentConfig{Store: seedStore, Have: have, Seed: true, SuperSeed: cfg.SuperSeed})
	seed := seedPeer.t
	if err != nil {
		seedStore.Close()
		return res, err
	}
	if cfg.Network == nil {
		if err := waitSeeders(ctx, announce, m.InfoHash, 10*time.Second); err != nil {
			return res, err
		}
	}

	// The leechers: set up first, then started together.
	type leecher struct {
		t     *session.Torrent
		store *countingStore
		start func()
		leave context.CancelFunc // stops its session
	}
	ls := make([]leecher, cfg.Leechers)
	defer func() {
		for _, l := range ls {
			if l.leave != nil {
				l.leave()
			}
		}
	}()
	for i := range ls {
		st := &countingStore{Memory: storage.NewMemory(cfg.Size)}
		tc := session.TorrentConfig{Store: st, Seed: !cfg.LeaveWhenDone, FreeRide: i < cfg.FreeRiders}
		if cfg.Network != nil {
			tc.Peers = peersFor(i, addrs)
		}
		lctx, leave := context.WithCancel(ctx)
		name := fmt.Sprintf("leecher %d", i)
		if tc.FreeRide {
			name = fmt.Sprintf("free rider %d", i)
		}
		p, err := preparePeer(lctx, &wg, &runErrs, name, m, tmpls[i+1], &peerLog, cfg.Upload, cfg.Download, tc)
		if err != nil {
			leave()
			return res, err
		}
		ls[i] = leecher{t: p.t, store: st, start: p.start, leave: leave}
	}
	smp := &sampler{peers: []*session.Torrent{seed}}
	for _, l := range ls {
		smp.peers, smp.got = append(smp.peers, l.t), append(smp.got, l.store)
	}
	began := time.Now()
	smp.began = began
	smp.sample(began)
	if tr != nil {
		tr.start()
	}
	// The seed has been running: its rate starts with the leechers (each
	// leecher's starts with its session).
	seedPeer.restartRates()
	// In a random order: the first to reach the seed get its first slots,
	// and free riders, being the first leechers, would always be first.
	for _, i := range rand.Perm(len(ls)) {
		ls[i].start()
	}

	res = Result{Rates: cfg.Rates, PieceLength: cfg.PieceLength, Bound: cfg.P2PBound(), ClientServer: cfg.ClientServer()}
	res.Finish = make([]float64, len(ls))
	res.FreeRider = make([]bool, len(ls))
	for i := range res.FreeRider {
		res.FreeRider[i] = i < cfg.FreeRiders
	}
	deadline := time.NewTimer(cfg.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(cfg.ProgressInterval)
	defer tick.Stop()
	sampleTick := time.NewTicker(cfg.SampleInterval)
	defer sampleTick.Stop()
	report := func() {
		if cfg.Progress == nil {
			return
		}
		snap := Snapshot{Elapsed: time.Since(began), Seed: seed.Stats(), Leechers: make([]session.Stats, len(ls))}
		for i, l := range ls {
			snap.Leechers[i] = l.t.Stats()
		}
		cfg.Progress(snap)
	}
	finished := make(chan int, len(ls))
	for i, l := range ls {
		wg.Go(func() {
			select {
			case <-l.t.Done():
				res.Finish[i] = time.Since(began).Seconds()
				if cfg.LeaveWhenDone {
					l.leave()
				}
				finished <- i
			case <-ctx.Done():
			}
		})
	}
	for left := len(ls); left > 0; {
		select {
		case <-finished:
			left--
		case now := <-sampleTick.C:
			smp.sample(now)
		case <-tick.C:
			report()
			if err := runErrs.err(); err != nil {
				return res, err
			}
		case <-deadline.C:
			done := len(ls) - left
			return res, errorf("only %d of %d leechers done after %v", done, len(ls), cfg.Timeout)
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	for _, f := range res.Finish {
		res.Measured = max(res.Measured, f)
	}
	smp.sample(time.Now())
	res.Timeline = smp.tl
	res.Usage = res.Timeline.usage(cfg.Rates, res.Measured)
	report()
	for i, l := range ls {
		if !bytes.Equal(l.store.Bytes(), content) {
			return res, errorf("leecher %d holds different bytes than the seed", i)
		}
	}
	res.Ratio = res.Measured / res.Bound
	return res, nil
}
