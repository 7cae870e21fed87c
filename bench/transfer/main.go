// Command transfer measures a one-file loopback transfer between two swarm
// processes (swarm seed → swarm get) and between two libtorrent processes
// (python3-libtorrent, see lt_pair.py) on the same content and the same
// .torrent, in the same run: wall time, MB/s, CPU seconds and CPU per GiB of
// each side, and peak RSS of each side. It prints one JSON line per
// measurement and a summary line with the ratios swarm/libtorrent.
//
//	go run ./bench/transfer [--size 1GiB] [--dir /dev/shm] [--runs 1]
//
// Timing: the swarm getter is timed from process start to its exit 0 (it
// exits once every piece is verified and flushed); the libtorrent leecher
// from add_torrent until the torrent is seeding, as the leecher measures it
// itself (its whole-process wall time is reported too). Seeders are started
// first and must be ready (data checked, handshake answered) before the clock
// starts; their CPU is read from /proc/PID/stat around the transfer, so the
// initial check is not counted. Peak RSS is VmHWM (seeders, whole life) and
// ru_maxrss (getters); because libtorrent 2.0 maps the files it serves, its
// RSS includes file pages, so the sampled peak RssAnon is reported as well.
//
// A transfer that fails (getter timed out after --timeout, exited non-zero,
// or wrote different bytes) is printed with an "error" field and left out of
// the summary; the benchmark then exits 1. --swarm BIN measures a prebuilt
// binary (a patched copy, say) instead of building this module's.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
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

	"swarm/internal/randfile"
	"swarm/metainfo"
)

//go:embed lt_pair.py
var ltPair []byte

const gib = 1 << 30

// measurement is one transfer of one pair.
type measurement struct {
	Pair        string  `json:"pair"` // "swarm" or "libtorrent"
	Preset      string  `json:"lt_leecher_preset,omitempty"`
	Run         int     `json:"run"`
	Bytes       int64   `json:"bytes"`
	PieceLength int64   `json:"piece_length"`
	WallS       float64 `json:"wall_s"`         // timed window (see package doc)
	ProcessWall float64 `json:"process_wall_s"` // getter process start to exit
	MBPerS      float64 `json:"mb_per_s"`       // Bytes / WallS / 1e6

	SeedCPUS      float64 `json:"seed_cpu_s"`
	GetCPUS       float64 `json:"get_cpu_s"`
	SeedCPUPerGiB float64 `json:"seed_cpu_s_per_gib"`
	GetCPUPerGiB  float64 `json:"get_cpu_s_per_gib"`
	// CoresBusy is (seed + get CPU) / wall: near the machine's core count
	// means the transfer is CPU-bound.
	CoresBusy float64 `json:"cores_busy"`

	SeedPeakRSSKiB      int64   `json:"seed_peak_rss_kib"`          // VmHWM before the seeder is stopped
	SeedPeakRSSReadyKiB int64   `json:"seed_peak_rss_ready_kib"`    // VmHWM when it was ready (after its data check)
	GetPeakRSSKiB       int64   `json:"get_peak_rss_kib"`           // ru_maxrss of the getter
	SeedPeakRSSAnonKiB  int64   `json:"seed_peak_rss_anon_kib"`     // sampled max RssAnon during the transfer
	GetPeakRSSAnonKiB   int64   `json:"get_peak_rss_anon_kib"`      // sampled max RssAnon during the transfer
	GetCPUWindowS       float64 `json:"get_cpu_window_s,omitempty"` // libtorrent: CPU inside the timed window
	Verified            bool    `json:"verified"`
	// Error says why a transfer failed (getter timed out or exited non-zero,
	// or its output differs); the summary leaves such runs out.
	Error string `json:"error,omitempty"`
}

