// Command lab measures distribution time, the headline figure of swarm
// (DESIGN.md, "Distribution time"): one tracker on 127.0.0.1, one seed with
// upload rate u_s, N leechers with upload rate u each (download unlimited),
// one file of F bytes in 256 KiB pieces. D is the time from when the N
// leechers start until all N hold the whole file; leechers keep seeding once
// done, so their upload keeps counting. It is compared with the P2P lower
// bound
//
//	D_p2p = max(F/u_s, F/d_min, N·F/(u_s + N·u))    (d_min is infinite here)
//
// and the client-server time D_cs = max(N·F/u_s, F/d_min); ratio = D/D_p2p,
// 1.0 being the physical limit.
//
//	go run ./bench/lab [--peers 4,8,16,32] [--size 16MiB] [--upload 1MiB]
//	    [--seed-upload 10MiB] [--runs 1] [--only swarm-procs,libtorrent,swarm-lab]
//	    [--swarm BIN] [--timeout 5m] [--super-seed]
//
// For every N and run it measures, in the same run of the program:
//
//   - swarm-procs: `swarm tracker`, one `swarm seed` and N `swarm get --seed`,
//     each its own process, rate-limited by --up-rate;
//   - libtorrent: the same with python3-libtorrent, one session per process
//     (lt_lab_peer.py), its limits applied to loopback peers;
//   - swarm-lab: `swarm lab --json`, the seed and the leechers in one process
//     (skipped with a message if this swarm has no lab command).
//
// The first two use the same tracker (swarm's, with a 1 s interval), the same
// torrent and content, and the same completion test, which does not depend
// on the clients' output: the bench scrapes the tracker every 100 ms and D
// ends at the first scrape whose "complete" count reaches N+1 (the seed and
// every leecher announce left=0; both clients send event=completed as soon
// as they finish). D is also reported by the scrape's "downloaded" count
// (event=completed announces) reaching N: measured_events_s and
// ratio_events, the same unless a client's completed announce carries a
// stale left > 0 (then its left=0 only reaches the tracker at its next
// regular announce, up to one interval later). The clock starts when the
// last leecher was started (measured_s; measured_from_first_s counts from
// the first). Leechers are started before the clock and released together:
// a swarm leecher is a shell that stops itself and, once sent SIGCONT, execs
// swarm get (so swarm's own start-up counts in D); a libtorrent leecher is
// told to add the torrent once its process has started, imported libtorrent
// and made its session (so Python's start-up is not counted against it). Every
// leecher's file is compared with the source (size and SHA-256) at the end of
// every run.
//
// Before the runs, a rate check (--rate-check) measures what a seed limited
// to u really sends on loopback, with a libtorrent leecher as the meter: for
// libtorrent with the limits applied to local peers, for libtorrent with its
// default local-peer exemption (to show why the setting matters), and for
// swarm.
//
// Output: one JSON line per rate check and per (client, N, run), then a
// table of medians: N, D_p2p, D_cs, the ratio of each client, and the
// ratio by completed events of the two multi-process clients. A run that
// fails (timeout, a process gone, different bytes) is printed with an
// "error" field and left out of the table; the program then exits 1. Every
// process is started by this program and killed by PID at the end of its
// run, on error and on interrupt.
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"swarm/bench/internal/content"
	"swarm/bench/internal/ltpy"
	"swarm/bench/internal/proc"
	"swarm/internal/humanize"
	"swarm/metainfo"
)

//go:embed lt_lab_peer.py
var ltScript []byte

const (
	clientSwarm = "swarm-procs"
	clientLT    = "libtorrent"
	clientLab   = "swarm-lab"
)

var allClients = []string{clientSwarm, clientLT, clientLab}

