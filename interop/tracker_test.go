package interop_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
)

// These tests run swarm's tracker and swarm's client against real clients
// and a real tracker, each a separate process on 127.0.0.1. Peers find each
// other only through the tracker: nobody is given a --peer.

// Tracker timing for the tests: peers announce again every 2 s, so that a
// peer that announced before the others learns of them quickly.
const (
	trackerTestInterval    = "2s"
	trackerTestMinInterval = "1s"
)

// TestTrackerLibtorrentSeedsAria2Gets: aria2c announces first and finds no
// one; a libtorrent seeder announces next; the swarm tracker has to introduce
// them, and aria2c downloads a folder of nested files byte for byte.
func TestTrackerLibtorrentSeedsAria2Gets(t *testing.T) {
	aria := need(t, "aria2c")
	need(t, "/usr/bin/python3")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeContent(t, filepath.Join(src, "album"), 11)
	announce := startSwarmTracker(t)
	torrent, ih := createWithTracker(t, filepath.Join(src, "album"), announce, "32KiB")

	got := filepath.Join(dir, "aria2")
	a := startBg(t, dir, "aria2c", aria,
		"--interface=127.0.0.1", fmt.Sprintf("--listen-port=%d", loopbackPort(t)),
		"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
		"--enable-peer-exchange=false", "--disable-ipv6=true",
		"--seed-time=0", "--dir="+got, "--summary-interval=0", "--file-allocation=none",
		"--bt-stop-timeout=90", "--console-log-level=notice", torrent)
	waitTrackerCounts(t, announce, ih, 0, 1, 20*time.Second)

	startLtPeer(t, dir, "seed", torrent, src)
	if err := a.waitExit(t, 90*time.Second); err != nil {
		t.Fatalf("aria2c: %v", err)
	}
	sameBytes(t, filepath.Join(src, "album"), filepath.Join(got, "album"))
}

// TestTrackerTransmissionSeeds: Transmission seeds a 5 MiB file through
// swarm's tracker, to libtorrent and to swarm get. Like libtorrent and aria2c,
// Transmission sends its BEP 10 extension handshake before its bitfield,
// which swarm once refused as a protocol violation.
func TestTrackerTransmissionSeeds(t *testing.T) {
	tx := need(t, "transmission-cli")
	for _, leecher := range []string{"libtorrent", "swarm"} {
		t.Run(leecher+" gets", func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			writeRandomFile(t, filepath.Join(src, "big.bin"), 5<<20, 21)
			announce := startSwarmTracker(t)
			torrent, ih := createWithTracker(t, filepath.Join(src, "big.bin"), announce, "256KiB")
			startTransmissionSeed(t, tx, dir, torrent, src)
			waitTrackerCounts(t, announce, ih, 1, 0, 30*time.Second)

			got := filepath.Join(dir, "got")
			var p *bgProc
			if leecher == "libtorrent" {
				p = startLtPeer(t, dir, "get", torrent, got)
			} else {
				p = startSwarmGet(t, dir, "swarm get", torrent, got)
			}
			// Transmission unchokes a new peer after 10 s or more.
			if err := p.waitExit(t, 120*time.Second); err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			sameBytes(t, filepath.Join(src, "big.bin"), filepath.Join(got, "big.bin"))
		})
	}
}

// startTransmissionSeed runs transmission-cli seeding the content of torrent
// found in data. It gets a config folder of its own: loopback only, no DHT,
// LPD, PEX, uTP, port mapping or RPC server. A fresh folder makes it verify
// the data before its first announce.
func startTransmissionSeed(t testing.TB, tx, dir, torrent, data string) *bgProc {
	t.Helper()
	cfg := filepath.Join(dir, "transmission")
	settings := `{"bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1", "dht-enabled": false,
 "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false, "port-forwarding-enabled": false,
 "rpc-enabled": false, "ratio-limit-enabled": false, "message-level": 2}`
	if err := os.MkdirAll(cfg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "settings.json"), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	// -et: prefer plaintext connections; -M: no port mapping.
	return startBg(t, dir, "transmission-cli", tx, "-g", cfg, "-w", data, "-p", fmt.Sprint(loopbackPort(t)),
		"-et", "-M", torrent)
}

