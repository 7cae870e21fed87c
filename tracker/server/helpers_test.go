package server_test

import (
	"flag"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/internal/redistest"
	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/server"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fakeClock is a settable clock for the server.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestServer returns a server with a fixed seed and a fake clock; cfg's
// other fields are kept.
func newTestServer(tb testing.TB, cfg server.Config) (*server.Server, *fakeClock) {
	tb.Helper()
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	if cfg.Seed == 0 {
		cfg.Seed = 42
	}
	cfg.Now = clock.Now
	if cfg.Logger == nil {
		l := zerolog.New(zerolog.NewTestWriter(tb))
		cfg.Logger = &l
	}
	s, err := server.New(cfg)
	if err != nil {
		tb.Fatalf("server.New: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, clock
}

// forEachStore runs f with the in-memory store (redis "") and with a
// redis-server of the test's own (its URL), which is skipped when
// redis-server is missing, but with SWARM_INTEROP=1.
func forEachStore(t *testing.T, f func(t *testing.T, redis string)) {
	t.Run("memory", func(t *testing.T) { f(t, "") })
	t.Run("redis", func(t *testing.T) { f(t, redistest.Start(t)) })
}

// testPeer is announce parameters for peer n of a swarm: port 10000+n and a
// peer id that names n.
func testPeer(ih metainfo.Hash, n int, left int64) tracker.AnnounceRequest {
	var id [20]byte
	copy(id[:], "-TEST00-")
	for i := 19; i >= 8; i-- {
		id[i] = byte('0' + n%10)
		n /= 10
	}
	return tracker.AnnounceRequest{InfoHash: ih, PeerID: id, Port: uint16(10000 + peerNum(id)), Left: left, Compact: true}
}

func peerNum(id [20]byte) int {
	n := 0
	for _, c := range id[8:] {
		n = n*10 + int(c-'0')
	}
	return n
}

// get serves one GET of target from remote ("ip:port") and returns the body.
func get(tb testing.TB, h http.Handler, remote, target string) []byte {
	tb.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.RemoteAddr = remote
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		tb.Fatalf("GET %s: status %d, body %q", target, w.Code, w.Body.String())
	}
	return w.Body.Bytes()
}

// announce sends r from ip (the port comes from r) and parses the reply.
func announce(tb testing.TB, h http.Handler, ip string, r tracker.AnnounceRequest, extra string) tracker.AnnounceResponse {
	tb.Helper()
	remote := netip.AddrPortFrom(netip.MustParseAddr(ip), 55555).String()
	body := get(tb, h, remote, "/announce?"+r.Query()+extra)
	resp, err := tracker.ParseAnnounceResponse(body)
	if err != nil {
		tb.Fatalf("announce %s: %v (body %q)", r.Query(), err, body)
	}
	return resp
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		tb.Errorf("%s differs:\n got %q\nwant %q", name, got, want)
	}
}