// result is one (client, N, run).
type result struct {
	Client string `json:"client"`
	Peers  int    `json:"peers"`
	Run    int    `json:"run"`
	Size   int64  `json:"size"`
	Upload int64  `json:"upload"`      // u, bytes/s per leecher
	SeedUp int64  `json:"seed_upload"` // u_s, bytes/s

	MeasuredS          float64 `json:"measured_s"`                      // D, from the last leecher started
	MeasuredFromFirstS float64 `json:"measured_from_first_s,omitempty"` // D from the first leecher started
	StartSpreadS       float64 `json:"start_spread_s,omitempty"`        // first to last start
	BoundS             float64 `json:"bound_s"`                         // D_p2p
	ClientServerS      float64 `json:"client_server_s"`                 // D_cs
	Ratio              float64 `json:"ratio"`                           // D / D_p2p
	// CompletionsS are the times (from the last start) at which the
	// scrape's complete count rose, one entry per leecher, to 100 ms.
	CompletionsS []float64 `json:"completions_s,omitempty"`
	// MaxIncomplete is the most leechers the scrape counted at once: N
	// when every leecher announced before the first finished.
	MaxIncomplete int `json:"max_incomplete,omitempty"`
	// CompleteFell counts scrapes whose complete count was lower than the
	// one before: a finished peer the tracker forgot (it did not announce
	// for two intervals). Should be 0.
	CompleteFell int `json:"complete_fell,omitempty"`
	// CompletedEvents is the scrape's "downloaded" count (event=completed
	// announces) at the scrape that ended D: N when every leecher sent
	// event=completed, rather than only left=0 at its next regular announce.
	CompletedEvents *int `json:"completed_events,omitempty"`
	// MeasuredEventsS is D by the other count of the scrape: until
	// "downloaded" (event=completed announces) reaches N, which does not
	// wait for a finished leecher's left=0 to reach the tracker if its
	// completed announce carried a stale left. RatioEvents is it over
	// D_p2p; EventsS the times at which downloaded rose.
	MeasuredEventsS float64   `json:"measured_events_s,omitempty"`
	RatioEvents     float64   `json:"ratio_events,omitempty"`
	EventsS         []float64 `json:"events_s,omitempty"`
	// Verified says every leecher's file matched the source (size and
	// SHA-256); absent for swarm-lab, which checks its leechers itself.
	Verified *bool `json:"verified,omitempty"`
	// swarm-lab only: what the lab reported itself.
	LabBoundS float64 `json:"lab_bound_s,omitempty"`
	LabRatio  float64 `json:"lab_ratio,omitempty"`

	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
}

// rateCheck is one measured rate-limited transfer.
type rateCheck struct {
	RateCheck   string  `json:"rate_check"`
	LimitBps    int64   `json:"limit_bps"`
	MeasuredBps float64 `json:"measured_bps"`
	Ratio       float64 `json:"measured_over_limit"`
	WindowS     float64 `json:"window_s"`
	Bytes       int64   `json:"bytes"`
	Note        string  `json:"note,omitempty"`
	Error       string  `json:"error,omitempty"`
}

type bench struct {
	peers     []int
	size      int64
	up, seed  int64
	runs      int
	clients   map[string]bool
	timeout   time.Duration
	dir       string
	python    string
	interval  time.Duration
	rateCheck bool
	superSeed bool // the seeds super-seed (BEP 16)

	work     string
	swarm    string
	script   string
	seedDir  string
	content  string
	torrent  string
	infoHash metainfo.Hash
	sum      [32]byte
	hasLab   bool

	procs proc.Group // every process started, killed at the end of its run
}