// TestOpentrackerSwarmGets: swarm's announce client against opentracker:
// swarm get finds a seeder through it, and both announce to it.
func TestOpentrackerSwarmGets(t *testing.T) {
	ot := need(t, "opentracker")
	for _, seeder := range []string{"swarm", "libtorrent"} {
		t.Run(seeder+" seeds", func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			writeContent(t, filepath.Join(src, "album"), 13)

			// The torrent names the tracker, so its port is chosen first.
			port := loopbackPort(t)
			announce := fmt.Sprintf("http://127.0.0.1:%d/announce", port)
			torrent, ih := createWithTracker(t, filepath.Join(src, "album"), announce, "16KiB")
			// opentracker chroots to -d, so the whitelist path is given
			// inside it.
			root := filepath.Join(dir, "opentracker")
			if err := os.MkdirAll(root, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "whitelist.txt"), []byte(ih+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			startBg(t, dir, "opentracker", ot, "-i", "127.0.0.1", "-p", fmt.Sprint(port),
				"-w", "/whitelist.txt", "-d", root, "-A", "127.0.0.1")
			dialUntil(t, fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)

			if seeder == "libtorrent" {
				startLtPeer(t, dir, "seed", torrent, src)
			} else {
				startBg(t, dir, "swarm seed", swarmBin, "seed", torrent, "--data", src,
					"--listen", "127.0.0.1:0", "--log-level", "debug")
			}
			waitTrackerCounts(t, announce, ih, 1, 0, 20*time.Second)
			got := filepath.Join(dir, "got")
			g := startSwarmGet(t, dir, "swarm get", torrent, got)
			if err := g.waitExit(t, 90*time.Second); err != nil {
				t.Fatalf("swarm get: %v", err)
			}
			sameBytes(t, filepath.Join(src, "album"), filepath.Join(got, "album"))
		})
	}
}

// TestTrackerSwarmSeedTwoGets: swarm all round. The first leecher announces
// before anyone else and must hear of the seeder and the second leecher from
// the tracker when it announces again.
func TestTrackerSwarmSeedTwoGets(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeRandomFile(t, filepath.Join(src, "big.bin"), 5<<20, 31)
	announce := startSwarmTracker(t)
	torrent, ih := createWithTracker(t, filepath.Join(src, "big.bin"), announce, "256KiB")

	gotA, gotB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	a := startSwarmGet(t, dir, "swarm get A", torrent, gotA)
	waitTrackerCounts(t, announce, ih, 0, 1, 20*time.Second)
	// The upload limit stretches the transfer over several announce
	// intervals, so that A announces again while downloading.
	startBg(t, dir, "swarm seed", swarmBin, "seed", torrent, "--data", src,
		"--listen", "127.0.0.1:0", "--up-rate", "1MiB", "--log-level", "debug")
	waitTrackerCounts(t, announce, ih, 1, 1, 20*time.Second)
	b := startSwarmGet(t, dir, "swarm get B", torrent, gotB)

	if err := a.waitExit(t, 90*time.Second); err != nil {
		t.Errorf("swarm get A: %v", err)
	}
	if err := b.waitExit(t, 90*time.Second); err != nil {
		t.Errorf("swarm get B: %v", err)
	}
	if t.Failed() {
		t.FailNow()
	}
	sameBytes(t, filepath.Join(src, "big.bin"), filepath.Join(gotA, "big.bin"))
	sameBytes(t, filepath.Join(src, "big.bin"), filepath.Join(gotB, "big.bin"))

	// A's first reply had no peers; a later one must have had some.
	peers := announcedPeers(a.output())
	if len(peers) < 2 || peers[0] != 0 {
		t.Fatalf("swarm get A announced %d times with peers %v; want a first reply with none, then more", len(peers), peers)
	}
	if !slices.ContainsFunc(peers[1:], func(n int) bool { return n > 0 }) {
		t.Errorf("swarm get A: replies after the first had peers %v; the tracker never told it of the others", peers)
	}
}