func main() {
	size := flag.String("size", "1GiB", "content size: bytes, or with KiB/MiB/GiB")
	dir := flag.String("dir", "/dev/shm", "where to put content and downloads (RAM keeps the disk out of it)")
	runs := flag.Int("runs", 1, "transfers per pair (the summary compares medians)")
	timeout := flag.Duration("timeout", 5*time.Minute, "bound on every wait: seeder ready, transfer, stop")
	python := flag.String("python", "/usr/bin/python3", "python with the libtorrent module")
	ltLeech := flag.String("lt-leecher-preset", "default", `libtorrent leecher settings: "default" or "high_performance_seed"`)
	only := flag.String("only", "", `run one pair only: "swarm" or "libtorrent" (no summary line)`)
	swarmBin := flag.String("swarm", "", "swarm binary to measure (default: build swarm/cmd/swarm from this module)")
	flag.Parse()
	n, err := parseSize(*size)
	if err != nil || n <= 0 {
		fmt.Fprintf(os.Stderr, "bench/transfer: --size %q: want a positive size\n", *size)
		os.Exit(2)
	}
	if *only != "" && *only != "swarm" && *only != "libtorrent" {
		fmt.Fprintln(os.Stderr, `bench/transfer: --only: want "swarm" or "libtorrent"`)
		os.Exit(2)
	}
	if *runs < 1 {
		fmt.Fprintln(os.Stderr, "bench/transfer: --runs: want at least 1")
		os.Exit(2)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		procs.killAll()
		os.Exit(130)
	}()
	b := &bench{size: n, dir: *dir, runs: *runs, timeout: *timeout, python: *python, swarm: *swarmBin, ltLeech: *ltLeech, only: *only}
	err = b.run()
	procs.killAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/transfer:", err)
		os.Exit(1)
	}
}

type bench struct {
	size    int64
	dir     string
	runs    int
	timeout time.Duration
	python  string
	ltLeech string // libtorrent leecher preset
	only    string // "", "swarm" or "libtorrent"

	work     string // temporary folder under dir
	swarm    string // binary under test (built unless --swarm gives one)
	script   string // lt_pair.py
	seedDir  string // holds the content
	content  string // the content file
	torrent  string
	infoHash [20]byte
	pieceLen int64
}

