package main

import (
	"context"
	"fmt"
	"net"
	"os"

	"swarm/daemon"
	"swarm/daemon/rpc"
	"swarm/internal/humanize"
	"swarm/session"
	"swarm/web"
)

// defaultRPC is where the daemon answers and the client commands ask.
const defaultRPC = "127.0.0.1:9091"

func runDaemon(ctx context.Context, e *env, args []string) error {
	var o struct {
		state, downloadDir, listen, rpcAddr, rpcUser, rpcPassword, watch string
		upRate, downRate                                                 string
		maxDownloads, maxSeeds, maxTorrents, maxPeers                    int
		pex, utp                                                         bool
		dht                                                              dhtOptions
		log                                                              logOptions
	}
	fs := newFlagSet("daemon")
	fs.StringVar(&o.state, "state", "", "folder for the torrent list and settings (default $XDG_DATA_HOME/swarm, else ~/.local/share/swarm)")
	fs.StringVar(&o.downloadDir, "download-dir", "", "where torrents are downloaded unless added with a folder (default ~/Downloads)")
	fs.StringVar(&o.listen, "listen", "", `address to accept peers on (default ":6881", or any free port if taken)`)
	fs.StringVar(&o.rpcAddr, "rpc", defaultRPC, "address of the Transmission RPC")
	fs.StringVar(&o.rpcUser, "rpc-user", "", "user name the RPC requires (with --rpc-password)")
	fs.StringVar(&o.rpcPassword, "rpc-password", "", "password the RPC requires (default $SWARM_RPC_PASSWORD); required off loopback")
	fs.StringVar(&o.watch, "watch", "", "add .torrent files dropped in this folder (renamed .added, or .invalid)")
	fs.StringVar(&o.upRate, "up-rate", "0", "upload limit of all torrents in bytes per second, e.g. 1MiB (0 means unlimited)")
	fs.StringVar(&o.downRate, "down-rate", "0", "download limit of all torrents in bytes per second (0 means unlimited)")
	fs.IntVar(&o.maxDownloads, "max-active-downloads", 5, "torrents downloading at once; more wait in a queue (0 means no limit)")
	fs.IntVar(&o.maxSeeds, "max-active-seeds", 0, "torrents seeding at once; more wait in a queue (0 means no limit)")
	fs.IntVar(&o.maxTorrents, "max-torrents", daemon.DefaultMaxTorrents, "most torrents the daemon holds")
	fs.IntVar(&o.maxPeers, "max-peers", session.DefaultMaxPeers, "most connections per torrent")
	fs.BoolVar(&o.pex, "pex", true, "exchange peer addresses with peers (BEP 11); never for private torrents")
	fs.BoolVar(&o.utp, "utp", true, "accept uTP (BEP 29) on UDP at the --listen port, and dial it when TCP fails")
	o.dht.register(fs)
	o.log.register(fs)
	if err := parseFlags(fs, helpFor("daemon"), args, e); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("daemon takes no arguments, got %q", fs.Args())
	}
	if o.rpcPassword == "" {
		o.rpcPassword = os.Getenv("SWARM_RPC_PASSWORD")
	}
	if err := rpc.CheckListen(o.rpcAddr, o.rpcPassword); err != nil {
		return usagef("%v", err)
	}
	up, err := humanize.ParseRate(o.upRate)
	if err != nil {
		return usagef("--up-rate: %v", err)
	}
	down, err := humanize.ParseRate(o.downRate)
	if err != nil {
		return usagef("--down-rate: %v", err)
	}
	if o.maxDownloads < 0 || o.maxSeeds < 0 || o.maxTorrents < 1 || o.maxPeers < 1 {
		return usagef("--max-active-downloads and --max-active-seeds want 0 or more, --max-torrents and --max-peers 1 or more")
	}
	if o.state, err = daemon.StateDir(o.state); err != nil {
		return err
	}
	if o.downloadDir, err = daemon.DownloadDir(o.downloadDir); err != nil {
		return err
	}
	log, err := o.log.logger(e.stderr)
	if err != nil {
		return err
	}
	dht, err := o.dht.config(o.state)
	if err != nil {
		return err
	}
	d, err := daemon.New(daemon.Config{
		DHT:      dht,
		StateDir: o.state, DownloadDir: o.downloadDir, WatchDir: o.watch,
		MaxActiveDownloads: o.maxDownloads, MaxActiveSeeds: o.maxSeeds, MaxTorrents: o.maxTorrents,
		Session: session.Config{ListenAddr: o.listen, MaxPeers: o.maxPeers, NoPex: !o.pex, NoUTP: !o.utp, UploadRate: up, DownloadRate: down},
		Logger:  &log,
	})
	if err != nil {
		return err
	}
	// Flags given on the command line win over settings saved by session-set.
	if fs.Changed("up-rate") || fs.Changed("down-rate") || fs.Changed("max-active-downloads") || fs.Changed("max-active-seeds") || fs.Changed("download-dir") {
		err := d.SetSettings(func(s *daemon.Settings) {
			if fs.Changed("up-rate") {
				s.SpeedLimitUp, s.SpeedLimitUpEnabled = up, up > 0
			}
			if fs.Changed("down-rate") {
				s.SpeedLimitDown, s.SpeedLimitDownEnabled = down, down > 0
			}
			if fs.Changed("max-active-downloads") {
				s.DownloadQueueSize, s.DownloadQueueEnabled = max(o.maxDownloads, 1), o.maxDownloads > 0
			}
			if fs.Changed("max-active-seeds") {
				s.SeedQueueSize, s.SeedQueueEnabled = max(o.maxSeeds, 1), o.maxSeeds > 0
			}
			if fs.Changed("download-dir") {
				s.DownloadDir = o.downloadDir
			}
		})
		if err != nil {
			d.Wait()
			return err
		}
	}
	srv, err := rpc.New(rpc.Config{Backend: d, User: o.rpcUser, Password: o.rpcPassword, Logger: &log})
	if err != nil {
		d.Wait()
		return err
	}
	ln, err := net.Listen("tcp", o.rpcAddr)
	if err != nil {
		d.Wait()
		return fmt.Errorf("listen for the RPC on %s: %w", o.rpcAddr, err)
	}
	if err := d.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	log.Info().Str("rpc", ln.Addr().String()).Str("web", "http://"+ln.Addr().String()+"/").Str("state", o.state).Str("download_dir", o.downloadDir).Bool("rpc_auth", o.rpcPassword != "").Msg("daemon answering the Transmission RPC")
	// session-close (an RPC) stops the daemon as SIGTERM does.
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-d.Done():
			stop()
		case <-sctx.Done():
		}
	}()
	err = srv.Serve(sctx, ln, web.Handler())
	d.Wait()
	return err
}
