package metadata_test

import (
	"context"
	crand "crypto/rand"
	"crypto/sha1"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/metadata"
	"swarm/metainfo"
	"swarm/peer"
)

// checkGoroutines fails the test if goroutines started during it are still running a few
// seconds after it ends (its other cleanups included, which run first).
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			t.Errorf("%d goroutines leaked:\n%s", n-before, buf[:runtime.Stack(buf, true)])
		}
	})
}

// makeInfo returns a single-file info dict with numPieces 16 KiB pieces; 2,000 pieces make
// it 40,073 bytes, three metadata pieces.
func makeInfo(t testing.TB, numPieces int) []byte {
	t.Helper()
	hashes := make([]byte, 0, 20*numPieces)
	for i := range numPieces {
		h := sha1.Sum(fmt.Appendf(nil, "piece %d", i))
		hashes = append(hashes, h[:]...)
	}
	info := fmt.Appendf(nil, "d6:lengthi%de4:name8:test.bin12:piece lengthi16384e6:pieces%d:%se",
		numPieces*16384, len(hashes), hashes)
	if _, err := metainfo.ParseInfo(info); err != nil {
		t.Fatalf("makeInfo: %v", err)
	}
	return info
}

// mode is how a fake peer behaves.
type mode int

const (
	good           mode = iota // serves the metadata
	corrupt                    // flips a byte of the last piece
	reject                     // rejects every request
	shortPiece                 // sends the first piece one byte short
	wrongTotalSize             // says total_size is one more than the handshake did
	noExtension                // leaves ut_metadata out of its extension handshake
	zeroSize                   // announces ut_metadata without metadata_size
	hugeSize                   // announces a metadata_size above the limit
	silent                     // never answers a request
	noExtensionBit             // clears the extension protocol bit in its handshake
	held                       // after the first request, hangs up once told to on release
	junk                       // serves its info, junk of a size near the limit, for another info hash
)

var modeNames = [...]string{"good", "corrupt", "reject", "short piece", "wrong total_size", "no ut_metadata",
	"zero metadata_size", "huge metadata_size", "silent", "no extension bit", "held", "junk"}

func (m mode) String() string { return modeNames[m] }

// fakeID is the id under which the fakes want ut_metadata messages, unlike our
// peer.MetadataID, so that a mix-up shows.
const fakeID = 3

// fakePeer is a peer on 127.0.0.1 that holds info and answers ut_metadata requests as its
// mode says.
type fakePeer struct {
	info     []byte
	mode     mode
	ln       net.Listener
	conns    atomic.Int32 // connections accepted
	requests atomic.Int32 // metadata requests received
	refuse   atomic.Int32 // connections still to hang up on before the handshake
	live     *atomic.Int32
	maxLive  *atomic.Int32
	release  chan struct{} // a held fake hangs up on a receive from it
	waiting  *atomic.Int32 // held fakes waiting on release; the releaser decrements it
	stop     chan struct{} // closed when the test ends
	claimed  int           // added to len(info) in the metadata_size it claims; set before use

	mu   sync.Mutex
	open []net.Conn
	wg   sync.WaitGroup
}

