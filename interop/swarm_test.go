package interop_test

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMixedSwarmCompletes is issue 5's real mixed swarm: one swarm seed
// with an upload limit, and four leechers started together, two swarm get,
// one libtorrent and one aria2c, all finding each other through swarm's
// tracker only. Every leecher must complete with the source's bytes, and
// they must have traded among themselves: the seed alone, at its limit,
// cannot have sent each of them the whole file.
//
// The seed's upload total is the tracker's view of it: the uploaded
// parameter of the seed's last announce (sent every interval), read by a
// recording proxy in front of swarm's tracker. That depends only on
// BEP 3, not on swarm's output format.
func TestMixedSwarmCompletes(t *testing.T) {
	aria := need(t, "aria2c")
	need(t, "/usr/bin/python3")
	deadline := time.Now().Add(3 * time.Minute)
	left := func() time.Duration { return max(time.Until(deadline), time.Second) }

	// 64 pieces of 256 KiB and a short last one. At the seed's 3 MiB/s,
	// four full copies take 21 s; one copy 5 s.
	const (
		size     = 16<<20 + 12345
		seedRate = 3 << 20
		leechers = 4
	)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	file := filepath.Join(src, "big.bin")
	writeRandomFile(t, file, size, 51)
	rec := recordAnnounces(t, startSwarmTracker(t))
	torrent, ih := createWithTracker(t, file, rec.announce, "256KiB")

	seedPort := freePort(t)
	seed := start(t, dir, "swarm seed", swarmBin, "seed", torrent, "--data", src,
		"--listen", fmt.Sprintf("127.0.0.1:%d", seedPort), "--up-rate", strconv.Itoa(seedRate),
		"--log-level", "debug")
	waitTrackerCounts(t, rec.announce, ih, 1, 0, 30*time.Second)

	// The leechers, started together. Each exits once complete (aria2c
	// with --seed-time=0), as most downloaders do.
	gotA, gotB := filepath.Join(dir, "swarm-a"), filepath.Join(dir, "swarm-b")
	gotLt, gotAria := filepath.Join(dir, "libtorrent"), filepath.Join(dir, "aria2")
	started := time.Now()
	procs := []*proc{
		startSwarmGet(t, dir, "swarm get A", torrent, gotA),
		startSwarmGet(t, dir, "swarm get B", torrent, gotB),
		start(t, dir, "aria2c", aria, append(aria2Args(freePort(t), gotAria),
			"--seed-time=0", "--bt-stop-timeout=170", "--console-log-level=notice", torrent)...),
		startLtPeer(t, dir, "get", torrent, gotLt),
	}
	// All four announce to the tracker: none is given a peer.
	rec.waitPeers(t, ih, leechers+1, 30*time.Second)

	for _, p := range procs {
		if err := p.wait(t, left()); err != nil {
			t.Errorf("%s: %v", p.name, err)
		}
	}
	doneAt := time.Now()
	t.Logf("all %d leechers done %.1fs after they started", leechers, doneAt.Sub(started).Seconds())
	all := append([]*proc{seed}, procs...)
	logTrouble(t, all)
	t.Cleanup(func() { saveLogs(t, all) }) // after the seed has stopped
	if t.Failed() {
		t.FailNow()
	}
	for _, got := range []string{gotA, gotB, gotLt, gotAria} {
		sameBytes(t, file, filepath.Join(got, "big.bin"))
	}

	// The seed announces every interval: one announce after the last
	// leecher left carries its final total.
	last := rec.waitAnnounce(t, ih, seedPort, doneAt, min(left(), 20*time.Second))
	rec.logPeers(t, ih)
	total := int64(leechers) * size
	fromSeed := last.uploaded
	shared := 1 - float64(fromSeed)/float64(total)
	t.Logf("the seed uploaded %d bytes (%.2f copies) of the %d the leechers needed: %.0f%% came from each other",
		fromSeed, float64(fromSeed)/size, total, 100*shared)
	if fromSeed < size {
		// Nobody else had the data: a figure below one copy is a
		// wrong figure, not a good swarm.
		t.Fatalf("the seed reports %d bytes uploaded, less than one copy (%d): its announces are wrong", fromSeed, size)
	}
	// Without trading the seed would have sent four copies; demand that
	// at least a quarter of the data went between leechers (the seed sent
	// at most three copies).
	if limit := total * 3 / 4; fromSeed > limit {
		t.Errorf("the seed uploaded %d bytes, more than %d (3 of %d copies): the leechers hardly traded among themselves (%.0f%% from each other)",
			fromSeed, limit, leechers, 100*shared)
	}
}

// announceRecorder is an HTTP proxy in front of a tracker that keeps the
// parameters of every announce it forwards.
type announceRecorder struct {
	announce string // the proxy's announce URL, for torrents

	mu   sync.Mutex // guards seen
	seen []announceSeen
}

type announceSeen struct {
	at                         time.Time
	infoHash                   string // hex
	port                       int
	uploaded, downloaded, left int64
	event                      string
	agent                      string
}

