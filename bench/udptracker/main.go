// Command udptracker measures UDP tracker announces (BEP 15): swarm's
// `swarm tracker --udp` against opentracker (-P), one after the other in
// the same run, under the same load from this program.
//
// The load: --sockets client sockets on 127.0.0.1, each with --window
// announces in flight. Each socket connects first (and again every 50 s),
// then announces random peers of --swarms info hashes (the scheme of
// bench/tracker's preload: 5b 00 s(4) 5b×14; peer p is port 10000+p, a seed
// when p%5 == 0, numwant 50) and sends the next announce as each reply
// comes back. A reply unanswered after a second counts as lost and its slot
// sends again. A warm-up of --warmup fills the swarms, then it measures for
// --duration or until --requests replies, whichever comes first. It runs
// each tracker --runs times, alternating, each time in a fresh process.
//
// For each tracker it prints one JSON line: replies a second, latency
// percentiles (send to reply, in this process), lost requests, and the
// tracker's CPU time per 1,000 replies (user + system, from /proc), which is
// the fairer figure when this program and the tracker share the cores. A
// last line gives swarm's figures over opentracker's.
//
// swarm runs with --ip-rate 0: all the load comes from one address.
// --tracker-cmd runs another command in swarm's place (e.g. trackerd with
// --cpuprofile), "{udp}" in it replaced by the address to serve.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"swarm/bench/internal/proc"
)

type options struct {
	swarm, opentracker, trackerCmd, only string
	sockets, window, swarms, peers, runs int
	requests                             int64
	duration, warmup                     time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.swarm, "swarm", "", "swarm binary (default: build swarm/cmd/swarm from this module)")
	flag.StringVar(&o.opentracker, "opentracker", "opentracker", "opentracker binary")
	flag.StringVar(&o.trackerCmd, "tracker-cmd", "", `command to run in swarm's place, with {udp} for the address (e.g. "trackerd --udp-addr {udp} --cpuprofile udp.prof")`)
	flag.StringVar(&o.only, "only", "", `measure one tracker only: "swarm" or "opentracker"`)
	flag.IntVar(&o.runs, "runs", 3, "runs per tracker, alternating; the ratio line compares the median runs")
	flag.IntVar(&o.sockets, "sockets", 16, "client sockets")
	flag.IntVar(&o.window, "window", 16, "announces in flight per socket")
	flag.IntVar(&o.swarms, "swarms", 1000, "info hashes")
	flag.IntVar(&o.peers, "peers", 100, "peers (ports) per info hash")
	flag.Int64Var(&o.requests, "requests", 5_000_000, "stop measuring after this many replies")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "stop measuring after this long")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before measuring (fills the swarms)")
	flag.Parse()
	if o.runs < 1 || o.window < 1 || o.window > 256 || o.sockets < 1 || o.swarms < 1 || o.peers < 1 || o.peers > 55000 {
		fmt.Fprintln(os.Stderr, "bench/udptracker: want --window 1 to 256, --peers 1 to 55000, --sockets and --swarms at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/udptracker:", err)
		os.Exit(1)
	}
}

// result is one tracker's JSON line.
type result struct {
	Tracker        string  `json:"tracker"`
	RepliesPerS    float64 `json:"replies_per_s"`
	P50Ms          float64 `json:"p50_ms"`
	P99Ms          float64 `json:"p99_ms"`
	P999Ms         float64 `json:"p999_ms"`
	CPUMsPer1000   float64 `json:"cpu_ms_per_1000"`
	Replies        int64   `json:"replies"`
	Lost           int64   `json:"lost"`
	ErrorReplies   int64   `json:"error_replies"`
	DurationS      float64 `json:"duration_s"`
	Sockets        int     `json:"sockets"`
	Window         int     `json:"window"`
	TrackerThreads int     `json:"tracker_threads"`
}

