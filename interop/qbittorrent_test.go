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

[Preferences]
Connection\UPnP=false
WebUI\Address=127.0.0.1
WebUI\Port=%d
WebUI\LocalHostAuth=false
`, port, webui)
	if err := os.WriteFile(conf, []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, "", "qbittorrent-nox seed", bin, "--profile="+profile, fmt.Sprintf("--webui-port=%d", webui),
		fmt.Sprintf("--torrenting-port=%d", port), "--save-path="+save, "--skip-hash-check", "--add-paused=false", torrent)
	waitListening(t, port, 30*time.Second)
	return p
}
