package interop_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// Encryption (MSE/PE, issue 19) against clients that require it. A swarm
// with --encryption require refuses plaintext handshakes and MSE's
// plaintext method, so a completed transfer was RC4-encrypted from the
// first byte; libtorrent forced (out_enc_policy, in_enc_policy forced,
// allowed_enc_level rc4) refuses plaintext likewise, and reports rc4=1.

// TestSwarmGetsFromLibtorrentRequiringEncryption: a libtorrent seed that
// forces RC4 serves swarm get with --encryption require, and with the
// default (prefer: plaintext first, hung up on, then encrypted).
func TestSwarmGetsFromLibtorrentRequiringEncryption(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	for _, mode := range []string{"require", "prefer"} {
		t.Run(mode, func(t *testing.T) {
			parent, torrent := content(t, "album")
			port := freePort(t)
			lt := start(t, "", "libtorrent seed", py, filepath.Join("testdata", "lt_peer.py"), "seed", torrent, parent, fmt.Sprint(port), "--encrypt")
			lt.waitFor(t, regexp.MustCompile(`listening`), 30*time.Second)
			waitListening(t, port, 30*time.Second)
			out := t.TempDir()
			began := time.Now()
			get := swarmGet(t, torrent, out, "--peer", fmt.Sprintf("127.0.0.1:%d", port), "--encryption", mode, "--utp=false")
			if err := get.wait(t, transferTimeout); err != nil {
				t.Fatalf("swarm get --encryption %s from libtorrent (encryption forced): %v", mode, err)
			}
			sameTree(t, parent, out)
			t.Logf("--encryption %s: complete in %v", mode, time.Since(began).Round(10*time.Millisecond))
		})
	}
}

// TestLibtorrentGetsFromSwarmRequiringEncryption: libtorrent forcing RC4
// downloads from swarm seed --encryption require, and says the connection
// was RC4.
func TestLibtorrentGetsFromSwarmRequiringEncryption(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	for _, utp := range []bool{false, true} {
		name, extra := "tcp", []string{}
		if utp {
			name, extra = "utp", []string{"--utp", "--no-tcp"}
		}
		t.Run(name, func(t *testing.T) {
			parent, torrent := content(t, "single")
			port := swarmSeed(t, torrent, parent, "--encryption", "require")
			out := t.TempDir()
			args := append([]string{filepath.Join("testdata", "lt_peer.py"), "get", torrent, out, "0", fmt.Sprintf("127.0.0.1:%d", port), "100", "--encrypt"}, extra...)
			lt := start(t, "", "libtorrent get", py, args...)
			m := lt.waitFor(t, regexp.MustCompile(`connected ([0-9.]+) utp=([01]) rc4=([01])`), transferTimeout)
			if m[3] != "1" || (m[2] == "1") != utp {
				t.Errorf("libtorrent's connection: utp=%s rc4=%s; want utp=%v rc4=1", m[2], m[3], utp)
			}
			if err := lt.wait(t, transferTimeout); err != nil {
				t.Fatalf("libtorrent (encryption forced) did not complete from swarm seed --encryption require: %v", err)
			}
			sameTree(t, parent, out)
			t.Logf("libtorrent connected (utp=%s, rc4=%s) %s s after connect_peer", m[2], m[3], m[1])
		})
	}
}

// TestSwarmGetsFromTransmissionRequiringEncryption: transmission-cli -er
// (encryption required) seeds to swarm get --encryption require through
// swarm's tracker. Transmission unchokes a new peer after 10 s or more.
func TestSwarmGetsFromTransmissionRequiringEncryption(t *testing.T) {
	tx := need(t, "transmission-cli")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeRandomFile(t, filepath.Join(src, "big.bin"), 5<<20, 19)
	announce := startSwarmTracker(t)
	torrent, ih := createWithTracker(t, filepath.Join(src, "big.bin"), announce, "256KiB")
	startTransmissionSeedEnc(t, tx, dir, torrent, src, "-er")
	waitTrackerCounts(t, announce, ih, 1, 0, 30*time.Second)
	got := filepath.Join(dir, "got")
	began := time.Now()
	get := start(t, dir, "swarm get", swarmBin, "get", torrent, "-o", got, "--listen", "127.0.0.1:0",
		"--log-level", "debug", "--encryption", "require", "--utp=false")
	if err := get.wait(t, 120*time.Second); err != nil {
		t.Fatalf("swarm get --encryption require from transmission-cli -er: %v", err)
	}
	sameBytes(t, filepath.Join(src, "big.bin"), filepath.Join(got, "big.bin"))
	t.Logf("complete in %v", time.Since(began).Round(10*time.Millisecond))
}

// TestSwarmGetsFromQBittorrentRequiringEncryption: qBittorrent-nox with
// encryption required (Session\Encryption=1: libtorrent forced, RC4 only)
// seeds to swarm get --encryption require through swarm's tracker.
func TestSwarmGetsFromQBittorrentRequiringEncryption(t *testing.T) {
	need(t, "qbittorrent-nox")
	parent, torrent := content(t, "single", startSwarmTracker(t))
	startQbWith(t, "qbittorrent-nox seed (encryption required)", torrent, parent, "Session\\Encryption=1\n", "--skip-hash-check")
	out := t.TempDir()
	began := time.Now()
	get := swarmGet(t, torrent, out, "--encryption", "require", "--utp=false", "--dht=false")
	if err := get.wait(t, transferTimeout); err != nil {
		t.Fatalf("swarm get --encryption require from qBittorrent (encryption required): %v", err)
	}
	sameBytes(t, filepath.Join(parent, "single"), filepath.Join(out, "single"))
	t.Logf("complete in %v", time.Since(began).Round(10*time.Millisecond))
}
