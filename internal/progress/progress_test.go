package progress

import (
	"strings"
	"testing"

	"swarm/session"
)

func TestTerminalLineFitsTheWidth(t *testing.T) {
	st := session.Stats{Length: 20 << 20, Wanted: 20 << 20, Left: 12 << 20, Pieces: 80, Have: 32,
		DownRate: 3 << 20, UpRate: 1 << 20, Peers: 12, Seeds: 3, Uploaded: 1 << 20}
	line := StatusLine(st)
	want := " 40.0%  8 MiB/20 MiB  down 3 MiB/s  up 1 MiB/s  peers 12 (3 seeds)  eta 4s  ratio 0.05"
	if line != want {
		t.Errorf("statusLine = %q, want %q", line, want)
	}
	for _, width := range []int{20, 80, 100, 200} {
		got := TerminalLine(st, width)
		if len(got) >= width {
			t.Errorf("TerminalLine(width %d) is %d columns: %q", width, len(got), got)
		}
		if hasBar := strings.HasPrefix(got, "["); hasBar != (width >= len(line)+9) {
			t.Errorf("TerminalLine(width %d) = %q: bar shown %v", width, got, hasBar)
		}
	}
	if got := TerminalLine(st, 200); !strings.HasPrefix(got, "[########............] ") {
		t.Errorf("terminalLine at 40%% = %q, want a bar 8 of 20 full", got)
	}
}

func TestMagnetLine(t *testing.T) {
	for _, tt := range []struct {
		st    session.Stats
		nodes int
		want  string
	}{
		{session.Stats{Trackers: 2, TrackersAnswered: 1, Known: 3, Peers: 1, DHTLookups: 2}, 40,
			"metadata: 1/2 trackers answered  3 peers, 1 connected  DHT 40 nodes, 2 lookups"},
		{session.Stats{Known: 1, Connecting: 1}, -1, "metadata: 1 peer, 0 connected, 1 connecting"},
		{session.Stats{Trackers: 1, DHTLookups: 1}, 1, "metadata: 0/1 trackers answered  0 peers, 0 connected  DHT 1 node, 1 lookup"},
	} {
		if got := MagnetLine(tt.st, tt.nodes); got != tt.want {
			t.Errorf("MagnetLine(%+v, %d) = %q, want %q", tt.st, tt.nodes, got, tt.want)
		}
	}
}