func run(ctx context.Context, o options) error {
	var procs proc.Group
	defer procs.KillAll()
	work, err := os.MkdirTemp("", "swarm-bench-udptracker-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	results := map[string][]result{}
	for run := 0; run < o.runs*2; run++ {
		// Alternate, so that load from elsewhere on the machine falls on
		// both alike.
		name := []string{"swarm", "opentracker"}[run%2]
		if o.only != "" && o.only != name {
			continue
		}
		addr, err := freeUDPAddr()
		if err != nil {
			return err
		}
		p, err := startTracker(&procs, name, o, work, addr)
		if err != nil {
			return err
		}
		r, err := measure(ctx, o, name, p, addr)
		p.Stop(10 * time.Second)
		if err != nil {
			return fmt.Errorf("%s: %w (stderr: %s)", name, err, p.Stderr())
		}
		line, _ := json.Marshal(r)
		fmt.Println(string(line))
		results[name] = append(results[name], r)
	}
	if len(results) == 2 {
		s, ot := median(results["swarm"]), median(results["opentracker"])
		line, _ := json.Marshal(map[string]any{
			"ratio":                fmt.Sprintf("swarm/opentracker, median runs of %d", o.runs),
			"replies_per_s":        round2(s.RepliesPerS / ot.RepliesPerS),
			"p50":                  round2(s.P50Ms / ot.P50Ms),
			"p99":                  round2(s.P99Ms / ot.P99Ms),
			"cpu_per_1000":         round2(s.CPUMsPer1000 / ot.CPUMsPer1000),
			"target_replies_per_s": ">= 1",
			"target_p99":           "<= 1",
			"target_cpu_per_1000":  "<= 1",
		})
		fmt.Println(string(line))
	}
	return nil
}

// median is the run of median replies/s (of an even count, the lower),
// whose other figures come with it.
func median(rs []result) result {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b result) int { return int(a.RepliesPerS - b.RepliesPerS) })
	return rs[(len(rs)-1)/2]
}

func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }

