package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCreateWarnsWithoutTracker: a torrent made without -t relies on the
// DHT, peer exchange or --peer (a private one on --peer alone), and
// rtorrent ignores it silently (issue 21), so create says so on stderr.
func TestCreateWarnsWithoutTracker(t *testing.T) {
	content := filepath.Join(t.TempDir(), "f.bin")
	if err := os.WriteFile(content, make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string // in stderr; "" means no warning
	}{
		{"no tracker", nil, "peers can find this torrent only through the DHT, peer exchange (ut_pex) or --peer"},
		{"private, no tracker", []string{"--private"}, "only through --peer (a private torrent never uses the DHT"},
		{"a tracker", []string{"-t", "http://t.example/announce"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"create", content, "-o", filepath.Join(t.TempDir(), "f.torrent")}, tt.args...)
			_, stderr, code := runSwarm(t, args...)
			if code != 0 {
				t.Fatalf("create: exit %d: %s", code, stderr)
			}
			warned := strings.Contains(stderr, "warning: no tracker (-t)")
			if warned != (tt.want != "") || !strings.Contains(stderr, tt.want) {
				t.Errorf("create %v: stderr %q, want a warning containing %q", tt.args, stderr, tt.want)
			}
		})
	}
}

// TestPrivateTorrentHasNoMagnetLine: create and info print no magnet link
// for a private torrent, as seed does: none could fetch its metadata (BEP
// 27), and its tracker URL carries the passkey (found by an attacker review:
// `create --private -t URL/PASSKEY/announce` printed it in a magnet line). A
// public torrent keeps its line.
func TestPrivateTorrentHasNoMagnetLine(t *testing.T) {
	content := filepath.Join(t.TempDir(), "f.bin")
	if err := os.WriteFile(content, make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	const passkey = "0123456789abcdef0123456789abcdef"
	announce := "http://t.example/" + passkey + "/announce"
	for _, private := range []bool{true, false} {
		t.Run(fmt.Sprintf("private=%v", private), func(t *testing.T) {
			torrent := filepath.Join(t.TempDir(), "f.torrent")
			args := []string{"create", content, "-o", torrent, "-t", announce}
			if private {
				args = append(args, "--private")
			}
			created, stderr, code := runSwarm(t, args...)
			if code != 0 {
				t.Fatalf("create: exit %d: %s", code, stderr)
			}
			text, _, code := runSwarm(t, "info", torrent)
			asJSON, _, code2 := runSwarm(t, "info", torrent, "--json")
			if code != 0 || code2 != 0 {
				t.Fatalf("info: exit %d, --json: exit %d", code, code2)
			}
			var j struct{ Magnet string }
			if err := json.Unmarshal([]byte(asJSON), &j); err != nil {
				t.Fatalf("info --json: %v", err)
			}
			for name, out := range map[string]string{"create": created, "info": text} {
				if got := strings.Contains(out, "magnet:?"); got == private {
					t.Errorf("%s of a private=%v torrent: magnet link printed %v:\n%s", name, private, got, out)
				}
				if got := strings.Contains(out, noMagnet); got != private {
					t.Errorf("%s of a private=%v torrent: %q printed %v", name, private, noMagnet, got)
				}
			}
			if strings.Contains(created, passkey) != !private {
				t.Errorf("create of a private=%v torrent printed the passkey: %v:\n%s", private, !private, created)
			}
			if (j.Magnet == "") != private {
				t.Errorf("info --json of a private=%v torrent: magnet %q", private, j.Magnet)
			}
		})
	}
}
