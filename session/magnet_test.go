package session_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/metainfo"
	"swarm/peer"
	"swarm/session"
)

// magnetLink is the link of m with optional extra parameters.
func magnetLink(m *metainfo.MetaInfo, extra string) string {
	return "magnet:?xt=urn:btih:" + m.InfoHash.String() + extra
}

// addMagnet adds link to s with storage in memory; the store is returned
// once Open has been called (nil before).
func addMagnet(t *testing.T, s *session.Session, link string, cfg session.TorrentConfig) (*session.Torrent, func() *memStore) {
	t.Helper()
	var mu sync.Mutex
	var store *memStore
	cfg.Open = func(_ context.Context, m *metainfo.MetaInfo) (session.TorrentConfig, error) {
		mu.Lock()
		defer mu.Unlock()
		store = &memStore{data: make([]byte, m.Info.Length)}
		return session.TorrentConfig{Store: store}, nil
	}
	tor, err := s.AddMagnet(link, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tor, func() *memStore { mu.Lock(); defer mu.Unlock(); return store }
}

// waitMagnetDone waits for a magnet's torrent to complete and checks what
// it holds against the seed's torrent and content.
func waitMagnetDone(t *testing.T, tor *session.Torrent, store func() *memStore, want *metainfo.MetaInfo, content []byte) {
	t.Helper()
	select {
	case <-tor.Done():
	case <-tor.Stopped():
		t.Fatalf("torrent stopped before completing: %+v", tor.Stats())
	case <-time.After(60 * time.Second):
		t.Fatalf("magnet download not done within 60 s: %+v", tor.Stats())
	}
	if m := tor.Info(); m == nil || m.InfoHash != want.InfoHash || !bytes.Equal(m.InfoBytes, want.InfoBytes) {
		t.Fatalf("Info() = %v, want the seed's info dict", m)
	}
	if st := tor.Stats(); st.Name != want.Info.Name {
		t.Errorf("Stats().Name = %q after the metadata, want %q", st.Name, want.Info.Name)
	}
	if !bytes.Equal(store().data, content) {
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

// TestMagnetFindsASeedThatStartsLater: a magnet link's torrent runs in the
// metadata state before any seed of the torrent exists (issue 21: a seed
// that announced half a second after us was never found). The seed then
// starts, and the torrent gets the info dict and completes, when the seed
// connects to us, when only our next tracker announce can name the seed
// (the tracker never tells the seed about us), and through the DHT.
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
		tor, store := addMagnet(t, leech, magnetLink(m, "&dn=the+dn"), session.TorrentConfig{})
		if st := tor.Stats(); st.State != session.StateMetadata || st.Name != "the dn" || tor.Info() != nil {
			t.Fatalf("before the metadata: State %q, Name %q, Info %v; want metadata, the dn, nil", st.State, st.Name, tor.Info())
		}
		startSeed(session.Config{}, session.TorrentConfig{Peers: []netip.AddrPort{addrOf(t, leech)}})
		waitMagnetDone(t, tor, store, m, content)
	})

	t.Run("our next announce names the seed", func(t *testing.T) {
		leech := newSession(t, session.Config{})
		runSession(t, leech)
		var mu sync.Mutex
		var seedAddr netip.AddrPort // zero until the seed runs
		announces := 0              // from the leech
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
		tor, store := addMagnet(t, leech, magnetLink(m, "&tr="+tr.URL+"/announce"), session.TorrentConfig{})
		waitFor(t, "the magnet's first announce", func() bool { mu.Lock(); defer mu.Unlock(); return announces > 0 })
		waitFor(t, "the tracker counted as answered", func() bool {
			st := tor.Stats()
			return st.Trackers == 1 && st.TrackersAnswered == 1 && st.State == session.StateMetadata
		})
		seed := startSeed(session.Config{}, session.TorrentConfig{})
		mu.Lock()
		seedAddr = addrOf(t, seed)
		mu.Unlock()
		waitMagnetDone(t, tor, store, m, content)
		mu.Lock()
		n := announces
		mu.Unlock()
		if n < 2 {
			t.Errorf("the magnet announced %d times, want again after the tracker had no peer for it", n)
		}
	})

	t.Run("DHT", func(t *testing.T) {
		seedNode := startDHT(t)
		leech := newSession(t, session.Config{DHT: startDHT(t, seedNode.Addr().String())})
		runSession(t, leech)
		tor, store := addMagnet(t, leech, magnetLink(m, ""), session.TorrentConfig{})
		waitFor(t, "the magnet's first DHT lookup", func() bool { return tor.Stats().DHTLookups > 0 })
		startSeed(session.Config{DHT: seedNode}, session.TorrentConfig{})
		waitMagnetDone(t, tor, store, m, content)
	})
}