// startFake starts a fake peer that stops when the test ends. live and maxLive, if not
// nil, count the connections open at the same time across fakes.
func startFake(t *testing.T, info []byte, m mode, live, maxLive *atomic.Int32) *fakePeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if live == nil {
		live, maxLive = new(atomic.Int32), new(atomic.Int32)
	}
	f := &fakePeer{info: info, mode: m, ln: ln, live: live, maxLive: maxLive, release: make(chan struct{}), stop: make(chan struct{}), waiting: new(atomic.Int32)}
	f.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.open = append(f.open, c)
			f.mu.Unlock()
			f.conns.Add(1)
			if f.refuse.Add(-1) >= 0 {
				// Not ready, as libtorrent before it has added the torrent: our
				// handshake is unread, so the close resets the connection.
				c.Close()
				continue
			}
			f.wg.Go(func() {
				defer c.Close()
				n := f.live.Add(1)
				defer f.live.Add(-1)
				for old := f.maxLive.Load(); n > old && !f.maxLive.CompareAndSwap(old, n); old = f.maxLive.Load() {
				}
				if err := f.serve(c); err != nil {
					t.Logf("fake %v peer: %v", f.mode, err)
				}
			})
		}
	})
	t.Cleanup(func() {
		close(f.stop)
		ln.Close()
		f.mu.Lock()
		for _, c := range f.open {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *fakePeer) addr() netip.AddrPort {
	return f.ln.Addr().(*net.TCPAddr).AddrPort()
}

func (f *fakePeer) handshake() peer.Handshake {
	h := peer.NewHandshake(sha1.Sum(f.info), [20]byte([]byte("-FK0001-fakefakefake")))
	if f.mode == noExtensionBit {
		h.Reserved = peer.Reserved{}
	}
	return h
}

func (f *fakePeer) serve(c net.Conn) error {
	_, err := peer.Accept(c, func(got [20]byte) (peer.Handshake, bool) {
		return f.handshake(), got == sha1.Sum(f.info)
	})
	if err != nil {
		return err
	}
	return f.exchange(c)
}

// connect opens a connection from the fake to us, as a peer that found us does, and
// returns our end after the handshake, for Config.Incoming.
func (f *fakePeer) connect(t *testing.T) metadata.Accepted {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f.wg.Go(func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		f.mu.Lock()
		f.open = append(f.open, c)
		f.mu.Unlock()
		defer c.Close()
		if _, err := peer.Initiate(c, f.handshake()); err != nil {
			t.Logf("fake %v peer: handshake: %v", f.mode, err)
			return
		}
		if err := f.exchange(c); err != nil {
			t.Logf("fake %v peer: %v", f.mode, err)
		}
	})
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := peer.Accept(c, func([20]byte) (peer.Handshake, bool) {
		return peer.NewHandshake(sha1.Sum(f.info), [20]byte([]byte("-SW0001-testtesttest"))), true
	})
	if err != nil {
		t.Fatal(err)
	}
	return metadata.Accepted{Conn: c, Handshake: theirs}
}

// exchange is the fake's side after the handshake.
func (f *fakePeer) exchange(c net.Conn) error {
	conn, err := peer.NewConn(c, peer.Config{IdleTimeout: time.Minute})
	if err != nil {
		return err
	}
	// Real peers send a bitfield and haves around the extension handshake.
	hs := peer.ExtensionHandshake{M: map[string]uint8{peer.MetadataExtension: fakeID, "ut_pex": 1}, V: "fake",
		MetadataSize: len(f.info) + f.claimed, Port: f.addr().Port()}
	switch f.mode {
	case noExtension:
		delete(hs.M, peer.MetadataExtension)
	case zeroSize:
		hs.MetadataSize = 0
	case hugeSize:
		hs.MetadataSize = peer.MaxMetadataSize + 1
	}
	payload, err := hs.Marshal()
	if err != nil {
		return err
	}
	if err := conn.WriteMessages([]peer.Message{
		{ID: peer.Bitfield, Bitfield: []byte{0xff, 0x00}},
		{ID: peer.Have, Index: 9},
		{ID: peer.Extended, ExtendedID: peer.ExtensionHandshakeID, Payload: payload},
		{KeepAlive: true},
	}); err != nil {
		return err
	}
	theirID := uint8(0)
	for {
		var m peer.Message
		if err := conn.ReadMessage(&m); err != nil {
			return nil // the fetcher hung up
		}
		if m.ID != peer.Extended {
			return fmt.Errorf("unexpected %v", m)
		}
		if m.ExtendedID == peer.ExtensionHandshakeID {
			h, err := peer.ParseExtensionHandshake(m.Payload)
			if err != nil {
				return err
			}
			theirID = h.M[peer.MetadataExtension]
			continue
		}
		if m.ExtendedID != fakeID {
			return fmt.Errorf("extended message under id %d, want %d", m.ExtendedID, fakeID)
		}
		req, err := peer.ParseMetadataMessage(m.Payload)
		if err != nil {
			return err
		}
		if req.Type != peer.MetadataRequest || theirID == 0 {
			return fmt.Errorf("unexpected %+v (their ut_metadata id %d)", req, theirID)
		}
		f.requests.Add(1)
		if f.mode == held {
			f.waiting.Add(1)
			select {
			case <-f.release:
			case <-f.stop:
			}
			return nil // the deferred calls count the connection gone, then close it
		}
		reply, err := f.reply(req.Piece)
		if err != nil {
			return err
		}
		if reply == nil {
			continue
		}
		if err := conn.WriteMessage(peer.Message{ID: peer.Extended, ExtendedID: theirID, Payload: reply}); err != nil {
			return err
		}
	}
}

// reply returns the payload answering a request for piece i, or nil for none.
func (f *fakePeer) reply(i int) ([]byte, error) {
	size := len(f.info)
	data := f.info[i*peer.MetadataPieceSize : i*peer.MetadataPieceSize+peer.MetadataPieceLen(size, i)]
	m := peer.MetadataMessage{Type: peer.MetadataData, Piece: i, TotalSize: size, Data: data}
	switch f.mode {
	case silent:
		return nil, nil
	case reject:
		m = peer.MetadataMessage{Type: peer.MetadataReject, Piece: i}
	case corrupt:
		if i == peer.MetadataPieces(size)-1 {
			m.Data = append([]byte{}, data...)
			m.Data[len(m.Data)/2] ^= 1
		}
	case wrongTotalSize:
		m.TotalSize = size + 1
		if i == peer.MetadataPieces(size)-1 {
			m.Data = append(data[:len(data):len(data)], 'x')
		}
	case shortPiece:
		b, err := m.Marshal()
		return b[:len(b)-1], err
	}
	return m.Marshal()
}

func addrs(ps ...*fakePeer) chan netip.AddrPort {
	ch := make(chan netip.AddrPort, len(ps))
	for _, p := range ps {
		ch <- p.addr()
	}
	close(ch)
	return ch
}

func testConfig(t *testing.T, info []byte, peers <-chan netip.AddrPort) metadata.Config {
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)
	return metadata.Config{
		InfoHash:    sha1.Sum(info),
		PeerID:      [20]byte([]byte("-SW0001-testtesttest")),
		Peers:       peers,
		Logger:      &log,
		ListenPort:  6881,
		PeerTimeout: 2 * time.Second,
	}
}

