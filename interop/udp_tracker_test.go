package interop_test

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOpentrackerUDP: swarm's UDP tracker client (BEP 15) against
// opentracker's UDP port. The torrent's only tracker is udp://…/announce; a
// seed (swarm or libtorrent) and `swarm get` find each other through it, and
// with a swarm seed a libtorrent download joins through the same tracker and
// finds the swarm peers, so both clients' UDP announces land in one swarm.
func TestOpentrackerUDP(t *testing.T) {
	need(t, "opentracker")
	for _, seeder := range []string{"swarm", "libtorrent"} {
		t.Run(seeder+" seeds", func(t *testing.T) {
			began := time.Now()
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			writeContent(t, filepath.Join(src, "album"), 17)

			// The torrent names the tracker, so its ports are chosen first.
			httpPort, udpPort := freePort(t), freeUDPPort(t)
			announce := fmt.Sprintf("udp://127.0.0.1:%d/announce", udpPort)
			torrent, ih := createWithTracker(t, filepath.Join(src, "album"), announce, "16KiB")
			scrapeURL := startOpentrackerUDP(t, httpPort, udpPort, ih)

			startSeeder(t, seeder, dir, torrent, src)
			// The seed announced over UDP: opentracker's HTTP scrape counts it.
			waitTrackerCounts(t, scrapeURL, ih, 1, 0, 20*time.Second)
			t.Logf("seed registered over UDP after %v", time.Since(began).Round(time.Millisecond))

			downloadsFromUDPSeed(t, dir, seeder, torrent, src, began)
		})
	}
}

// startOpentrackerUDP runs opentracker with HTTP on httpPort and UDP on
// udpPort of 127.0.0.1 for the given info hashes, waits until both answer,
// and returns the HTTP announce URL (for scrapes).
func startOpentrackerUDP(t testing.TB, httpPort, udpPort int, infoHashes ...string) string {
	t.Helper()
	bin := need(t, "opentracker")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "whitelist.txt"), []byte(strings.Join(infoHashes, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// -i applies to the ports after it; opentracker chroots to -d, so the
	// whitelist path is relative to it.
	start(t, dir, "opentracker", bin, "-i", "127.0.0.1", "-p", fmt.Sprint(httpPort), "-P", fmt.Sprint(udpPort),
		"-w", "whitelist.txt", "-d", dir, "-A", "127.0.0.1")
	waitListening(t, httpPort, 10*time.Second)
	waitUDPTracker(t, udpPort, 10*time.Second)
	return fmt.Sprintf("http://127.0.0.1:%d/announce", httpPort)
}

// waitUDPTracker sends BEP 15 connect requests to port until one is
// answered.
func waitUDPTracker(t testing.TB, port int, timeout time.Duration) {
	t.Helper()
	c, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := binary.BigEndian.AppendUint64(nil, 0x41727101980)
	req = binary.BigEndian.AppendUint32(req, 0)          // connect
	req = binary.BigEndian.AppendUint32(req, 0x5157a4d1) // transaction id
	buf := make([]byte, 64)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, err := c.Write(req); err == nil {
			c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			n, err := c.Read(buf)
			if err == nil && n >= 16 && binary.BigEndian.Uint32(buf[4:8]) == 0x5157a4d1 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("opentracker answers no UDP connect on port %d after %v", port, timeout)
}

// downloadsFromUDPSeed checks that swarm get finds the seed through the UDP
// tracker in torrent and gets the album byte for byte, and, when the seed
// is swarm's, that libtorrent does too.
func downloadsFromUDPSeed(t *testing.T, dir, seeder, torrent, src string, began time.Time) {
	t.Helper()
	got := filepath.Join(dir, "got")
	g := startSwarmGet(t, dir, "swarm get", torrent, got)
	if err := g.wait(t, 90*time.Second); err != nil {
		t.Fatalf("swarm get: %v", err)
	}
	sameBytes(t, filepath.Join(src, "album"), filepath.Join(got, "album"))
	if peers := announcedPeers(g.output()); !slices.ContainsFunc(peers, func(n int) bool { return n > 0 }) {
		t.Errorf("swarm get announced with peer counts %v; want the tracker to have named the seed", peers)
	}
	t.Logf("swarm get complete after %v", time.Since(began).Round(time.Millisecond))
	if seeder != "swarm" {
		return
	}
	ltGot := filepath.Join(dir, "lt")
	lt := startLtPeer(t, dir, "get", torrent, ltGot)
	if err := lt.wait(t, 90*time.Second); err != nil {
		t.Fatalf("libtorrent get through the UDP tracker: %v", err)
	}
	sameBytes(t, filepath.Join(src, "album"), filepath.Join(ltGot, "album"))
	t.Logf("libtorrent get complete after %v", time.Since(began).Round(time.Millisecond))
}