func (b *bench) run() error {
	if _, err := os.Stat(b.python); err != nil {
		return fmt.Errorf("%s: %v (install python3-libtorrent: scripts/install-deps.sh)", b.python, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout) // bounds the set-up commands
	defer cancel()
	if out, err := exec.CommandContext(ctx, b.python, "-c", "import libtorrent").CombinedOutput(); err != nil {
		return fmt.Errorf("%s has no libtorrent module: %v\n%s", b.python, err, out)
	}
	work, err := os.MkdirTemp(b.dir, "swarm-bench-transfer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	b.work = work
	if b.swarm == "" {
		b.swarm = filepath.Join(work, "swarm")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", b.swarm, "swarm/cmd/swarm").CombinedOutput(); err != nil {
			return fmt.Errorf("build swarm: %v\n%s", err, out)
		}
	} else if b.swarm, err = filepath.Abs(b.swarm); err != nil {
		return err
	}
	b.script = filepath.Join(work, "lt_pair.py")
	if err := os.WriteFile(b.script, ltPair, 0o755); err != nil {
		return err
	}
	b.seedDir = filepath.Join(work, "seed")
	if err := os.Mkdir(b.seedDir, 0o755); err != nil {
		return err
	}
	b.content = filepath.Join(b.seedDir, "content.bin")
	if err := randfile.WriteFile(b.content, b.size, 1); err != nil {
		return err
	}
	b.torrent = filepath.Join(work, "content.torrent")
	// One torrent, 256 KiB pieces, for both pairs.
	if out, err := exec.CommandContext(ctx, b.swarm, "create", b.content, "-o", b.torrent, "--piece-length", "256KiB", "--no-date").CombinedOutput(); err != nil {
		return fmt.Errorf("swarm create: %v\n%s", err, out)
	}
	m, err := metainfo.Load(b.torrent)
	if err != nil {
		return err
	}
	b.infoHash, b.pieceLen = m.InfoHash, m.Info.PieceLength

	var all []measurement
	failed := 0
	enc := json.NewEncoder(os.Stdout)
	for i := range b.runs {
		pairs := []func(int) (measurement, error){b.swarmPair, b.ltPair}
		switch b.only {
		case "swarm":
			pairs = pairs[:1]
		case "libtorrent":
			pairs = pairs[1:]
		}
		if i%2 == 1 && len(pairs) == 2 { // alternate, so neither pair always runs on a warmer machine
			pairs[0], pairs[1] = pairs[1], pairs[0]
		}
		for _, p := range pairs {
			r, err := p(i + 1)
			var f *failedRun
			if errors.As(err, &f) {
				r.Error = f.msg
				failed++
			} else if err != nil {
				return err
			}
			all = append(all, r)
			enc.Encode(r)
		}
	}
	if b.only == "" {
		enc.Encode(summarize(all, b.size))
	}
	if failed > 0 {
		return fmt.Errorf("%d transfer(s) failed (see \"error\" above)", failed)
	}
	return nil
}

// swarmPair runs swarm seed, waits for it, and times swarm get.
func (b *bench) swarmPair(run int) (measurement, error) {
	r := measurement{Pair: "swarm", Run: run, Bytes: b.size, PieceLength: b.pieceLen}
	addr, err := freeAddr()
	if err != nil {
		return r, err
	}
	seed := newProc(b.swarm, "seed", b.torrent, "--data", b.seedDir, "--listen", addr, "-q")
	if err := seed.start(); err != nil {
		return r, err
	}
	defer seed.stop(b.timeout)
	if err := b.waitHandshake(seed, addr); err != nil {
		return r, fmt.Errorf("swarm seed: %w", err)
	}
	return b.timeGetter(r, seed, func(out string) (*proc, error) {
		g := newProc(b.swarm, "get", b.torrent, "-o", out, "--peer", addr, "--listen", "127.0.0.1:0", "-q")
		return g, nil
	}, nil)
}

// ltPair runs the libtorrent seeder, waits for it, and times the leecher.
func (b *bench) ltPair(run int) (measurement, error) {
	r := measurement{Pair: "libtorrent", Preset: b.ltLeech, Run: run, Bytes: b.size, PieceLength: b.pieceLen}
	addr, err := freeAddr()
	if err != nil {
		return r, err
	}
	_, portStr, _ := net.SplitHostPort(addr)
	secs := strconv.Itoa(int(b.timeout.Seconds()))
	seed := newProc(b.python, b.script, "seed", "--torrent", b.torrent, "--data", b.seedDir, "--port", portStr, "--timeout", secs)
	stdin, err := seed.cmd.StdinPipe()
	if err != nil {
		return r, err
	}
	lines, err := seed.stdoutLines()
	if err != nil {
		return r, err
	}
	if err := seed.start(); err != nil {
		return r, err
	}
	defer seed.stop(b.timeout)
	select {
	case line, ok := <-lines:
		if !ok {
			return r, fmt.Errorf("libtorrent seeder exited before it was ready: %s", seed.stderrTail())
		}
		var ready struct {
			Ready bool
			Error string
		}
		if err := json.Unmarshal([]byte(line), &ready); err != nil || !ready.Ready {
			return r, fmt.Errorf("libtorrent seeder not ready: %s %s", line, seed.stderrTail())
		}
	case <-time.After(b.timeout):
		return r, fmt.Errorf("libtorrent seeder not ready after %v", b.timeout)
	}
	if err := b.waitHandshake(seed, addr); err != nil {
		return r, fmt.Errorf("libtorrent seeder: %w", err)
	}
	var leechOut bytes.Buffer
	return b.timeGetter(r, seed, func(out string) (*proc, error) {
		g := newProc(b.python, b.script, "leech", "--torrent", b.torrent, "--save", out, "--peer-port", portStr, "--timeout", secs, "--preset", b.ltLeech)
		g.cmd.Stdout = &leechOut
		return g, nil
	}, func(r *measurement) error {
		var res struct {
			WallS      float64 `json:"wall_s"`
			CPUWindowS float64 `json:"cpu_window_s"`
			IsSeeding  bool    `json:"is_seeding"`
			Error      string  `json:"error"`
		}
		last := strings.TrimSpace(leechOut.String())
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		if err := json.Unmarshal([]byte(last), &res); err != nil || !res.IsSeeding {
			return &failedRun{fmt.Sprintf("libtorrent leecher: %q %s", last, res.Error)}
		}
		r.WallS, r.GetCPUWindowS = res.WallS, res.CPUWindowS
		stdin.Close() // the seeder may finish now
		return nil
	})
}

// timeGetter starts the getter made by mk against a ready seeder, waits for
// it, and fills in r. fix, if set, adjusts r from the getter's own report.
func (b *bench) timeGetter(r measurement, seed *proc, mk func(out string) (*proc, error), fix func(*measurement) error) (measurement, error) {
	out := filepath.Join(b.work, "get-"+r.Pair)
	os.RemoveAll(out)
	if err := os.Mkdir(out, 0o755); err != nil {
		return r, err
	}
	defer os.RemoveAll(out)
	get, err := mk(out)
	if err != nil {
		return r, err
	}
	seedCPU0, err := procCPU(seed.pid())
	if err != nil {
		return r, err
	}
	hwmReady, _ := procStatusKiB(seed.pid(), "VmHWM")
	start := time.Now()
	if err := get.start(); err != nil {
		return r, err
	}
	sampler := sampleAnon(seed.pid(), get.pid())
	werr := get.wait(b.timeout)
	wall := time.Since(start).Seconds()
	seedAnon, getAnon := sampler()
	if werr != nil {
		get.kill() // then measure what it used, and report the failure
	}
	seedCPU1, err := procCPU(seed.pid())
	if err != nil {
		return r, fmt.Errorf("%s seeder gone during the transfer: %v", r.Pair, err)
	}
	hwm, _ := procStatusKiB(seed.pid(), "VmHWM")
	r.WallS, r.ProcessWall = wall, wall
	r.SeedCPUS = seedCPU1 - seedCPU0
	r.SeedPeakRSSKiB, r.SeedPeakRSSReadyKiB = hwm, hwmReady
	r.SeedPeakRSSAnonKiB, r.GetPeakRSSAnonKiB = seedAnon, getAnon
	if ps := get.cmd.ProcessState; ps != nil {
		r.GetCPUS = (ps.UserTime() + ps.SystemTime()).Seconds()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			r.GetPeakRSSKiB = ru.Maxrss
		}
	}
	gibs := float64(b.size) / gib
	r.SeedCPUPerGiB, r.GetCPUPerGiB = r.SeedCPUS/gibs, r.GetCPUS/gibs
	r.CoresBusy = (r.SeedCPUS + r.GetCPUS) / r.ProcessWall
	if werr != nil {
		tail := get.stderrTail()
		if len(tail) > 600 {
			tail = tail[len(tail)-600:]
		}
		return r, &failedRun{fmt.Sprintf("%s getter: %v; stderr tail: %s", r.Pair, werr, tail)}
	}
	if fix != nil {
		if err := fix(&r); err != nil {
			return r, err
		}
	}
	if r.WallS <= 0 {
		return r, &failedRun{"no wall time"}
	}
	r.MBPerS = float64(b.size) / r.WallS / 1e6
	same, err := sameContent(b.content, filepath.Join(out, filepath.Base(b.content)))
	if err != nil {
		return r, fmt.Errorf("%s: verify download: %v", r.Pair, err)
	}
	if !same {
		return r, &failedRun{"downloaded file differs from the content"}
	}
	r.Verified = true
	return r, nil
}

