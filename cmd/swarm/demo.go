package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"swarm/lab"
	"swarm/session"
)

const demoHelp = `
Usage: swarm demo [flags]

Watch a swarm at work with nothing to set up: a tracker, a seed and a few
leechers start in this process on 127.0.0.1 and share a random sample file.
The leechers' progress shows live; at the end comes a summary: how long it
took, how much came from the seed and how much the leechers traded among
themselves, and the time against the theoretical bound (see 'swarm lab').
Uploads are rate-limited so that the leechers must trade to finish early.
Nothing is written outside a temporary folder, which is removed at the end.

Examples:
  swarm demo
  swarm demo --peers 12 --size 64MiB
  swarm demo --upload 512KiB/s --seed-upload 4MiB/s
`

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
	if err := parseFlags(fs, demoHelp, args, e); err != nil {
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
	if r.Size, err = parseSize(size); err != nil || r.Size < 1 || r.Size > 1<<30 {
		return usagef("--size %q: want 1 byte to 1 GiB", size)
	}
	if r.Upload, err = parseRate(upload); err != nil || r.Upload < 1 {
		return usagef("--upload %q: want a rate above zero, e.g. 2MiB/s", upload)
	}
	if r.SeedUpload, err = parseRate(seedUpload); err != nil || r.SeedUpload < 1 {
		return usagef("--seed-upload %q: want a rate above zero, e.g. 8MiB/s", seedUpload)
	}
	log, err := lo.logger(e.stderr)
	if err != nil {
		return err
	}

	fmt.Fprintf(e.stdout, "A tracker, a seed and %d %s on 127.0.0.1, all in this process, sharing %s.\n",
		peers, plural(peers, "leecher", "leechers"), formatSize(r.Size))
	fmt.Fprintf(e.stdout, "The seed uploads at %s/s, each leecher at %s/s: to finish soon they must trade.\n\n",
		formatSize(r.SeedUpload), formatSize(r.Upload))
	board := &demoBoard{w: e.stdout, terminal: isTerminal(e.stdout)}
	var last lab.Snapshot
	res, err := lab.Run(ctx, lab.Config{
		Rates:  r,
		Logger: &log,
		Progress: func(s lab.Snapshot) {
			last = s
			board.draw(s)
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
	if board.terminal {
		board.draw(last) // the final state, done
	}
	writeDemoSummary(e.stdout, res, last)
	return nil
}

// demoBoard shows one line per leecher and one for the seed. On a terminal
// it redraws them in place; otherwise it prints one short line a second.
type demoBoard struct {
	w        io.Writer
	terminal bool
	drawn    int // lines on screen (terminal)
	printed  time.Duration
}

func (b *demoBoard) draw(s lab.Snapshot) {
	if !b.terminal {
		if s.Elapsed-b.printed < time.Second && !allDone(s) {
			return
		}
		b.printed = s.Elapsed
		var have, total int
		done := 0
		for _, l := range s.Leechers {
			have += l.Have
			total += l.Pieces
			if l.Complete {
				done++
			}
		}
		fmt.Fprintf(b.w, "%5.1fs  leechers hold %3.0f%% of their pieces, %d of %d done\n",
			s.Elapsed.Seconds(), 100*float64(have)/float64(max(total, 1)), done, len(s.Leechers))
		return
	}
	var out strings.Builder
	if b.drawn > 0 {
		fmt.Fprintf(&out, "\x1b[%dA", b.drawn) // back to the first line
	}
	for i, l := range s.Leechers {
		fmt.Fprintf(&out, "\r\x1b[Kleecher %-2d %s\n", i+1, demoBar(l))
	}
	fmt.Fprintf(&out, "\r\x1b[Kseed       uploaded %s at %s/s   %.1fs\n",
		formatSize(s.Seed.Uploaded), formatSize(int64(s.Seed.UpRate)), s.Elapsed.Seconds())
	b.drawn = len(s.Leechers) + 1
	io.WriteString(b.w, out.String())
}

func demoBar(st session.Stats) string {
	const width = 24
	full := int(st.Percent() / 100 * width)
	state := fmt.Sprintf("down %9s/s  up %9s/s", formatSize(int64(st.DownRate)), formatSize(int64(st.UpRate)))
	if st.Complete {
		state = "done, seeding"
	}
	return fmt.Sprintf("[%s%s] %5.1f%%  %s", strings.Repeat("#", full), strings.Repeat(".", width-full), st.Percent(), state)
}

func allDone(s lab.Snapshot) bool {
	for _, l := range s.Leechers {
		if !l.Complete {
			return false
		}
	}
	return true
}

func writeDemoSummary(w io.Writer, res lab.Result, last lab.Snapshot) {
	var between int64
	for _, l := range last.Leechers {
		between += l.Uploaded
	}
	fromSeed := last.Seed.Uploaded
	fmt.Fprintf(w, "\nAll %d leechers hold the file, byte for byte, after %.1fs.\n", res.Leechers, res.Measured)
	if total := fromSeed + between; total > 0 {
		fmt.Fprintf(w, "They received %s: %s (%.0f%%) from the seed and %s (%.0f%%) from each other.\n",
			formatSize(total), formatSize(fromSeed), 100*float64(fromSeed)/float64(total),
			formatSize(between), 100*float64(between)/float64(total))
	}
	fmt.Fprintf(w, "The least time any swarm could take is %.1fs (the P2P bound): %.2f times that.\n", res.Bound, res.Ratio)
	fmt.Fprintf(w, "The seed alone, serving each leecher in turn, would need %.1fs.\n", res.ClientServer)
	fmt.Fprintf(w, "\nNext: 'swarm lab --plot lab.png' runs this for 4 to 32 leechers and draws the figure.\n")
}