func TestFetchMultiPieceInfo(t *testing.T) {
	checkGoroutines(t)
	for _, numPieces := range []int{1, 819, 2000} { // 1, 2 and 3 metadata pieces; 819 ends on an exact 16 KiB
		info := makeInfo(t, numPieces)
		t.Run(fmt.Sprintf("%d bytes", len(info)), func(t *testing.T) {
			f := startFake(t, info, good, nil, nil)
			got, err := metadata.Fetch(t.Context(), testConfig(t, info, addrs(f)))
			if err != nil || string(got) != string(info) {
				t.Fatalf("Fetch() = %d bytes, %v, want the %d-byte info dict", len(got), err, len(info))
			}
			if want := int32(peer.MetadataPieces(len(info))); f.requests.Load() != want {
				t.Errorf("fake peer got %d requests, want %d (one per piece)", f.requests.Load(), want)
			}
			m, err := metainfo.FromInfo(got, [][]string{{"http://t/announce"}})
			if err != nil || m.InfoHash != sha1.Sum(info) {
				t.Errorf("FromInfo(fetched) = %v, want info hash %x", err, sha1.Sum(info))
			}
		})
	}
}

func TestFetchDropsBadPeerAndUsesNext(t *testing.T) {
	checkGoroutines(t)
	info := makeInfo(t, 2000)
	// corrupt is not among them: its IP is banned, and both fakes are on 127.0.0.1
	// (TestFetchBoundsMemoryAndBansBadIPs covers it).
	for _, m := range []mode{reject, shortPiece, wrongTotalSize, noExtension, zeroSize, hugeSize, silent, noExtensionBit} {
		t.Run(m.String(), func(t *testing.T) {
			bad := startFake(t, info, m, nil, nil)
			good := startFake(t, info, good, nil, nil)
			// The bad peer comes first, then again, then the good one; one connection at a time.
			cfg := testConfig(t, info, addrs(bad, bad, good))
			cfg.MaxConns = 1
			cfg.PeerTimeout = 500 * time.Millisecond
			got, err := metadata.Fetch(t.Context(), cfg)
			if err != nil || string(got) != string(info) {
				t.Fatalf("Fetch() = %d bytes, %v, want the info dict from the good peer", len(got), err)
			}
			if n := bad.conns.Load(); n != 1 {
				t.Errorf("bad peer was dialled %d times, want 1", n)
			}
			if n := good.conns.Load(); n != 1 {
				t.Errorf("good peer was dialled %d times, want 1", n)
			}
		})
	}
}

