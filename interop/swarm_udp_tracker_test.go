package interop_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSwarmTrackerUDP: `swarm tracker --udp` (BEP 15) with real clients.
// The torrent's only tracker is udp://…/announce; a seed (swarm,
// libtorrent or qBittorrent) announces over UDP, the tracker's HTTP scrape
// counts it (one set of swarms), and `swarm get` finds it through the UDP
// tracker. With a swarm seed a libtorrent download joins through the same
// tracker too.
func TestSwarmTrackerUDP(t *testing.T) {
	for _, seeder := range []string{"swarm", "libtorrent", "qbittorrent"} {
		t.Run(seeder+" seeds", func(t *testing.T) {
			began := time.Now()
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			writeContent(t, filepath.Join(src, "album"), 23)

			udpPort := freeUDPPort(t)
			announce := fmt.Sprintf("udp://127.0.0.1:%d/announce", udpPort)
			torrent, ih := createWithTracker(t, filepath.Join(src, "album"), announce, "16KiB")
			httpURL := startSwarmUDPTracker(t, udpPort)

			if seeder == "qbittorrent" {
				startQbSeed(t, torrent, src)
			} else {
				startSeeder(t, seeder, dir, torrent, src)
			}
			waitTrackerCounts(t, httpURL, ih, 1, 0, 30*time.Second)
			t.Logf("%s seed registered over UDP after %v", seeder, time.Since(began).Round(time.Millisecond))

			downloadsFromUDPSeed(t, dir, seeder, torrent, src, began)
		})
	}
}

var udpTrackerURLRe = regexp.MustCompile(`udp tracker listening on (udp://\S+/announce)`)

// startSwarmUDPTracker runs `swarm tracker` with HTTP on a free port and
// UDP on udpPort of 127.0.0.1, and returns the HTTP announce URL (for
// scrapes).
func startSwarmUDPTracker(t testing.TB, udpPort int) string {
	t.Helper()
	p := start(t, t.TempDir(), "swarm tracker --udp", swarmBin, "tracker", "--listen", "127.0.0.1:0",
		"--udp", fmt.Sprintf("127.0.0.1:%d", udpPort),
		"--interval", trackerTestInterval, "--min-interval", trackerTestMinInterval, "--log-level", "debug")
	if got, want := p.waitFor(t, udpTrackerURLRe, 10*time.Second)[1], fmt.Sprintf("udp://127.0.0.1:%d/announce", udpPort); got != want {
		t.Fatalf("swarm tracker printed %s, want %s", got, want)
	}
	return trackerURLRe.FindStringSubmatch(p.output())[1]
}

// TestPrivateTrackerUDP: private mode over UDP, the passkey in the BEP 41
// URL data (udp://HOST:PORT/PASSKEY/announce). libtorrent seeds with
// alice's UDP URL, swarm get downloads with bob's, and the tracker accounts
// bob's download.
func TestPrivateTrackerUDP(t *testing.T) {
	s := newPrivateSetup(t, 2<<20)
	udpPort := freeUDPPort(t)
	udpTorrent := func(user string) string {
		httpURL := s.announceURL(t, user)
		udpURL := strings.Replace(httpURL, s.base, fmt.Sprintf("udp://127.0.0.1:%d", udpPort), 1)
		if udpURL == httpURL || !strings.HasSuffix(udpURL, "/announce") {
			t.Fatalf("%s's announce URL %s: want %s/PASSKEY/announce", user, httpURL, s.base)
		}
		torrent := filepath.Join(t.TempDir(), user+"-udp.torrent")
		run(t, swarmBin, "create", s.content, "-o", torrent, "--private", "-t", udpURL, "--piece-length", "256KiB")
		if ih := readWithSwarm(t, torrent).InfoHash; ih != s.infoHash {
			t.Fatalf("udp torrent info hash %s, want %s", ih, s.infoHash)
		}
		return torrent
	}
	alice, bob := udpTorrent("alice"), udpTorrent("bob")
	p := start(t, filepath.Dir(s.db), "swarm tracker --private --udp", swarmBin, "tracker", "--private", "--db", s.db,
		"--listen", fmt.Sprintf("127.0.0.1:%d", s.port), "--udp", fmt.Sprintf("127.0.0.1:%d", udpPort),
		"--interval", trackerTestInterval, "--min-interval", trackerTestMinInterval, "--log-level", "debug")
	p.waitFor(t, regexp.MustCompile(`over UDP to udp://127\.0\.0\.1:\d+/PASSKEY/announce`), 10*time.Second)

	dir := t.TempDir()
	startLtPeer(t, dir, "seed", alice, s.src)
	waitTrackerCounts(t, s.announceURL(t, "alice"), s.infoHash, 1, 0, 30*time.Second)
	got := filepath.Join(dir, "got")
	g := startSwarmGet(t, dir, "swarm get (bob)", bob, got)
	if err := g.wait(t, 90*time.Second); err != nil {
		t.Fatalf("swarm get: %v", err)
	}
	sameBytes(t, s.content, filepath.Join(got, filepath.Base(s.content)))
	// Totals are written once a second.
	deadline := time.Now().Add(20 * time.Second)
	for s.totals(t, "bob").Downloaded < s.size {
		if time.Now().After(deadline) {
			t.Fatalf("bob's totals %+v after 20 s, want downloaded >= %d", s.totals(t, "bob"), s.size)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
