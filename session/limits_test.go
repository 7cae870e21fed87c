package session_test

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"swarm/metainfo"
	"swarm/peer"
	"swarm/session"
)

// openConns dials addr n times; with ih set, each connection sends a
// handshake (a distinct peer id each) and then nothing. The connections
// close when the test ends.
func openConns(t *testing.T, addr netip.AddrPort, n int, ih *[20]byte) []net.Conn {
	t.Helper()
	return openConnsFrom(t, netip.Addr{}, addr, n, ih)
}

// openConnsFrom is openConns from the local address from (another
// loopback address than the session's other peers, e.g. 127.0.0.2), or
// from the default one if from is the zero Addr. It skips the test where
// from cannot be bound (only Linux routes all of 127.0.0.0/8 to lo).
func openConnsFrom(t *testing.T, from netip.Addr, addr netip.AddrPort, n int, ih *[20]byte) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := range n {
		c, err := dialFrom(t, from, addr)
		if err != nil && i == 0 && from.IsValid() {
			t.Skipf("cannot connect from %s: %v", from, err)
		}
		if err != nil {
			t.Fatalf("connection %d of %d: %v", i+1, n, err)
		}
		conns = append(conns, c)
		if ih != nil {
			var id [20]byte
			copy(id[:], fmt.Sprintf("-XX0000-idle%03d%05d", from.As16()[15], i))
			c.Write(peer.AppendHandshake(nil, peer.NewHandshake(*ih, id))) // a refused one may fail: counted below
		}
		if testNet(t) != nil {
			// Peers arrive one at a time: the session is done with each
			// (its handshake read, or the connection refused) before the
			// next, as the tests expect, rather than as fast as the
			// scheduler lets the test dial.
			synctest.Wait()
		}
	}
	return conns
}

// stillOpen reports how many of conns the session has not closed within d.
func stillOpen(conns []net.Conn, d time.Duration) int {
	var mu sync.Mutex
	var wg sync.WaitGroup
	open := 0
	for _, c := range conns {
		wg.Go(func() {
			if !closedWithin(c, d) {
				mu.Lock()
				open++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return open
}

// leechFrom downloads m from addr in a new session and fails the test if
// it does not complete in 30 s with content.
func leechFrom(t *testing.T, m *metainfo.MetaInfo, content []byte, addr netip.AddrPort) {
	t.Helper()
	s := newSession(t, session.Config{})
	store := &memStore{data: make([]byte, len(content))}
	leech, err := s.NewTorrent(m, session.TorrentConfig{Store: store, Peers: []netip.AddrPort{addr}})
	if err != nil {
		t.Fatal(err)
	}
	s.AddTorrent(leech)
	cancel := runSession(t, s)
	select {
	case <-leech.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("download did not finish in 30 s: %+v", leech.Stats())
	}
	cancel()
	<-leech.Stopped()
	if !bytes.Equal(store.data, content) {
		t.Fatal("downloaded content differs from the seed's")
	}
}

// TestSilentConnectionsPastTheHandshakeCapAreClosed (issue 13): of 40
// connections that never send a handshake, the session holds 32 (its cap
// on incoming handshakes, each for at most the 20 s handshake limit) and
// closes the other 8 as soon as they are accepted, rather than holding a
// descriptor for each. Once they are gone, a download completes.
func TestSilentConnectionsPastTheHandshakeCapAreClosed(t *testing.T) {
	simulate(t, testSilentConnectionsPastTheHandshakeCapAreClosed)
}

func testSilentConnectionsPastTheHandshakeCapAreClosed(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 256<<10, 32<<10)
	var logs logBuffer
	s := loggedSession(t, session.Config{}, &logs)
	seed, err := s.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: bytes.Clone(content)}, Have: fullBitfield(m.Info.NumPieces()), Seed: true})
	if err != nil {
		t.Fatal(err)
	}
	s.AddTorrent(seed)
	runSession(t, s)
	conns := openConns(t, addrOf(t, s), 40, nil)
	if open := stillOpen(conns, time.Second); open != 32 {
		t.Errorf("%d of 40 silent connections held, want 32 (the handshake cap)", open)
	}
	if n := strings.Count(logs.grep("refusing new peers"), "\n") + 1; n != 1 || logs.grep("refusing new peers") == "" {
		t.Errorf("want one warning for the burst of refusals, got:\n%s", logs.grep("refusing new peers"))
	}
	for _, c := range conns {
		c.Close()
	}
	leechFrom(t, m, content, addrOf(t, s))
}

