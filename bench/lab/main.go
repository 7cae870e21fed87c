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
//	    [--swarm BIN] [--timeout 5m]
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
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/anacrolix/torrent/bencode"

	"swarm/internal/randfile"
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

	work     string
	swarm    string
	script   string
	seedDir  string
	content  string
	torrent  string
	infoHash metainfo.Hash
	sum      [32]byte
	hasLab   bool
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
	rc := flag.Bool("rate-check", true, "measure first what a seed limited to --upload really sends on loopback")
	flag.Parse()

	fail := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "bench/lab: "+format+"\n", a...)
		os.Exit(2)
	}
	b := &bench{runs: *runs, timeout: *timeout, dir: *dir, python: *python, interval: *interval, rateCheck: *rc, swarm: *swarmBin}
	for _, s := range strings.Split(*peersFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fail("--peers: %q is not a positive count", s)
		}
		b.peers = append(b.peers, n)
	}
	var err error
	if b.size, err = parseSize(*size); err != nil || b.size <= 0 {
		fail("--size %q: want a positive size", *size)
	}
	if b.up, err = parseSize(*upload); err != nil || b.up <= 0 {
		fail("--upload %q: want a positive rate", *upload)
	}
	if b.seed, err = parseSize(*seedUpload); err != nil || b.seed <= 0 {
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
		procs.killAll()
		if b.work != "" {
			os.RemoveAll(b.work)
		}
		os.Exit(130)
	}()
	err = b.run()
	procs.killAll()
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
		if out, err := exec.CommandContext(ctx, b.python, "-c", "import libtorrent").CombinedOutput(); err != nil {
			return fmt.Errorf("%s has no libtorrent module (scripts/install-deps.sh installs python3-libtorrent): %v\n%s", b.python, err, out)
		}
	}
	work, err := os.MkdirTemp(b.dir, "swarm-bench-lab-")
	if err != nil {
		return err
	}
	b.work = work
	if b.swarm == "" {
		b.swarm = filepath.Join(work, "swarm")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", b.swarm, "swarm/cmd/swarm").CombinedOutput(); err != nil {
			return fmt.Errorf("build swarm: %v\n%s", err, out)
		}
	} else if b.swarm, err = filepath.Abs(b.swarm); err != nil {
		return err
	}
	b.script = filepath.Join(work, "lt_lab_peer.py")
	if err := os.WriteFile(b.script, ltScript, 0o755); err != nil {
		return err
	}
	b.seedDir = filepath.Join(work, "seed")
	if err := os.Mkdir(b.seedDir, 0o755); err != nil {
		return err
	}
	b.content = filepath.Join(b.seedDir, "content.bin")
	if err := randfile.WriteFile(b.content, b.size, 7); err != nil {
		return err
	}
	if b.sum, err = fileSum(b.content); err != nil {
		return err
	}
	// One torrent for every client, 256 KiB pieces, no tracker in it: each
	// client is told the run's tracker.
	b.torrent = filepath.Join(work, "content.torrent")
	if out, err := exec.CommandContext(ctx, b.swarm, "create", b.content, "-o", b.torrent, "--piece-length", "256KiB", "--no-date").CombinedOutput(); err != nil {
		return fmt.Errorf("swarm create: %v\n%s", err, out)
	}
	m, err := metainfo.Load(b.torrent)
	if err != nil {
		return err
	}
	b.infoHash = m.InfoHash
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

// --- one run of separate processes -------------------------------------------

// cluster is the processes of one run.
type cluster struct {
	b       *bench
	client  string
	dir     string // the run's folder
	tracker *proc
	url     string // announce URL
	scrape  string // scrape URL with the info hash
	seed    *proc
	leech   []*proc
	stdins  []io.WriteCloser // libtorrent: kept open (and referenced) until the end, as EOF ends a peer

	all []*proc
}

func (c *cluster) stop() {
	for _, p := range c.all {
		p.kill()
	}
	for _, in := range c.stdins {
		in.Close()
	}
	c.stdins = nil
}

