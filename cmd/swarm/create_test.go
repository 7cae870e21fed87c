package main

import (
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