// TestMagnetRefusesBadUse: no magnet for a torrent the session has, none
// without Open or with a Store of its own, and none from a bad link.
func TestMagnetRefusesBadUse(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 64<<10, 16<<10)
	s := runSeed(t, m, content, session.Config{})
	open := func(context.Context, *metainfo.MetaInfo) (session.TorrentConfig, error) {
		return session.TorrentConfig{Store: &memStore{}}, nil
	}
	other, _ := makeTorrent(t, 32<<10, 16<<10)
	for _, tt := range []struct {
		name string
		link string
		cfg  session.TorrentConfig
	}{
		{"torrent in the session", magnetLink(m, ""), session.TorrentConfig{Open: open}},
		{"no Open", magnetLink(other, ""), session.TorrentConfig{}},
		{"a Store given", magnetLink(other, ""), session.TorrentConfig{Open: open, Store: &memStore{}}},
		{"not a magnet link", "http://example.org/x.torrent", session.TorrentConfig{Open: open}},
	} {
		if tor, err := s.AddMagnet(tt.link, tt.cfg); err == nil {
			t.Errorf("%s: AddMagnet(%q) = %v, want an error", tt.name, tt.link, tor)
		}
	}
	if _, err := s.NewTorrent(m, session.TorrentConfig{Store: &memStore{}, Open: open}); err == nil {
		t.Error("NewTorrent with Open succeeded, want an error: Open is for AddMagnet")
	}
}

// countingProxy forwards TCP connections to addr and counts them.
func countingProxy(t *testing.T, addr netip.AddrPort) (netip.AddrPort, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			up, err := net.Dial("tcp", addr.String())
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			open = append(open, c, up)
			mu.Unlock()
			wg.Go(func() { io.Copy(up, c); up.Close() })
			wg.Go(func() { io.Copy(c, up); c.Close() })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().(*net.TCPAddr).AddrPort(), &n
}

