package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	listen   string
	peers    []string
	trackers []string
	maxPeers int
	upRate   string
	downRate string
	quiet    bool
	log      logOptions
}

func (o *peerOptions) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.listen, "listen", "", `address to accept peers on (default ":6881", or any free port if taken)`)
	fs.StringArrayVar(&o.peers, "peer", nil, "connect to this peer, HOST:PORT; repeatable")
	fs.StringArrayVarP(&o.trackers, "tracker", "t", nil, "announce to this tracker instead of the torrent's own; repeatable")
	fs.IntVar(&o.maxPeers, "max-peers", 50, "most connections per torrent")
	fs.StringVar(&o.upRate, "up-rate", "0", "upload limit in bytes per second, e.g. 1MiB (0 means unlimited)")
	fs.StringVar(&o.downRate, "down-rate", "0", "download limit in bytes per second (0 means unlimited)")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "print nothing but errors")
	o.log.register(fs)
}

// setup builds the logger (errors only with --quiet), the session config and
// the --peer addresses from the flags.
func (o *peerOptions) setup(e *env) (*zerolog.Logger, session.Config, []netip.AddrPort, error) {
	log, err := o.log.logger(e.stderr)
	if err != nil {
		return nil, session.Config{}, nil, err
	}
	if o.quiet {
		log = log.Level(zerolog.ErrorLevel)
	}
	cfg, peers, err := o.sessionConfig(&log)
	return &log, cfg, peers, err
}

// sessionConfig turns the flags into a session config.
func (o *peerOptions) sessionConfig(log *zerolog.Logger) (session.Config, []netip.AddrPort, error) {
	cfg := session.Config{ListenAddr: o.listen, Logger: log, MaxPeers: o.maxPeers}
	var err error
	if cfg.UploadRate, err = parseSize(o.upRate); err != nil {
		return cfg, nil, usagef("--up-rate: %v", err)
	}
	if cfg.DownloadRate, err = parseSize(o.downRate); err != nil {
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
// torrent with the options in tc (its Store, Have and SaveResume are filled
// in here).
func startTorrent(ctx context.Context, cfg session.Config, m *metainfo.MetaInfo, dir string, tc session.TorrentConfig, log *zerolog.Logger) (*session.Session, *session.Torrent, error) {
	sess, err := newSession(cfg)
	if err != nil {
		return nil, nil, err
	}
	opened, err := session.OpenContent(ctx, m, dir, session.OpenOptions{Logger: log})
	if err != nil {
		sess.Close()
		return nil, nil, err
	}
	tc.Store, tc.Have, tc.SaveResume = opened.Store, opened.Have, opened.SaveResume
	t, err := sess.NewTorrent(m, tc)
	if err == nil {
		err = sess.AddTorrent(t)
	}
	if err != nil {
		tc.Store.Close()
		sess.Close()
		return nil, nil, err
	}
	return sess, t, nil
}

// loadTorrent reads a .torrent file.
func loadTorrent(path string) (*metainfo.MetaInfo, error) {
	return metainfo.Load(path)
}

// statusPrinter shows a torrent's progress: a redrawn line on a terminal,
// a plain line every few seconds otherwise.
type statusPrinter struct {
	w        io.Writer
	terminal bool
	quiet    bool
	drawn    bool
}

func newStatusPrinter(w io.Writer, quiet bool) *statusPrinter {
	return &statusPrinter{w: w, terminal: isTerminal(w), quiet: quiet}
}

func (sp *statusPrinter) interval() time.Duration {
	if sp.terminal {
		return time.Second
	}
	return 5 * time.Second
}

func (sp *statusPrinter) print(st session.Stats) {
	if sp.quiet {
		return
	}
	pct := 100.0
	if st.Length > 0 {
		pct = 100 * float64(st.Length-st.Left) / float64(st.Length)
	}
	eta := "-"
	if st.DownRate > 0 && st.Left > 0 {
		eta = (time.Duration(float64(st.Left)/st.DownRate) * time.Second).Round(time.Second).String()
	}
	ratio := "-"
	if st.Downloaded > 0 {
		ratio = fmt.Sprintf("%.2f", float64(st.Uploaded)/float64(st.Downloaded))
	}
	line := fmt.Sprintf("%5.1f%%  %d/%d pieces  down %s/s  up %s/s  peers %d (%d seeds)  eta %s  ratio %s",
		pct, st.Have, st.Pieces, formatSize(int64(st.DownRate)), formatSize(int64(st.UpRate)), st.Peers, st.Seeds, eta, ratio)
	if st.Err != "" {
		line += "  ERROR: " + st.Err
	}
	if sp.terminal {
		fmt.Fprintf(sp.w, "\r\033[K%s", line)
		sp.drawn = true
	} else {
		fmt.Fprintln(sp.w, line)
	}
}

func (sp *statusPrinter) finish() {
	if sp.drawn {
		fmt.Fprintln(sp.w)
		sp.drawn = false
	}
}

// runTorrent runs one torrent in a session until ctx ends or, when
// stopOnDone, the download completes. It prints progress and a summary.
func runTorrent(ctx context.Context, e *env, sess *session.Session, t *session.Torrent, stopOnDone, quiet bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- sess.Run(ctx) }()
	sp := newStatusPrinter(e.stdout, quiet)
	tick := time.NewTicker(sp.interval())
	defer tick.Stop()
	start := time.Now()
	done := t.Done()
	completed := false
	for {
		select {
		case <-ctx.Done():
		case <-done:
			done = nil
			completed = true
			sp.print(t.Stats())
			sp.finish()
			if st := t.Stats(); !quiet && st.Downloaded > 0 {
				fmt.Fprintf(e.stdout, "complete: %s in %v (%s/s average)\n", formatSize(st.Length),
					time.Since(start).Round(time.Millisecond), formatSize(int64(float64(st.Downloaded)/time.Since(start).Seconds())))
			}
			if stopOnDone {
				cancel()
			} else if !quiet {
				fmt.Fprintln(e.stdout, "seeding; press Ctrl-C to stop")
			}
			continue
		case <-tick.C:
			sp.print(t.Stats())
			continue
		case err := <-runErr:
			sp.finish()
			return err
		}
		break
	}
	err := <-runErr
	sp.finish()
	st := t.Stats()
	if !quiet {
		fmt.Fprintf(e.stdout, "stopped: downloaded %s (%d bytes), uploaded %s (%d bytes)\n",
			formatSize(st.Downloaded), st.Downloaded, formatSize(st.Uploaded), st.Uploaded)
	}
	if err != nil {
		return err
	}
	if st.Err != "" {
		return errors.New(st.Err)
	}
	if stopOnDone && !completed && !quiet {
		fmt.Fprintln(e.stdout, "interrupted before the download completed: run the same command again to resume")
	}
	return nil
}
