package session_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"swarm/metainfo"
	"swarm/piece"
	"swarm/session"
)

// memStore is an in-memory Store for tests.
type memStore struct {
	mu     sync.Mutex
	data   []byte
	closed bool
}

func (m *memStore) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if off < 0 || off+int64(len(p)) > int64(len(m.data)) {
		return 0, errors.New("read out of range")
	}
	return copy(p, m.data[off:]), nil
}

func (m *memStore) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if off < 0 || off+int64(len(p)) > int64(len(m.data)) {
		return 0, errors.New("write out of range")
	}
	return copy(m.data[off:], p), nil
}

func (m *memStore) Flush() error { return nil }
func (m *memStore) Close() error { m.mu.Lock(); m.closed = true; m.mu.Unlock(); return nil }

// makeTorrent builds a single-file torrent over random content in memory.
func makeTorrent(t testing.TB, size int, pieceLen int64) (*metainfo.MetaInfo, []byte) {
	t.Helper()
	return makeTorrentFlag(t, size, pieceLen, false)
}

// makePrivateTorrent is makeTorrent with the BEP 27 private flag, over
// other content (so another info hash).
func makePrivateTorrent(t testing.TB, size int, pieceLen int64) (*metainfo.MetaInfo, []byte) {
	t.Helper()
	return makeTorrentFlag(t, size, pieceLen, true)
}

func makeTorrentFlag(t testing.TB, size int, pieceLen int64, private bool) (*metainfo.MetaInfo, []byte) {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(size), 9))
	content := make([]byte, size)
	for i := range content {
		content[i] = byte(r.Uint32())
	}
	var pieces []byte
	for off := 0; off < size; off += int(pieceLen) {
		h := sha1.Sum(content[off:min(size, off+int(pieceLen))])
		pieces = append(pieces, h[:]...)
	}
	info := []byte("d6:lengthi" + itoa(size) + "e4:name4:test12:piece lengthi" + itoa(int(pieceLen)) + "e6:pieces" + itoa(len(pieces)) + ":")
	info = append(info, pieces...)
	if private {
		info = append(info, "7:privatei1e"...)
	}
	info = append(info, 'e')
	m, err := metainfo.Parse(append(append([]byte("d4:info"), info...), 'e'))
	if err != nil {
		t.Fatal(err)
	}
	return m, content
}

func itoa(n int) string { return strconv.Itoa(n) }

// checkGoroutines fails the test if goroutines started during it are still
// running shortly after all its cleanups (sessions stopped). Call it first
// in a test, so its cleanup runs last.
func checkGoroutines(t *testing.T) {
	// Goroutines running before the test (other tests' leftovers are
	// caught by TestMain) are not this test's.
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		// goleak retries for about half a second; stopping under -race on
		// a busy machine can take longer.
		for deadline := time.Now().Add(5 * time.Second); goleak.Find(ignore) != nil && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		goleak.VerifyNone(t, ignore)
	})
}

func newSession(t testing.TB, cfg session.Config) *session.Session {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	networkConfig(t, &cfg)
	cfg.Logger = &log
	s, err := session.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runSeed starts a session with cfg that seeds m's content from memory
// until the test ends.
func runSeed(t testing.TB, m *metainfo.MetaInfo, content []byte, cfg session.Config) *session.Session {
	t.Helper()
	s := newSession(t, cfg)
	seed, err := s.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: bytes.Clone(content)}, Have: fullBitfield(m.Info.NumPieces()), Seed: true})
	if err != nil {
		t.Fatal(err)
	}
	s.AddTorrent(seed)
	runSession(t, s)
	return s
}

// runSession runs s until the test ends and checks it stops cleanly.
func runSession(t testing.TB, s *session.Session) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("session did not stop within 10 s")
		}
	})
	return cancel
}

