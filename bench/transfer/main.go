// Command transfer measures a one-file loopback transfer between two swarm
// processes (swarm seed → swarm get) and between two libtorrent processes
// (python3-libtorrent, see lt_pair.py) on the same content and the same
// .torrent, in the same run: wall time, MB/s, CPU seconds and CPU per GiB of
// each side, and peak RSS of each side. It prints one JSON line per
// measurement and a summary line with the ratios swarm/libtorrent.
//
//	go run ./bench/transfer [--size 1GiB] [--dir /dev/shm] [--runs 1] [--encrypt]
//
// --encrypt runs both pairs with MSE/PE encryption required and RC4 only:
// swarm with --encryption require, libtorrent with out_enc_policy and
// in_enc_policy forced and allowed_enc_level rc4.
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
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"swarm/bench/internal/content"
	"swarm/bench/internal/ltpy"
	"swarm/bench/internal/probe"
	"swarm/bench/internal/proc"
	"swarm/internal/humanize"
)

//go:embed lt_pair.py
var ltPair []byte

const gib = 1 << 30

// measurement is one transfer of one pair.
type measurement struct {
	Pair        string  `json:"pair"`      // "swarm" or "libtorrent"
	Encrypted   bool    `json:"encrypted"` // MSE/PE with RC4 required on both sides
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
	encrypt := flag.Bool("encrypt", false, "require MSE/PE encryption (RC4) on both sides of both pairs")
	flag.Parse()
	n, err := humanize.ParseSize(*size)
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
	b := &bench{size: n, dir: *dir, runs: *runs, timeout: *timeout, python: *python, swarm: *swarmBin, ltLeech: *ltLeech, only: *only, encrypt: *encrypt}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		b.procs.KillAll()
		os.Exit(130)
	}()
	err = b.run()
	b.procs.KillAll()
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
	ltLeech string     // libtorrent leecher preset
	only    string     // "", "swarm" or "libtorrent"
	encrypt bool       // MSE/PE with RC4 required on both sides
	procs   proc.Group // every process started, killed at the end

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
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout) // bounds the set-up commands
	defer cancel()
	if err := ltpy.Check(ctx, b.python); err != nil {
		return err
	}
	work, err := os.MkdirTemp(b.dir, "swarm-bench-transfer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	b.work = work
	// One torrent, 256 KiB pieces, for both pairs.
	c, err := content.Prepare(ctx, content.Config{Dir: work, Swarm: b.swarm, Size: b.size, Seed: 1})
	if err != nil {
		return err
	}
	b.swarm, b.seedDir, b.content, b.torrent = c.Swarm, c.SeedDir, c.File, c.Torrent
	b.infoHash, b.pieceLen = c.Info.InfoHash, c.Info.Info.PieceLength
	if b.script, err = ltpy.WriteScript(work, "lt_pair.py", ltPair); err != nil {
		return err
	}

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
		s := summarize(all, b.size)
		s["encrypted"] = b.encrypt
		enc.Encode(s)
	}
	if failed > 0 {
		return fmt.Errorf("%d transfer(s) failed (see \"error\" above)", failed)
	}
	return nil
}

// swarmPair runs swarm seed, waits for it, and times swarm get.
func (b *bench) swarmPair(run int) (measurement, error) {
	r := measurement{Pair: "swarm", Encrypted: b.encrypt, Run: run, Bytes: b.size, PieceLength: b.pieceLen}
	addr, err := proc.FreeAddr()
	if err != nil {
		return r, err
	}
	var encArgs []string
	if b.encrypt {
		encArgs = []string{"--encryption", "require"}
	}
	seed := b.procs.Command(b.swarm, append([]string{"seed", b.torrent, "--data", b.seedDir, "--listen", addr, "-q"}, encArgs...)...)
	if err := seed.Start(); err != nil {
		return r, err
	}
	defer seed.Stop(b.timeout)
	if err := b.waitHandshake(seed, addr); err != nil {
		return r, fmt.Errorf("swarm seed: %w", err)
	}
	return b.timeGetter(r, seed, func(out string) (*proc.Proc, error) {
		g := b.procs.Command(b.swarm, append([]string{"get", b.torrent, "-o", out, "--peer", addr, "--listen", "127.0.0.1:0", "-q"}, encArgs...)...)
		return g, nil
	}, nil)
}

