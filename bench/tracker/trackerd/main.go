// Command trackerd runs the swarm tracker (tracker/server) on one address, for
// the benchmark in bench/tracker until `swarm tracker` exists; with
// --private-db it runs private mode (tracker/private) over that database, as
// `swarm tracker --private` does. It logs to stderr and stops on SIGINT or
// SIGTERM.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"swarm/tracker/private"
	"swarm/tracker/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "trackerd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := pflag.NewFlagSet("trackerd", pflag.ContinueOnError)
	addr := fs.String("listen-addr", "127.0.0.1:6969", "TCP address to serve HTTP on")
	udpAddr := fs.String("udp-addr", "", "also serve UDP (BEP 15) on this address, one socket per core")
	interval := fs.Duration("interval", 30*time.Minute, "announce interval sent to clients")
	minInterval := fs.Duration("min-interval", 0, "min interval sent to clients (and enforced in private mode); 0 means half the interval")
	privateDB := fs.String("private-db", "", "run private mode over this database (users and torrents made by preload --setup-db)")
	userRate := fs.Float64("user-rate", 0, "private mode: requests a second per passkey (0 means the default)")
	userBurst := fs.Int("user-burst", 0, "private mode: requests at once per passkey (0 means the default)")
	foldInterval := fs.Duration("fold-interval", 0, "private mode: how often the journal is folded (0 means the default, 1m)")
	trustIP := fs.Bool("trust-ip", false, "record the ip parameter instead of the connection's address")
	level := fs.String("log-level", "info", "log level")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	lvl, err := zerolog.ParseLevel(*level)
	if err != nil {
		return err
	}
	log := zerolog.New(os.Stderr).Level(lvl).With().Timestamp().Logger()
	cfg := server.Config{Logger: &log, Interval: *interval, MinInterval: *minInterval, TrustIP: *trustIP}
	var tr *private.Tracker
	if *privateDB != "" {
		db, err := private.Open(ctx, *privateDB)
		if err != nil {
			return err
		}
		defer db.Close()
		tr, err = private.New(ctx, private.Config{DB: db, Logger: &log, Interval: *interval, MinInterval: *minInterval,
			Rate: *userRate, Burst: *userBurst, FoldInterval: *foldInterval})
		if err != nil {
			return err
		}
		cfg.Hook, cfg.Metrics = tr, tr.Collectors()
	}
	s, err := server.New(cfg)
	if err != nil {
		return err
	}
	if tr != nil {
		// Flushing stops after the server, as in swarm tracker.
		flushCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan error, 1)
		go func() { done <- tr.Run(flushCtx) }()
		defer func() {
			stop()
			if err := <-done; err != nil {
				fmt.Fprintln(os.Stderr, "trackerd: last flush:", err)
			}
		}()
	}
	ln, err := server.Listen(ctx, *addr)
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var udp []*net.UDPConn
	if *udpAddr != "" {
		if udp, err = server.ListenUDP(ctx, *udpAddr, runtime.GOMAXPROCS(0)); err != nil {
			return err
		}
	}
	return s.Serve(ctx, ln, udp...)
}