// startTracker starts name serving UDP on addr and returns once it answers
// a connect.
func startTracker(procs *proc.Group, name string, o options, work string, addr netip.AddrPort) (*proc.Proc, error) {
	var p *proc.Proc
	switch name {
	case "swarm":
		if o.trackerCmd != "" {
			f := strings.Fields(strings.ReplaceAll(o.trackerCmd, "{udp}", addr.String()))
			p = procs.Command(f[0], f[1:]...)
			break
		}
		bin := o.swarm
		if bin == "" {
			bin = filepath.Join(work, "swarm")
			if out, err := exec.Command("go", "build", "-o", bin, "swarm/cmd/swarm").CombinedOutput(); err != nil {
				return nil, fmt.Errorf("build swarm: %v\n%s", err, out)
			}
		}
		p = procs.Command(bin, "tracker", "--listen", "127.0.0.1:0", "--udp", addr.String(), "--ip-rate", "0",
			"--max-swarms", "0", "--log-level", "warn")
	case "opentracker":
		// The Debian build serves whitelisted info hashes only; it chroots
		// to -d, so the list's path is inside it.
		dir := filepath.Join(work, "ot")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		var sb strings.Builder
		for s := range o.swarms {
			h := infoHash(s)
			fmt.Fprintf(&sb, "%x\n", h[:])
		}
		if err := os.WriteFile(filepath.Join(dir, "whitelist.txt"), []byte(sb.String()), 0o644); err != nil {
			return nil, err
		}
		httpAddr, err := proc.FreeAddr()
		if err != nil {
			return nil, err
		}
		_, httpPort, _ := net.SplitHostPort(httpAddr)
		p = procs.Command(o.opentracker, "-i", "127.0.0.1", "-p", httpPort, "-P", fmt.Sprint(addr.Port()),
			"-w", "/whitelist.txt", "-d", dir, "-A", "127.0.0.1")
	}
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// Until it binds, a send draws ICMP port unreachable and the next read
	// fails at once: wait between tries, 10 s in all.
	for range 100 {
		if _, err := connect(c, 100*time.Millisecond); err == nil {
			return p, nil
		}
		if p.Exited() {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("%s answers no UDP connect on %v: %v", name, addr, p.Stderr())
}

func freeUDPAddr() (netip.AddrPort, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return netip.AddrPort{}, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort(), nil
}

// infoHash is swarm s's info hash, as bench/tracker's preload makes it.
func infoHash(s int) [20]byte {
	var h [20]byte
	for i := range h {
		h[i] = 0x5b
	}
	h[1] = 0
	binary.BigEndian.PutUint32(h[2:6], uint32(s))
	return h
}

// putPeerID writes "-BENCH-" s (7 digits) p (6 digits) into id without
// allocating: the load generator shares the cores with the tracker.
func putPeerID(id []byte, s, p int) {
	copy(id, "-BENCH-")
	for i := 13; i >= 7; i-- {
		id[i] = byte('0' + s%10)
		s /= 10
	}
	for i := 19; i >= 14; i-- {
		id[i] = byte('0' + p%10)
		p /= 10
	}
}

// connect gets a connection id on c, waiting at most wait.
func connect(c *net.UDPConn, wait time.Duration) (uint64, error) {
	req := binary.BigEndian.AppendUint64(nil, 0x41727101980)
	req = binary.BigEndian.AppendUint32(req, 0)
	tx := rand.Uint32()
	req = binary.BigEndian.AppendUint32(req, tx)
	if _, err := c.Write(req); err != nil {
		return 0, err
	}
	buf := make([]byte, 64)
	c.SetReadDeadline(time.Now().Add(wait))
	defer c.SetReadDeadline(time.Time{})
	for {
		n, err := c.Read(buf)
		if err != nil {
			return 0, err
		}
		if n >= 16 && binary.BigEndian.Uint32(buf) == 0 && binary.BigEndian.Uint32(buf[4:]) == tx {
			return binary.BigEndian.Uint64(buf[8:]), nil
		}
	}
}

// counts is what the sockets add up while measuring.
type counts struct {
	measuring     atomic.Bool
	stop          atomic.Bool
	replies, lost atomic.Int64
	errorReplies  atomic.Int64
	mu            sync.Mutex
	latencies     []time.Duration // of measured replies, merged at the end
}

// measure runs the load against addr: warm-up, then the measured window.
func measure(ctx context.Context, o options, name string, p *proc.Proc, addr netip.AddrPort) (result, error) {
	var c counts
	var wg sync.WaitGroup
	errs := make(chan error, o.sockets)
	for i := range o.sockets {
		wg.Go(func() {
			if err := load(o, addr, uint64(i), &c); err != nil {
				errs <- err
			}
		})
	}
	finish := func() { c.stop.Store(true); wg.Wait() }
	select {
	case <-time.After(o.warmup):
	case <-ctx.Done():
		finish()
		return result{}, ctx.Err()
	case err := <-errs:
		finish()
		return result{}, err
	}
	cpu0, err := proc.CPUSeconds(p.PID())
	if err != nil {
		finish()
		return result{}, err
	}
	c.measuring.Store(true)
	start := time.Now()
	deadline := time.NewTimer(o.duration)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-deadline.C:
			break wait
		case <-ctx.Done():
			break wait
		case err := <-errs:
			finish()
			return result{}, err
		case <-tick.C:
			if c.replies.Load() >= o.requests {
				break wait
			}
		}
	}
	c.measuring.Store(false)
	elapsed := time.Since(start)
	cpu1, err := proc.CPUSeconds(p.PID())
	threads, _ := proc.StatusKiB(p.PID(), "Threads")
	finish()
	if err != nil {
		return result{}, err
	}
	n := c.replies.Load()
	if n == 0 {
		return result{}, errors.New("no replies")
	}
	slices.Sort(c.latencies)
	pct := func(q float64) float64 {
		return float64(c.latencies[min(len(c.latencies)-1, int(q*float64(len(c.latencies))))]) / 1e6
	}
	return result{
		Tracker:        name,
		RepliesPerS:    float64(int64(float64(n) / elapsed.Seconds())),
		P50Ms:          pct(0.50),
		P99Ms:          pct(0.99),
		P999Ms:         pct(0.999),
		CPUMsPer1000:   round2((cpu1 - cpu0) * 1000 / (float64(n) / 1000)),
		Replies:        n,
		Lost:           c.lost.Load(),
		ErrorReplies:   c.errorReplies.Load(),
		DurationS:      round2(elapsed.Seconds()),
		Sockets:        o.sockets,
		Window:         o.window,
		TrackerThreads: int(threads),
	}, nil
}

