package session_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"swarm/metainfo"
	"swarm/session"
)

// serveContent serves content at every path with range support; hits
// counts the requests.
func serveContent(t testing.TB, content []byte, hits *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(content))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// addLeecher adds a torrent of m over an empty memStore to a new running
// session and returns them.
func addLeecher(t *testing.T, m *metainfo.MetaInfo, peers ...netip.AddrPort) (*session.Torrent, *memStore, context.CancelFunc) {
	t.Helper()
	s := newSession(t, session.Config{})
	store := &memStore{data: make([]byte, m.Info.Length)}
	tor, err := s.NewTorrent(m, session.TorrentConfig{Store: store, Peers: peers})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddTorrent(tor); err != nil {
		t.Fatal(err)
	}
	return tor, store, runSession(t, s)
}

func waitDone(t *testing.T, tor *session.Torrent, cancel context.CancelFunc) {
	t.Helper()
	select {
	case <-tor.Done():
	case <-time.After(60 * time.Second):
		t.Fatalf("download did not finish in 60 s: %+v", tor.Stats())
	}
	cancel()
	<-tor.Stopped()
}

// A multi-file torrent whose only source is a web seed (a folder served
// by net/http on 127.0.0.1) completes: files are found at
// base/name/path with their names escaped (BEP 19), by range requests.
func TestWebSeedOnlySourceCompletes(t *testing.T) {
	checkGoroutines(t)
	root := t.TempDir()
	r := rand.New(rand.NewPCG(19, 1))
	files := map[string]int{"album/a b.bin": 100001, "album/sub/c%d.bin": 300000, "album/empty": 0, "album/z.bin": 16385}
	for name, n := range files {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.FileServer(http.Dir(root)).ServeHTTP(w, r)
	}))
	defer srv.Close()
	m, err := metainfo.Build(context.Background(), metainfo.BuildConfig{Path: filepath.Join(root, "album"), PieceLength: 32 << 10, WebSeeds: []string{srv.URL + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	var content []byte
	for _, f := range m.Info.Files {
		b, err := os.ReadFile(filepath.Join(append([]string{root, "album"}, f.Path...)...))
		if err != nil {
			t.Fatal(err)
		}
		content = append(content, b...)
	}
	tor, store, cancel := addLeecher(t, m)
	waitDone(t, tor, cancel)
	if !bytes.Equal(store.data, content) {
		t.Fatal("content from the web seed differs")
	}
	st := tor.Stats()
	if len(st.WebSeeds) != 1 || st.WebSeeds[0].Downloaded < int64(len(content)) || st.WebSeeds[0].Banned {
		t.Errorf("web seed stats %+v, want all %d bytes from it", st.WebSeeds, len(content))
	}
	t.Logf("%d bytes in %d HTTP requests", len(content), hits.Load())
}

// A web seed that serves wrong bytes fails the hash check and is banned
// for the session; the torrent then completes from an honest peer.
func TestWebSeedServingWrongBytesIsBanned(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 2<<20, 64<<10)
	bad := bytes.Clone(content)
	for i := range bad {
		bad[i] ^= 0x5a
	}
	var hits atomic.Int64
	srv := serveContent(t, bad, &hits)
	m.URLList = []string{srv.URL + "/test"}
	tor, store, cancel := addLeecher(t, m)
	// Alone, the liar fails a piece and is banned: nothing completes.
	deadline := time.Now().Add(30 * time.Second)
	for st := tor.Stats(); len(st.WebSeeds) == 0 || !st.WebSeeds[0].Banned; st = tor.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("web seed not banned within 30 s: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	banned := hits.Load()
	seed := runSeed(t, m, content, session.Config{})
	tor.AddPeers(context.Background(), []netip.AddrPort{addrOf(t, seed)})
	waitDone(t, tor, cancel)
	if !bytes.Equal(store.data, content) {
		t.Fatal("content differs after the liar was banned")
	}
	st := tor.Stats()
	if st.HashFails == 0 || !strings.Contains(st.WebSeeds[0].Err, "hash check") {
		t.Errorf("stats %+v: want a hash failure and the web seed's ban", st)
	}
	// Fetches in flight at the ban may end, but none starts after it.
	if after := hits.Load(); after > banned+2 {
		t.Errorf("banned web seed got %d more requests", after-banned)
	}
}

// A web seed and a peer share the download: both send bytes, and the
// content is whole.
func TestWebSeedAndPeerShareTheWork(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 16<<20, 256<<10)
	var hits atomic.Int64
	srv := serveContent(t, content, &hits)
	m.URLList = []string{srv.URL + "/test"}
	seed := runSeed(t, m, content, session.Config{})
	tor, store, cancel := addLeecher(t, m, addrOf(t, seed))
	waitDone(t, tor, cancel)
	if !bytes.Equal(store.data, content) {
		t.Fatal("content differs")
	}
	st := tor.Stats()
	web := st.WebSeeds[0].Downloaded
	if web == 0 || st.Downloaded-web == 0 {
		t.Errorf("web seed sent %d bytes, peers %d: want both to contribute", web, st.Downloaded-web)
	}
	t.Logf("web seed %d bytes, peer %d bytes", web, st.Downloaded-web)
}

// A web seed that fails (HTTP 500) rests with backoff and is named in
// the stats; the peer completes the download.
func TestFailingWebSeedRests(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 1<<20, 64<<10)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	defer srv.Close()
	m.URLList = []string{srv.URL + "/test"}
	tor, store, cancel := addLeecher(t, m)
	deadline := time.Now().Add(30 * time.Second)
	for st := tor.Stats(); len(st.WebSeeds) == 0 || st.WebSeeds[0].Err == ""; st = tor.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("web seed failure not reported within 30 s: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tor.Stats().WebSeeds[0].Err; !strings.Contains(err, "500") {
		t.Errorf("web seed error %q, want the HTTP status", err)
	}
	seed := runSeed(t, m, content, session.Config{})
	tor.AddPeers(context.Background(), []netip.AddrPort{addrOf(t, seed)})
	waitDone(t, tor, cancel)
	if !bytes.Equal(store.data, content) {
		t.Fatal("content differs")
	}
	// Two fetches were in flight when the first failed; the 5 s rest
	// keeps it from more unless the download took that long.
	t.Logf("failing web seed asked %d times", hits.Load())
}

