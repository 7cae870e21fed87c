package main

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"swarm/internal/humanize"
	"swarm/internal/progress"
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
	lpd       bool
	encrypt   string
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
	fs.BoolVar(&o.lpd, "lpd", true, "find peers on the LAN by multicast (BEP 14); never for private torrents, off when --listen is loopback")
	fs.StringVar(&o.encrypt, "encryption", "prefer", "peer encryption (MSE/PE), `MODE`: prefer (accept both; dial plaintext, retry encrypted if the peer hangs up), require (RC4 only, both ways) or plaintext (never encrypt)")
	o.dht.register(fs)
	o.log.register(fs)
}

// transfer is what seed and get set up from their flags.
type transfer struct {
	opts  *peerOptions
	log   *zerolog.Logger
	cfg   session.Config
	peers []netip.AddrPort
	out   *progress.Display
	stop  session.SeedLimits
	// download is set by get: stopping before the download completes is
	// then an error (an *interruptedError), not the end of a seed.
	download bool
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
	tr := &transfer{opts: o, out: progress.New(e.stdout, o.quiet, o.json), stop: session.SeedLimits{Ratio: o.seedRatio, Time: o.seedTime}}
	log, err := o.log.loggerFor(tr.out.LogWriter(e.stderr), progress.IsTerminal(e.stderr))
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
	cfg := session.Config{ListenAddr: o.listen, Logger: log, MaxPeers: o.maxPeers, NoPex: !o.pex, NoUTP: !o.utp, LPD: o.lpd}
	var err error
	if cfg.Encryption, err = session.ParseEncryption(o.encrypt); err != nil {
		return cfg, nil, usagef("--encryption: %v", err)
	}
	if cfg.UploadRate, err = humanize.ParseRate(o.upRate); err != nil {
		return cfg, nil, usagef("--up-rate: %v", err)
	}
	if cfg.DownloadRate, err = humanize.ParseRate(o.downRate); err != nil {
		return cfg, nil, usagef("--down-rate: %v", err)
	}
	if o.maxPeers < 1 {
		return cfg, nil, usagef("--max-peers %d: want at least 1", o.maxPeers)
	}
	var peers []netip.AddrPort
	for _, p := range o.peers {
		a, err := session.ResolvePeer(p)
		if err != nil {
			return cfg, nil, usagef("--peer %q: %v", p, err)
		}
		peers = append(peers, a)
	}
	return cfg, peers, nil
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

// start starts the session (on :6881 by default, or any free port) with a
// DHT node if dht is set and --dht is on, keeping the node's state in
// stateDir unless it is "".
func (tr *transfer) start(ctx context.Context, dht bool, stateDir string) (*session.Node, error) {
	cfg := session.NodeConfig{Session: tr.cfg}
	if dht {
		var err error
		if cfg.DHT, err = tr.opts.dht.config(stateDir); err != nil {
			return nil, err
		}
	}
	return session.StartNode(ctx, cfg)
}

// noMagnet is what create, info and seed print for a private torrent in
// place of its magnet link (see metainfo.MetaInfo.ShareableMagnet).
const noMagnet = "private torrent: send its .torrent file to whoever downloads (a magnet link cannot fetch a private torrent's metadata)"

// runTorrent follows torrent t of node until ctx ends, the download
// completes (when stopOnDone) or a seed limit is reached, showing progress,
// then stops the node and ends with a summary. A download (tr.download)
// that ctx stops before it completes returns an *interruptedError, so that
// `swarm get x && play x` never plays a partial file; a seed stopped by ctx
// returns nil.
func runTorrent(ctx context.Context, tr *transfer, node *session.Node, t *session.Torrent, stopOnDone bool) error {
	d := tr.out
	reason := t.Watch(ctx, session.WatchConfig{
		StopOnDone: stopOnDone,
		Limits:     tr.stop,
		Tick:       d.Status,
		Completed: func(st session.Stats) {
			d.Completed(st, !stopOnDone)
		},
	})
	switch reason {
	case session.EndInterrupted:
		// seed opens its data read-only and keeps no resume record.
		what := "telling trackers"
		if tr.download {
			what += ", saving the resume record"
		}
		d.Printf("stopping: %s (Ctrl-C again quits at once)\n", what)
	case session.EndSeedRatio, session.EndSeedTime:
		d.EndLine()
		d.Printf("%s reached: stopping\n", reason)
	}
	err := node.Stop()
	st := t.Stats()
	if err == nil && st.Err != "" {
		err = errors.New(st.Err)
	}
	if err != nil {
		reason = session.EndError
	}
	d.Stopped(reason, err, st)
	if tr.download && !st.Complete && err == nil {
		return interrupted(ctx, "interrupted before the download completed (%d of %d pieces verified): run the same command again to resume", st.Have, st.Pieces)
	}
	return err
}