// slot is one announce in flight on a socket.
type slot struct {
	tx   uint32
	sent time.Time
}

// load is one client socket: connect, then keep o.window announces in
// flight until c.stop, counting replies and latencies while c.measuring.
func load(o options, addr netip.AddrPort, seed uint64, c *counts) error {
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetReadBuffer(1 << 20)
	var connID uint64
	var connAt time.Time
	reconnect := func() error {
		for range 20 {
			if id, err := connect(conn, time.Second); err == nil {
				connID, connAt = id, time.Now()
				return nil
			}
			if c.stop.Load() {
				return nil
			}
		}
		return fmt.Errorf("no connect reply from %v", addr)
	}
	if err := reconnect(); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	slots := make([]slot, o.window)
	var gen uint32
	pkt := make([]byte, 98)
	send := func(i int) error {
		gen++
		slots[i] = slot{tx: gen<<8 | uint32(i), sent: time.Now()}
		s, p := rng.IntN(o.swarms), rng.IntN(o.peers)
		binary.BigEndian.PutUint64(pkt[0:], connID)
		binary.BigEndian.PutUint32(pkt[8:], 1)
		binary.BigEndian.PutUint32(pkt[12:], slots[i].tx)
		h := infoHash(s)
		copy(pkt[16:36], h[:])
		putPeerID(pkt[36:56], s, p)
		left := uint64(1 << 20)
		if p%5 == 0 {
			left = 0
		}
		binary.BigEndian.PutUint64(pkt[56:], 0)    // downloaded
		binary.BigEndian.PutUint64(pkt[64:], left) // left
		binary.BigEndian.PutUint64(pkt[72:], 0)    // uploaded
		binary.BigEndian.PutUint32(pkt[80:], 0)    // event: none
		binary.BigEndian.PutUint32(pkt[84:], 0)    // ip: the sender's
		binary.BigEndian.PutUint32(pkt[88:], uint32(p))
		binary.BigEndian.PutUint32(pkt[92:], 50) // numwant
		binary.BigEndian.PutUint16(pkt[96:], uint16(10000+p))
		_, err := conn.Write(pkt)
		return err
	}
	for i := range slots {
		if err := send(i); err != nil {
			return err
		}
	}
	buf := make([]byte, 2048)
	var lat []time.Duration
	defer func() {
		c.mu.Lock()
		c.latencies = append(c.latencies, lat...)
		c.mu.Unlock()
	}()
	for !c.stop.Load() {
		if time.Since(connAt) > 50*time.Second {
			if err := reconnect(); err != nil {
				return err
			}
		}
		conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := conn.Read(buf)
		now := time.Now()
		if err != nil {
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				return err
			}
			// Resend what has waited a second: lost on the way.
			for i := range slots {
				if now.Sub(slots[i].sent) > time.Second {
					if c.measuring.Load() {
						c.lost.Add(1)
					}
					if err := send(i); err != nil {
						return err
					}
				}
			}
			continue
		}
		if n < 8 {
			continue
		}
		tx := binary.BigEndian.Uint32(buf[4:])
		i := int(tx & 0xff)
		if i >= len(slots) || slots[i].tx != tx {
			continue // a late reply to a request counted as lost
		}
		if c.measuring.Load() {
			switch binary.BigEndian.Uint32(buf) {
			case 1:
				c.replies.Add(1)
				lat = append(lat, now.Sub(slots[i].sent))
			default:
				c.errorReplies.Add(1)
			}
		}
		if err := send(i); err != nil {
			return err
		}
	}
	return nil
}