// recordAnnounces starts a recording proxy on 127.0.0.1 for the tracker
// whose announce URL is given. Peers' addresses are unchanged: the proxy
// is on loopback too, and the tracker takes the port from the announce.
func recordAnnounces(t testing.TB, trackerAnnounce string) *announceRecorder {
	t.Helper()
	up, err := url.Parse(trackerAnnounce)
	if err != nil {
		t.Fatal(err)
	}
	r := &announceRecorder{}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: up.Scheme, Host: up.Host})
	// A client that gives up on an announce (one at exit) is no error.
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == up.Path {
			r.record(req)
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.announce = srv.URL + up.Path
	return r
}

func (r *announceRecorder) record(req *http.Request) {
	q, err := url.ParseQuery(req.URL.RawQuery)
	if err != nil {
		return
	}
	num := func(k string) int64 {
		n, _ := strconv.ParseInt(q.Get(k), 10, 64)
		return n
	}
	a := announceSeen{
		at:       time.Now(),
		infoHash: fmt.Sprintf("%x", q.Get("info_hash")),
		port:     int(num("port")),
		uploaded: num("uploaded"), downloaded: num("downloaded"), left: num("left"),
		event: q.Get("event"),
		agent: req.UserAgent(),
	}
	r.mu.Lock()
	r.seen = append(r.seen, a)
	r.mu.Unlock()
}

// snapshot returns the announces for ih so far, in order.
func (r *announceRecorder) snapshot(ih string) []announceSeen {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []announceSeen
	for _, a := range r.seen {
		if a.infoHash == ih {
			out = append(out, a)
		}
	}
	return out
}

// waitPeers waits until n distinct peers (by port) have announced ih.
func (r *announceRecorder) waitPeers(t testing.TB, ih string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ports := map[int]bool{}
		for _, a := range r.snapshot(ih) {
			ports[a.port] = true
		}
		if len(ports) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v only %d peers announced, want %d", timeout, len(ports), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitAnnounce waits for an announce of ih by the peer listening on port
// that arrived after since, and returns it.
func (r *announceRecorder) waitAnnounce(t testing.TB, ih string, port int, since time.Time, timeout time.Duration) announceSeen {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, a := range slices.Backward(r.snapshot(ih)) {
			if a.port == port && a.at.After(since) {
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the peer on port %d did not announce within %v", port, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logPeers logs every peer's last announce of ih: what it says it
// uploaded and downloaded.
func (r *announceRecorder) logPeers(t testing.TB, ih string) {
	t.Helper()
	lastOf := map[int]announceSeen{}
	count := map[int]int{}
	var order []int
	for _, a := range r.snapshot(ih) {
		if _, ok := lastOf[a.port]; !ok {
			order = append(order, a.port)
		}
		lastOf[a.port] = a
		count[a.port]++
	}
	for _, port := range order {
		a := lastOf[port]
		ev := a.event
		if ev == "" {
			ev = "none"
		}
		t.Logf("tracker: port %d (%s): %d announces, last (event %s): uploaded %d, downloaded %d, left %d",
			port, a.agent, count[port], ev, a.uploaded, a.downloaded, a.left)
	}
}

// trouble reports whether a log line is worth a look after a transfer
// between real clients: a protocol violation anywhere; swarm's warnings,
// errors and disconnects that were not a normal close (those are logged at
// info); aria2c's warnings and errors; libtorrent's error alerts.
func trouble(line string) bool {
	switch {
	case strings.Contains(line, "protocol violation"):
		return true
	case strings.HasPrefix(line, "{"): // swarm's JSON log
		return strings.Contains(line, `"level":"warn"`) || strings.Contains(line, `"level":"error"`) ||
			strings.Contains(line, `"level":"info"`) && strings.Contains(line, `"message":"peer disconnected"`)
	default: // aria2c prints [WARN] and [ERROR], lt_peer.py "alert ..."
		return aria2TroubleRe.MatchString(line) || strings.HasPrefix(line, "alert ")
	}
}

var aria2TroubleRe = regexp.MustCompile(`\b(WARN|ERROR)\b`)

// logTrouble logs the lines of the processes' output that trouble picks,
// and fails the test on a protocol violation: real clients should not
// break the protocol, and swarm should not think they do.
func logTrouble(t testing.TB, procs []*proc) {
	t.Helper()
	for _, p := range procs {
		var lines []string
		sc := bufio.NewScanner(strings.NewReader(p.output()))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if trouble(line) {
				lines = append(lines, line)
			}
			if strings.Contains(line, "protocol violation") {
				t.Errorf("%s: %s", p.name, line)
			}
		}
		const keep = 20
		if len(lines) > keep {
			lines = append(lines[:keep], fmt.Sprintf("[%d more]", len(lines)-keep))
		}
		if len(lines) > 0 {
			t.Logf("%s logged:\n%s", p.name, strings.Join(lines, "\n"))
		}
	}
}

// saveLogs writes each process's whole output to a file in the folder
// SWARM_INTEROP_LOGS names, if it is set, for a closer look.
func saveLogs(t testing.TB, procs []*proc) {
	dir := os.Getenv("SWARM_INTEROP_LOGS")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Error(err)
		return
	}
	for _, p := range procs {
		name := strings.ReplaceAll(t.Name()+"-"+p.name, " ", "-")
		name = strings.ReplaceAll(name, "/", "_")
		if err := os.WriteFile(filepath.Join(dir, name+".log"), []byte(p.output()), 0o644); err != nil {
			t.Error(err)
		}
	}
}
