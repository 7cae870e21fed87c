package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"swarm/metainfo"
	"swarm/session"
)

// peerOptions are the flags seed and get share.
type peerOptions struct {
	listen    string
	peers     []string
	trackers  []string
	maxPeers  int
	upRate    string
	downRate  string
	seedRatio float64
	seedTime  time.Duration
	quiet     bool
	json      bool
	pex       bool
	utp       bool
	dht       dhtOptions
	log       logOptions
}

func (o *peerOptions) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.listen, "listen", "", `address to accept peers on (default ":6881", or any free port if taken)`)
	fs.StringArrayVar(&o.peers, "peer", nil, "connect to this peer, HOST:PORT; repeatable")
	fs.StringArrayVarP(&o.trackers, "tracker", "t", nil, "announce to this tracker instead of the torrent's own; repeatable")
	fs.IntVar(&o.maxPeers, "max-peers", 50, "most connections per torrent")
	fs.StringVar(&o.upRate, "up-rate", "0", "upload limit in bytes per second, e.g. 1MiB (0 means unlimited)")
	fs.StringVar(&o.downRate, "down-rate", "0", "download limit in bytes per second (0 means unlimited)")
	fs.Float64Var(&o.seedRatio, "seed-ratio", 0, "stop seeding once this run has uploaded `R` times the content's size (default: never)")
	fs.DurationVar(&o.seedTime, "seed-time", 0, "stop seeding after this long complete, e.g. 30m or 2h (default: never)")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "print nothing but errors")
	fs.BoolVar(&o.json, "json", false, "print progress as JSON events, one per line (started, progress, piece_failed, completed, stopped)")
	fs.BoolVar(&o.pex, "pex", true, "exchange peer addresses with peers (BEP 11, ut_pex); never for private torrents")
	fs.BoolVar(&o.utp, "utp", true, "accept uTP (BEP 29) on UDP at the --listen port, and dial it when TCP fails")
	o.dht.register(fs)
	o.log.register(fs)
}

// transfer is what seed and get set up from their flags.
type transfer struct {
	opts    *peerOptions
	dhtWait func() // stops the DHT node and waits; set once it runs (a magnet link starts it early)
	// sess is the session a magnet link opened early, so that trackers and
	// peers hear our real port and peer id while the metadata is fetched.
	sess  *session.Session
	log   *zerolog.Logger
	cfg   session.Config
	peers []netip.AddrPort
	out   *display
	stop  seedLimits
	// download is set by get: stopping before the download completes is
	// then an error (an *interruptedError), not the end of a seed.
	download bool

	// runErr and stopRun are set once the session runs (see startRun).
	runErr  chan error
	stopRun context.CancelFunc
}

// setup builds the display, the logger (errors only with --quiet; above the
// status line on a terminal), the session config and the --peer addresses.
func (o *peerOptions) setup(fs *pflag.FlagSet, e *env) (*transfer, error) {
	if o.quiet && o.json {
		return nil, usagef("--quiet and --json exclude each other")
	}
	if (fs.Changed("seed-ratio") && !(o.seedRatio > 0)) || (fs.Changed("seed-time") && o.seedTime <= 0) {
		return nil, usagef("--seed-ratio and --seed-time want more than 0 (leave them out to seed until Ctrl-C)")
	}
	tr := &transfer{opts: o, out: newDisplay(e.stdout, o.quiet, o.json), stop: seedLimits{ratio: o.seedRatio, time: o.seedTime}}
	log, err := o.log.loggerFor(tr.out.logWriter(e.stderr), isTerminal(e.stderr))
	if err != nil {
		return nil, err
	}
	if o.quiet {
		log = log.Level(zerolog.ErrorLevel)
	}
	tr.log = &log
	tr.cfg, tr.peers, err = o.sessionConfig(tr.log)
	return tr, err
}

// sessionConfig turns the flags into a session config.
func (o *peerOptions) sessionConfig(log *zerolog.Logger) (session.Config, []netip.AddrPort, error) {
	cfg := session.Config{ListenAddr: o.listen, Logger: log, MaxPeers: o.maxPeers, NoPex: !o.pex, NoUTP: !o.utp}
	var err error
	if cfg.UploadRate, err = parseRate(o.upRate); err != nil {
		return cfg, nil, usagef("--up-rate: %v", err)
	}
	if cfg.DownloadRate, err = parseRate(o.downRate); err != nil {
		return cfg, nil, usagef("--down-rate: %v", err)
	}
	if o.maxPeers < 1 {
		return cfg, nil, usagef("--max-peers %d: want at least 1", o.maxPeers)
	}
	var peers []netip.AddrPort
	for _, p := range o.peers {
		a, err := resolvePeer(p)
		if err != nil {
			return cfg, nil, usagef("--peer %q: %v", p, err)
		}
		peers = append(peers, a)
	}
	return cfg, peers, nil
}