// TestFetchRetriesPeerThatWasNotReady: a peer that hangs up on the first two handshakes,
// as libtorrent does until it has added the torrent, is dialled again after a backoff and
// gives the info dict on the third dial; the same address delivered again meanwhile is not
// dialled twice at once.
func TestFetchRetriesPeerThatWasNotReady(t *testing.T) {
	checkGoroutines(t)
	info := makeInfo(t, 2000)
	f := startFake(t, info, good, nil, nil)
	f.refuse.Store(2)
	cfg := testConfig(t, info, addrs(f, f, f))
	cfg.RetryDelay = 50 * time.Millisecond
	start := time.Now()
	got, err := metadata.Fetch(t.Context(), cfg)
	if err != nil || string(got) != string(info) {
		t.Fatalf("Fetch() = %d bytes, %v, want the info dict on the third dial", len(got), err)
	}
	if n := f.conns.Load(); n != 3 {
		t.Errorf("peer dialled %d times, want 3 (two refused, one served)", n)
	}
	// Waits of 50 ms, then 100 ms.
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("Fetch took %v, want at least the 150 ms of backoff", d)
	}
}

// TestFetchRetriesAreBounded: a peer that is never ready, or whose port refuses every
// dial, is dialled MaxAttempts times with doubling waits, and then Fetch gives up.
func TestFetchRetriesAreBounded(t *testing.T) {
	checkGoroutines(t)
	info := makeInfo(t, 10)
	never := startFake(t, info, good, nil, nil)
	never.refuse.Store(1 << 30)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close() // nothing listens there now: every dial is refused
	for _, tt := range []struct {
		name string
		addr netip.AddrPort
	}{{"hangs up", never.addr()}, {"refuses dials", closed}} {
		t.Run(tt.name, func(t *testing.T) {
			peers := make(chan netip.AddrPort, 1)
			peers <- tt.addr
			close(peers)
			cfg := testConfig(t, info, peers)
			cfg.RetryDelay = 20 * time.Millisecond
			cfg.MaxAttempts = 4
			before := never.conns.Load()
			start := time.Now()
			_, err := metadata.Fetch(t.Context(), cfg)
			if !errors.Is(err, metadata.ErrPeersExhausted) {
				t.Fatalf("Fetch() = %v, want ErrPeersExhausted", err)
			}
			// Waits of 20, 40 and 80 ms between the four dials.
			if d := time.Since(start); d < 140*time.Millisecond || d > 10*time.Second {
				t.Errorf("Fetch gave up after %v, want the 140 ms of backoff and not much more", d)
			}
			if n := never.conns.Load() - before; tt.addr == never.addr() && n != 4 {
				t.Errorf("peer dialled %d times, want 4 (MaxAttempts)", n)
			}
		})
	}
}

func TestFetchFailsWhenEveryPeerIsBad(t *testing.T) {
	checkGoroutines(t)
	info := makeInfo(t, 2000)
	a := startFake(t, info, corrupt, nil, nil)
	b := startFake(t, info, reject, nil, nil)
	got, err := metadata.Fetch(t.Context(), testConfig(t, info, addrs(a, b, a)))
	if !errors.Is(err, metadata.ErrPeersExhausted) || got != nil {
		t.Fatalf("Fetch() = %d bytes, %v, want ErrPeersExhausted", len(got), err)
	}
	if a.conns.Load() != 1 || b.conns.Load() != 1 {
		t.Errorf("peers dialled %d and %d times, want once each", a.conns.Load(), b.conns.Load())
	}
}

