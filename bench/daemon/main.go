// Command daemon measures `swarm daemon` and Debian's transmission-daemon
// side by side in the same run, holding many small complete torrents
// (issue 15's figures): both get the same generated torrents (one small
// file each, announced to a local `swarm tracker`) through the RPC's
// torrent-add, then, for each daemon in alternating runs:
//
//   - first start: the time from process start until every torrent is
//     seeding (torrent-get status 6), announced (the tracker's scrape counts
//     a seeder for each info hash) and answering peers (a BitTorrent
//     handshake is answered on the peer port for 50 of them; -1 if not
//     within a minute);
//   - idle: RSS, RssAnon, open file descriptors and CPU while seeding idle;
//   - torrent-get of all torrents with the fields the page's list asks for
//     (id, name, percentDone, rateDownload, rateUpload, status): median and
//     p99 of --calls calls;
//   - stop (SIGTERM) time, then a restart on the same state with a fresh
//     tracker: the same three times from the new process's start, and its
//     CPU seconds until then (a re-hash would show there).
//
// It prints one JSON line per daemon and run, then a summary line of the
// medians with the ratios swarm/transmission and the goals.
//
//	go run ./bench/daemon [--torrents 1000] [--runs 2] [--swarm BIN]
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/anacrolix/torrent/bencode"

	"swarm/bench/internal/ltpy"
	"swarm/bench/internal/probe"
	"swarm/bench/internal/proc"
	"swarm/metainfo"
	"swarm/tracker"
)

//go:embed lt_seeds.py
var ltSeeds []byte

func main() {
	n := flag.Int("torrents", 1000, "torrents added to each daemon")
	fileSize := flag.Int64("file-size", 64<<10, "bytes of each torrent's one file")
	runs := flag.Int("runs", 2, "runs per daemon, alternating (the summary compares medians)")
	calls := flag.Int("calls", 100, "torrent-get calls timed per run")
	idle := flag.Duration("idle", 10*time.Second, "how long the daemons seed idle before RSS and CPU are read")
	dir := flag.String("dir", "", "work folder (default: a new one under $TMPDIR, removed at the end)")
	timeout := flag.Duration("timeout", 5*time.Minute, "bound on every wait")
	swarmBin := flag.String("swarm", "", "swarm binary to measure (default: build swarm/cmd/swarm from this module)")
	only := flag.String("only", "", `measure one daemon only: "swarm" or "transmission" (no summary line)`)
	tpFiles := flag.Int("tp-torrents", 20, "throughput: torrents the daemon downloads at once (0 skips the throughput runs)")
	tpSize := flag.Int64("tp-size", 16<<20, "throughput: bytes of each torrent's file")
	tpOnly := flag.Bool("tp-only", false, "run the throughput runs only")
	flag.Parse()
	if *n < 1 || *runs < 1 || *calls < 1 || *fileSize < 1 || (*only != "" && *only != "swarm" && *only != "transmission") {
		fmt.Fprintln(os.Stderr, `bench/daemon: want --torrents, --runs, --calls, --file-size >= 1 and --only "", "swarm" or "transmission"`)
		os.Exit(2)
	}
	b := &bench{n: *n, fileSize: *fileSize, calls: *calls, idle: *idle, timeout: *timeout, swarm: *swarmBin}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		b.procs.KillAll()
		os.Exit(130)
	}()
	err := b.run(*dir, *runs, *only, *tpFiles, *tpSize, *tpOnly)
	b.procs.KillAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/daemon:", err)
		os.Exit(1)
	}
}

type bench struct {
	n        int
	fileSize int64
	calls    int
	idle     time.Duration
	timeout  time.Duration
	swarm    string
	procs    proc.Group

	work     string
	content  string   // the torrents' files
	torrents [][]byte // .torrent files
	hashes   [][20]byte
	tracker  string // HOST:PORT of the HTTP tracker

	lastScrape string // what the scrape said of the last torrent not announced
}