// BenchmarkWebSeedOnly downloads 64 MiB on loopback from a web seed
// (net/http serving memory) with no peer, and from one peer (a seeding
// session) with no web seed, in the same run: compare the two MB/s.
func BenchmarkWebSeedOnly(b *testing.B) {
	m, content := makeTorrent(b, 64<<20, 256<<10)
	var hits atomic.Int64
	srv := serveContent(b, content, &hits)
	web := *m
	web.URLList = []string{srv.URL + "/test"}
	b.Run("web seed", func(b *testing.B) { benchDownload(b, &web, nil) })
	seed := runSeed(b, m, content, session.Config{})
	b.Run("one peer", func(b *testing.B) { benchDownload(b, m, []netip.AddrPort{addrOf(b, seed)}) })
}

func benchDownload(b *testing.B, m *metainfo.MetaInfo, peers []netip.AddrPort) {
	b.SetBytes(m.Info.Length)
	for b.Loop() {
		s := newSession(b, session.Config{})
		tor, err := s.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: make([]byte, m.Info.Length)}, Peers: peers})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.AddTorrent(tor); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		select {
		case <-tor.Done():
		case <-time.After(2 * time.Minute):
			b.Fatalf("not done in 2 min: %+v", tor.Stats())
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}

// A lying web seed beside an honest peer from the start: the web seed is
// banned, the peer is not, and the download completes.
func TestLyingWebSeedBesideAnHonestPeer(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 16<<20, 64<<10)
	bad := bytes.Clone(content)
	for i := 100; i < len(bad); i += 4096 {
		bad[i] ^= 1
	}
	var hits atomic.Int64
	srv := serveContent(t, bad, &hits)
	m.URLList = []string{srv.URL + "/test"}
	seed := runSeed(t, m, content, session.Config{})
	tor, store, cancel := addLeecher(t, m, addrOf(t, seed))
	waitDone(t, tor, cancel)
	if !bytes.Equal(store.data, content) {
		t.Fatal("content differs")
	}
	// The web seed starts at once, before the peer's handshake: its first
	// pieces are its alone, fail, and ban it. The content is whole, so
	// the peer was not banned with it.
	if st := tor.Stats(); !st.WebSeeds[0].Banned || st.HashFails == 0 {
		t.Errorf("stats %+v: want the web seed banned after a failed piece", st)
	}
}