func addrOf(t testing.TB, s *session.Session) netip.AddrPort {
	t.Helper()
	a, err := netip.ParseAddrPort(s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func fullBitfield(n int) *piece.Bitfield {
	bf := piece.NewBitfield(n)
	bf.SetAll()
	return bf
}

func TestSeederToLeecherInProcess(t *testing.T) {
	for _, tc := range []struct {
		name     string
		size     int
		pieceLen int64
	}{
		{"short last piece", 3<<20 + 12345, 256 << 10},
		{"one small piece", 1000, 16 << 10},
		{"odd block at end", 5*16384 + 1, 32 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			simulate(t, func(t *testing.T) {
				checkGoroutines(t)
				m, content := makeTorrent(t, tc.size, tc.pieceLen)
				seedSess := newSession(t, session.Config{})
				seedStore := &memStore{data: bytes.Clone(content)}
				seed, err := seedSess.NewTorrent(m, session.TorrentConfig{Store: seedStore, Have: fullBitfield(m.Info.NumPieces()), Seed: true})
				if err != nil {
					t.Fatal(err)
				}
				if err := seedSess.AddTorrent(seed); err != nil {
					t.Fatal(err)
				}
				runSession(t, seedSess)

				leechSess := newSession(t, session.Config{})
				leechStore := &memStore{data: make([]byte, tc.size)}
				var saved *piece.Bitfield
				leech, err := leechSess.NewTorrent(m, session.TorrentConfig{
					Store: leechStore, Peers: []netip.AddrPort{addrOf(t, seedSess)},
					SaveResume: func(h *piece.Bitfield) error { saved = h; return nil },
				})
				if err != nil {
					t.Fatal(err)
				}
				if err := leechSess.AddTorrent(leech); err != nil {
					t.Fatal(err)
				}
				cancel := runSession(t, leechSess)
				select {
				case <-leech.Done():
				case <-time.After(30 * time.Second):
					t.Fatalf("download did not finish in 30 s: %+v", leech.Stats())
				}
				cancel()
				<-leech.Stopped()
				if !bytes.Equal(leechStore.data, content) {
					t.Fatal("downloaded content differs from the seed's")
				}
				st := leech.Stats()
				if !st.Complete || st.Left != 0 || st.Downloaded < int64(tc.size) {
					t.Errorf("stats after completion: %+v", st)
				}
				if saved == nil || !saved.Full() {
					t.Errorf("resume record not saved with every piece: %v", saved)
				}
				if !leechStore.closed {
					t.Errorf("storage not closed at stop")
				}
			})
		})
	}
}

// TestSwarmOfLeechersCompletes: one seed and six leechers that know each
// other, with the seed's upload slots (4 + 1 optimistic) fewer than the
// leechers: everyone finishes byte-identical, so pieces flow between
// leechers and the choker rotates its slots.
func TestSwarmOfLeechersCompletes(t *testing.T) { simulate(t, testSwarmOfLeechersCompletes) }

func testSwarmOfLeechersCompletes(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 4<<20+333, 64<<10)
	cfg := session.Config{RechokeInterval: time.Second, OptimisticInterval: 3 * time.Second}
	const leechers = 6
	sessions := make([]*session.Session, leechers+1)
	var addrs []netip.AddrPort
	for i := range sessions {
		sessions[i] = newSession(t, cfg)
		addrs = append(addrs, addrOf(t, sessions[i]))
	}
	stores := make([]*memStore, leechers+1)
	torrents := make([]*session.Torrent, leechers+1)
	for i, s := range sessions {
		tc := session.TorrentConfig{Seed: true}
		if i == 0 {
			stores[i] = &memStore{data: bytes.Clone(content)}
			tc.Have = fullBitfield(m.Info.NumPieces())
		} else {
			stores[i] = &memStore{data: make([]byte, len(content))}
			tc.Peers = addrs[:i] // everyone before it, the seed included
		}
		tc.Store = stores[i]
		tor, err := s.NewTorrent(m, tc)
		if err != nil {
			t.Fatal(err)
		}
		torrents[i] = tor
		s.AddTorrent(tor)
		runSession(t, s)
	}
	deadline := time.After(60 * time.Second)
	for i := 1; i <= leechers; i++ {
		select {
		case <-torrents[i].Done():
		case <-deadline:
			t.Fatalf("leecher %d did not finish in 60 s: %+v", i, torrents[i].Stats())
		}
		if !bytes.Equal(stores[i].data, content) {
			t.Fatalf("leecher %d holds different content", i)
		}
	}
	var fromPeers int64
	for i := 1; i <= leechers; i++ {
		fromPeers += torrents[i].Stats().Uploaded
	}
	if fromPeers == 0 {
		t.Errorf("leechers uploaded nothing to each other: the seed served everyone alone")
	}
	t.Logf("seed uploaded %d bytes, leechers %d bytes to each other", torrents[0].Stats().Uploaded, fromPeers)
}

// TestPeersDialingEachOtherKeepOneConnection: two sessions given each
// other's address dial each other at the same moment; each drops one of
// the two connections (simultaneous open, or a duplicate), so each keeps
// one peer, and the download over it completes.
func TestPeersDialingEachOtherKeepOneConnection(t *testing.T) {
	simulate(t, func(t *testing.T) {
		checkGoroutines(t)
		m, content := makeTorrent(t, 1<<20, 64<<10)
		seedSess, leechSess := newSession(t, session.Config{}), newSession(t, session.Config{})
		seed, err := seedSess.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: bytes.Clone(content)}, Have: fullBitfield(m.Info.NumPieces()), Seed: true,
			Peers: []netip.AddrPort{addrOf(t, leechSess)}, UploadRate: 256 << 10})
		if err != nil {
			t.Fatal(err)
		}
		store := &memStore{data: make([]byte, len(content))}
		leech, err := leechSess.NewTorrent(m, session.TorrentConfig{Store: store, Peers: []netip.AddrPort{addrOf(t, seedSess)}})
		if err != nil {
			t.Fatal(err)
		}
		seedSess.AddTorrent(seed)
		leechSess.AddTorrent(leech)
		runSession(t, seedSess)
		runSession(t, leechSess)
		time.Sleep(2 * time.Second) // both dialled at start; 1 MiB takes 4 s at the seed's rate
		if s, l := seed.Stats().Peers, leech.Stats().Peers; s != 1 || l != 1 {
			t.Errorf("after dialling each other: the seed has %d peers, the leecher %d; want 1 each", s, l)
		}
		select {
		case <-leech.Done():
		case <-time.After(30 * time.Second):
			t.Fatalf("download did not finish in 30 s: %+v", leech.Stats())
		}
		if !bytes.Equal(store.data, content) {
			t.Fatal("downloaded content differs from the seed's")
		}
	})
}