// result is one daemon's run.
type result struct {
	Daemon   string  `json:"daemon"`
	Run      int     `json:"run"`
	Torrents int     `json:"torrents"`
	AddS     float64 `json:"add_s"` // torrent-add of all, one call each

	SeedingS   float64 `json:"start_to_seeding_s"`
	AnnouncedS float64 `json:"start_to_announced_s"`
	AnsweringS float64 `json:"start_to_answering_s"`

	RSSKiB     int64   `json:"idle_rss_kib"`
	RSSAnonKiB int64   `json:"idle_rss_anon_kib"`
	FDs        int     `json:"idle_fds"`
	IdleCPUPct float64 `json:"idle_cpu_pct"` // of one core, over --idle

	GetMedianMS float64 `json:"torrent_get_median_ms"`
	GetP99MS    float64 `json:"torrent_get_p99_ms"`
	GetBytes    int     `json:"torrent_get_bytes"`

	StopS float64 `json:"stop_s"` // SIGTERM to exit

	RestartSeedingS   float64 `json:"restart_to_seeding_s"`
	RestartAnnouncedS float64 `json:"restart_to_announced_s"`
	RestartAnsweringS float64 `json:"restart_to_answering_s"`
	RestartCPUS       float64 `json:"restart_cpu_s"` // CPU of the restarted process until answering
	RestartRSSKiB     int64   `json:"restart_rss_kib"`

	Load string `json:"loadavg"`
}

func (b *bench) run(dir string, runs int, only string, tpFiles int, tpSize int64, tpOnly bool) error {
	var err error
	if dir == "" {
		if b.work, err = os.MkdirTemp("", "bench-daemon-"); err != nil {
			return err
		}
		defer os.RemoveAll(b.work)
	} else if b.work, err = filepath.Abs(dir); err != nil {
		return err
	}
	if b.swarm == "" {
		b.swarm = filepath.Join(b.work, "swarm")
		if out, err := exec.Command("go", "build", "-o", b.swarm, "swarm/cmd/swarm").CombinedOutput(); err != nil {
			return fmt.Errorf("build swarm: %v\n%s", err, out)
		}
	}
	addr, err := proc.FreeAddr()
	if err != nil {
		return err
	}
	b.tracker = addr
	if tpOnly {
		return b.throughputRuns(tpFiles, tpSize, runs)
	}
	if err := b.makeTorrents(); err != nil {
		return err
	}
	daemons := []string{"swarm", "transmission"}
	if only != "" {
		daemons = []string{only}
	}
	var all []result
	for run := range runs {
		for i := range daemons {
			// Alternate which daemon goes first, so that neither always
			// meets the machine's load at the same moment.
			d := daemons[(i+run)%len(daemons)]
			r, err := b.measure(d, run)
			if err != nil {
				return fmt.Errorf("%s run %d: %w", d, run, err)
			}
			line, _ := json.Marshal(r)
			fmt.Println(string(line))
			all = append(all, r)
		}
	}
	if only == "" {
		line, _ := json.Marshal(summarize(all))
		fmt.Println(string(line))
	}
	if tpFiles > 0 {
		return b.throughputRuns(tpFiles, tpSize, runs)
	}
	return nil
}

// makeTorrents writes n files of random bytes and a single-file torrent
// for each, announcing to b.tracker.
func (b *bench) makeTorrents() error {
	b.content = filepath.Join(b.work, "content")
	if err := os.MkdirAll(b.content, 0o755); err != nil {
		return err
	}
	buf := make([]byte, b.fileSize)
	for i := range b.n {
		rand.Read(buf)
		p := filepath.Join(b.content, fmt.Sprintf("bench-%05d.bin", i))
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			return err
		}
		m, err := metainfo.Build(context.Background(), metainfo.BuildConfig{Path: p, PieceLength: 16 << 10,
			Tiers: [][]string{{"http://" + b.tracker + "/announce"}}, Workers: 1})
		if err != nil {
			return fmt.Errorf("torrent of %s: %w", p, err)
		}
		enc, err := m.Encode()
		if err != nil {
			return err
		}
		b.torrents = append(b.torrents, enc)
		b.hashes = append(b.hashes, m.InfoHash)
	}
	return nil
}

// daemonProc is a started daemon: its process, RPC and peer address.
type daemonProc struct {
	p    *proc.Proc
	rpc  *rpcClient
	peer string
	t0   time.Time
}

