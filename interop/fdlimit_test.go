package interop_test

import (
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSeedUnderLowFDLimitSurvivesConnectionFlood (issue 13): `swarm seed`
// runs under `prlimit --nofile=256` with --max-peers 1000, so the
// descriptor limit is what binds. While a download is under way, 400
// connections arrive in a burst, each sends a handshake for the torrent and
// then stays silent. The seed must keep listening (before the fix, Accept
// failed with EMFILE and the listener was gone for good), refuse what it has
// no descriptors for, keep serving the download and announcing to its
// tracker; once the flood closes, a new download from the same process
// completes.
func TestSeedUnderLowFDLimitSurvivesConnectionFlood(t *testing.T) {
	prlimit := need(t, "prlimit")
	const flood = 400
	tport := freePort(t)
	announce := fmt.Sprintf("http://127.0.0.1:%d/announce", tport)
	start(t, t.TempDir(), "swarm tracker", swarmBin, "tracker", "--listen", fmt.Sprintf("127.0.0.1:%d", tport),
		"--interval", trackerTestInterval, "--min-interval", trackerTestMinInterval)
	waitListening(t, tport, 10*time.Second)
	parent, torrent := content(t, "single", announce) // 5 MiB
	ih, err := hex.DecodeString(infoHash(t, torrent))
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	seedAddr := fmt.Sprintf("127.0.0.1:%d", port)
	seed := start(t, "", "swarm seed", prlimit, "--nofile=256", swarmBin, "seed", torrent, "--data", parent,
		"--listen", seedAddr, "--max-peers", "1000", "--up-rate", "768KiB", "--dht=false",
		"--log-level", "debug", "--log-format", "json")
	waitListening(t, port, 30*time.Second)

	out1 := t.TempDir()
	get1 := start(t, "", "swarm get (before the flood)", swarmBin, getArgs(torrent, out1, "--peer", seedAddr)...)
	get1.waitFor(t, regexp.MustCompile(`(?s)("message":"piece verified".*){3}`), 30*time.Second)

	// The flood: each connection sends a handshake and then nothing; a
	// reader per connection notices when the seed closes it.
	var open atomic.Int32
	var readers sync.WaitGroup
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
		readers.Wait()
	}()
	dialFailed := 0
	var firstDialErr error
	floodAt := time.Now()
	for i := range flood {
		c, err := net.DialTimeout("tcp", seedAddr, 5*time.Second)
		if err != nil {
			if dialFailed++; firstDialErr == nil {
				firstDialErr = err
			}
			continue
		}
		conns = append(conns, c)
		hs := handshakeFor(ih, i)
		if _, err := c.Write(hs); err != nil {
			c.Close() // refused before we wrote: the reader sees that too
		}
		open.Add(1)
		readers.Go(func() {
			io.Copy(io.Discard, c)
			open.Add(-1)
		})
	}
	afterFlood := len(seed.output())
	time.Sleep(2 * time.Second) // refusals are immediate; this is ample
	kept := int(open.Load())
	t.Logf("flood of %d connections in %v: %d dials failed, the seed kept %d and closed %d",
		flood, time.Since(floodAt).Round(time.Millisecond), dialFailed, kept, len(conns)-kept)
	if dialFailed > 0 {
		t.Errorf("%d of %d connections to the seed failed (first: %v): it stopped listening", dialFailed, flood, firstDialErr)
	}
	if kept == 0 || kept == flood {
		t.Errorf("the seed kept %d of %d idle peers: want some kept and the rest refused", kept, flood)
	}
	// Still listening while full: a new connection is accepted (and
	// closed), not refused by the kernel.
	probe, err := net.DialTimeout("tcp", seedAddr, 5*time.Second)
	if err != nil {
		t.Errorf("a connection while the seed is full failed: %v", err)
	} else {
		probe.Close()
	}
	// The announces go on while the peers hold every descriptor they may.
	fresh := func() string { return seed.output()[afterFlood:] }
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(fresh(), `"message":"announced"`) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(fresh(), `"message":"announced"`) {
		t.Errorf("the seed did not announce in the 15 s after the flood")
	}
	for _, bad := range []string{"tracker unreachable", "accept failed", "too many open files"} {
		if strings.Contains(fresh(), bad) {
			t.Errorf("the seed logged %q after the flood", bad)
		}
	}
	if !strings.Contains(seed.output(), "too many peer connections") {
		t.Errorf("the seed never reported refusing peers for lack of descriptors")
	}

	if err := get1.wait(t, transferTimeout); err != nil {
		t.Fatalf("the download under way during the flood: %v", err)
	}
	sameTree(t, parent, out1)
	t.Logf("the download under way completed %v after the flood began, %d idle peers still held",
		time.Since(floodAt).Round(100*time.Millisecond), open.Load())

	// The flood ends; a new download from the same seed completes.
	for _, c := range conns {
		c.Close()
	}
	closedAt := time.Now()
	out2 := t.TempDir()
	get2 := start(t, "", "swarm get (after the flood)", swarmBin, getArgs(torrent, out2, "--peer", seedAddr)...)
	get2.waitFor(t, regexp.MustCompile(`"message":"piece verified"`), 30*time.Second)
	first := time.Since(closedAt)
	if err := get2.wait(t, transferTimeout); err != nil {
		t.Fatalf("the download after the flood: %v", err)
	}
	sameTree(t, parent, out2)
	t.Logf("after the flood closed: first piece in %v, complete in %v",
		first.Round(10*time.Millisecond), time.Since(closedAt).Round(100*time.Millisecond))
}

// handshakeFor is a BitTorrent handshake (BEP 3) for info hash ih with a
// peer id made from n.
func handshakeFor(ih []byte, n int) []byte {
	b := append([]byte("\x13BitTorrent protocol"), make([]byte, 8)...)
	b = append(b, ih...)
	return append(b, fmt.Sprintf("-FL0001-%012d", n)...)
}