// A magnet link's ws parameters become the torrent's web seeds once its
// info dict has arrived (from the peer, BEP 9).
func TestMagnetWebSeedsAreUsed(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 8<<20, 256<<10)
	var hits atomic.Int64
	srv := serveContent(t, content, &hits)
	seed := runSeed(t, m, content, session.Config{})
	s := newSession(t, session.Config{})
	link := magnetLink(m, "&x.pe="+addrOf(t, seed).String()+"&ws="+url.QueryEscape(srv.URL+"/test"))
	tor, store := addMagnet(t, s, link, session.TorrentConfig{})
	runSession(t, s)
	waitMagnetDone(t, tor, store, m, content)
	if st := tor.Stats(); len(st.WebSeeds) != 1 || st.WebSeeds[0].URL != srv.URL+"/test" || hits.Load() == 0 {
		t.Errorf("web seeds %+v asked %d times: want the link's ws used", st.WebSeeds, hits.Load())
	}
}

// A web seed that answers and then sends nothing more is dropped when its
// fetch's time limit (here 300 ms) runs out: its blocks go back to the
// picker, it rests, and a peer completes the download.
func TestStalledWebSeedIsDropped(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 1<<20, 64<<10)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Range", "bytes 0-1048575/1048576")
		w.WriteHeader(http.StatusPartialContent)
		w.Write(content[:1000])
		w.(http.Flusher).Flush()
		<-r.Context().Done() // stall until the client gives up
	}))
	defer srv.Close()
	m.URLList = []string{srv.URL + "/test"}
	s := newSession(t, session.Config{})
	store := &memStore{data: make([]byte, m.Info.Length)}
	tor, err := s.NewTorrent(m, session.TorrentConfig{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	session.SetWebSeedTimeout(tor, 300*time.Millisecond)
	if err := s.AddTorrent(tor); err != nil {
		t.Fatal(err)
	}
	cancel := runSession(t, s)
	waitFor(t, "the stalled web seed's failure", func() bool {
		st := tor.Stats()
		return len(st.WebSeeds) == 1 && st.WebSeeds[0].Err != ""
	})
	if err := tor.Stats().WebSeeds[0].Err; !strings.Contains(err, "deadline exceeded") {
		t.Errorf("stalled web seed's error %q, want its time limit", err)
	}
	seed := runSeed(t, m, content, session.Config{})
	tor.AddPeers(context.Background(), []netip.AddrPort{addrOf(t, seed)})
	waitDone(t, tor, cancel)
	if !bytes.Equal(store.data, content) {
		t.Fatal("content differs")
	}
	if st := tor.Stats(); st.WebSeeds[0].Downloaded != 0 {
		t.Errorf("stalled web seed credited with %d bytes", st.WebSeeds[0].Downloaded)
	}
}

// A web seed whose fetches in flight all fail at once (a server that
// ignores Range fails every one) rests webSeedRetryMin once, not doubled
// for each (5, 10, 20, 40 s): it is asked again after about 5 s.
func TestWebSeedFailingFetchesInFlightRestOnce(t *testing.T) {
	checkGoroutines(t)
	m, _ := makeTorrent(t, 8<<20, 64<<10)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	defer srv.Close()
	m.URLList = []string{srv.URL + "/test"}
	tor, _, cancel := addLeecher(t, m)
	defer cancel()
	deadline := time.Now().Add(20 * time.Second)
	for hits.Load() <= 4 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := hits.Load(); n <= 4 {
		t.Fatalf("web seed asked %d times in 20 s: the first failures rested it for %s or more, want 5 s (%+v)", n, 20*time.Second, tor.Stats().WebSeeds)
	}
}