// start starts daemon kind with its state in state, peers on peer.
func (b *bench) start(kind, state, peer string, extra ...string) (*daemonProc, error) {
	rpcAddr, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	var p *proc.Proc
	switch kind {
	case "swarm":
		args := []string{"daemon", "--state", state, "--download-dir", b.content,
			"--listen", peer, "--rpc", rpcAddr, "--dht=false", "--pex=false", "--log-level", "info", "--log-format", "json"}
		p = b.procs.Command(b.swarm, append(args, extra...)...)
	case "transmission":
		_, port, _ := net.SplitHostPort(peer)
		_, rport, _ := net.SplitHostPort(rpcAddr)
		settings := fmt.Sprintf(`{"rpc-port": %s, "rpc-bind-address": "127.0.0.1", "rpc-authentication-required": false,
			"rpc-whitelist-enabled": false, "rpc-host-whitelist-enabled": false, "peer-port": %s,
			"bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1", "dht-enabled": false, "lpd-enabled": false,
			"pex-enabled": false, "utp-enabled": false, "port-forwarding-enabled": false, "download-dir": %q,
			"incomplete-dir-enabled": false, "message-level": 1}`, rport, port, b.content)
		if err := os.MkdirAll(state, 0o755); err != nil {
			return nil, err
		}
		// transmission-daemon rewrites settings.json on exit; ours must win
		// on restart too (the ports are new).
		if err := os.WriteFile(filepath.Join(state, "settings.json"), []byte(settings), 0o600); err != nil {
			return nil, err
		}
		p = b.procs.Command("transmission-daemon", "-f", "-g", state)
	default:
		return nil, fmt.Errorf("unknown daemon %q", kind)
	}
	// The whole log goes to a file beside the state (proc keeps only the
	// last 4 KiB, too little for 1,000 torrents).
	logf, err := os.OpenFile(state+".log", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	p.Cmd.Stdout, p.Cmd.Stderr = logf, logf
	t0 := time.Now()
	if err := p.Start(); err != nil {
		return nil, err
	}
	d := &daemonProc{p: p, rpc: &rpcClient{url: "http://" + rpcAddr + "/transmission/rpc"}, peer: peer, t0: t0}
	deadline := time.Now().Add(b.timeout)
	for {
		if _, err := d.rpc.call("session-get", map[string]any{}); err == nil {
			return d, nil
		} else if p.Exited() || time.Now().After(deadline) {
			p.Kill()
			return nil, fmt.Errorf("%s's RPC did not answer: %v (log in %s.log)", kind, err, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *bench) measure(kind string, run int) (result, error) {
	r := result{Daemon: kind, Run: run, Torrents: b.n}
	state := filepath.Join(b.work, fmt.Sprintf("%s-%d", kind, run))
	peer, err := proc.FreeAddr()
	if err != nil {
		return r, err
	}
	tr, err := b.startTracker()
	if err != nil {
		return r, err
	}
	d, err := b.start(kind, state, peer)
	if err != nil {
		tr.Kill()
		return r, err
	}
	t := time.Now()
	for i, tor := range b.torrents {
		args := map[string]any{"metainfo": base64.StdEncoding.EncodeToString(tor), "download-dir": b.content}
		if _, err := d.rpc.call("torrent-add", args); err != nil {
			d.p.Kill()
			tr.Kill()
			return r, fmt.Errorf("torrent-add %d: %w", i, err)
		}
	}
	r.AddS = secs(time.Since(t))
	r.SeedingS, r.AnnouncedS, r.AnsweringS, err = b.serving(d)
	tr.Kill()
	if err != nil {
		d.p.Kill()
		return r, err
	}

	// Idle: RSS, descriptors and CPU after --idle of seeding with nobody.
	c0, _ := proc.CPUSeconds(d.p.PID())
	time.Sleep(b.idle)
	c1, _ := proc.CPUSeconds(d.p.PID())
	r.IdleCPUPct = round((c1 - c0) / b.idle.Seconds() * 100)
	r.RSSKiB, _ = proc.StatusKiB(d.p.PID(), "VmRSS")
	r.RSSAnonKiB, _ = proc.StatusKiB(d.p.PID(), "RssAnon")
	if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", d.p.PID())); err == nil {
		r.FDs = len(fds)
	}

	// torrent-get of all, the list's fields.
	var lat []float64
	fields := map[string]any{"fields": []string{"id", "name", "percentDone", "rateDownload", "rateUpload", "status"}}
	for range b.calls {
		t := time.Now()
		out, err := d.rpc.call("torrent-get", fields)
		if err != nil {
			d.p.Kill()
			return r, err
		}
		lat = append(lat, float64(time.Since(t).Microseconds())/1000)
		r.GetBytes = len(out)
	}
	r.GetMedianMS, r.GetP99MS = round(quantile(lat, 0.5)), round(quantile(lat, 0.99))

	t = time.Now()
	d.p.Cmd.Process.Signal(syscall.SIGTERM)
	if err := d.p.Wait(b.timeout); err != nil {
		d.p.Kill()
		return r, fmt.Errorf("stop: %v", err)
	}
	r.StopS = secs(time.Since(t))

	// Restart on the same state, with a fresh tracker that has seen nobody.
	if tr, err = b.startTracker(); err != nil {
		return r, err
	}
	defer tr.Kill()
	if d, err = b.start(kind, state, peer); err != nil {
		return r, fmt.Errorf("restart: %w", err)
	}
	defer d.p.Kill()
	r.RestartSeedingS, r.RestartAnnouncedS, r.RestartAnsweringS, err = b.serving(d)
	if err != nil {
		return r, fmt.Errorf("restart: %w", err)
	}
	r.RestartCPUS, _ = proc.CPUSeconds(d.p.PID())
	r.RestartCPUS = round(r.RestartCPUS)
	r.RestartRSSKiB, _ = proc.StatusKiB(d.p.PID(), "VmRSS")
	d.p.Cmd.Process.Signal(syscall.SIGTERM)
	d.p.Wait(b.timeout)
	r.Load = loadavg()
	return r, nil
}

// startTracker runs `swarm tracker` on b.tracker without rate or
// connection limits (one address announces every torrent, up to 1,000 at
// once at a start).
func (b *bench) startTracker() (*proc.Proc, error) {
	p := b.procs.Command(b.swarm, "tracker", "--listen", b.tracker, "--ip-rate", "0", "--ip-burst", "1000000",
		"--prefix-rate", "0", "--prefix-burst", "1000000", "--max-conns-per-ip", "0", "--log-level", "warn", "--log-format", "json")
	if err := p.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(b.timeout)
	for {
		c, err := net.DialTimeout("tcp", b.tracker, time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		if p.Exited() || time.Now().After(deadline) {
			p.Kill()
			return nil, fmt.Errorf("swarm tracker on %s: %v\n%s", b.tracker, err, p.Stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serving waits until every torrent is seeding, then announced, then
// answering peers; each time is from the process's start.
func (b *bench) serving(d *daemonProc) (seeding, announced, answering float64, err error) {
	deadline := time.Now().Add(b.timeout)
	wait := func(what string, done func() (bool, string)) (float64, error) {
		for {
			ok, why := done()
			if ok {
				return secs(time.Since(d.t0)), nil
			}
			if d.p.Exited() || time.Now().After(deadline) {
				return 0, fmt.Errorf("not %s after %v: %s", what, b.timeout, why)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if seeding, err = wait("all seeding", func() (bool, string) {
		out, err := d.rpc.call("torrent-get", map[string]any{"fields": []string{"id", "status"}})
		if err != nil {
			return false, err.Error()
		}
		var a struct{ Torrents []struct{ Status int } }
		json.Unmarshal(out, &a)
		n := 0
		for _, t := range a.Torrents {
			if t.Status == 6 {
				n++
			}
		}
		return n == b.n, fmt.Sprintf("%d of %d listed, %d seeding", len(a.Torrents), b.n, n)
	}); err != nil {
		return
	}
	pending := append([][20]byte(nil), b.hashes...)
	if announced, err = wait("all announced", func() (bool, string) {
		var err error
		pending, err = b.unannounced(pending)
		if err != nil {
			return false, err.Error()
		}
		return len(pending) == 0, fmt.Sprintf("%d not announced (last: %s)", len(pending), b.lastScrape)
	}); err != nil {
		return
	}
	// Answering: a handshake for each of 50 torrents spread over the list
	// (a handshake for each of 1,000, made and dropped at once, gets
	// 127.0.0.1 refused by transmission-daemon for minutes). A daemon that
	// does not answer them all within a minute gets -1, not a failed run.
	pending = nil
	for i := 0; i < len(b.hashes); i += max(1, len(b.hashes)/50) {
		pending = append(pending, b.hashes[i])
	}
	deadline = time.Now().Add(min(b.timeout, time.Minute))
	answering, err = wait("answering", func() (bool, string) {
		pending = unanswered(d.peer, pending)
		return len(pending) == 0, fmt.Sprintf("%d not answering a handshake", len(pending))
	})
	if err != nil && !d.p.Exited() {
		answering, err = -1, nil
	}
	return
}

// unannounced returns the hashes the tracker knows no seeder of, scraping
// 64 at a time (the tracker's limit).
func (b *bench) unannounced(hashes [][20]byte) ([][20]byte, error) {
	var left [][20]byte
	for i := 0; i < len(hashes); i += 64 {
		part := hashes[i:min(i+64, len(hashes))]
		q := make([]string, len(part))
		for k, h := range part {
			// Not url.QueryEscape: its "+" for a space byte is not what
			// trackers decode.
			q[k] = "info_hash=" + string(tracker.AppendEscaped(nil, h[:]))
		}
		res, err := http.Get("http://" + b.tracker + "/scrape?" + strings.Join(q, "&"))
		if err != nil {
			return hashes, err
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return hashes, err
		}
		var s struct {
			Files map[string]struct {
				Complete   int `bencode:"complete"`
				Incomplete int `bencode:"incomplete"`
			} `bencode:"files"`
		}
		if err := bencode.Unmarshal(body, &s); err != nil {
			return hashes, fmt.Errorf("scrape: %v: %q", err, body)
		}
		for _, h := range part {
			if f := s.Files[string(h[:])]; f.Complete < 1 {
				left = append(left, h)
				b.lastScrape = fmt.Sprintf("%x: complete %d, incomplete %d", h, f.Complete, f.Incomplete)
			}
		}
	}
	return left, nil
}

// unanswered returns the hashes for which a BitTorrent handshake on addr
// is not answered with the same info hash, trying 8 at a time.
func unanswered(addr string, hashes [][20]byte) [][20]byte {
	var mu sync.Mutex
	var left [][20]byte
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, h := range hashes {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if probe.Handshake(addr, h, false) != nil {
				mu.Lock()
				left = append(left, h)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return left
}

// rpcClient speaks the Transmission RPC, with the session-id handshake.
type rpcClient struct {
	url string
	sid string
}

// call returns the arguments of a successful reply.
func (c *rpcClient) call(method string, args any) (json.RawMessage, error) {
	body, _ := json.Marshal(map[string]any{"method": method, "arguments": args})
	for range 2 {
		req, _ := http.NewRequest("POST", c.url, bytes.NewReader(body))
		req.Header.Set("X-Transmission-Session-Id", c.sid)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusConflict {
			c.sid = res.Header.Get("X-Transmission-Session-Id")
			continue
		}
		if err != nil {
			return nil, err
		}
		var out struct {
			Result    string
			Arguments json.RawMessage
		}
		if err := json.Unmarshal(data, &out); err != nil || out.Result != "success" {
			return nil, fmt.Errorf("%s: HTTP %d, result %q, %v", method, res.StatusCode, out.Result, err)
		}
		return out.Arguments, nil
	}
	return nil, fmt.Errorf("%s: 409 twice", method)
}

// summarize compares the medians of the two daemons' runs.
func summarize(all []result) map[string]any {
	med := func(kind string, f func(result) float64) float64 {
		var v []float64
		for _, r := range all {
			if x := f(r); r.Daemon == kind && x >= 0 { // -1: not answering within a minute
				v = append(v, x)
			}
		}
		return quantile(v, 0.5)
	}
	s := map[string]any{"summary": "swarm daemon vs transmission-daemon, medians", "torrents": all[0].Torrents}
	fields := map[string]func(result) float64{
		"idle_rss_kib":           func(r result) float64 { return float64(r.RSSKiB) },
		"idle_rss_anon_kib":      func(r result) float64 { return float64(r.RSSAnonKiB) },
		"idle_fds":               func(r result) float64 { return float64(r.FDs) },
		"idle_cpu_pct":           func(r result) float64 { return r.IdleCPUPct },
		"start_to_answering_s":   func(r result) float64 { return r.AnsweringS },
		"restart_to_seeding_s":   func(r result) float64 { return r.RestartSeedingS },
		"restart_to_answering_s": func(r result) float64 { return r.RestartAnsweringS },
		"restart_cpu_s":          func(r result) float64 { return r.RestartCPUS },
		"torrent_get_median_ms":  func(r result) float64 { return r.GetMedianMS },
		"torrent_get_p99_ms":     func(r result) float64 { return r.GetP99MS },
		"stop_s":                 func(r result) float64 { return r.StopS },
	}
	v := map[string][2]float64{}
	for name, f := range fields {
		sw, tr := med("swarm", f), med("transmission", f)
		v[name] = [2]float64{sw, tr}
		s["swarm_"+name], s["transmission_"+name], s["ratio_"+name] = round(sw), round(tr), round(sw/tr)
	}
	s["goal_rss_le_transmission"] = v["idle_rss_kib"][0] <= v["idle_rss_kib"][1]
	s["goal_restart_to_serving_le_5s"] = v["restart_to_answering_s"][0] <= 5
	s["goal_torrent_get_le_50ms"] = v["torrent_get_median_ms"][0] <= 50
	return s
}

func secs(d time.Duration) float64 { return round(d.Seconds()) }

func round(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*1000) / 1000
}

// quantile returns the q-quantile of v (nearest rank; the median of an
// even count is the mean of the middle two), NaN if v is empty.
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if q == 0.5 && len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[min(len(s)-1, max(0, int(math.Ceil(q*float64(len(s))))-1))]
}

// throughput is one download of the --tp-torrents files from the libtorrent
// seeder: by the daemon as that many torrents at once, or by `swarm get`
// as one torrent of a folder holding the same files.
type throughput struct {
	Mode   string  `json:"throughput"` // "daemon" or "get"
	Run    int     `json:"run"`
	Files  int     `json:"files"`
	Bytes  int64   `json:"bytes"`
	WallS  float64 `json:"wall_s"` // daemon: first torrent-add to all percentDone 1; get: process start to exit 0
	MBPerS float64 `json:"mb_per_s"`
	CPUS   float64 `json:"cpu_s"`
	Load   string  `json:"loadavg"`
}

// throughputRuns prepares the files, their torrents and the seeder, then
// alternates daemon and get downloads.
func (b *bench) throughputRuns(files int, size int64, runs int) error {
	dir := filepath.Join(b.work, "tp")
	data, folder := filepath.Join(dir, "data"), filepath.Join(dir, "data", "tp-folder")
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return err
	}
	announce := [][]string{{"http://" + b.tracker + "/announce"}}
	build := func(path string) (string, error) {
		m, err := metainfo.Build(context.Background(), metainfo.BuildConfig{Path: path, Tiers: announce})
		if err != nil {
			return "", fmt.Errorf("torrent of %s: %w", path, err)
		}
		enc, err := m.Encode()
		if err != nil {
			return "", err
		}
		t := filepath.Join(dir, filepath.Base(path)+".torrent")
		return t, os.WriteFile(t, enc, 0o644)
	}
	var singles []string
	buf := make([]byte, 1<<20)
	for i := range files {
		name := fmt.Sprintf("f%02d.bin", i)
		f, err := os.Create(filepath.Join(folder, name))
		if err != nil {
			return err
		}
		for n := int64(0); n < size; n += int64(len(buf)) {
			rand.Read(buf)
			if _, err := f.Write(buf[:min(int64(len(buf)), size-n)]); err != nil {
				f.Close()
				return err
			}
		}
		if err := f.Close(); err != nil {
			return err
		}
		// The single-file torrents find their file in data/ too.
		if err := os.Link(filepath.Join(folder, name), filepath.Join(data, name)); err != nil {
			return err
		}
		t, err := build(filepath.Join(data, name))
		if err != nil {
			return err
		}
		singles = append(singles, t)
	}
	whole, err := build(folder)
	if err != nil {
		return err
	}
	tr, err := b.startTracker()
	if err != nil {
		return err
	}
	defer tr.Kill()
	script, err := ltpy.WriteScript(dir, "lt_seeds.py", ltSeeds)
	if err != nil {
		return err
	}
	seedAddr, err := proc.FreeAddr()
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(seedAddr)
	seed := b.procs.Command("/usr/bin/python3", append([]string{script, "--data", data, "--port", port, whole}, singles...)...)
	stdin, err := seed.Cmd.StdinPipe()
	if err != nil {
		return err
	}
	lines, err := seed.StdoutLines()
	if err != nil {
		return err
	}
	if err := seed.Start(); err != nil {
		return err
	}
	defer func() { stdin.Close(); seed.Stop(10 * time.Second) }()
	if err := ltpy.WaitReady(seed, lines, b.timeout); err != nil {
		return fmt.Errorf("libtorrent seeder: %w", err)
	}
	mbps := map[string][]float64{}
	for run := range runs {
		for i := range 2 {
			var r throughput
			var err error
			if (i+run)%2 == 0 {
				r, err = b.daemonDownload(singles, run)
			} else {
				r, err = b.getDownload(whole, run)
			}
			if err != nil {
				return err
			}
			r.Files, r.Bytes = files, int64(files)*size
			r.MBPerS = round(float64(r.Bytes) / r.WallS / 1e6)
			r.Load = loadavg()
			mbps[r.Mode] = append(mbps[r.Mode], r.MBPerS)
			line, _ := json.Marshal(r)
			fmt.Println(string(line))
		}
	}
	d, g := quantile(mbps["daemon"], 0.5), quantile(mbps["get"], 0.5)
	line, _ := json.Marshal(map[string]any{"summary": fmt.Sprintf("%d torrents at once in swarm daemon vs swarm get of one torrent of the same files, medians", files),
		"daemon_mb_per_s": round(d), "get_mb_per_s": round(g), "ratio_mb_per_s": round(d / g), "goal_daemon_ge_get": d >= g})
	fmt.Println(string(line))
	return nil
}

// daemonDownload adds every torrent to a fresh swarm daemon at once and
// times until all are complete.
func (b *bench) daemonDownload(torrents []string, run int) (throughput, error) {
	r := throughput{Mode: "daemon", Run: run}
	state := filepath.Join(b.work, "tp", fmt.Sprintf("daemon-%d", run))
	out := state + "-out"
	defer os.RemoveAll(out)
	peer, err := proc.FreeAddr()
	if err != nil {
		return r, err
	}
	d, err := b.start("swarm", state, peer, "--download-dir", out, "--max-active-downloads", "0")
	if err != nil {
		return r, err
	}
	defer d.p.Kill()
	t := time.Now()
	for _, p := range torrents {
		if _, err := d.rpc.call("torrent-add", map[string]any{"filename": p}); err != nil {
			return r, fmt.Errorf("torrent-add %s: %w", p, err)
		}
	}
	deadline := t.Add(b.timeout)
	for {
		got, err := d.rpc.call("torrent-get", map[string]any{"fields": []string{"percentDone"}})
		if err != nil {
			return r, err
		}
		var a struct {
			Torrents []struct{ PercentDone float64 }
		}
		json.Unmarshal(got, &a)
		done := 0
		for _, x := range a.Torrents {
			if x.PercentDone == 1 {
				done++
			}
		}
		if done == len(torrents) {
			break
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("daemon: %d of %d complete after %v", done, len(torrents), b.timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.WallS = secs(time.Since(t))
	r.CPUS, _ = proc.CPUSeconds(d.p.PID())
	r.CPUS = round(r.CPUS)
	d.p.Cmd.Process.Signal(syscall.SIGTERM)
	d.p.Wait(b.timeout)
	return r, nil
}

// getDownload times `swarm get` of the folder torrent from start to exit.
func (b *bench) getDownload(torrent string, run int) (throughput, error) {
	r := throughput{Mode: "get", Run: run}
	out := filepath.Join(b.work, "tp", fmt.Sprintf("get-%d-out", run))
	defer os.RemoveAll(out)
	g := b.procs.Command(b.swarm, "get", torrent, "-o", out, "--listen", "127.0.0.1:0", "--dht=false", "-q")
	t := time.Now()
	if err := g.Start(); err != nil {
		return r, err
	}
	if err := g.Wait(b.timeout); err != nil {
		g.Kill()
		return r, fmt.Errorf("swarm get: %v\n%s", err, g.Stderr())
	}
	r.WallS = secs(time.Since(t))
	if ru, ok := g.Cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.CPUS = round(time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds())
	}
	return r, nil
}

func loadavg() string {
	la, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.Join(strings.Fields(string(la))[:3], " ")
}