// connections returns the connections a session's log says it adopted
// ("peer connected"), as peer address → outgoing.
func (l *logBuffer) connections() map[string][]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][]bool{}
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Peer     string `json:"peer"`
			Message  string `json:"message"`
			Outgoing bool   `json:"outgoing"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Message == "peer connected" {
			out[line.Peer] = append(out[line.Peer], line.Outgoing)
		}
	}
	return out
}

// TestMagnetUsesOneConnectionPerSeed (issue 14): the info dict and the
// content come over the same connections. A seed named by the link (x.pe),
// reached through a proxy that counts connections, is dialled once; a seed
// that connects to us while the torrent has no metadata is accepted then,
// gives the info dict and the content, and is never dialled. The leech's
// log shows one connection per seed.
func TestMagnetUsesOneConnectionPerSeed(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 2<<20, 16<<10)
	leechSession := func(t *testing.T) (*session.Session, *logBuffer) {
		logs := new(logBuffer)
		log := zerolog.New(logs).Level(zerolog.DebugLevel)
		s, err := session.New(session.Config{ListenAddr: "127.0.0.1:0", Logger: &log, NoUTP: true})
		if err != nil {
			t.Fatal(err)
		}
		runSession(t, s)
		return s, logs
	}

	t.Run("dialled", func(t *testing.T) {
		seed := runSeed(t, m, content, session.Config{})
		proxy, dials := countingProxy(t, addrOf(t, seed))
		leech, logs := leechSession(t)
		tor, store := addMagnet(t, leech, magnetLink(m, "&x.pe="+proxy.String()), session.TorrentConfig{})
		waitMagnetDone(t, tor, store, m, content)
		if n := dials.Load(); n != 1 {
			t.Errorf("the seed was connected to %d times, want once", n)
		}
		if c := logs.connections(); len(c) != 1 || len(c[proxy.String()]) != 1 || !c[proxy.String()][0] {
			t.Errorf("connections adopted (peer → outgoing) = %v, want one outgoing to %v", c, proxy)
		}
	})

	t.Run("connects to us", func(t *testing.T) {
		leech, logs := leechSession(t)
		tor, store := addMagnet(t, leech, magnetLink(m, ""), session.TorrentConfig{})
		seed := newSession(t, session.Config{})
		st, err := seed.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: bytes.Clone(content)}, Have: fullBitfield(m.Info.NumPieces()), Seed: true,
			Peers: []netip.AddrPort{addrOf(t, leech)}})
		if err != nil {
			t.Fatal(err)
		}
		seed.AddTorrent(st)
		runSession(t, seed)
		waitMagnetDone(t, tor, store, m, content)
		c := logs.connections()
		if len(c) != 1 {
			t.Fatalf("connections adopted (peer → outgoing) = %v, want one, incoming", c)
		}
		for addr, dirs := range c {
			if len(dirs) != 1 || dirs[0] {
				t.Errorf("connections with %s: outgoing %v, want one incoming", addr, dirs)
			}
		}
		logs.mu.Lock()
		fromIncoming := bytes.Contains(logs.b.Bytes(), []byte(`"incoming":true,"bytes":`)) &&
			bytes.Contains(logs.b.Bytes(), []byte(`"message":"metadata received"`))
		logs.mu.Unlock()
		if !fromIncoming {
			t.Error(`no "metadata received" from the incoming peer in the log`)
		}
	})
}

// TestMagnetResumesFromTheOpenedStorage: when Open finds pieces verified
// already (a magnet download run again), the torrent tells a peer connected
// since the metadata state what it has with a bitfield sent once the
// storage is open (as libtorrent does), applies the bitfield the seed sent
// before the metadata, and fetches only the missing pieces.
func TestMagnetResumesFromTheOpenedStorage(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 1<<20, 16<<10) // 64 pieces
	seed := runSeed(t, m, content, session.Config{})
	leech := newSession(t, session.Config{})
	runSession(t, leech)
	n := m.Info.NumPieces()
	store := &memStore{data: make([]byte, len(content))}
	half := len(content) / 2
	copy(store.data, content[:half])
	have := fullBitfield(n)
	for p := n / 2; p < n; p++ {
		have.Clear(p)
	}
	tor, err := leech.AddMagnet(magnetLink(m, ""), session.TorrentConfig{
		Open: func(context.Context, *metainfo.MetaInfo) (session.TorrentConfig, error) {
			return session.TorrentConfig{Store: store, Have: have}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	// A peer with nothing to give connects first and gets no bitfield: we
	// know no piece count yet.
	r := dialRaw(t, addrOf(t, leech), m.InfoHash, "-XX0000-nothing-0000")
	r.handshake(peer.ExtensionHandshake{M: map[string]uint8{}})
	waitFor(t, "the raw peer connected", func() bool { return tor.Stats().Peers == 1 })
	tor.AddPeers(t.Context(), []netip.AddrPort{addrOf(t, seed)})
	waitMagnetDone(t, tor, func() *memStore { return store }, m, content)
	r.conn.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	var got []byte
	for range 1000 {
		var msg peer.Message
		if err := r.conn.ReadMessage(&msg); err != nil {
			t.Fatalf("no bitfield for the peer connected before the metadata: %v", err)
		}
		if msg.ID == peer.Have {
			t.Fatalf("have %d before any bitfield", msg.Index)
		}
		if msg.ID == peer.Bitfield {
			got = msg.Bitfield
			break
		}
	}
	if !bytes.Equal(got, have.Bytes()) {
		t.Errorf("late bitfield = %x, want the pieces Open found, %x", got, have.Bytes())
	}
	if st := tor.Stats(); st.Downloaded != int64(len(content)-half) || st.Have != n {
		t.Errorf("downloaded %d bytes, have %d of %d pieces; want %d bytes (the missing half) and all", st.Downloaded, st.Have, n, len(content)-half)
	}
}

// A magnet link in a front end: the torrent is listed at once under the
// link's dn in the metadata state, fetches its info dict from peers, and
// Open, called once the dict is verified, picks the folder and the files;
// the download then goes on over the same connections.
func ExampleSession_AddMagnet() {
	ctx := context.Background()
	node, err := session.StartNode(ctx, session.NodeConfig{DHT: &session.DHTConfig{StateDir: "downloads"}})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Stop()
	t, err := node.AddMagnet("magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=album", session.TorrentConfig{
		Open: func(ctx context.Context, m *metainfo.MetaInfo) (session.TorrentConfig, error) {
			return session.OpenContent(ctx, m, "downloads", session.OpenOptions{})
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	st := t.Stats()
	fmt.Println(st.State, st.Name, st.Peers) // metadata album 0
	<-t.Opened()
	fmt.Println(t.Info().Info.Name, t.Stats().State) // downloading, with the peers it has
}
