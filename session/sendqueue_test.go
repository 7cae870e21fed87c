package session_test

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"swarm/peer"
	"swarm/session"
)

// heapSampler records the largest live heap (heapInUse, after a
// collection) seen every 100 ms until stop, and the most goroutines. In a
// synctest bubble a flood takes no fake time, so a sampler on the clock
// would see only before and after it: there the flooder calls settle
// instead, which samples once every goroutine of the bubble waits, so no
// allocation runs beside the collection either.
type heapSampler struct {
	peak       atomic.Uint64
	goroutines atomic.Int64
	stop       chan struct{}
	done       sync.WaitGroup
	bubble     bool // sampled by settle, not on a clock
}

func sampleHeap(t testing.TB) *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), bubble: testNet(t) != nil}
	if h.bubble {
		h.settle()
		return h
	}
	h.done.Go(func() {
		for range 3000 { // 5 minutes at most
			h.sample()
			select {
			case <-h.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	return h
}

func (h *heapSampler) sample() {
	h.peak.Store(max(h.peak.Load(), heapInUse()))
	h.goroutines.Store(max(h.goroutines.Load(), int64(runtime.NumGoroutine())))
}

// settle, in a bubble, waits until the sessions have taken in what was
// written and samples; elsewhere it does nothing. Only one goroutine of the
// bubble may call it at a time (synctest.Wait).
func (h *heapSampler) settle() {
	if h != nil && h.bubble {
		synctest.Wait()
		h.sample()
	}
}

// end stops sampling and returns the peak heap and goroutine count.
func (h *heapSampler) end() (uint64, int64) {
	if h.bubble {
		h.settle()
	} else {
		close(h.stop)
		h.done.Wait()
	}
	return h.peak.Load(), h.goroutines.Load()
}

// floodWithoutReading connects to addr as a peer that never reads its
// socket, writes setup, then msg again and again until total bytes are
// written or the session drops it. It returns the connection's local
// address (as the session logs it) and the bytes written after setup.
func floodWithoutReading(t *testing.T, addr netip.AddrPort, ih [20]byte, id string, setup, msg []byte, total int, hs *heapSampler) (string, int) {
	t.Helper()
	c := dialRaw(t, addr, ih, id).conn.NetConn()
	if _, err := c.Write(setup); err != nil {
		t.Fatalf("setup: %v", err)
	}
	return c.LocalAddr().String(), writeUntilDropped(c, msg, total, hs)
}

// writeUntilDropped writes msg to c again and again until total bytes are
// written, a write fails (the session dropped c) or 20 s have passed, and
// returns the bytes written. It calls hs.settle (hs may be nil) every 256
// KiB.
func writeUntilDropped(c net.Conn, msg []byte, total int, hs *heapSampler) int {
	chunk := bytes.Repeat(msg, max(1, (64<<10)/len(msg)))
	c.SetWriteDeadline(time.Now().Add(20 * time.Second))
	written := 0
	for i := 1; written < total; i++ {
		n, err := c.Write(chunk)
		written += n
		if err != nil {
			break
		}
		if i%4 == 0 {
			hs.settle()
		}
	}
	return written
}

// TestPeerThatNeverReadsIsDropped (issue 13): peers that send requests of
// every kind that makes swarm answer, tens of MiB of them, and never read
// their socket, are each dropped with a logged reason, the seeder's live
// heap stays under a bound, and a good download from the same seeder
// completes. It runs in a synctest bubble on memnet, but for the cases of
// realSocketCases.
func TestPeerThatNeverReadsIsDropped(t *testing.T) {
	simulate(t, func(t *testing.T) { peerThatNeverReads(t, false) })
}

// TestPeerThatNeverReadsOnRealSockets runs the cases of
// TestPeerThatNeverReadsIsDropped that stay on real sockets and time (see
// realSocketCases), with a DHT node on the seeder.
func TestPeerThatNeverReadsOnRealSockets(t *testing.T) { peerThatNeverReads(t, true) }

// realSocketCases are the cases of TestPeerThatNeverReadsIsDropped that run
// on real sockets: PORT messages, since the DHT node pings over real UDP.
var realSocketCases = map[string]bool{"PORT messages": true}

// peerThatNeverReads runs TestPeerThatNeverReadsIsDropped: the cases of
// realSocketCases with a DHT node on real sockets (withDHT), the others
// in a bubble.
func peerThatNeverReads(t *testing.T, withDHT bool) {
	checkGoroutines(t)
	// 768 pieces of 16 KiB: a 15 KiB info dict, so each ut_metadata
	// request asks for a 15 KiB answer.
	m, content := makeTorrent(t, 12<<20, 16<<10)
	n := m.Info.NumPieces()
	var logs logBuffer
	log := zerolog.New(&logs).Level(zerolog.InfoLevel) // debug lines would grow the log itself
	cfg := session.Config{Logger: &log, UploadRate: 4 << 20}
	if withDHT {
		cfg.DHT = startDHT(t)
	}
	networkConfig(t, &cfg)
	seedSess, err := session.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := seedSess.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: bytes.Clone(content)}, Have: fullBitfield(n), Seed: true})
	if err != nil {
		t.Fatal(err)
	}
	seedSess.AddTorrent(seed)
	runSession(t, seedSess)
	seedAddr := addrOf(t, seedSess)

	// The good download runs beside the floods in the bubble; the run on
	// real sockets (the PORT case alone) leaves it out, as it would wait
	// out the seeder's rate limit in real time.
	var leech *session.Torrent
	leechStore := &memStore{data: make([]byte, len(content))}
	if !withDHT {
		leechSess := newSession(t, session.Config{})
		leech, err = leechSess.NewTorrent(m, session.TorrentConfig{Store: leechStore, Peers: []netip.AddrPort{seedAddr}})
		if err != nil {
			t.Fatal(err)
		}
		leechSess.AddTorrent(leech)
		runSession(t, leechSess)
	}

	// A UDP port that never answers: each DHT ping there waits out its
	// timeout.
	var mutePort uint16
	if withDHT {
		mute, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer mute.Close()
		mutePort = uint16(mute.LocalAddr().(*net.UDPAddr).Port)
	}

	interested := frame(byte(peer.Interested))
	extHS, err := peer.ExtensionHandshake{M: map[string]uint8{peer.MetadataExtension: 3}}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	metaReq, err := peer.MetadataMessage{Type: peer.MetadataRequest, Piece: 0}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	longName, err := peer.ExtensionHandshake{V: strings.Repeat("x", 60<<10)}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	oversized := frame(byte(peer.Extended), append([]byte{9}, make([]byte, peer.DefaultMaxExtendedLen+1)...)...)
	// What one connection may make the seeder hold: its queue of control
	// messages (1 MiB of wire bytes and peer.Message values, in slices
	// that may be half empty, in the queue and in the writer's hands: 4
	// MiB at most), the batch its writer holds (16 blocks of 16 KiB), its
	// decoder's buffers (64 KiB each) and the events it has posted to the
	// torrent's loop (256 at most, small for most messages); the rest is
	// slack for what the good download allocates meanwhile.
	const heapBound = 8 << 20
	// Events carrying an extension message hold a copy of its payload:
	// 256 of 64 KiB at most, for the whole torrent.
	const eventsBound = 256 * peer.DefaultMaxExtendedLen
	const total = 32 << 20
	tests := []struct {
		name       string
		setup, msg []byte
		reason     string // in the logged reason for the drop; "" if it may stay
		heapBound  uint64 // most the seeder's live heap may grow while it lasts
	}{
		{"block requests", interested, frame(byte(peer.Request), u32(1, 0, peer.BlockSize)...),
			"past its queue of 500 blocks", heapBound},
		{"interested and not interested, flipped", nil,
			append(bytes.Clone(interested), frame(byte(peer.NotInterested))...), "bytes of messages queued", heapBound},
		{"ut_metadata requests", append(frame(byte(peer.Extended), append([]byte{peer.ExtensionHandshakeID}, extHS...)...), interested...),
			frame(byte(peer.Extended), append([]byte{peer.MetadataID}, metaReq...)...), "bytes of messages queued", heapBound},
		{"PORT messages", nil, frame(byte(peer.Port), byte(mutePort>>8), byte(mutePort)), "102 PORT messages within 1m0s", heapBound},
		{"extended messages over 64 KiB", nil, oversized, "extended message of length 65539", heapBound},
		// Nothing to drop it for, but its logger must not grow.
		{"extension handshakes with a 60 KiB client name", nil,
			frame(byte(peer.Extended), append([]byte{peer.ExtensionHandshakeID}, longName...)...), "", heapBound + eventsBound},
	}
	for i, tt := range tests {
		if realSocketCases[tt.name] != withDHT {
			continue
		}
		// The cases share the sessions, and t.Run is not allowed in a
		// synctest bubble: the messages name the case.
		func() {
			before := heapInUse()
			hs := sampleHeap(t)
			start := time.Now()
			local, written := floodWithoutReading(t, seedAddr, m.InfoHash, "-XX0000-flood-"+itoa(i), tt.setup, tt.msg, total, hs)
			took := time.Since(start)
			reason := ""
			if tt.reason != "" {
				reason = logs.waitDropReason(t, local)
				if !strings.Contains(reason, tt.reason) {
					t.Errorf("%s: logged %q, want a reason with %q", tt.name, reason, tt.reason)
				}
			}
			// A peer that may stay: the session may still be reading
			// what the kernel buffered, so keep sampling a while.
			if tt.reason == "" {
				time.Sleep(3 * time.Second)
			}
			peak, goroutines := hs.end()
			grew := int64(peak) - int64(before)
			t.Logf("%s: wrote %.1f MiB in %v; heap %.1f MiB before, peak %.1f MiB (+%.1f MiB); at most %d goroutines; dropped: %q",
				tt.name, float64(written)/(1<<20), took.Round(time.Millisecond), mib(before), mib(peak), float64(grew)/(1<<20), goroutines, reason)
			if grew > int64(tt.heapBound) {
				t.Errorf("%s: the seeder's heap grew by %.1f MiB, bound %.1f MiB", tt.name, float64(grew)/(1<<20), mib(tt.heapBound))
			}
			// The test's own and the sessions' (2 per connection) and
			// one DHT ping: far fewer than a ping per PORT message.
			if goroutines > 60 {
				t.Errorf("%s: %d goroutines: DHT pings pile up", tt.name, goroutines)
			}
		}()
	}
	// A full torrent of peers asking for metadata at once: what they make
	// the seeder hold is the total for one torrent. (Flipping interest
	// makes no answers when the unchoke slots are taken.)
	// It takes 20 s (several minutes with -race, where the torrent's loop
	// falls behind and some floods outlast their write deadline): run by
	// hand, with SWARM_HOSTILE_CROWD=1.
	if os.Getenv("SWARM_HOSTILE_CROWD") != "" && !withDHT { // 49 peers at once
		const peers = session.DefaultMaxPeers - 1 // the good leecher may hold one slot
		conns := make([]net.Conn, peers)
		for i := range conns {
			conns[i] = dialRaw(t, seedAddr, m.InfoHash, "-XX0000-crowd-"+itoa(i)).conn.NetConn()
			if _, err := conns[i].Write(tests[2].setup); err != nil {
				t.Fatal(err)
			}
		}
		before := heapInUse()
		hs := sampleHeap(t)
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Go(func() { writeUntilDropped(c, tests[2].msg, total, nil) })
		}
		wg.Wait()
		for _, c := range conns {
			if reason := logs.waitDropReason(t, c.LocalAddr().String()); !strings.Contains(reason, "does not read") {
				t.Errorf("logged %q, want a reason with %q", reason, "does not read")
			}
		}
		peak, _ := hs.end()
		grew := int64(peak) - int64(before)
		t.Logf("%d peers: heap %.1f MiB before, peak %.1f MiB (+%.1f MiB)", peers, mib(before), mib(peak), float64(grew)/(1<<20))
		if grew > peers*heapBound {
			t.Errorf("the seeder's heap grew by %.1f MiB, bound %d × %.1f MiB", float64(grew)/(1<<20), peers, mib(heapBound))
		}
	}
	if leech == nil {
		return
	}
	select {
	case <-leech.Done():
	case <-time.After(60 * time.Second):
		t.Fatalf("the good download stalled beside the floods: %+v", leech.Stats())
	}
	if !bytes.Equal(leechStore.data, content) {
		t.Fatal("the good download differs from the content")
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