// TestPeersPastMaxConnsAreRefusedWhileConnectedOnesAreServed (issue 13):
// a seed limited to 40 peer connections in all serves a download while 60
// peers connect, handshake and idle. It keeps 40 connections, the download
// among them, refuses the rest at once, and does not dial an address it is
// given while full; the download completes. When the idle peers leave, the
// seed dials that address.
func TestPeersPastMaxConnsAreRefusedWhileConnectedOnesAreServed(t *testing.T) {
	simulate(t, testPeersPastMaxConnsAreRefusedWhileConnectedOnesAreServed)
}

func testPeersPastMaxConnsAreRefusedWhileConnectedOnesAreServed(t *testing.T) {
	checkGoroutines(t)
	const maxConns = 40
	m, content := makeTorrent(t, 1<<20, 32<<10)
	var logs logBuffer
	s := loggedSession(t, session.Config{MaxConns: maxConns, MaxPeers: 100, UploadRate: 128 << 10}, &logs)
	seed, err := s.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: bytes.Clone(content)}, Have: fullBitfield(m.Info.NumPieces()), Seed: true})
	if err != nil {
		t.Fatal(err)
	}
	s.AddTorrent(seed)
	runSession(t, s)

	ls := newSession(t, session.Config{})
	store := &memStore{data: make([]byte, len(content))}
	leech, err := ls.NewTorrent(m, session.TorrentConfig{Store: store, Peers: []netip.AddrPort{addrOf(t, s)}})
	if err != nil {
		t.Fatal(err)
	}
	ls.AddTorrent(leech)
	runSession(t, ls)
	for deadline := time.Now().Add(10 * time.Second); leech.Stats().Have == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the download did not start within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}

	ih := [20]byte(m.InfoHash)
	idle := openConns(t, addrOf(t, s), 60, &ih)
	held := stillOpen(idle, time.Second)
	// The seed holds maxConns sockets: the idle peers it kept, the
	// download's connection, and maybe one it dialed back to the
	// leecher's listen port (refused as a duplicate, or not yet closed).
	if held > maxConns-1 || held < maxConns-2 {
		t.Errorf("%d of 60 idle peers held, want %d or %d beside the download", held, maxConns-1, maxConns-2)
	}
	// A dial back to the leecher's listen port, refused as a duplicate, may
	// have freed a slot since: a few more idle peers take it.
	idle = append(idle, openConns(t, addrOf(t, s), 5, &ih)...)
	t.Logf("%d of 60 idle peers held beside the download", held)
	addr, accepted := listener(t)
	seed.AddPeers(t.Context(), []netip.AddrPort{addr})
	if connectedWithin(accepted, 2*time.Second) {
		t.Errorf("the seed dialed a new peer while at its connection limit:\n%s\n%s", logs.grep("peer connections"), logs.grep("disconnected"))
	}
	select {
	case <-leech.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("the download did not finish in 30 s beside %d idle peers: %+v", held, leech.Stats())
	}
	if !bytes.Equal(store.data, content) {
		t.Fatal("downloaded content differs from the seed's")
	}
	for _, c := range idle {
		c.Close()
	}
	left := time.Now()
	if !connectedWithin(accepted, 10*time.Second) {
		t.Errorf("the seed did not dial the new peer within 10 s of the idle ones leaving")
	}
	t.Logf("the seed dialed the new peer %v after the idle ones left", time.Since(left).Round(time.Millisecond))
	if logs.grep("peer connections below the limit again") == "" {
		t.Errorf("no log line says the session accepts peers again")
	}
}