func main() {
	peersFlag := flag.String("peers", "4,8,16,32", "leecher counts N, comma-separated")
	size := flag.String("size", "16MiB", "file size F: bytes, or with KiB/MiB/GiB")
	upload := flag.String("upload", "1MiB", "upload rate u of every leecher, bytes/s (KiB/MiB suffixes)")
	seedUpload := flag.String("seed-upload", "10MiB", "upload rate u_s of the seed, bytes/s")
	runs := flag.Int("runs", 1, "runs per client and N (the table shows medians)")
	only := flag.String("only", "", "clients to run, comma-separated: swarm-procs, libtorrent, swarm-lab (default all)")
	swarmBin := flag.String("swarm", "", "swarm binary to measure (default: build swarm/cmd/swarm from this module)")
	timeout := flag.Duration("timeout", 5*time.Minute, "bound on every wait: set-up, one run's distribution, the lab")
	dir := flag.String("dir", "/dev/shm", "where to put content and downloads (RAM keeps the disk out of it)")
	python := flag.String("python", "/usr/bin/python3", "python with the libtorrent module")
	interval := flag.Duration("interval", time.Second, "announce interval the tracker gives (whole seconds, at least 1s)")
	superSeed := flag.Bool("super-seed", false, "every client's seed super-seeds (BEP 16): swarm seed --super-seed, libtorrent's super_seeding flag, swarm lab --super-seed")
	rc := flag.Bool("rate-check", true, "measure first what a seed limited to --upload really sends on loopback")
	flag.Parse()

	fail := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "bench/lab: "+format+"\n", a...)
		os.Exit(2)
	}
	b := &bench{runs: *runs, timeout: *timeout, dir: *dir, python: *python, interval: *interval, rateCheck: *rc, superSeed: *superSeed, swarm: *swarmBin}
	for _, s := range strings.Split(*peersFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fail("--peers: %q is not a positive count", s)
		}
		b.peers = append(b.peers, n)
	}
	var err error
	if b.size, err = humanize.ParseSize(*size); err != nil || b.size <= 0 {
		fail("--size %q: want a positive size", *size)
	}
	if b.up, err = humanize.ParseSize(*upload); err != nil || b.up <= 0 {
		fail("--upload %q: want a positive rate", *upload)
	}
	if b.seed, err = humanize.ParseSize(*seedUpload); err != nil || b.seed <= 0 {
		fail("--seed-upload %q: want a positive rate", *seedUpload)
	}
	if b.runs < 1 {
		fail("--runs: want at least 1")
	}
	if b.interval < time.Second || b.interval%time.Second != 0 {
		fail("--interval: whole seconds, at least 1s")
	}
	b.clients = map[string]bool{}
	if *only == "" {
		for _, c := range allClients {
			b.clients[c] = true
		}
	} else {
		for _, c := range strings.Split(*only, ",") {
			c = strings.TrimSpace(c)
			if !contains(allClients, c) {
				fail("--only: %q is not one of %s", c, strings.Join(allClients, ", "))
			}
			b.clients[c] = true
		}
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		b.procs.KillAll()
		if b.work != "" {
			os.RemoveAll(b.work)
		}
		os.Exit(130)
	}()
	err = b.run()
	b.procs.KillAll()
	if b.work != "" {
		os.RemoveAll(b.work)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/lab:", err)
		os.Exit(1)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// bounds returns D_p2p and D_cs for n leechers (d_min infinite).
func (b *bench) bounds(n int) (p2p, cs float64) {
	f, us, u, nf := float64(b.size), float64(b.seed), float64(b.up), float64(n)
	p2p = max(f/us, nf*f/(us+nf*u))
	cs = nf * f / us
	return p2p, cs
}

func (b *bench) run() error {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout) // bounds the set-up commands
	defer cancel()
	if b.clients[clientLT] {
		if err := ltpy.Check(ctx, b.python); err != nil {
			return err
		}
	}
	work, err := os.MkdirTemp(b.dir, "swarm-bench-lab-")
	if err != nil {
		return err
	}
	b.work = work
	// One torrent for every client, 256 KiB pieces, no tracker in it: each
	// client is told the run's tracker.
	c, err := content.Prepare(ctx, content.Config{Dir: work, Swarm: b.swarm, Size: b.size, Seed: 7})
	if err != nil {
		return err
	}
	b.swarm, b.seedDir, b.content, b.torrent, b.infoHash = c.Swarm, c.SeedDir, c.File, c.Torrent, c.Info.InfoHash
	if b.sum, err = fileSum(b.content); err != nil {
		return err
	}
	if b.script, err = ltpy.WriteScript(work, "lt_lab_peer.py", ltScript); err != nil {
		return err
	}
	if b.clients[clientLab] {
		// A swarm without the lab answers "unknown command" and exit 2.
		b.hasLab = exec.CommandContext(ctx, b.swarm, "lab", "--help").Run() == nil
		if !b.hasLab {
			fmt.Fprintln(os.Stderr, "bench/lab: this swarm has no 'swarm lab' command yet: swarm-lab skipped")
		}
	}

	enc := json.NewEncoder(os.Stdout)
	if b.rateCheck && (b.clients[clientLT] || b.clients[clientSwarm]) {
		var checks []func() rateCheck
		if b.clients[clientLT] {
			checks = append(checks, func() rateCheck { return b.checkRate("libtorrent seed, limits applied to local peers", "apply") },
				func() rateCheck {
					return b.checkRate("libtorrent seed, libtorrent's default (local peers exempt)", "exempt")
				})
		}
		if b.clients[clientSwarm] {
			checks = append(checks, func() rateCheck { return b.checkRate("swarm seed", "") })
		}
		for _, c := range checks {
			r := c()
			enc.Encode(r)
			if !strings.Contains(r.RateCheck, "exempt") && (r.Error != "" || r.Ratio < 0.9 || r.Ratio > 1.1) {
				fmt.Fprintf(os.Stderr, "bench/lab: warning: %s: measured %.0f B/s for a limit of %d B/s %s\n", r.RateCheck, r.MeasuredBps, r.LimitBps, r.Error)
			}
		}
	}

	var all []result
	failed := 0
	order := []string{}
	for _, c := range allClients {
		if b.clients[c] {
			order = append(order, c)
		}
	}
	k := 0
	for _, n := range b.peers {
		for run := 1; run <= b.runs; run++ {
			// Rotate the order so no client always runs first (or on a
			// warmer machine).
			for i := range order {
				c := order[(i+k)%len(order)]
				var r result
				switch c {
				case clientSwarm, clientLT:
					r = b.runProcs(c, n, run)
				case clientLab:
					r = b.runLab(n, run)
				}
				if r.Error != "" {
					failed++
				}
				all = append(all, r)
				enc.Encode(r)
			}
			k++
		}
	}
	b.table(os.Stdout, all)
	if failed > 0 {
		return fmt.Errorf("%d run(s) failed (see \"error\" above)", failed)
	}
	return nil
}
