package session

import (
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"swarm/metainfo"
)

func TestSelects(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"*.flac", "disc 1/01 intro.flac", true},
		{"disc 1", "disc 1/01 intro.flac", true},
		{"disc 1/*", "disc 1/01 intro.flac", true},
		{"disc*", "disc 2/deep/x.bin", true},
		{"disc 2/deep", "disc 2/deep/x.bin", true},
		{"deep", "disc 2/deep/x.bin", false}, // folders match from the top
		{"*.flac", "disc 1/cover.jpg", false},
		{"disc", "disc 1/01.flac", false},
		{"x.bin", "x.bin", true},
	}
	for _, tt := range tests {
		if got := selects(tt.pattern, tt.path); got != tt.want {
			t.Errorf("selects(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}

func TestSkipFilesReportsBadAndUnmatchedPatterns(t *testing.T) {
	info := &metainfo.Info{Name: "album", MultiFile: true, Files: []metainfo.File{
		{Path: []string{"disc 1", "01.flac"}, Length: 10},
		{Path: []string{"cover.jpg"}, Length: 5, Offset: 10},
	}}
	skip, err := SkipFiles(info, []string{"*.flac"})
	if err != nil || skip(0) || !skip(1) {
		t.Fatalf("SkipFiles(*.flac) = skip(0) %v, skip(1) %v, %v; want false, true, nil", skip != nil && skip(0), skip != nil && skip(1), err)
	}
	for _, tt := range []struct {
		pattern string
		badErr  bool // the pattern is malformed, not merely unmatched
	}{{"[x", true}, {"*.ogg", false}} {
		_, err := SkipFiles(info, []string{"*.flac", tt.pattern})
		var pe *PatternError
		if !errors.As(err, &pe) || pe.Pattern != tt.pattern || (pe.Err != nil) != tt.badErr {
			t.Errorf("SkipFiles(%q) = %v, want a PatternError for it (malformed %v)", tt.pattern, err, tt.badErr)
		}
	}
}

func TestSeedLimitsReached(t *testing.T) {
	st := Stats{Wanted: 100, Uploaded: 150}
	tests := []struct {
		limits SeedLimits
		seeded time.Duration
		want   string
	}{
		{SeedLimits{}, time.Hour, ""},
		{SeedLimits{Ratio: 1.5}, 0, EndSeedRatio},
		{SeedLimits{Ratio: 2}, 0, ""},
		{SeedLimits{Ratio: 2, Time: time.Minute}, time.Minute, EndSeedTime},
		{SeedLimits{Time: time.Minute}, time.Second, ""},
	}
	for _, tt := range tests {
		if got := tt.limits.Reached(st, tt.seeded); got != tt.want {
			t.Errorf("%+v.Reached(ratio 1.5, seeded %v) = %q, want %q", tt.limits, tt.seeded, got, tt.want)
		}
	}
}

// TestOpenDHTTakesTheNextPortOrAnyFree: the DHT node takes the listen port
// + 1 (UDP on the listen port is uTP's), any free port when that one is
// taken, and exactly the port it is given otherwise.
func TestOpenDHTTakesTheNextPortOrAnyFree(t *testing.T) {
	taken, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.LocalAddr().(*net.UDPAddr).Port
	// A session listening on port-1 wants port for its DHT: taken.
	n, err := openDHT("127.0.0.1:"+strconv.Itoa(port-1), DHTConfig{}, nil)
	if err != nil {
		t.Fatalf("openDHT with the next port taken: %v", err)
	}
	if got := int(n.Addr().Port()); got == port || got == 0 || !n.Addr().Addr().IsLoopback() {
		t.Errorf("DHT node on %v; want a free loopback port other than the taken %d", n.Addr(), port)
	}
	n.Close()
	// An explicit port is kept to: taken means an error.
	if n, err := openDHT("127.0.0.1:0", DHTConfig{Port: port}, nil); err == nil {
		n.Close()
		t.Errorf("openDHT on the taken port %d succeeded, want an error", port)
	}
	if _, err := openDHT("127.0.0.1:0", DHTConfig{Port: 70000}, nil); err == nil {
		t.Error("openDHT with port 70000 succeeded, want an error")
	}
}