func (b *bench) runProcs(client string, n, run int) (r result) {
	r = result{Client: client, Peers: n, Run: run, Size: b.size, Upload: b.up, SeedUp: b.seed}
	r.BoundS, r.ClientServerS = b.bounds(n)
	r.BoundS, r.ClientServerS = round(r.BoundS), round(r.ClientServerS)
	dir, err := os.MkdirTemp(b.work, client+"-")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer os.RemoveAll(dir)
	c := &cluster{b: b, client: client, dir: dir}
	defer c.stop()
	if err := c.startTracker(); err != nil {
		r.Error = err.Error()
		return r
	}
	if err := c.startSeed(); err != nil {
		r.Error = err.Error()
		return r
	}
	first, last, err := c.startLeechers(n)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	cp, err := c.waitComplete(n, last)
	r.CompleteFell = cp.fell
	r.MaxIncomplete = cp.maxIncomplete
	if err != nil {
		r.Error = err.Error()
		c.stop()
		return r
	}
	r.MeasuredS = round(cp.done.Sub(last).Seconds())
	r.MeasuredFromFirstS = round(cp.done.Sub(first).Seconds())
	r.StartSpreadS = round(last.Sub(first).Seconds())
	r.Ratio = round(r.MeasuredS / r.BoundS)
	r.CompletionsS = cp.rises
	r.CompletedEvents = &cp.downloaded
	if !cp.events.IsZero() {
		r.MeasuredEventsS = round(cp.events.Sub(last).Seconds())
		r.RatioEvents = round(r.MeasuredEventsS / r.BoundS)
		r.EventsS = cp.eventRises
	}
	// Stop everything (frees the CPU), then compare the files: what the
	// clients wrote is in the page cache whether or not they flushed.
	c.stop()
	verified := false
	r.Verified = &verified
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("leech-%d", i), filepath.Base(b.content))
		if err := b.sameAsContent(p); err != nil {
			r.Error = fmt.Sprintf("leecher %d: %v", i, err)
			return r
		}
	}
	verified = true
	return r
}