// newSession opens the session, on :6881 by default or any free port.
func newSession(cfg session.Config) (*session.Session, error) {
	if cfg.ListenAddr != "" {
		return session.New(cfg)
	}
	cfg.ListenAddr = ":6881"
	s, err := session.New(cfg)
	if err == nil {
		return s, nil
	}
	cfg.ListenAddr = ":0"
	return session.New(cfg)
}

func resolvePeer(s string) (netip.AddrPort, error) {
	if a, err := netip.ParseAddrPort(s); err == nil {
		return a, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	addrs, err := net.LookupHost(host)
	if err != nil || len(addrs) == 0 {
		return netip.AddrPort{}, fmt.Errorf("cannot resolve %s", host)
	}
	return netip.ParseAddrPort(net.JoinHostPort(addrs[0], port))
}

func trackerTiers(urls []string) [][]string {
	var tiers [][]string
	for _, u := range urls {
		var tier []string
		for _, x := range strings.Split(u, ",") {
			if x = strings.TrimSpace(x); x != "" {
				tier = append(tier, x)
			}
		}
		if len(tier) > 0 {
			tiers = append(tiers, tier)
		}
	}
	return tiers
}

// startTorrent opens a session and the content of m in dir, and adds the
// torrent with the options in tc (its Store, Have, SaveResume and Wanted are
// filled in here from OpenContent).
func startTorrent(ctx context.Context, tr *transfer, m *metainfo.MetaInfo, dir string, tc session.TorrentConfig, open session.OpenOptions) (*session.Session, *session.Torrent, error) {
	// A magnet link's session is open already; it keeps its DHT node even
	// for a private torrent, which the session never announces (BEP 27).
	sess, node := tr.sess, tr.cfg.DHT
	if sess == nil {
		if node == nil {
			var err error
			stateDir := dir
			if open.ReadOnly {
				stateDir = ""
			}
			if node, err = tr.opts.dht.open(tr.opts.listen, m.Info.Private, stateDir, tr.log); err != nil {
				return nil, nil, err
			}
		}
		cfg := tr.cfg
		cfg.DHT = node
		var err error
		if sess, err = newSession(cfg); err != nil {
			if node != nil && tr.dhtWait == nil {
				node.Close()
			}
			return nil, nil, err
		}
		tr.cfg.DHT = node
	}
	closeAll := func() {
		sess.Close()
		if node != nil && tr.dhtWait == nil {
			node.Close()
		}
	}
	opened, err := session.OpenContent(ctx, m, dir, open)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	if open.ReadOnly && opened.Have.Count() == 0 {
		// Seeding nothing helps nobody, and the folder is most likely
		// the wrong one: say so rather than sit there.
		opened.Store.Close()
		closeAll()
		return nil, nil, fmt.Errorf("0 of %d pieces match in %s: is --data the folder that holds %s?", m.Info.NumPieces(), dir, m.Info.Name)
	}
	tc.Store, tc.Have, tc.SaveResume, tc.Wanted = opened.Store, opened.Have, opened.SaveResume, opened.Wanted
	t, err := sess.NewTorrent(m, tc)
	if err == nil {
		err = sess.AddTorrent(t)
	}
	if err != nil {
		tc.Store.Close()
		closeAll()
		return nil, nil, err
	}
	return sess, t, nil
}

// noMagnet is what create, info and seed print for a private torrent in
// place of its magnet link (see shareableMagnet).
const noMagnet = "private torrent: send its .torrent file to whoever downloads (a magnet link cannot fetch a private torrent's metadata)"

// shareableMagnet is the magnet link create, info and seed print for others
// to download with, or "" for a private torrent: its peers never serve the
// info dict (BEP 27; swarm and libtorrent offer no ut_metadata for private
// torrents), so a magnet of it cannot work, and its tracker URLs hold the
// user's passkey.
func shareableMagnet(m *metainfo.MetaInfo) string {
	if m.Info.Private {
		return ""
	}
	return m.Magnet().String()
}

// startRun runs sess until ctx ends or stopRun is called, unless it runs
// already (a magnet link starts it before it has the torrent).
func (tr *transfer) startRun(ctx context.Context, sess *session.Session) {
	if tr.runErr != nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- sess.Run(ctx) }()
	tr.runErr, tr.stopRun = errc, cancel
}

