package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"swarm/lab/dhtlab"
)

type labDHTOptions struct {
	nodes    string
	lookups  int
	churn    float64
	parallel int
	timeout  time.Duration
	seed     uint64
	plot     string
	json     bool
	log      logOptions
}

func runLabDHT(ctx context.Context, e *env, args []string) error {
	var o labDHTOptions
	fs := newFlagSet("lab dht")
	fs.StringVar(&o.nodes, "nodes", "64,256,1024", "comma-separated network sizes N")
	fs.IntVar(&o.lookups, "lookups", 300, "random-key lookups per size (and as many again under churn)")
	fs.Float64Var(&o.churn, "churn", 0.2, "fraction of nodes replaced during the churn lookups (0 for none)")
	fs.IntVar(&o.parallel, "parallel", 8, "lookups and joins running at once")
	fs.DurationVar(&o.timeout, "query-timeout", 500*time.Millisecond, "how long a DHT query waits for its answer")
	fs.Uint64Var(&o.seed, "seed", 0, "seed for the keys and origins (0 means random)")
	fs.StringVar(&o.plot, "plot", "", "also draw hops against N as a PNG at this path")
	fs.BoolVar(&o.json, "json", false, "print one JSON object per size instead of the table")
	o.log.register(fs)
	o.log.level = "error"
	if err := parseFlags(fs, helpFor("lab-dht"), args, e); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var sizes []int
	for _, s := range strings.Split(o.nodes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 2 || n > 1<<14 {
			return usagef("--nodes %q: want sizes from 2 to 16384, comma-separated", o.nodes)
		}
		sizes = append(sizes, n)
	}
	if o.lookups < 1 || o.parallel < 1 || o.timeout <= 0 {
		return usagef("--lookups, --parallel and --query-timeout must be positive")
	}
	if o.churn < 0 || o.churn >= 1 {
		return usagef("--churn %g: want a fraction from 0 to below 1", o.churn)
	}
	log, err := o.log.logger(e.stderr)
	if err != nil {
		return err
	}
	cfg := dhtlab.Config{
		Sizes: sizes, Lookups: o.lookups, Churn: o.churn, Parallel: o.parallel,
		QueryTimeout: o.timeout, Seed: o.seed, Logger: &log,
	}
	if cfg.Churn == 0 {
		cfg.Churn = -1 // dhtlab's zero means its default
	}
	if !o.json {
		cfg.Progress = e.stderr
	}

	// Fixed widths rather than a tabwriter: each row prints as soon as its
	// size is measured, which can take a minute.
	const row = "%6v %7v %8v %10v %9v %10v %9v %14v %6v %14v %13v\n"
	if !o.json {
		fmt.Fprintf(e.stdout, row, "N", "log2 N", "lookups", "hops mean", "hops p99", "msgs mean", "msgs p99", "found closest", "churn", "found (churn)", "hops (churn)")
	}
	enc := json.NewEncoder(e.stdout)
	results, err := dhtlab.Run(ctx, cfg, func(r dhtlab.Result) {
		if o.json {
			enc.Encode(r)
			return
		}
		churn, cFound, cHops := "-", "-", "-"
		if r.ChurnLookups > 0 {
			churn = fmt.Sprintf("%.0f%%", 100*r.Churn)
			cFound = fmt.Sprintf("%.1f%%", 100*r.ChurnFoundClosest)
			cHops = fmt.Sprintf("%.2f", r.ChurnMeanHops)
		}
		fmt.Fprintf(e.stdout, row, r.N, fmt.Sprintf("%.1f", r.Log2N), r.Lookups, fmt.Sprintf("%.2f", r.MeanHops),
			r.P99Hops, fmt.Sprintf("%.1f", r.MeanMessages), r.P99Messages, fmt.Sprintf("%.1f%%", 100*r.FoundClosest), churn, cFound, cHops)
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return errors.New("interrupted")
		}
		return err
	}
	if o.plot != "" {
		if err := dhtlab.Plot(results, o.plot); err != nil {
			return err
		}
		if !o.json {
			fmt.Fprintf(e.stdout, "wrote %s\n", o.plot)
		}
	}
	return nil
}
