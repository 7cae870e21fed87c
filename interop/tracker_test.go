package interop_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
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
	a := start(t, dir, "aria2c", aria, append(aria2Args(freePort(t), got),
		"--seed-time=0", "--bt-stop-timeout=90", "--console-log-level=notice", torrent)...)
	waitTrackerCounts(t, announce, ih, 0, 1, 20*time.Second)

	startLtPeer(t, dir, "seed", torrent, src)
	if err := a.wait(t, 90*time.Second); err != nil {
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
			var p *proc
			if leecher == "libtorrent" {
				p = startLtPeer(t, dir, "get", torrent, got)
			} else {
				p = startSwarmGet(t, dir, "swarm get", torrent, got)
			}
			// Transmission unchokes a new peer after 10 s or more.
			if err := p.wait(t, 120*time.Second); err != nil {
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
func startTransmissionSeed(t testing.TB, tx, dir, torrent, data string) *proc {
	t.Helper()
	// -et: prefer plaintext connections.
	return startTransmissionSeedEnc(t, tx, dir, torrent, data, "-et")
}

// startTransmissionSeedEnc is startTransmissionSeed with an encryption flag
// of transmission-cli: -et (prefer plaintext), -ep (prefer encryption) or
// -er (require encryption).
func startTransmissionSeedEnc(t testing.TB, tx, dir, torrent, data, enc string) *proc {
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
	// -M: no port mapping.
	return start(t, dir, "transmission-cli", tx, "-g", cfg, "-w", data, "-p", fmt.Sprint(freePort(t)),
		enc, "-M", torrent)
}

// TestOpentrackerSwarmGets: swarm's announce client against opentracker:
// swarm get finds a seeder through it, and both announce to it.
func TestOpentrackerSwarmGets(t *testing.T) {
	need(t, "opentracker")
	for _, seeder := range []string{"swarm", "libtorrent"} {
		t.Run(seeder+" seeds", func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			writeContent(t, filepath.Join(src, "album"), 13)

			// The torrent names the tracker, so its port is chosen first.
			port := freePort(t)
			announce := fmt.Sprintf("http://127.0.0.1:%d/announce", port)
			torrent, ih := createWithTracker(t, filepath.Join(src, "album"), announce, "16KiB")
			startOpentracker(t, port, ih)

			startSeeder(t, seeder, dir, torrent, src)
			waitTrackerCounts(t, announce, ih, 1, 0, 20*time.Second)
			got := filepath.Join(dir, "got")
			g := startSwarmGet(t, dir, "swarm get", torrent, got)
			if err := g.wait(t, 90*time.Second); err != nil {
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
	start(t, dir, "swarm seed", swarmBin, "seed", torrent, "--data", src,
		"--listen", "127.0.0.1:0", "--up-rate", "1MiB", "--log-level", "debug")
	waitTrackerCounts(t, announce, ih, 1, 1, 20*time.Second)
	b := startSwarmGet(t, dir, "swarm get B", torrent, gotB)

	if err := a.wait(t, 90*time.Second); err != nil {
		t.Errorf("swarm get A: %v", err)
	}
	if err := b.wait(t, 90*time.Second); err != nil {
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
	p := start(t, t.TempDir(), "swarm tracker", swarmBin, "tracker", "--listen", "127.0.0.1:0")
	announce := p.waitFor(t, trackerURLRe, 10*time.Second)[1]
	if c, i, err := scrapeCounts(announce, strings.Repeat("ab", 20)); err != nil || c != 0 || i != 0 {
		t.Fatalf("scrape of an unknown torrent: %d seeders, %d leechers, %v; want 0, 0, nil", c, i, err)
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t, 10*time.Second); err != nil {
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

var trackerURLRe = regexp.MustCompile(`tracker listening on (http://\S+/announce)`)

// startSwarmTracker runs `swarm tracker` on a free loopback port with a short
// interval and returns its announce URL.
func startSwarmTracker(t testing.TB) string {
	t.Helper()
	p := start(t, t.TempDir(), "swarm tracker", swarmBin, "tracker", "--listen", "127.0.0.1:0",
		"--interval", trackerTestInterval, "--min-interval", trackerTestMinInterval, "--log-level", "debug")
	return p.waitFor(t, trackerURLRe, 10*time.Second)[1]
}

// startSwarmGet starts `swarm get` of torrent into out, with no --peer.
func startSwarmGet(t testing.TB, dir, name, torrent, out string) *proc {
	t.Helper()
	return start(t, dir, name, swarmBin, "get", torrent, "-o", out,
		"--listen", "127.0.0.1:0", "--log-level", "debug")
}

// startLtPeer starts lt_peer.py: "seed" of the content in save (it runs
// until the test ends) or "get" into save (it exits when complete). No peer
// is given.
func startLtPeer(t testing.TB, dir, mode, torrent, save string) *proc {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "lt_peer.py"))
	if err != nil {
		t.Fatal(err)
	}
	p := start(t, dir, "libtorrent "+mode, need(t, "/usr/bin/python3"), script, mode, torrent, save,
		fmt.Sprint(freePort(t)), "-", "110")
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

// startSeeder seeds torrent from src with libtorrent or the swarm binary,
// as seeder names, until the test ends.
func startSeeder(t *testing.T, seeder, dir, torrent, src string) {
	t.Helper()
	if seeder == "libtorrent" {
		startLtPeer(t, dir, "seed", torrent, src)
		return
	}
	start(t, dir, "swarm seed", swarmBin, "seed", torrent, "--data", src,
		"--listen", "127.0.0.1:0", "--log-level", "debug")
}