// TestTrackerStopsCleanly: swarm tracker answers, then exits 0 on SIGINT.
func TestTrackerStopsCleanly(t *testing.T) {
	p := startBg(t, t.TempDir(), "swarm tracker", swarmBin, "tracker", "--listen", "127.0.0.1:0")
	announce := p.waitFor(t, trackerURLRe, 10*time.Second)[1]
	if c, i, err := scrapeCounts(announce, strings.Repeat("ab", 20)); err != nil || c != 0 || i != 0 {
		t.Fatalf("scrape of an unknown torrent: %d seeders, %d leechers, %v; want 0, 0, nil", c, i, err)
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := p.waitExit(t, 10*time.Second); err != nil {
		t.Fatalf("swarm tracker after SIGINT: %v, want exit status 0", err)
	}
	if out := p.output(); !strings.Contains(out, "tracker stopped") {
		t.Errorf("swarm tracker printed no \"tracker stopped\":\n%s", out)
	}
}

// announcedPeers returns the peer counts of the "announced" debug lines in
// a swarm client's log, in order.
func announcedPeers(log string) []int {
	var counts []int
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Message string `json:"message"`
			Peers   *int   `json:"peers"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Message == "announced" && line.Peers != nil {
			counts = append(counts, *line.Peers)
		}
	}
	return counts
}

// bgProc is a process a test started. Its combined output is kept and shown
// when the test fails; Cleanup interrupts it, then kills it.
type bgProc struct {
	name string
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan struct{}
	err  error // Wait's result; read only after done is closed
}

type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (p *bgProc) output() string { return p.out.String() }

// startBg starts bin in dir and stops it when the test ends.
func startBg(t testing.TB, dir, name, bin string, args ...string) *bgProc {
	t.Helper()
	p := &bgProc{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.SysProcAttr = dieWithTest()
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Signal(os.Interrupt)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				p.cmd.Process.Kill()
				select {
				case <-p.done:
				case <-time.After(10 * time.Second):
					t.Errorf("%s (pid %d) did not exit after SIGKILL", name, p.cmd.Process.Pid)
				}
			}
		}
		if t.Failed() {
			out := squeeze(p.output())
			const keep = 32 << 10
			if len(out) > keep {
				out = "[...]\n" + out[len(out)-keep:]
			}
			t.Logf("--- %s %s:\n%s", name, strings.Join(p.cmd.Args[1:], " "), out)
		}
	})
	return p
}

// squeeze makes a progress display readable in a log: carriage returns
// become line breaks and a run of identical lines becomes one, with a count.
func squeeze(out string) string {
	var b strings.Builder
	lines := strings.FieldsFunc(out, func(r rune) bool { return r == '\r' || r == '\n' })
	for i := 0; i < len(lines); {
		j := i + 1
		for j < len(lines) && lines[j] == lines[i] {
			j++
		}
		b.WriteString(strings.TrimRight(lines[i], " "))
		if j-i > 1 {
			fmt.Fprintf(&b, "  [x%d]", j-i)
		}
		b.WriteByte('\n')
		i = j
	}
	return b.String()
}

// waitFor waits until the process prints a line matching re and returns
// the submatches.
func (p *bgProc) waitFor(t testing.TB, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if m := re.FindStringSubmatch(p.output()); m != nil {
			return m
		}
		select {
		case <-p.done:
			if m := re.FindStringSubmatch(p.output()); m != nil {
				return m
			}
			t.Fatalf("%s exited (%v) before printing %q", p.name, p.err, re)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s printed no %q within %v", p.name, re, timeout)
		}
	}
}

// waitExit waits for the process to exit and returns Wait's error.
func (p *bgProc) waitExit(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("%s did not finish within %v", p.name, timeout)
		return nil
	}
}

// loopbackPort returns a TCP port on 127.0.0.1 that was free a moment ago,
// for tools that cannot be told to pick one.
func loopbackPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// dialUntil waits until something accepts connections on addr.
func dialUntil(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after %v: %v", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var trackerURLRe = regexp.MustCompile(`tracker listening on (http://\S+/announce)`)

// startSwarmTracker runs `swarm tracker` on a free loopback port with a short
// interval and returns its announce URL.
func startSwarmTracker(t testing.TB) string {
	t.Helper()
	p := startBg(t, t.TempDir(), "swarm tracker", swarmBin, "tracker", "--listen", "127.0.0.1:0",
		"--interval", trackerTestInterval, "--min-interval", trackerTestMinInterval, "--log-level", "debug")
	return p.waitFor(t, trackerURLRe, 10*time.Second)[1]
}

// startSwarmGet starts `swarm get` of torrent into out, with no --peer.
func startSwarmGet(t testing.TB, dir, name, torrent, out string) *bgProc {
	t.Helper()
	return startBg(t, dir, name, swarmBin, "get", torrent, "-o", out,
		"--listen", "127.0.0.1:0", "--log-level", "debug")
}

// startLtPeer starts lt_peer.py: "seed" of the content in save (it runs
// until the test ends) or "get" into save (it exits when complete). No peer
// is given.
func startLtPeer(t testing.TB, dir, mode, torrent, save string) *bgProc {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "lt_peer.py"))
	if err != nil {
		t.Fatal(err)
	}
	p := startBg(t, dir, "libtorrent "+mode, need(t, "/usr/bin/python3"), script, mode, torrent, save,
		fmt.Sprint(loopbackPort(t)), "-", "110")
	p.waitFor(t, regexp.MustCompile(`listening \d+`), 20*time.Second)
	return p
}

// createWithTracker makes the torrent of content, announcing to announce,
// with swarm create, next to content's parent folder. It returns the
// torrent's path and hex info hash.
func createWithTracker(t testing.TB, content, announce, pieceLength string) (string, string) {
	t.Helper()
	torrent := filepath.Join(filepath.Dir(filepath.Dir(content)), filepath.Base(content)+".torrent")
	run(t, swarmBin, "create", content, "-o", torrent, "-t", announce, "--piece-length", pieceLength)
	return torrent, readWithSwarm(t, torrent).InfoHash
}

// writeRandomFile writes size random bytes to path.
func writeRandomFile(t testing.TB, path string, size int, seed uint64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, size)
	for i := 0; i+8 <= len(b); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// scrapeCounts asks a tracker (its announce URL given) how many seeders and
// leechers it knows for the hex info hash.
func scrapeCounts(announce, ih string) (complete, incomplete int, err error) {
	i := strings.LastIndex(announce, "/announce")
	if i < 0 {
		return 0, 0, fmt.Errorf("%s: not an announce URL", announce)
	}
	raw, err := hex.DecodeString(ih)
	if err != nil {
		return 0, 0, err
	}
	u := announce[:i] + "/scrape" + announce[i+len("/announce"):] + "?info_hash=" + url.QueryEscape(string(raw))
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, 0, err
	}
	var r struct {
		Files map[string]struct {
			Complete   int `bencode:"complete"`
			Incomplete int `bencode:"incomplete"`
		} `bencode:"files"`
	}
	if err := bencode.Unmarshal(body, &r); err != nil {
		return 0, 0, fmt.Errorf("scrape %s: %v: %q", u, err, body)
	}
	f := r.Files[string(raw)]
	return f.Complete, f.Incomplete, nil
}

// waitTrackerCounts waits until the tracker counts at least the given
// seeders and leechers for ih.
func waitTrackerCounts(t testing.TB, announce, ih string, seeders, leechers int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, i, err := scrapeCounts(announce, ih)
		if err == nil && c >= seeders && i >= leechers {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the tracker counts %d seeders and %d leechers (err %v); want at least %d and %d",
				timeout, c, i, err, seeders, leechers)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sameBytes checks that every file under want (a file or a folder) is in
// got with the same bytes.
func sameBytes(t testing.TB, want, got string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(want, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(want, path)
		if err != nil {
			return err
		}
		a, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(got, rel))
		if err != nil {
			t.Errorf("downloaded copy: %v", err)
			return nil
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: downloaded %d bytes differ from the %d bytes seeded", filepath.Join(got, rel), len(b), len(a))
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("no files under %s", want)
	}
}
