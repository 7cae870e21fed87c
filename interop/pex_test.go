package interop_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// swarmLogLine is the part of a swarm JSON log line the pex test reads.
type swarmLogLine struct {
	Message  string `json:"message"`
	Peer     string `json:"peer"`
	Agent    string `json:"agent"`
	New      int    `json:"new"`
	Outgoing bool   `json:"outgoing"`
}

// swarmLog returns the JSON log lines p printed so far.
func swarmLog(p *proc) []swarmLogLine {
	var lines []swarmLogLine
	sc := bufio.NewScanner(strings.NewReader(p.output()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l swarmLogLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Message != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestPexWithLibtorrent exchanges peers with libtorrent over ut_pex (BEP 11),
// both ways, on a public torrent nobody seeds (so nobody completes and
// leaves):
//
//   - swarm to libtorrent: two libtorrent peers L1 and L2 are each given only
//     a swarm peer X. X's first pex message to each names the other (by the
//     listen port from its extension handshake); libtorrent must parse it
//     (its peer log shows the message) and connect one to the other with
//     pex as the source.
//   - libtorrent to swarm: a swarm peer A is given only L1. L1's first pex
//     message to A lists its peers (X and L2); A must use it and connect to
//     one of them.
//
// libtorrent sends its first pex message a second or so after the extension
// handshake once it has two peers, and one a minute after that, so both
// directions need only seconds; each wait is bounded.
func TestPexWithLibtorrent(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	dir := t.TempDir()
	content := filepath.Join(dir, "src", "pex.bin")
	writeRandomFile(t, content, 1<<20, 61)
	torrent := filepath.Join(dir, "pex.torrent")
	run(t, swarmBin, "create", content, "-o", torrent, "--piece-length", "64KiB")
	script, err := filepath.Abs(filepath.Join("testdata", "lt_pex.py"))
	if err != nil {
		t.Fatal(err)
	}
	startSwarm := func(name string, port int, peers ...string) *proc {
		args := []string{"get", torrent, "-o", filepath.Join(dir, name), "--listen", fmt.Sprintf("127.0.0.1:%d", port),
			"--dht=false", "--log-level", "debug", "--log-format", "json"}
		for _, p := range peers {
			args = append(args, "--peer", p)
		}
		p := start(t, dir, "swarm "+name, swarmBin, args...)
		p.waitFor(t, regexp.MustCompile(`torrent started`), 30*time.Second)
		return p
	}
	startLt := func(name string, port int, peer string) *proc {
		p := start(t, dir, "libtorrent "+name, py, script, torrent, filepath.Join(dir, name), fmt.Sprint(port), peer)
		p.waitFor(t, regexp.MustCompile(`listening \d+`), 30*time.Second)
		return p
	}

	portX, portL1, portL2 := freePort(t), freePort(t), freePort(t)
	x := startSwarm("x", portX)
	addrX := fmt.Sprintf("127.0.0.1:%d", portX)
	began := time.Now()
	l1 := startLt("l1", portL1, addrX)
	l2 := startLt("l2", portL2, addrX)

	// swarm → libtorrent: L1 or L2 dials the other, whose listen port only
	// swarm's pex carried. (Both often dial at once, and libtorrent then
	// keeps one connection or none for a while: the attempt is the proof.)
	dialsOther := regexp.MustCompile(fmt.Sprintf(`OUTGOING_CONNECTION \[ ep: 127\.0\.0\.1:(%d|%d) `, portL1, portL2))
	deadline := time.Now().Add(45 * time.Second)
	for !dialsOther.MatchString(l1.output() + l2.output()) {
		if time.Now().After(deadline) {
			t.Fatalf("after 45 s neither libtorrent peer dialed the other: swarm's pex did not reach them")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("swarm → libtorrent: a libtorrent peer dialed the other %.1fs after they started", time.Since(began).Seconds())
	// libtorrent logs each ut_pex message it reads: "<== PEX [ dropped: 0 added: 1 ]".
	if !regexp.MustCompile(fmt.Sprintf(`peerlog 127\.0\.0\.1:%d .*<== PEX \[ dropped: 0 added: 1 \]`, portX)).MatchString(l1.output() + l2.output()) {
		t.Errorf("no libtorrent peer logged reading a pex message from swarm (%s) with one added peer", addrX)
	}

	// libtorrent → swarm: A, given only L1, reads L1's first pex message
	// (X and L2) and takes at least one of them as new. X and L2 hear of A
	// in the same round and often dial A before A dials them: any second
	// connection of A's counts, whoever opened it.
	addrL1 := fmt.Sprintf("127.0.0.1:%d", portL1)
	aStarted := time.Now()
	a := startSwarm("a", freePort(t), addrL1)
	deadline = time.Now().Add(45 * time.Second)
	var heard bool
	var others map[string]bool
	for !heard || len(others) == 0 {
		heard, others = false, map[string]bool{}
		for _, l := range swarmLog(a) {
			switch {
			case l.Message == "pex received" && l.Peer == addrL1 && l.New > 0:
				heard = true
			case l.Message == "peer connected" && l.Peer != addrL1:
				others[l.Peer] = true
			}
		}
		if heard && len(others) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 45 s: swarm took new peers from libtorrent's pex: %v; connected to peers besides L1: %v", heard, others)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("libtorrent → swarm: A took peers from libtorrent's pex and was connected to %d more peers %.1fs after it started",
		len(others), time.Since(aStarted).Seconds())
	for _, p := range []*proc{x, a} {
		if strings.Contains(p.output(), "protocol violation") {
			t.Errorf("%s dropped a libtorrent peer for a protocol violation:\n%s", p.name, grepLines(p.output(), "protocol violation"))
		}
	}
}

// grepLines returns the lines of out that contain sub.
func grepLines(out, sub string) string {
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, sub) {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