// failedRun is a transfer that ran but did not succeed: it is reported as a
// measurement with an error, and the benchmark goes on.
type failedRun struct{ msg string }

func (f *failedRun) Error() string { return f.msg }

// waitHandshake polls addr until a BitTorrent handshake for our info hash is
// answered: listening alone is not enough, as swarm listens before it has
// checked its data and added the torrent.
func (b *bench) waitHandshake(p *proc, addr string) error {
	deadline := time.Now().Add(b.timeout)
	var last error
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("exited before it was ready: %s", p.stderrTail())
		}
		if last = handshake(addr, b.infoHash); last == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no handshake on %s after %v: %v", addr, b.timeout, last)
}

func handshake(addr string, ih [20]byte) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	msg := append([]byte("\x13BitTorrent protocol"), make([]byte, 8)...)
	msg = append(msg, ih[:]...)
	id := []byte("-BENCH0-000000000000")
	rand.Read(id[8:])
	msg = append(msg, id...)
	if _, err := c.Write(msg); err != nil {
		return err
	}
	resp := make([]byte, 68)
	if _, err := io.ReadFull(c, resp); err != nil {
		return err
	}
	if !bytes.Equal(resp[28:48], ih[:]) {
		return errors.New("handshake for another info hash")
	}
	return nil
}

