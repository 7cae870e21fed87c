package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"swarm/internal/humanize"
	"swarm/internal/progress"
	"swarm/lab"
)

func runDemo(ctx context.Context, e *env, args []string) error {
	var peers int
	var size, upload, seedUpload string
	fs := newFlagSet("demo")
	fs.IntVar(&peers, "peers", 6, "number of leechers, 1 to 64")
	fs.StringVar(&size, "size", "16MiB", "size of the sample file")
	fs.StringVar(&upload, "upload", "2MiB/s", "each leecher's upload rate")
	fs.StringVar(&seedUpload, "seed-upload", "8MiB/s", "the seed's upload rate")
	var lo logOptions
	lo.register(fs)
	fs.Lookup("log-level").DefValue, lo.level = "warn", "warn"
	if err := parseFlags(fs, helpFor("demo"), args, e); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("demo takes no arguments")
	}
	if peers < 1 || peers > 64 {
		return usagef("--peers %d: want 1 to 64", peers)
	}
	r := lab.Rates{Leechers: peers}
	var err error
	if r.Size, err = humanize.ParseSize(size); err != nil || r.Size < 1 || r.Size > 1<<30 {
		return usagef("--size %q: want 1 byte to 1 GiB", size)
	}
	if r.Upload, err = humanize.ParseRate(upload); err != nil || r.Upload < 1 {
		return usagef("--upload %q: want a rate above zero, e.g. 2MiB/s", upload)
	}
	if r.SeedUpload, err = humanize.ParseRate(seedUpload); err != nil || r.SeedUpload < 1 {
		return usagef("--seed-upload %q: want a rate above zero, e.g. 8MiB/s", seedUpload)
	}
	log, err := lo.logger(e.stderr)
	if err != nil {
		return err
	}

	fmt.Fprintf(e.stdout, "A tracker, a seed and %d %s on 127.0.0.1, all in this process, sharing %s.\n",
		peers, humanize.Plural(peers, "leecher", "leechers"), humanize.Size(r.Size))
	fmt.Fprintf(e.stdout, "The seed uploads at %s/s, each leecher at %s/s: to finish soon they must trade.\n\n",
		humanize.Size(r.SeedUpload), humanize.Size(r.Upload))
	board := &lab.Board{W: e.stdout, Terminal: progress.IsTerminal(e.stdout)}
	var last lab.Snapshot
	res, err := lab.Run(ctx, lab.Config{
		Rates:  r,
		Logger: &log,
		Progress: func(s lab.Snapshot) {
			last = s
			board.Draw(s)
		},
		ProgressInterval: 200 * time.Millisecond,
	})
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			fmt.Fprintln(e.stdout, "\ninterrupted")
			return nil
		}
		return err
	}
	if board.Terminal {
		board.Draw(last) // the final state, done
	}
	lab.WriteSummary(e.stdout, res, last)
	return nil
}