func TestFetchRefusesOversizedMetadataWithoutAllocating(t *testing.T) {
	checkGoroutines(t)
	info := makeInfo(t, 2000)
	f := startFake(t, info, hugeSize, nil, nil)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := metadata.Fetch(t.Context(), testConfig(t, info, addrs(f)))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, metadata.ErrPeersExhausted) {
		t.Fatalf("Fetch() = %v, want ErrPeersExhausted", err)
	}
	if n := f.requests.Load(); n != 0 {
		t.Errorf("fetcher sent %d requests to a peer announcing %d bytes, want none", n, peer.MaxMetadataSize+1)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > peer.MaxMetadataSize/4 {
		t.Errorf("Fetch allocated %d bytes for a refused peer", grew)
	}
}

func TestFetchBoundsParallelConnections(t *testing.T) {
	checkGoroutines(t)
	info := makeInfo(t, 10)
	const maxConns, numFakes = 2, 6
	var live, maxLive atomic.Int32
	var fakes []*fakePeer
	for range numFakes {
		f := startFake(t, info, held, &live, &maxLive)
		f.claimed = len(fakes) // sizes differ: one size is asked of one peer at a time
		fakes = append(fakes, f)
	}
	cfg := testConfig(t, info, addrs(fakes...))
	cfg.MaxConns = maxConns
	cfg.PeerTimeout = time.Minute // only the fakes hanging up end these fetches
	done := make(chan error, 1)
	go func() {
		_, err := metadata.Fetch(t.Context(), cfg)
		done <- err
	}()
	// Each time the fetcher holds as many connections as it may (or all that are left), one
	// fake hangs up. A fake counts its connection gone before it closes it, so live never
	// counts one the fetcher has already left.
	waiting := func() (n int32) {
		for _, f := range fakes {
			n += f.waiting.Load()
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for released := 0; released < numFakes; released++ {
		want := int32(min(maxConns, numFakes-released))
		for waiting() < want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := waiting(); n != want {
			t.Fatalf("after %d hang-ups: %d connections wait for an answer, want %d", released, n, want)
		}
	releaseOne:
		for _, f := range fakes {
			if f.waiting.Load() == 0 {
				continue
			}
			f.waiting.Add(-1)
			select {
			case f.release <- struct{}{}:
				break releaseOne
			case <-time.After(5 * time.Second):
				t.Fatal("a waiting fake did not take its release")
			}
		}
	}
	if err := <-done; !errors.Is(err, metadata.ErrPeersExhausted) {
		t.Fatalf("Fetch() = %v, want ErrPeersExhausted", err)
	}
	if n := maxLive.Load(); n != maxConns {
		t.Errorf("at most %d connections open at once, want %d (MaxConns)", n, maxConns)
	}
	for i, f := range fakes {
		if f.conns.Load() != 1 {
			t.Errorf("fake %d dialled %d times, want 1", i, f.conns.Load())
		}
	}
}

func TestFetchWaitsForAddresses(t *testing.T) {
	checkGoroutines(t)
	info := makeInfo(t, 2000)
	f := startFake(t, info, good, nil, nil)
	peers := make(chan netip.AddrPort) // stays open, as a DHT lookup's would
	type res struct {
		info []byte
		err  error
	}
	done := make(chan res, 1)
	go func() {
		b, err := metadata.Fetch(t.Context(), testConfig(t, info, peers))
		done <- res{b, err}
	}()
	peers <- netip.MustParseAddrPort("0.0.0.0:1")                    // skipped: unspecified
	peers <- netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0) // skipped: port 0
	peers <- f.addr()
	r := <-done
	if r.err != nil || string(r.info) != string(info) {
		t.Fatalf("Fetch() = %d bytes, %v, want the info dict", len(r.info), r.err)
	}
}

func TestFetchCancelReturnsPromptly(t *testing.T) {
	checkGoroutines(t)
	info := makeInfo(t, 2000)
	var fakes []*fakePeer
	for range 3 {
		fakes = append(fakes, startFake(t, info, silent, nil, nil))
	}
	peers := make(chan netip.AddrPort, len(fakes)) // left open
	for _, f := range fakes {
		peers <- f.addr()
	}
	cfg := testConfig(t, info, peers)
	cfg.PeerTimeout = time.Minute // only the cancel may end these fetches
	cfg.Stats = new(metadata.Stats)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := metadata.Fetch(ctx, cfg)
		done <- err
	}()
	// Wait until one fake holds a connection that waits for an answer and the other two,
	// through the handshake, wait for their turn (they claim the same size).
	asked := func() (n int32) {
		for _, f := range fakes {
			n += min(f.requests.Load(), 1)
		}
		return n
	}
	for deadline := time.Now().Add(5 * time.Second); asked() != 1 || cfg.Stats.Connected.Load() != 3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s: %d fakes asked, %d connected; want 1 and 3", asked(), cfg.Stats.Connected.Load())
		}
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Fetch() after cancel = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Fetch took %v to return after cancel", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Fetch did not return within 5 s of cancel")
	}
}

