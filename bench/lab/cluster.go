package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/anacrolix/torrent/bencode"

	"swarm/bench/internal/ltpy"
	"swarm/bench/internal/proc"
	"swarm/tracker"
)

// cluster is the processes of one run.
type cluster struct {
	b       *bench
	client  string
	dir     string // the run's folder
	tracker *proc.Proc
	url     string // announce URL
	scrape  string // scrape URL with the info hash
	seed    *proc.Proc
	leech   []*proc.Proc
	stdins  []io.WriteCloser // libtorrent: kept open (and referenced) until the end, as EOF ends a peer

	all []*proc.Proc
}

func (c *cluster) stop() {
	for _, p := range c.all {
		p.Kill()
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
	addr, err := proc.FreeAddr()
	if err != nil {
		return err
	}
	c.url = "http://" + addr + "/announce"
	c.scrape = "http://" + addr + "/scrape?info_hash=" + string(tracker.AppendEscaped(nil, c.b.infoHash[:]))
	c.tracker = c.b.procs.Command(c.b.swarm, "tracker", "--listen", addr, "--interval", c.b.interval.String(), "--log-level", "warn", "--log-format", "json")
	if err := c.start(c.tracker); err != nil {
		return err
	}
	deadline := time.Now().Add(min(c.b.timeout, 30*time.Second))
	for {
		if _, _, _, err := c.scrapeCounts(); err == nil {
			return nil
		} else if c.tracker.Exited() || time.Now().After(deadline) {
			return fmt.Errorf("tracker on %s not answering scrapes: %v %s", addr, err, c.tracker.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *cluster) start(p *proc.Proc) error {
	if err := p.Start(); err != nil {
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
		args := []string{"seed", b.torrent, "--data", b.seedDir, "--up-rate", rate, "-t", c.url, "--listen", "127.0.0.1:0", "-q"}
		if b.superSeed {
			args = append(args, "--super-seed")
		}
		c.seed = b.procs.Command(b.swarm, args...)
		if err := c.start(c.seed); err != nil {
			return err
		}
	case clientLT:
		extra := []string{"--seed"}
		if b.superSeed {
			extra = append(extra, "--super-seed")
		}
		l, err := c.startLTNow(b.seedDir, rate, extra...)
		if err != nil {
			return fmt.Errorf("libtorrent seed: %w", err)
		}
		c.seed = l.p
	}
	deadline := time.Now().Add(b.timeout)
	for {
		complete, _, _, err := c.scrapeCounts()
		if err == nil && complete >= 1 {
			return nil
		}
		if c.seed.Exited() {
			return fmt.Errorf("%s seed exited: %s", c.client, c.seed.Stderr())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s seed not counted complete by the tracker after %v (complete=%d, err=%v)", c.client, b.timeout, complete, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ltPeer is one lt_lab_peer.py.
type ltPeer struct {
	p     *proc.Proc
	lines <-chan string  // its stdout
	in    io.WriteCloser // its stdin; EOF ends it
}

// ready waits for the peer's {"ready": true} line.
func (l ltPeer) ready(timeout time.Duration) error { return ltpy.WaitReady(l.p, l.lines, timeout) }

// release tells a ready peer to add the torrent.
func (l ltPeer) release() error {
	_, err := io.WriteString(l.in, "go\n")
	return err
}

// startLT starts lt_lab_peer.py with its stdin kept open until the cluster
// stops (closing it ends the peer), its stdout piped for the ready line.
func (c *cluster) startLT(dir, rate string, extra ...string) (ltPeer, error) {
	b := c.b
	args := []string{b.script, "--torrent", b.torrent, "--dir", dir, "--tracker", c.url, "--upload-rate", rate,
		"--timeout", strconv.Itoa(int(b.timeout.Seconds()) + 60)}
	l := ltPeer{p: b.procs.Command(b.python, append(args, extra...)...)}
	var err error
	if l.in, err = l.p.Cmd.StdinPipe(); err != nil {
		return l, err
	}
	if l.lines, err = l.p.StdoutLines(); err != nil {
		return l, err
	}
	if err := c.start(l.p); err != nil {
		l.in.Close()
		return l, err
	}
	c.stdins = append(c.stdins, l.in)
	return l, nil
}

// startLTNow starts lt_lab_peer.py, waits for it to be ready and tells it
// to add the torrent at once.
func (c *cluster) startLTNow(dir, rate string, extra ...string) (ltPeer, error) {
	l, err := c.startLT(dir, rate, extra...)
	if err == nil {
		err = l.ready(c.b.timeout)
	}
	if err == nil {
		err = l.release()
	}
	return l, err
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
			p := b.procs.Command("/bin/sh", "-c", `kill -STOP $$ && exec "$0" "$@"`,
				b.swarm, "get", b.torrent, "-o", dirs[i], "--seed", "--up-rate", rate, "-t", c.url, "--listen", "127.0.0.1:0", "-q")
			if err := c.start(p); err != nil {
				return first, last, err
			}
			c.leech = append(c.leech, p)
		}
		deadline := time.Now().Add(min(b.timeout, 30*time.Second))
		for i, p := range c.leech {
			for proc.State(p.PID()) != 'T' {
				if p.Exited() || time.Now().After(deadline) {
					return first, last, fmt.Errorf("swarm leecher %d: its shell did not stop itself (%v): %s", i, p.Err(), lastLine(p.Stderr()))
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		first = time.Now()
		for i, p := range c.leech {
			if err := p.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
				return first, last, fmt.Errorf("swarm leecher %d: SIGCONT: %w", i, err)
			}
		}
		last = time.Now()
	case clientLT:
		peers := make([]ltPeer, n)
		for i := range n {
			l, err := c.startLT(dirs[i], rate)
			if err != nil {
				return first, last, fmt.Errorf("libtorrent leecher %d: %w", i, err)
			}
			c.leech = append(c.leech, l.p)
			peers[i] = l
		}
		for i, l := range peers {
			if err := l.ready(b.timeout); err != nil {
				return first, last, fmt.Errorf("libtorrent leecher %d: %w", i, err)
			}
		}
		first = time.Now()
		for i, l := range peers {
			if err := l.release(); err != nil {
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
			if p.Exited() {
				return cp, fmt.Errorf("%s leecher %d exited (%v): %s", c.client, i, p.Err(), lastLine(p.Stderr()))
			}
		}
		if c.seed.Exited() {
			return cp, fmt.Errorf("%s seed exited (%v): %s", c.client, c.seed.Err(), lastLine(c.seed.Stderr()))
		}
		if c.tracker.Exited() {
			return cp, fmt.Errorf("tracker exited: %s", lastLine(c.tracker.Stderr()))
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