// TestSquattersCannotKeepAPeerOut (issue 13): peers that handshake and
// then idle, as /tmp/attack/squat.py does, cannot lock a downloader out of
// a full torrent. The seed applies the per-IP caps to loopback here. 30 squatters
// from 127.0.0.2 get 2 of its 10 peer slots (MaxPeers); 8 more from four
// other IPs fill the rest. A downloader then arrives, takes the place of a
// squatter idle for TurnoverAfter (2 s here, 60 s by default), and
// completes.
func TestSquattersCannotKeepAPeerOut(t *testing.T) { simulate(t, testSquattersCannotKeepAPeerOut) }

func testSquattersCannotKeepAPeerOut(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 256<<10, 32<<10)
	var logs logBuffer
	s := loggedSession(t, session.Config{MaxPeers: 10, CapLoopback: true, TurnoverAfter: 2 * time.Second}, &logs)
	seed, err := s.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: bytes.Clone(content)}, Have: fullBitfield(m.Info.NumPieces()), Seed: true})
	if err != nil {
		t.Fatal(err)
	}
	s.AddTorrent(seed)
	runSession(t, s)
	ih := [20]byte(m.InfoHash)
	squat := func(from string, n int) []net.Conn {
		return openConnsFrom(t, netip.MustParseAddr(from), addrOf(t, s), n, &ih)
	}
	if held := stillOpen(squat("127.0.0.2", 30), time.Second); held != 2 {
		t.Errorf("%d of 30 squatters from one IP held, want 2 (the per-IP cap)", held)
	}
	var others []net.Conn
	for i := 3; i <= 6; i++ {
		others = append(others, squat(fmt.Sprintf("127.0.0.%d", i), 2)...)
	}
	if held := stillOpen(others, time.Second); held != 8 {
		t.Fatalf("%d of 8 squatters from four IPs held, want all 8 (filling MaxPeers)", held)
	}
	if p := seed.Stats().Peers; p != 10 {
		t.Fatalf("the seed has %d peers, want 10 (full)", p)
	}
	start := time.Now()
	leechFrom(t, m, content, addrOf(t, s))
	replaced := logs.grep("replaced by a new peer")
	if replaced == "" {
		t.Error("no squatter was replaced, yet the download completed")
	}
	t.Logf("the download completed %v after it started beside 10 squatters; %d squatters replaced",
		time.Since(start).Round(time.Millisecond), strings.Count(replaced, "\n")+1)
}

// TestSilentHandshakesFromOneIPLeaveSlotsForOthers (issue 13): 32
// connections from one IP (127.0.0.2; the seed applies the per-IP caps to
// loopback here) that never send a handshake hold 4 of the 32 handshake
// slots, not all of them: the other 28 are closed as soon as they are
// accepted, and a peer from another IP downloads while the 4 wait out the
// handshake time limit.
func TestSilentHandshakesFromOneIPLeaveSlotsForOthers(t *testing.T) {
	simulate(t, testSilentHandshakesFromOneIPLeaveSlotsForOthers)
}

func testSilentHandshakesFromOneIPLeaveSlotsForOthers(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 256<<10, 32<<10)
	s := runSeed(t, m, content, session.Config{CapLoopback: true})
	silent := openConnsFrom(t, netip.MustParseAddr("127.0.0.2"), addrOf(t, s), 32, nil)
	start := time.Now()
	if held := stillOpen(silent, time.Second); held != 4 {
		t.Errorf("%d of 32 silent connections from one IP held, want 4 (the per-IP handshake cap)", held)
	}
	leechFrom(t, m, content, addrOf(t, s))
	t.Logf("the download completed %v after 32 silent connections from one IP (handshake limit %v)",
		time.Since(start).Round(time.Millisecond), peer.HandshakeTimeout)
}
