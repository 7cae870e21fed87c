package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"swarm/internal/humanize"
	"swarm/lab"
)

func runLab(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == "dht" {
		return runLabDHT(ctx, e, args[1:])
	}
	var peers, size, upload, seedUpload, download, pieceLength, plot, timeline, trace string
	var asJSON, leave, superSeed bool
	var freeRiders int
	fs := newFlagSet("lab")
	fs.StringVar(&peers, "peers", "4,8,16,32", "swarm sizes N to run, comma-separated")
	fs.StringVar(&size, "size", "16MiB", "file size F")
	fs.StringVar(&upload, "upload", "1MiB/s", "each leecher's upload rate u")
	fs.StringVar(&seedUpload, "seed-upload", "10MiB/s", "the seed's upload rate u_s")
	fs.StringVar(&download, "download", "0", "each leecher's download rate d (0 means unlimited)")
	fs.StringVar(&pieceLength, "piece-length", "256KiB", "piece length of the sample torrent (a power of two, at least 16KiB)")
	fs.IntVar(&freeRiders, "free-riders", 0, "how many of the leechers upload nothing")
	fs.BoolVar(&superSeed, "super-seed", false, "the seed super-seeds (BEP 16): one piece at a time to each leecher")
	fs.BoolVar(&leave, "leave-when-done", false, "leechers leave once they hold the file instead of seeding until all do")
	fs.StringVar(&trace, "trace", "", "write who unchoked whom and the bytes each slot served into this file (JSON lines)")
	fs.StringVar(&plot, "plot", "", "draw distribution time against N into this PNG file")
	fs.StringVar(&timeline, "timeline", "", "write every peer's bytes sent and received, sampled every 100 ms, into this file (JSON lines)")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object per N instead of a table")
	var lo logOptions
	lo.register(fs)
	// Dozens of peers log at info; the table is what a lab run is for.
	fs.Lookup("log-level").DefValue, lo.level = "warn", "warn"
	if err := parseFlags(fs, helpFor("lab"), args, e); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	ns, err := parseCounts(peers)
	if err != nil {
		return usagef("--peers: %v", err)
	}
	var r lab.Rates
	for _, f := range []struct {
		name, val string
		dst       *int64
		parse     func(string) (int64, error)
	}{
		{"--size", size, &r.Size, humanize.ParseSize},
		{"--upload", upload, &r.Upload, humanize.ParseRate},
		{"--seed-upload", seedUpload, &r.SeedUpload, humanize.ParseRate},
		{"--download", download, &r.Download, humanize.ParseRate},
	} {
		if *f.dst, err = f.parse(f.val); err != nil {
			return usagef("%s: %v", f.name, err)
		}
	}
	if r.Size <= 0 || r.Upload <= 0 || r.SeedUpload <= 0 {
		return usagef("--size, --upload and --seed-upload must be above zero")
	}
	pl, err := humanize.ParseSize(pieceLength)
	if err != nil {
		return usagef("--piece-length: %v", err)
	}
	if pl < 16<<10 || pl&(pl-1) != 0 {
		return usagef("--piece-length: %s is not a power of two of at least 16 KiB", pieceLength)
	}
	log, err := lo.logger(e.stderr)
	if err != nil {
		return err
	}
	cfg := lab.Config{Rates: r, PieceLength: pl, FreeRiders: freeRiders, LeaveWhenDone: leave, SuperSeed: superSeed, Logger: &log}
	if trace != "" {
		f, err := os.Create(trace)
		if err != nil {
			return fmt.Errorf("trace: %w", err)
		}
		defer f.Close()
		cfg.Trace = f
	}
	results, err := lab.Series(ctx, cfg, ns, e.stdout, asJSON)
	if err != nil {
		return err
	}
	if timeline != "" {
		f, err := os.Create(timeline)
		if err != nil {
			return err
		}
		err = lab.WriteTimelines(f, results)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if plot != "" {
		if err := lab.Plot(results, plot); err != nil {
			return err
		}
		if !asJSON {
			fmt.Fprintf(e.stdout, "\nplot written to %s\n", plot)
		}
	}
	return nil
}

// parseCounts reads a comma-separated list of positive integers.
func parseCounts(s string) ([]int, error) {
	var ns []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive whole number", f)
		}
		ns = append(ns, n)
	}
	return ns, nil
}