func TestFetchConfigErrors(t *testing.T) {
	peers := make(chan netip.AddrPort)
	tests := []struct {
		name string
		cfg  metadata.Config
	}{
		{"no peers channel", metadata.Config{}},
		{"negative MaxConns", metadata.Config{Peers: peers, MaxConns: -1}},
		{"negative timeout", metadata.Config{Peers: peers, PeerTimeout: -time.Second}},
		{"negative retry delay", metadata.Config{Peers: peers, RetryDelay: -time.Second}},
		{"negative MaxAttempts", metadata.Config{Peers: peers, MaxAttempts: -1}},
		{"memory budget below the largest info dict", metadata.Config{Peers: peers, MemoryBudget: peer.MaxMetadataSize - 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := metadata.Fetch(t.Context(), tt.cfg); err == nil {
				t.Errorf("Fetch(%+v) = nil error, want one", tt.cfg)
			}
		})
	}
}

// TestFetchAsksPeersThatConnectToUs: peers that connect to us (Config.Incoming) are asked
// for the metadata like dialled ones, a bad one is dropped for the next, the listen port
// each names in its extension handshake reaches Config.Found, and Stats counts them
// (issue 21: a magnet link's session turned such peers away, so a seed that found us
// first was never asked).
func TestFetchAsksPeersThatConnectToUs(t *testing.T) {
	checkGoroutines(t)
	info := makeInfo(t, 2000)
	// reject, not corrupt: a corrupt peer's IP, 127.0.0.1, would be banned, the good one's too.
	bad, good := startFake(t, info, reject, nil, nil), startFake(t, info, good, nil, nil)
	incoming := make(chan metadata.Accepted)
	cfg := testConfig(t, info, make(chan netip.AddrPort)) // open and empty: nobody to dial
	cfg.Incoming = incoming
	var mu sync.Mutex
	var found []netip.AddrPort
	cfg.Found = func(a netip.AddrPort) { mu.Lock(); found = append(found, a); mu.Unlock() }
	cfg.Stats = new(metadata.Stats)
	type res struct {
		info []byte
		err  error
	}
	done := make(chan res, 1)
	go func() {
		b, err := metadata.Fetch(t.Context(), cfg)
		done <- res{b, err}
	}()
	hand := func(a metadata.Accepted) {
		select {
		case incoming <- a:
		case <-time.After(5 * time.Second):
			a.Conn.Close()
			t.Fatal("Fetch did not take an incoming peer in 5 s")
		}
	}
	hand(bad.connect(t))
	// Wait until the bad peer has been asked and dropped: only then does the good one come.
	// Its listen port reaches Found while it is counted connected.
	badDone := func() bool { mu.Lock(); defer mu.Unlock(); return len(found) == 1 && cfg.Stats.Connected.Load() == 0 }
	for deadline := time.Now().Add(5 * time.Second); !badDone(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the bad incoming peer was not done with in 5 s")
		}
	}
	hand(good.connect(t))
	var r res
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Fetch did not return in 20 s")
	}
	if r.err != nil || string(r.info) != string(info) {
		t.Fatalf("Fetch() = %d bytes, %v, want the info dict from the peer that connected", len(r.info), r.err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []netip.AddrPort{bad.addr(), good.addr()}; fmt.Sprint(found) != fmt.Sprint(want) {
		t.Errorf("Found got %v, want the listen addresses %v", found, want)
	}
	if n, c := cfg.Stats.Tried.Load(), cfg.Stats.Connected.Load(); n != 2 || c != 0 {
		t.Errorf("Stats: tried %d, connected %d after Fetch, want 2 and 0", n, c)
	}
}

// fromConn is a connection that says it comes from another address, so that peers on
// 127.0.0.1 can stand for peers of several IPs.
type fromConn struct {
	net.Conn
	from *net.TCPAddr
}

func (c fromConn) RemoteAddr() net.Addr { return c.from }

// TestFetchBoundsMemoryAndBansBadIPs: peers that claim an info dict of nearly 16 MiB and
// send junk (as /tmp/attack/metabomb.py did: 8 fetches at once held up to 16 MiB each, RSS
// 17 -> 319 MiB, 461 hash failures from one IP in 40 s) are asked within the memory
// budget, one at a time per claimed size; the IP of each is banned after its first bad info
// dict, so its other connections are closed unasked; and an honest peer then delivers.
func TestFetchBoundsMemoryAndBansBadIPs(t *testing.T) {
	checkGoroutines(t)
	info := makeInfo(t, 2000)
	junkInfo := make([]byte, peer.MaxMetadataSize)
	crand.Read(junkInfo)
	const ips, connsPerIP = 4, 2 // 8 connections: as many as MaxConns lets in at once
	incoming := make(chan metadata.Accepted, ips*connsPerIP+1)
	peers := make(chan netip.AddrPort, 1) // the honest peer, once the liars are banned
	cfg := testConfig(t, info, peers)
	cfg.Incoming = incoming
	cfg.Stats = new(metadata.Stats)
	cfg.PeerTimeout = 30 * time.Second // the liars are asked one after another
	from := func(i int) *net.TCPAddr { return &net.TCPAddr{IP: net.IPv4(10, 0, 0, byte(1+i)), Port: 6881} }
	var liars []*fakePeer
	for i := range ips {
		// Sizes differ between IPs, so that only the budget keeps their fetches apart.
		f := startFake(t, junkInfo[:peer.MaxMetadataSize-i*1000], junk, nil, nil)
		liars = append(liars, f)
		for range connsPerIP {
			a := f.connect(t)
			a.Conn = fromConn{a.Conn, from(i)}
			incoming <- a
		}
	}

	defer debug.SetGCPercent(debug.SetGCPercent(10)) // heap in use, not garbage waiting
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	type res struct {
		info []byte
		err  error
	}
	done := make(chan res, 1)
	go func() {
		b, err := metadata.Fetch(t.Context(), cfg)
		done <- res{b, err}
	}()
	for deadline := time.Now().Add(60 * time.Second); cfg.Stats.Banned.Load() < ips || cfg.Stats.Connected.Load() > 0; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: %d IPs banned, %d peers connected; want %d and 0", cfg.Stats.Banned.Load(), cfg.Stats.Connected.Load(), ips)
		}
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	grew := int(peak - base)
	t.Logf("heap grew by at most %.1f MiB while %d liars claimed 16 MiB each", float64(grew)/(1<<20), ips*connsPerIP)
	if limit := metadata.DefaultMemoryBudget + 8<<20; grew > limit {
		t.Errorf("heap grew by %d bytes, want at most %d (the memory budget and 8 MiB of buffers)", grew, limit)
	}
	for i, f := range liars {
		if got, want := f.requests.Load(), int32(peer.MetadataPieces(len(f.info))); got != want {
			t.Errorf("liar %d (2 connections from one IP) got %d requests, want %d: one connection asked, the other banned", i, got, want)
		}
	}

	// A banned IP that connects again is closed unasked; an honest peer delivers.
	late := startFake(t, junkInfo[:peer.MaxMetadataSize-1000], junk, nil, nil)
	a := late.connect(t)
	a.Conn = fromConn{a.Conn, from(0)}
	incoming <- a
	for deadline := time.Now().Add(5 * time.Second); len(incoming) > 0; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Fetch did not take the late connection in 5 s")
		}
	}
	honest := startFake(t, info, good, nil, nil)
	peers <- honest.addr()
	var r res
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Fetch did not return in 20 s")
	}
	if r.err != nil || string(r.info) != string(info) {
		t.Fatalf("Fetch() = %d bytes, %v, want the info dict from the honest peer", len(r.info), r.err)
	}
	if n := late.requests.Load(); n != 0 {
		t.Errorf("a banned IP connecting again got %d requests, want 0", n)
	}
}
