package session_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"swarm/metainfo"
	"swarm/session"
)

// magnetRun is the outcome of a Magnet's Run.
type magnetRun struct {
	m     *metainfo.MetaInfo
	peers []netip.AddrPort
	err   error
}

// startMagnet runs the metadata phase of cfg in s (which must run) and
// delivers its outcome; the test waits for it at the end.
func startMagnet(t *testing.T, s *session.Session, cfg session.MagnetConfig) (*session.Magnet, <-chan magnetRun) {
	t.Helper()
	mg, err := s.NewMagnet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	done := make(chan magnetRun, 1)
	go func() {
		m, peers, err := mg.Run(ctx)
		done <- magnetRun{m, peers, err}
	}()
	t.Cleanup(cancel)
	return mg, done
}

// downloadAfterMagnet adds the torrent a magnet fetched to s, with the
// peers it found, and checks the download completes byte-identical.
func downloadAfterMagnet(t *testing.T, s *session.Session, r magnetRun, want *metainfo.MetaInfo, content []byte) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("magnet Run: %v", r.err)
	}
	if r.m.InfoHash != want.InfoHash || !bytes.Equal(r.m.InfoBytes, want.InfoBytes) {
		t.Fatalf("magnet Run gave info hash %v, want %v", r.m.InfoHash, want.InfoHash)
	}
	store := &memStore{data: make([]byte, len(content))}
	tor, err := s.NewTorrent(r.m, session.TorrentConfig{Store: store, Peers: r.peers})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddTorrent(tor); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tor.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("download not done 30 s after the metadata: %+v", tor.Stats())
	}
	if !bytes.Equal(store.data, content) {
		t.Fatal("downloaded content differs from the seed's")
	}
}

// waitFor polls cond every 20 ms for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 20 s: %s", what)
		}
	}
}

// TestMagnetFindsASeedThatStartsLater: a magnet link's metadata phase runs
// before any seed of the torrent exists (issue 21: a seed that announced
// half a second after us was never found). The seed then starts, and the
// magnet gets the info dict and the download completes, when the seed
// connects to us (the session routes the handshake to the magnet), when
// only our next tracker announce can name the seed (the tracker never
// tells the seed about us), and through the DHT.
func TestMagnetFindsASeedThatStartsLater(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 1<<20, 16<<10) // 64 pieces
	startSeed := func(cfg session.Config, tc session.TorrentConfig) *session.Session {
		s := newSession(t, cfg)
		tc.Store, tc.Have, tc.Seed = &memStore{data: bytes.Clone(content)}, fullBitfield(m.Info.NumPieces()), true
		seed, err := s.NewTorrent(m, tc)
		if err != nil {
			t.Fatal(err)
		}
		s.AddTorrent(seed)
		runSession(t, s)
		return s
	}

	t.Run("the seed connects to us", func(t *testing.T) {
		leech := newSession(t, session.Config{})
		runSession(t, leech)
		_, done := startMagnet(t, leech, session.MagnetConfig{InfoHash: m.InfoHash})
		seed := startSeed(session.Config{}, session.TorrentConfig{Peers: []netip.AddrPort{addrOf(t, leech)}})
		r := <-done
		// Nothing but the seed's connection could have named its listen
		// port (BEP 10 "p"): the magnet had no tracker, DHT or x.pe.
		if r.err == nil && !slices.Contains(r.peers, addrOf(t, seed)) {
			t.Errorf("peers found = %v, want the seed's listen address %v from its extension handshake", r.peers, addrOf(t, seed))
		}
		downloadAfterMagnet(t, leech, r, m, content)
	})

	t.Run("our next announce names the seed", func(t *testing.T) {
		leech := newSession(t, session.Config{})
		runSession(t, leech)
		var mu sync.Mutex
		var seedAddr netip.AddrPort // zero until the seed runs
		announces := 0              // from the magnet
		tr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			peers := ""
			if r.URL.Query().Get("port") == fmt.Sprint(addrOf(t, leech).Port()) {
				announces++
				if seedAddr.IsValid() {
					ip := seedAddr.Addr().As4()
					peers = string(ip[:]) + string([]byte{byte(seedAddr.Port() >> 8), byte(seedAddr.Port())})
				}
			}
			fmt.Fprintf(w, "d8:intervali1800e5:peers%d:%se", len(peers), peers)
		}))
		defer tr.Close()
		_, done := startMagnet(t, leech, session.MagnetConfig{InfoHash: m.InfoHash, Trackers: [][]string{{tr.URL + "/announce"}}})
		waitFor(t, "the magnet's first announce", func() bool { mu.Lock(); defer mu.Unlock(); return announces > 0 })
		seed := startSeed(session.Config{}, session.TorrentConfig{})
		mu.Lock()
		seedAddr = addrOf(t, seed)
		mu.Unlock()
		r := <-done
		mu.Lock()
		n := announces
		mu.Unlock()
		if n < 2 {
			t.Errorf("the magnet announced %d times, want again after the tracker had no peer for it", n)
		}
		downloadAfterMagnet(t, leech, r, m, content)
	})

	t.Run("DHT", func(t *testing.T) {
		seedNode := startDHT(t)
		leech := newSession(t, session.Config{DHT: startDHT(t, seedNode.Addr().String())})
		runSession(t, leech)
		mg, done := startMagnet(t, leech, session.MagnetConfig{InfoHash: m.InfoHash})
		waitFor(t, "the magnet's first DHT lookup", func() bool { return mg.Stats().DHTLookups > 0 })
		startSeed(session.Config{DHT: seedNode}, session.TorrentConfig{})
		downloadAfterMagnet(t, leech, <-done, m, content)
	})
}

// TestMagnetRefusesATorrentInTheSession: no metadata phase for a torrent
// the session has, and one Run per Magnet.
func TestMagnetRefusesATorrentInTheSession(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 64<<10, 16<<10)
	s := runSeed(t, m, content, session.Config{})
	mg, err := s.NewMagnet(session.MagnetConfig{InfoHash: m.InfoHash})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := mg.Run(t.Context()); err == nil {
		t.Fatal("Run for a torrent already in the session succeeded")
	}
	if _, _, err := mg.Run(t.Context()); err == nil {
		t.Fatal("a second Run succeeded")
	}
	if _, err := s.NewMagnet(session.MagnetConfig{}); err == nil {
		t.Fatal("NewMagnet without an info hash succeeded")
	}
}