// summarize compares the medians of each pair.
func summarize(all []measurement, size int64) map[string]any {
	get := func(pair string, f func(measurement) float64) float64 {
		var v []float64
		for _, m := range all {
			if m.Pair == pair && m.Error == "" {
				v = append(v, f(m))
			}
		}
		return median(v)
	}
	s := map[string]any{"summary": "swarm seed→get vs libtorrent seed→leech, loopback (medians of successful runs)", "bytes": size}
	failed := map[string]int{"swarm": 0, "libtorrent": 0}
	for _, m := range all {
		if m.Error != "" {
			failed[m.Pair]++
		}
	}
	s["failed_swarm"], s["failed_libtorrent"] = failed["swarm"], failed["libtorrent"]
	type field struct {
		name string
		f    func(measurement) float64
	}
	fields := []field{
		{"mb_per_s", func(m measurement) float64 { return m.MBPerS }},
		{"seed_cpu_s_per_gib", func(m measurement) float64 { return m.SeedCPUPerGiB }},
		{"get_cpu_s_per_gib", func(m measurement) float64 { return m.GetCPUPerGiB }},
		{"seed_peak_rss_kib", func(m measurement) float64 { return float64(m.SeedPeakRSSKiB) }},
		{"get_peak_rss_kib", func(m measurement) float64 { return float64(m.GetPeakRSSKiB) }},
		{"seed_peak_rss_anon_kib", func(m measurement) float64 { return float64(m.SeedPeakRSSAnonKiB) }},
		{"get_peak_rss_anon_kib", func(m measurement) float64 { return float64(m.GetPeakRSSAnonKiB) }},
	}
	vals := map[string][2]float64{}
	for _, f := range fields {
		sw, lt := get("swarm", f.f), get("libtorrent", f.f)
		vals[f.name] = [2]float64{sw, lt}
		s["swarm_"+f.name] = round(sw)
		s["libtorrent_"+f.name] = round(lt)
		s["ratio_"+f.name] = round(sw / lt)
	}
	const mib = 1024
	s["target_throughput_ratio_ge_1"] = vals["mb_per_s"][0] >= vals["mb_per_s"][1]
	s["target_seed_cpu_le_libtorrent"] = vals["seed_cpu_s_per_gib"][0] <= vals["seed_cpu_s_per_gib"][1]
	s["target_get_cpu_le_libtorrent"] = vals["get_cpu_s_per_gib"][0] <= vals["get_cpu_s_per_gib"][1]
	s["target_swarm_rss_lt_100mib"] = vals["seed_peak_rss_kib"][0] < 100*mib && vals["get_peak_rss_kib"][0] < 100*mib
	return s
}

func round(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*1000) / 1000
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// --- processes ---------------------------------------------------------------

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
	defer r.mu.Unlock()
	for pid, p := range r.m {
		p.kill()
		delete(r.m, pid)
	}
}

type proc struct {
	cmd    *exec.Cmd
	stderr tailBuffer
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
	ch := make(chan string, 16)
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
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("still running after %v", timeout)
	}
}

// stop asks the process to end (SIGINT), then kills it if it has not
// within a few seconds.
func (p *proc) stop(timeout time.Duration) {
	if p.cmd.Process == nil || p.exited() {
		return
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
		return
	case <-time.After(min(timeout, 15*time.Second)):
	}
	p.kill()
}

func (p *proc) kill() {
	if p.cmd.Process == nil || p.exited() {
		return
	}
	p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
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

// --- /proc -------------------------------------------------------------------

// clkTck is USER_HZ, 100 on every Linux architecture Go runs on.
const clkTck = 100

// procCPU returns utime+stime of a running process, all threads, in seconds.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: fields count from after ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat times")
	}
	return float64(ut+st) / clkTck, nil
}

// procStatusKiB returns a "kB" field of /proc/PID/status.
func procStatusKiB(pid int, key string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", key, pid)
}

// sampleAnon samples RssAnon of both processes every 20 ms until the
// returned function is called, which gives the maxima.
func sampleAnon(seedPID, getPID int) func() (seed, get int64) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var ms, mg int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			s, _ := procStatusKiB(seedPID, "RssAnon")
			g, _ := procStatusKiB(getPID, "RssAnon")
			mu.Lock()
			ms, mg = max(ms, s), max(mg, g)
			mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() (int64, int64) {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return ms, mg
	}
}

// --- files -------------------------------------------------------------------

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func sameContent(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if ea == io.EOF || ea == io.ErrUnexpectedEOF {
			return eb == ea, nil
		}
		if ea != nil {
			return false, ea
		}
		if eb != nil {
			return false, eb
		}
	}
}

func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", gib}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", gib}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	return n * mult, nil
}