// ltPair runs the libtorrent seeder, waits for it, and times the leecher.
func (b *bench) ltPair(run int) (measurement, error) {
	r := measurement{Pair: "libtorrent", Encrypted: b.encrypt, Preset: b.ltLeech, Run: run, Bytes: b.size, PieceLength: b.pieceLen}
	addr, err := proc.FreeAddr()
	if err != nil {
		return r, err
	}
	_, portStr, _ := net.SplitHostPort(addr)
	secs := strconv.Itoa(int(b.timeout.Seconds()))
	var encArgs []string
	if b.encrypt {
		encArgs = []string{"--encrypt"}
	}
	seed := b.procs.Command(b.python, append([]string{b.script, "seed", "--torrent", b.torrent, "--data", b.seedDir, "--port", portStr, "--timeout", secs}, encArgs...)...)
	stdin, err := seed.Cmd.StdinPipe()
	if err != nil {
		return r, err
	}
	lines, err := seed.StdoutLines()
	if err != nil {
		return r, err
	}
	if err := seed.Start(); err != nil {
		return r, err
	}
	defer seed.Stop(b.timeout)
	if err := ltpy.WaitReady(seed, lines, b.timeout); err != nil {
		return r, fmt.Errorf("libtorrent seeder: %w", err)
	}
	if err := b.waitHandshake(seed, addr); err != nil {
		return r, fmt.Errorf("libtorrent seeder: %w", err)
	}
	var leechOut bytes.Buffer
	return b.timeGetter(r, seed, func(out string) (*proc.Proc, error) {
		g := b.procs.Command(b.python, append([]string{b.script, "leech", "--torrent", b.torrent, "--save", out, "--peer-port", portStr, "--timeout", secs, "--preset", b.ltLeech}, encArgs...)...)
		g.Cmd.Stdout = &leechOut
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
func (b *bench) timeGetter(r measurement, seed *proc.Proc, mk func(out string) (*proc.Proc, error), fix func(*measurement) error) (measurement, error) {
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
	seedCPU0, err := proc.CPUSeconds(seed.PID())
	if err != nil {
		return r, err
	}
	hwmReady, _ := proc.StatusKiB(seed.PID(), "VmHWM")
	start := time.Now()
	if err := get.Start(); err != nil {
		return r, err
	}
	sampler := sampleAnon(seed.PID(), get.PID())
	werr := get.Wait(b.timeout)
	wall := time.Since(start).Seconds()
	seedAnon, getAnon := sampler()
	if werr != nil {
		get.Kill() // then measure what it used, and report the failure
	}
	seedCPU1, err := proc.CPUSeconds(seed.PID())
	if err != nil {
		return r, fmt.Errorf("%s seeder gone during the transfer: %v", r.Pair, err)
	}
	hwm, _ := proc.StatusKiB(seed.PID(), "VmHWM")
	r.WallS, r.ProcessWall = wall, wall
	r.SeedCPUS = seedCPU1 - seedCPU0
	r.SeedPeakRSSKiB, r.SeedPeakRSSReadyKiB = hwm, hwmReady
	r.SeedPeakRSSAnonKiB, r.GetPeakRSSAnonKiB = seedAnon, getAnon
	if ps := get.Cmd.ProcessState; ps != nil {
		r.GetCPUS = (ps.UserTime() + ps.SystemTime()).Seconds()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			r.GetPeakRSSKiB = ru.Maxrss
		}
	}
	gibs := float64(b.size) / gib
	r.SeedCPUPerGiB, r.GetCPUPerGiB = r.SeedCPUS/gibs, r.GetCPUS/gibs
	r.CoresBusy = (r.SeedCPUS + r.GetCPUS) / r.ProcessWall
	if werr != nil {
		tail := get.Stderr()
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
func (b *bench) waitHandshake(p *proc.Proc, addr string) error {
	deadline := time.Now().Add(b.timeout)
	var last error
	for time.Now().Before(deadline) {
		if p.Exited() {
			return fmt.Errorf("exited before it was ready: %s", p.Stderr())
		}
		if last = probe.Handshake(addr, b.infoHash, b.encrypt); last == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no handshake on %s after %v: %v", addr, b.timeout, last)
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

// --- /proc -------------------------------------------------------------------

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
			s, _ := proc.StatusKiB(seedPID, "RssAnon")
			g, _ := proc.StatusKiB(getPID, "RssAnon")
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
