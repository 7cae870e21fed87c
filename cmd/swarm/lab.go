package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"swarm/internal/chart"
	"swarm/internal/humanize"
	"swarm/lab"
)

func runLab(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == "dht" {
		return runLabDHT(ctx, e, args[1:])
	}
	var peers, size, upload, seedUpload, download, plot string
	var asJSON bool
	var freeRiders int
	fs := newFlagSet("lab")
	fs.StringVar(&peers, "peers", "4,8,16,32", "swarm sizes N to run, comma-separated")
	fs.StringVar(&size, "size", "16MiB", "file size F")
	fs.StringVar(&upload, "upload", "1MiB/s", "each leecher's upload rate u")
	fs.StringVar(&seedUpload, "seed-upload", "10MiB/s", "the seed's upload rate u_s")
	fs.StringVar(&download, "download", "0", "each leecher's download rate d (0 means unlimited)")
	fs.IntVar(&freeRiders, "free-riders", 0, "how many of the leechers upload nothing")
	fs.StringVar(&plot, "plot", "", "draw distribution time against N into this PNG file")
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
	log, err := lo.logger(e.stderr)
	if err != nil {
		return err
	}
	if !asJSON {
		fmt.Fprintf(e.stdout, "F = %s, u_s = %s/s, u = %s/s, d = %s\n\n", humanize.Size(r.Size), humanize.Size(r.SeedUpload), humanize.Size(r.Upload), rateOrUnlimited(r.Download))
		fmt.Fprintf(e.stdout, "%6s  %10s  %10s  %6s  %14s\n", "N", "D measured", "P2P bound", "ratio", "client-server")
	}
	var results []lab.Result
	for _, n := range ns {
		r.Leechers = n
		res, err := lab.Run(ctx, lab.Config{Rates: r, FreeRiders: min(freeRiders, n), Logger: &log})
		if err != nil {
			return fmt.Errorf("N = %d: %w", n, err)
		}
		results = append(results, res)
		if asJSON {
			line, _ := json.Marshal(labJSON{
				Peers: n, Size: r.Size, Upload: r.Upload, SeedUpload: r.SeedUpload, Download: r.Download,
				PieceLength: res.PieceLength, FreeRiders: min(freeRiders, n),
				Measured: res.Measured, Bound: res.Bound, Ratio: res.Ratio, ClientServer: res.ClientServer, Finish: res.Finish,
			})
			fmt.Fprintf(e.stdout, "%s\n", line)
		} else {
			fmt.Fprintf(e.stdout, "%6d  %9.2fs  %9.2fs  %6.2f  %13.2fs\n", n, res.Measured, res.Bound, res.Ratio, res.ClientServer)
		}
	}
	if plot != "" {
		if err := plotLab(plot, results); err != nil {
			return err
		}
		if !asJSON {
			fmt.Fprintf(e.stdout, "\nplot written to %s\n", plot)
		}
	}
	return nil
}

// labJSON is one line of `swarm lab --json`; times are in seconds.
type labJSON struct {
	Peers        int       `json:"peers"`
	Size         int64     `json:"size"`
	Upload       int64     `json:"upload"`
	SeedUpload   int64     `json:"seed_upload"`
	Download     int64     `json:"download"`
	PieceLength  int64     `json:"piece_length"`
	FreeRiders   int       `json:"free_riders"`
	Measured     float64   `json:"measured_s"`
	Bound        float64   `json:"bound_s"`
	Ratio        float64   `json:"ratio"`
	ClientServer float64   `json:"client_server_s"`
	Finish       []float64 `json:"finish_s"`
}

func rateOrUnlimited(r int64) string {
	if r == 0 {
		return "unlimited"
	}
	return humanize.Size(r) + "/s"
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

// plotLab draws the textbook figure: measured time, the P2P bound and the
// client-server time against N.
func plotLab(path string, results []lab.Result) error {
	var measured, bound, cs chart.Series
	measured.Name, bound.Name, cs.Name = "swarm, measured", "P2P bound", "client-server"
	bound.Dashed, cs.Dashed = true, true
	for _, r := range results {
		n := float64(r.Leechers)
		measured.X, measured.Y = append(measured.X, n), append(measured.Y, r.Measured)
		bound.X, bound.Y = append(bound.X, n), append(bound.Y, r.Bound)
		cs.X, cs.Y = append(cs.X, n), append(cs.Y, r.ClientServer)
	}
	r := results[0]
	l := chart.Lines{
		Title:  fmt.Sprintf("Distributing %s: seed %s/s, leechers %s/s up", humanize.Size(r.Size), humanize.Size(r.SeedUpload), humanize.Size(r.Upload)),
		XLabel: "leechers N", YLabel: "time until all hold the file (s)",
		Series: []chart.Series{measured, bound, cs},
	}
	return l.SavePNG(path)
}
