package interop_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// startQbSeed runs qbittorrent-nox seeding torrent from the data in save
// (hash check skipped), on 127.0.0.1 only, with its own profile folder and
// DHT, LSD, PEX and uTP off (INTEROP.md), until the test ends. It returns
// once qBittorrent accepts peers.
func startQbSeed(t testing.TB, torrent, save string) *proc {
	t.Helper()
	return startQb(t, "qbittorrent-nox seed", torrent, save, "--skip-hash-check")
}

// startQb runs qbittorrent-nox as startQbSeed does, with its other settings
// at their defaults, adding torrent to save into save, with extra flags.
func startQb(t testing.TB, name, torrent, save string, extra ...string) *proc {
	t.Helper()
	return startQbWith(t, name, torrent, save, "", extra...)
}

// startQbWith is startQb with more lines for the [BitTorrent] section of
// qBittorrent's settings, e.g. "Session\\Encryption=1\n" (encryption required).
func startQbWith(t testing.TB, name, torrent, save, bt string, extra ...string) *proc {
	t.Helper()
	bin := need(t, "qbittorrent-nox")
	profile := t.TempDir()
	port, webui := freePort(t), freePort(t)
	conf := filepath.Join(profile, "qBittorrent", "config", "qBittorrent.conf")
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	settings := fmt.Sprintf(`[LegalNotice]
Accepted=true

[BitTorrent]
Session\Port=%d
Session\InterfaceName=lo
Session\InterfaceAddress=127.0.0.1
Session\DHTEnabled=false
Session\LSDEnabled=false
Session\PeXEnabled=false
Session\BTProtocol=TCP
Session\AnnounceToAllTrackers=true
%s

[Preferences]
Connection\UPnP=false
WebUI\Address=127.0.0.1
WebUI\Port=%d
WebUI\LocalHostAuth=false
`, port, bt, webui)
	if err := os.WriteFile(conf, []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--profile=" + profile, fmt.Sprintf("--webui-port=%d", webui),
		fmt.Sprintf("--torrenting-port=%d", port), "--save-path=" + save, "--add-paused=false"}
	p := start(t, "", name, bin, append(append(args, extra...), torrent)...)
	waitListening(t, port, 30*time.Second)
	return p
}