func (c *cluster) startTracker() error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	c.url = "http://" + addr + "/announce"
	c.scrape = "http://" + addr + "/scrape?info_hash=" + url.QueryEscape(string(c.b.infoHash[:]))
	c.tracker = newProc(c.b.swarm, "tracker", "--listen", addr, "--interval", c.b.interval.String(), "--log-level", "warn", "--log-format", "json")
	if err := c.start(c.tracker); err != nil {
		return err
	}
	deadline := time.Now().Add(min(c.b.timeout, 30*time.Second))
	for {
		if _, _, _, err := c.scrapeCounts(); err == nil {
			return nil
		} else if c.tracker.exited() || time.Now().After(deadline) {
			return fmt.Errorf("tracker on %s not answering scrapes: %v %s", addr, err, c.tracker.stderrTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *cluster) start(p *proc) error {
	if err := p.start(); err != nil {
		return err
	}
	c.all = append(c.all, p)
	return nil
}

// startSeed starts the seed limited to u_s and waits until the tracker
// counts it as complete.
func (c *cluster) startSeed() error {
	b := c.b
	rate := strconv.FormatInt(b.seed, 10)
	switch c.client {
	case clientSwarm:
		c.seed = newProc(b.swarm, "seed", b.torrent, "--data", b.seedDir, "--up-rate", rate, "-t", c.url, "--listen", "127.0.0.1:0", "-q")
		if err := c.start(c.seed); err != nil {
			return err
		}
	case clientLT:
		p, in, err := c.startLT(b.seedDir, rate, "--seed")
		if err != nil {
			return fmt.Errorf("libtorrent seed: %w", err)
		}
		c.seed = p
		if err := ltReady(p, b.timeout); err != nil {
			return fmt.Errorf("libtorrent seed: %w", err)
		}
		if _, err := io.WriteString(in, "go\n"); err != nil {
			return fmt.Errorf("libtorrent seed: %w", err)
		}
	}
	deadline := time.Now().Add(b.timeout)
	for {
		complete, _, _, err := c.scrapeCounts()
		if err == nil && complete >= 1 {
			return nil
		}
		if c.seed.exited() {
			return fmt.Errorf("%s seed exited: %s", c.client, c.seed.stderrTail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s seed not counted complete by the tracker after %v (complete=%d, err=%v)", c.client, b.timeout, complete, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startLT starts lt_lab_peer.py with its stdin kept open (closing it ends
// the peer), its stdout piped for the ready line.
func (c *cluster) startLT(dir, rate string, extra ...string) (*proc, io.WriteCloser, error) {
	b := c.b
	args := []string{b.script, "--torrent", b.torrent, "--dir", dir, "--tracker", c.url, "--upload-rate", rate,
		"--timeout", strconv.Itoa(int(b.timeout.Seconds()) + 60)}
	p := newProc(b.python, append(args, extra...)...)
	in, err := p.cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	if p.lines, err = p.stdoutLines(); err != nil {
		return nil, nil, err
	}
	if err := c.start(p); err != nil {
		in.Close()
		return nil, nil, err
	}
	c.stdins = append(c.stdins, in)
	return p, in, nil
}

// ltReady waits for lt_lab_peer.py's {"ready": true} line.
func ltReady(p *proc, timeout time.Duration) error {
	select {
	case line, ok := <-p.lines:
		if !ok {
			return fmt.Errorf("exited before it was ready: %s", p.stderrTail())
		}
		var ready struct {
			Ready bool
			Error string
		}
		if err := json.Unmarshal([]byte(line), &ready); err != nil || !ready.Ready {
			return fmt.Errorf("not ready: %s %s", line, p.stderrTail())
		}
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("not ready after %v", timeout)
	}
}

// startLeechers starts n leechers as close together as it can and returns
// when the first and the last were started.
func (c *cluster) startLeechers(n int) (first, last time.Time, err error) {
	b := c.b
	rate := strconv.FormatInt(b.up, 10)
	dirs := make([]string, n)
	for i := range n {
		dirs[i] = filepath.Join(c.dir, fmt.Sprintf("leech-%d", i))
		if err := os.Mkdir(dirs[i], 0o755); err != nil {
			return first, last, err
		}
	}
	switch c.client {
	case clientSwarm:
		// Forking 32 processes while the first ones already download
		// takes a second on 2 cores. So each starts as a shell that stops
		// itself (SIGSTOP) and, once continued, execs swarm get in its
		// place (same PID); the clock starts with the SIGCONTs. swarm's
		// own start-up (exec, runtime, torrent, files) stays inside D.
		for i := range n {
			p := newProc("/bin/sh", "-c", `kill -STOP $$ && exec "$0" "$@"`,
				b.swarm, "get", b.torrent, "-o", dirs[i], "--seed", "--up-rate", rate, "-t", c.url, "--listen", "127.0.0.1:0", "-q")
			if err := c.start(p); err != nil {
				return first, last, err
			}
			c.leech = append(c.leech, p)
		}
		deadline := time.Now().Add(min(b.timeout, 30*time.Second))
		for i, p := range c.leech {
			for procState(p.pid()) != 'T' {
				if p.exited() || time.Now().After(deadline) {
					return first, last, fmt.Errorf("swarm leecher %d: its shell did not stop itself (%v): %s", i, p.err, lastLine(p.stderrTail()))
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		first = time.Now()
		for i, p := range c.leech {
			if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
				return first, last, fmt.Errorf("swarm leecher %d: SIGCONT: %w", i, err)
			}
		}
		last = time.Now()
	case clientLT:
		ins := make([]io.WriteCloser, n)
		for i := range n {
			p, in, err := c.startLT(dirs[i], rate)
			if err != nil {
				return first, last, fmt.Errorf("libtorrent leecher %d: %w", i, err)
			}
			c.leech = append(c.leech, p)
			ins[i] = in
		}
		for i, p := range c.leech {
			if err := ltReady(p, b.timeout); err != nil {
				return first, last, fmt.Errorf("libtorrent leecher %d: %w", i, err)
			}
		}
		first = time.Now()
		for i, in := range ins {
			if _, err := io.WriteString(in, "go\n"); err != nil {
				return first, last, fmt.Errorf("libtorrent leecher %d: %w", i, err)
			}
		}
		last = time.Now()
	}
	return first, last, nil
}

// completion is what the scrapes of one run saw.
type completion struct {
	done   time.Time // first scrape with complete >= N+1
	events time.Time // first scrape with downloaded >= N (zero if never)
	// rises are the times (from the last start) at which complete rose,
	// one per leecher; eventRises the same for downloaded.
	rises, eventRises []float64
	maxIncomplete     int
	fell              int // scrapes whose complete count was below the one before
	downloaded        int // downloaded at done
}

// eventGrace bounds how long waitComplete keeps scraping for the completed
// events once complete has reached N+1 (a client that announces left=0
// without event=completed would never send them).
const eventGrace = 3 * time.Second

// waitComplete scrapes every 100 ms until the complete count reaches n+1
// (the seed and n leechers) and the downloaded count (event=completed
// announces) reaches n, or eventGrace after the first if the second lags.
func (c *cluster) waitComplete(n int, since time.Time) (cp completion, err error) {
	deadline := since.Add(c.b.timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	seenC, seenD := 1, 0 // the seed is complete and sends no completed event
	prev := 1
	for {
		complete, incomplete, downloaded, err := c.scrapeCounts()
		now := time.Now()
		if err == nil {
			cp.maxIncomplete = max(cp.maxIncomplete, incomplete)
			if complete < prev {
				cp.fell++
			}
			prev = complete
			at := round(now.Sub(since).Seconds())
			for ; seenC < complete && seenC <= n; seenC++ {
				cp.rises = append(cp.rises, at)
			}
			for ; seenD < downloaded && seenD < n; seenD++ {
				cp.eventRises = append(cp.eventRises, at)
			}
			if complete >= n+1 && cp.done.IsZero() {
				cp.done, cp.downloaded = now, downloaded
			}
			if downloaded >= n && cp.events.IsZero() {
				cp.events = now
			}
			if !cp.done.IsZero() && (!cp.events.IsZero() || now.Sub(cp.done) > eventGrace) {
				return cp, nil
			}
		}
		for i, p := range c.leech {
			if p.exited() {
				return cp, fmt.Errorf("%s leecher %d exited (%v): %s", c.client, i, p.err, lastLine(p.stderrTail()))
			}
		}
		if c.seed.exited() {
			return cp, fmt.Errorf("%s seed exited (%v): %s", c.client, c.seed.err, lastLine(c.seed.stderrTail()))
		}
		if c.tracker.exited() {
			return cp, fmt.Errorf("tracker exited: %s", lastLine(c.tracker.stderrTail()))
		}
		if now.After(deadline) {
			return cp, fmt.Errorf("%s: complete=%d incomplete=%d downloaded=%d (want complete=%d) after %v (scrape error: %v)",
				c.client, complete, incomplete, downloaded, n+1, c.b.timeout, err)
		}
		<-tick.C
	}
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

// scrapeCounts asks the tracker for our torrent's complete and incomplete
// counts (BEP 48).
func (c *cluster) scrapeCounts() (complete, incomplete, downloaded int, err error) {
	resp, err := httpClient.Get(c.scrape)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return 0, 0, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, 0, fmt.Errorf("scrape: %s: %q", resp.Status, body)
	}
	var s struct {
		Files map[string]struct {
			Complete   int `bencode:"complete"`
			Incomplete int `bencode:"incomplete"`
			Downloaded int `bencode:"downloaded"`
		} `bencode:"files"`
	}
	if err := bencode.Unmarshal(body, &s); err != nil {
		return 0, 0, 0, fmt.Errorf("scrape: %v", err)
	}
	f, ok := s.Files[string(c.b.infoHash[:])]
	if !ok {
		return 0, 0, 0, errors.New("scrape: our torrent is not in the reply")
	}
	return f.Complete, f.Incomplete, f.Downloaded, nil
}

// --- swarm lab ----------------------------------------------------------------

func (b *bench) runLab(n, run int) (r result) {
	r = result{Client: clientLab, Peers: n, Run: run, Size: b.size, Upload: b.up, SeedUp: b.seed}
	r.BoundS, r.ClientServerS = b.bounds(n)
	r.BoundS, r.ClientServerS = round(r.BoundS), round(r.ClientServerS)
	if !b.hasLab {
		r.Skipped = "this swarm has no 'swarm lab' command"
		return r
	}
	p := newProc(b.swarm, "lab", "--peers", strconv.Itoa(n), "--size", strconv.FormatInt(b.size, 10),
		"--upload", strconv.FormatInt(b.up, 10), "--seed-upload", strconv.FormatInt(b.seed, 10), "--json")
	var out bytes.Buffer
	p.cmd.Stdout = &out
	p.cmd.Dir = b.work
	if err := p.start(); err != nil {
		r.Error = err.Error()
		return r
	}
	defer p.kill()
	if err := p.wait(b.timeout); err != nil {
		r.Error = fmt.Sprintf("swarm lab: %v: %s", err, lastLine(p.stderrTail()))
		return r
	}
	var got *struct {
		Peers         int     `json:"peers"`
		Size          int64   `json:"size"`
		MeasuredS     float64 `json:"measured_s"`
		BoundS        float64 `json:"bound_s"`
		Ratio         float64 `json:"ratio"`
		ClientServerS float64 `json:"client_server_s"`
	}
	for _, line := range strings.Split(out.String(), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var l struct {
			Peers         int     `json:"peers"`
			Size          int64   `json:"size"`
			MeasuredS     float64 `json:"measured_s"`
			BoundS        float64 `json:"bound_s"`
			Ratio         float64 `json:"ratio"`
			ClientServerS float64 `json:"client_server_s"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Peers == n && l.MeasuredS > 0 {
			got = &l
		}
	}
	if got == nil {
		r.Error = fmt.Sprintf("swarm lab printed no JSON line for %d peers: %q", n, lastLine(out.String()))
		return r
	}
	if got.Size != 0 && got.Size != b.size {
		r.Error = fmt.Sprintf("swarm lab measured %d bytes, not %d", got.Size, b.size)
	}
	r.MeasuredS = round(got.MeasuredS)
	r.Ratio = round(got.MeasuredS / r.BoundS) // against the bench's bound, like the others
	r.LabBoundS, r.LabRatio = round(got.BoundS), round(got.Ratio)
	return r
}

// --- rate check ----------------------------------------------------------------

// checkRate runs a tracker, a seed limited to u (libtorrent with local
// limits mode ltMode, or swarm when ltMode is "") and one unlimited
// libtorrent leecher that reports what it has downloaded every second, and
// returns the download rate between its first report with data and its last
// before completion (or 10 s).
func (b *bench) checkRate(name, ltMode string) (rc rateCheck) {
	rc = rateCheck{RateCheck: name, LimitBps: b.up}
	dir, err := os.MkdirTemp(b.work, "ratecheck-")
	if err != nil {
		rc.Error = err.Error()
		return rc
	}
	defer os.RemoveAll(dir)
	client := clientSwarm
	if ltMode != "" {
		client = clientLT
	}
	c := &cluster{b: b, client: client, dir: dir}
	defer c.stop()
	if err := c.startTracker(); err != nil {
		rc.Error = err.Error()
		return rc
	}
	rate := strconv.FormatInt(b.up, 10)
	switch client {
	case clientSwarm:
		c.seed = newProc(b.swarm, "seed", b.torrent, "--data", b.seedDir, "--up-rate", rate, "-t", c.url, "--listen", "127.0.0.1:0", "-q")
		if err := c.start(c.seed); err != nil {
			rc.Error = err.Error()
			return rc
		}
	case clientLT:
		var in io.WriteCloser
		c.seed, in, err = c.startLT(b.seedDir, rate, "--seed", "--local-limits", ltMode)
		if err == nil {
			err = ltReady(c.seed, b.timeout)
		}
		if err == nil {
			_, err = io.WriteString(in, "go\n")
		}
		if err != nil {
			rc.Error = "libtorrent seed: " + err.Error()
			return rc
		}
	}
	deadline := time.Now().Add(b.timeout)
	for {
		complete, _, _, err := c.scrapeCounts()
		if err == nil && complete >= 1 {
			break
		}
		if c.seed.exited() || time.Now().After(deadline) {
			rc.Error = fmt.Sprintf("seed not complete on the tracker: %v %s", err, lastLine(c.seed.stderrTail()))
			return rc
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The meter: an unlimited libtorrent leecher with --stats.
	m, in, err := c.startLT(filepath.Join(dir, "meter"), "0", "--stats")
	if err == nil {
		err = ltReady(m, b.timeout)
	}
	if err == nil {
		_, err = io.WriteString(in, "go\n")
	}
	if err != nil {
		rc.Error = "libtorrent meter: " + err.Error()
		return rc
	}
	type sample struct {
		T       float64 `json:"t"`
		Down    int64   `json:"down"`
		Seeding bool    `json:"seeding"`
	}
	var firstS, lastS *sample
	stop := time.After(min(b.timeout, 60*time.Second))
loop:
	for {
		select {
		case line, ok := <-m.lines:
			if !ok {
				rc.Error = "libtorrent meter exited: " + lastLine(m.stderrTail())
				return rc
			}
			var s sample
			if json.Unmarshal([]byte(line), &s) != nil {
				continue
			}
			if s.Down > 0 && firstS == nil {
				firstS = &s
				continue
			}
			if firstS != nil {
				if s.Seeding {
					break loop // the last sample may hold an idle part
				}
				lastS = &s
				if s.T-firstS.T >= 8 {
					break loop
				}
			}
		case <-stop:
			break loop
		}
	}
	if firstS == nil {
		rc.Error = "the meter received nothing"
		return rc
	}
	if lastS == nil {
		// Done within a second of the first data: unlimited, or nearly.
		rc.Note = fmt.Sprintf("the whole file (%d bytes) arrived within a second: the limit is not applied; measured_bps is a lower bound", b.size)
		rc.MeasuredBps = float64(b.size)
		rc.Ratio = round(rc.MeasuredBps / float64(b.up))
		return rc
	}
	rc.WindowS = round(lastS.T - firstS.T)
	rc.Bytes = lastS.Down - firstS.Down
	rc.MeasuredBps = math.Round(float64(rc.Bytes) / (lastS.T - firstS.T))
	rc.Ratio = round(rc.MeasuredBps / float64(b.up))
	return rc
}

// --- table -------------------------------------------------------------------

func (b *bench) table(w io.Writer, all []result) {
	med := func(client string, n int, f func(result) float64) string {
		var v []float64
		for _, r := range all {
			if r.Client == client && r.Peers == n && r.Error == "" && r.Skipped == "" && f(r) > 0 {
				v = append(v, f(r))
			}
		}
		if len(v) == 0 {
			switch {
			case !b.clients[client]:
				return "—"
			case client == clientLab && !b.hasLab:
				return "skipped"
			}
			return "failed"
		}
		return fmt.Sprintf("%.2f", median(v))
	}
	ratio := func(r result) float64 { return r.Ratio }
	events := func(r result) float64 { return r.RatioEvents }
	fmt.Fprintf(w, "\nDistribution time, F = %s, u = %s/s, u_s = %s/s, 256 KiB pieces; ratio = D / D_p2p (median of %d run(s)).\n",
		human(b.size), human(b.up), human(b.seed), b.runs)
	fmt.Fprintln(w, "D ends when the scrape counts N+1 complete; the (events) columns end it when it counts N completed events instead.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "|  N | D_p2p (s) | D_cs (s) | swarm-procs | libtorrent | swarm-lab | swarm-procs (events) | libtorrent (events) |")
	fmt.Fprintln(w, "|---:|----------:|---------:|------------:|-----------:|----------:|---------------------:|--------------------:|")
	for _, n := range b.peers {
		p2p, cs := b.bounds(n)
		fmt.Fprintf(w, "| %2d | %9.2f | %8.2f | %11s | %10s | %9s | %20s | %19s |\n", n, p2p, cs,
			med(clientSwarm, n, ratio), med(clientLT, n, ratio), med(clientLab, n, ratio),
			med(clientSwarm, n, events), med(clientLT, n, events))
	}
}

func human(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func round(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*1000) / 1000
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// --- files -------------------------------------------------------------------

func fileSum(path string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// sameAsContent checks size and SHA-256 of path against the source.
func (b *bench) sameAsContent(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Size() != b.size {
		return fmt.Errorf("%d bytes, want %d", st.Size(), b.size)
	}
	sum, err := fileSum(path)
	if err != nil {
		return err
	}
	if sum != b.sum {
		return errors.New("SHA-256 differs from the source")
	}
	return nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, err
	}
	return n * mult, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 400 {
		s = s[:400]
	}
	return s
}

// --- processes ---------------------------------------------------------------

// procState returns the state letter of /proc/PID/stat ('T' when stopped),
// 0 if it cannot be read.
func procState(pid int) byte {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: the state follows ") ".
	i := bytes.LastIndexByte(st, ')')
	if i < 0 || i+2 >= len(st) {
		return 0
	}
	return st[i+2]
}

// registry holds every process this program started, to kill by PID on
// error or interrupt.
type registry struct {
	mu sync.Mutex
	m  map[int]*proc
}

var procs = &registry{m: map[int]*proc{}}

func (r *registry) add(p *proc) {
	r.mu.Lock()
	r.m[p.pid()] = p
	r.mu.Unlock()
}

func (r *registry) remove(p *proc) {
	r.mu.Lock()
	delete(r.m, p.pid())
	r.mu.Unlock()
}

func (r *registry) killAll() {
	r.mu.Lock()
	ps := make([]*proc, 0, len(r.m))
	for _, p := range r.m {
		ps = append(ps, p)
	}
	r.mu.Unlock()
	for _, p := range ps {
		p.kill()
	}
}

type proc struct {
	cmd    *exec.Cmd
	stderr tailBuffer
	lines  <-chan string // stdout lines, when asked for
	done   chan struct{} // closed when Wait returns
	err    error         // Wait's result
}

func newProc(name string, args ...string) *proc {
	p := &proc{cmd: exec.Command(name, args...), done: make(chan struct{})}
	p.cmd.Stderr = &p.stderr
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) start() error {
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.cmd.Path, err)
	}
	procs.add(p)
	go func() {
		p.err = p.cmd.Wait()
		procs.remove(p)
		close(p.done)
	}()
	return nil
}

// stdoutLines returns the process's stdout lines; call before start.
func (p *proc) stdoutLines() (<-chan string, error) {
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	ch := make(chan string, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case ch <- sc.Text():
			default: // nobody listens any more
			}
		}
	}()
	return ch, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to exit, up to timeout; an exit status other
// than 0 is an error.
func (p *proc) wait(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.err
	case <-t.C:
		return fmt.Errorf("still running after %v", timeout)
	}
}

// kill kills the process by its PID (SIGKILL) and waits, a bounded time,
// for it to be reaped.
func (p *proc) kill() {
	if p.cmd.Process == nil || p.exited() {
		return
	}
	p.cmd.Process.Kill()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
	}
}

func (p *proc) stderrTail() string { return p.stderr.String() }

// tailBuffer keeps the last 4 KiB written to it.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = append(t.b[:0], t.b[len(t.b)-4096:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
