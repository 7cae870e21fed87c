// Command trackerd runs the swarm tracker (tracker/server) on one address, for
// the benchmark in bench/tracker until `swarm tracker` exists. It logs to
// stderr and stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

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
	interval := fs.Duration("interval", 30*time.Minute, "announce interval sent to clients")
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
	s, err := server.New(server.Config{Logger: &log, Interval: *interval, TrustIP: *trustIP})
	if err != nil {
		return err
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
	return s.Run(ctx, ln)
}
