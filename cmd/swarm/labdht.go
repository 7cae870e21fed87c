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

	if !o.json {
		dhtlab.WriteHeader(e.stdout)
	}
	enc := json.NewEncoder(e.stdout)
	results, err := dhtlab.Run(ctx, cfg, func(r dhtlab.Result) {
		if o.json {
			enc.Encode(r)
			return
		}
		dhtlab.WriteRow(e.stdout, r)
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