// endRun stops a session startRun started and waits for it; runTorrent
// does this itself.
func (tr *transfer) endRun() {
	if tr.runErr != nil {
		tr.stopRun()
		<-tr.runErr
		tr.runErr = nil
	}
}

// loadTorrent reads a .torrent file.
func loadTorrent(path string) (*metainfo.MetaInfo, error) {
	return metainfo.Load(path)
}

// seedLimits end seeding: the share ratio (uploaded over the content's
// size) and the time spent complete; zero means no limit.
type seedLimits struct {
	ratio float64
	time  time.Duration
}

// reached names the limit met by st after seeding for seeded, or "".
func (l seedLimits) reached(st session.Stats, seeded time.Duration) string {
	switch {
	case l.ratio > 0 && ratio(st) >= l.ratio:
		return "seed-ratio"
	case l.time > 0 && seeded >= l.time:
		return "seed-time"
	}
	return ""
}

// runTorrent runs one torrent in a session until ctx ends, the download
// completes (when stopOnDone) or a seed limit is reached. It shows progress
// and ends with a summary. A download (tr.download) that ctx stops before it
// completes returns an *interruptedError, so that `swarm get x && play x`
// never plays a partial file; a seed stopped by ctx returns nil.
func runTorrent(parent context.Context, tr *transfer, sess *session.Session, t *session.Torrent, stopOnDone bool) error {
	d := tr.out
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	tr.startRun(ctx, sess)
	defer context.AfterFunc(ctx, tr.stopRun)()
	runErr := tr.runErr
	if tr.dhtWait == nil {
		tr.dhtWait = runDHT(ctx, tr.cfg.DHT)
	}
	defer func() { cancel(); tr.dhtWait() }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	done, stopped := t.Done(), t.Stopped()
	var completedAt time.Time // zero until every wanted piece is verified
	reason := "interrupted"
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			if reason == "interrupted" {
				// seed opens its data read-only and keeps no resume record.
				what := "telling trackers"
				if tr.download {
					what += ", saving the resume record"
				}
				d.printf("stopping: %s (Ctrl-C again quits at once)\n", what)
			}
			err = <-runErr
			break loop
		case err = <-runErr: // the session failed by itself
			reason = "error"
			break loop
		case <-stopped: // by itself: a storage error (its Stats say which)
			stopped = nil
			if ctx.Err() == nil {
				reason = "error"
				cancel()
			}
		case <-done:
			done = nil
			completedAt = time.Now()
			st := t.Stats()
			if d.mode == modeTerminal {
				d.status(st) // the line at 100%, left on screen
			}
			d.endLine()
			if st.Downloaded > 0 {
				took := time.Since(d.start)
				d.printf("complete: %s in %s (%s/s average)\n", formatSize(st.Wanted), formatElapsed(took),
					formatSize(int64(float64(st.Downloaded)/max(took.Seconds(), 0.001))))
			}
			d.event(jsonEvent{Event: "completed"}, st)
			if stopOnDone {
				reason = "complete"
				cancel()
			} else {
				d.printf("seeding; press Ctrl-C to stop\n")
			}
		case <-tick.C:
			st := t.Stats()
			d.status(st)
			if !completedAt.IsZero() {
				if r := tr.stop.reached(st, time.Since(completedAt)); r != "" {
					reason = r
					d.endLine()
					d.printf("%s reached: stopping\n", r)
					cancel()
				}
			}
		}
	}
	tr.runErr = nil // received above: the session has stopped
	st := t.Stats()
	if err == nil && st.Err != "" {
		err = errors.New(st.Err)
	}
	if err != nil {
		reason = "error"
	}
	d.endLine()
	d.printf("stopped: downloaded %s (%d bytes), uploaded %s (%d bytes), ratio %.2f, %d of %d pieces verified, %d failed the hash check, after %s\n",
		formatSize(st.Downloaded), st.Downloaded, formatSize(st.Uploaded), st.Uploaded, ratio(st), st.Have, st.Pieces, st.HashFails,
		formatElapsed(time.Since(d.start)))
	ev := jsonEvent{Event: "stopped", Reason: reason}
	if err != nil {
		ev.Error = err.Error()
	}
	d.event(ev, st)
	if tr.download && !st.Complete && err == nil {
		return interrupted(parent, "interrupted before the download completed (%d of %d pieces verified): run the same command again to resume", st.Have, st.Pieces)
	}
	return err
}
