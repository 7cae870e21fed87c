package interop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"swarm/daemon/rpc"
)

// startTransmissionDaemon runs Debian's transmission-daemon with its
// config in cfg and downloads in dl, RPC and peers on loopback, no DHT,
// LPD or port mapping. It returns the RPC address.
func startTransmissionDaemon(t testing.TB, cfg, dl string) string {
	t.Helper()
	bin := need(t, "transmission-daemon")
	port := freePort(t)
	start(t, "", "transmission-daemon", bin, "-f", "-g", cfg, "-w", dl, "-p", strconv.Itoa(port), "-r", "127.0.0.1",
		"-P", strconv.Itoa(freePort(t)), "-T", "-M", "-O", "-Y", "--log-error")
	waitListening(t, port, 20*time.Second)
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// compareFields are the torrent-get fields both daemons must give alike
// for the same torrent in the same state.
var compareFields = []string{"name", "hashString", "totalSize", "sizeWhenDone", "leftUntilDone", "percentDone",
	"pieceCount", "pieceSize", "status", "error", "isPrivate", "files", "wanted", "priorities", "labels"}

// torrentFields returns the compareFields of the daemon's only torrent
// named name, through the RPC.
func torrentFields(t testing.TB, c *rpc.Client, name string) map[string]any {
	t.Helper()
	var out struct {
		Torrents []map[string]any `json:"torrents"`
	}
	if err := c.Call(context.Background(), "torrent-get", map[string]any{"fields": compareFields}, &out); err != nil {
		t.Fatalf("torrent-get from %s: %v", c.Addr, err)
	}
	for _, x := range out.Torrents {
		if x["name"] == name {
			return x
		}
	}
	t.Fatalf("%s lists no torrent %q: %v", c.Addr, name, out.Torrents)
	return nil
}

// waitFields polls until ok holds for the torrent's fields.
func waitFields(t testing.TB, c *rpc.Client, name, what string, timeout time.Duration, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f := torrentFields(t, c, name)
		if ok(f) {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not %s within %v: %v", c.Addr, name, what, timeout, f)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestDaemonAnswersLikeTransmissionDaemon runs the same transmission-remote
// commands against swarm daemon and Debian's transmission-daemon, and
// compares what both should agree on: names, sizes, pieces, files,
// percentDone after completion, status while seeding and after a stop. So
// the test checks the protocol, not our reading of it (issue 15).
func TestDaemonAnswersLikeTransmissionDaemon(t *testing.T) {
	tr := need(t, "transmission-remote")
	dir := t.TempDir()
	announce := startSwarmTracker(t)
	fileTorrent, _ := seedContent(t, dir, "single.bin", false, announce, 61)
	_, folderHash := seedContent(t, dir, "album", true, announce, 62)
	magnet := "magnet:?xt=urn:btih:" + folderHash + "&dn=album&tr=" + announce

	ours := startDaemon(t, filepath.Join(dir, "swarm-state"), filepath.Join(dir, "swarm-dl"), "")
	theirs := startTransmissionDaemon(t, filepath.Join(dir, "tr-config"), filepath.Join(dir, "tr-dl"))
	clients := map[string]*rpc.Client{"swarm": {Addr: ours.rpc}, "transmission": {Addr: theirs}}
	remote := func(addr string, args ...string) string { return run(t, tr, append([]string{addr}, args...)...) }

	for _, addr := range []string{ours.rpc, theirs} {
		remote(addr, "-a", fileTorrent)
		remote(addr, "-a", magnet)
	}
	seeding := func(f map[string]any) bool { return f["percentDone"] == 1.0 && f["status"] == 6.0 }
	got := map[string]map[string]map[string]any{} // daemon → torrent → fields
	for who, c := range clients {
		got[who] = map[string]map[string]any{}
		for _, name := range []string{"single.bin", "album"} {
			got[who][name] = waitFields(t, c, name, "seeding", 90*time.Second, seeding)
		}
	}
	for _, name := range []string{"single.bin", "album"} {
		diff(t, "complete "+name, got["transmission"][name], got["swarm"][name])
	}
	album, _ := json.Marshal(got["swarm"]["album"])
	t.Logf("swarm's album, as transmission-daemon's: %s", album)

	// -G 1 deselects the album's second file: wanted, sizeWhenDone and
	// the rest change alike.
	for who, c := range clients {
		remote(c.Addr, "-t", "2", "-G", "1")
		got[who]["album"] = waitFields(t, c, "album", "without its second file", 20*time.Second, func(f map[string]any) bool {
			w, _ := f["wanted"].([]any)
			return len(w) == 2 && w[1] == 0.0 && f["status"] == 6.0
		})
	}
	diff(t, "album after -G 1", got["transmission"]["album"], got["swarm"]["album"])

	// After -S both show the torrent stopped, still complete.
	for who, c := range clients {
		addr := c.Addr
		remote(addr, "-t", "all", "-S")
		for _, name := range []string{"single.bin", "album"} {
			got[who][name] = waitFields(t, c, name, "stopped", 20*time.Second, func(f map[string]any) bool { return f["status"] == 0.0 })
		}
	}
	for _, name := range []string{"single.bin", "album"} {
		diff(t, "stopped "+name, got["transmission"][name], got["swarm"][name])
	}

	// transmission-remote prints the same summary lines for both.
	for _, line := range []string{"Name:", "Hash:", "Percent Done:", "Total size:", "Piece Count:", "Piece Size:", "Public torrent:"} {
		a := pick(remote(theirs, "-t", "1", "-i"), line)
		b := pick(remote(ours.rpc, "-t", "1", "-i"), line)
		if a != b {
			t.Errorf("transmission-remote -t 1 -i %q: transmission-daemon %q, swarm %q", line, a, b)
		}
	}
	a, b := remote(theirs, "-t", "2", "-if"), remote(ours.rpc, "-t", "2", "-if")
	if a != b {
		t.Errorf("transmission-remote -t 2 -if differs:\ntransmission-daemon:\n%s\nswarm:\n%s", a, b)
	}
}

// diff reports the fields on which swarm's answer differs from
// transmission-daemon's.
func diff(t testing.TB, what string, want, got map[string]any) {
	t.Helper()
	for _, f := range compareFields {
		if !reflect.DeepEqual(want[f], got[f]) {
			w, _ := json.Marshal(want[f])
			g, _ := json.Marshal(got[f])
			t.Errorf("%s: %s is %s from transmission-daemon, %s from swarm", what, f, w, g)
		}
	}
}

// pick returns the line of out that starts (after spaces) with prefix.
func pick(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
