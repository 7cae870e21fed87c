package private_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/private"
	"swarm/tracker/server"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

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

// openDB opens a new database in a temporary folder; it is closed when the
// test ends.
func openDB(tb testing.TB) (*private.DB, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "tracker.db")
	return reopenDB(tb, path), path
}

func reopenDB(tb testing.TB, path string) *private.DB {
	tb.Helper()
	db, err := private.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func addUser(tb testing.TB, db *private.DB, name string) private.User {
	tb.Helper()
	u, err := db.AddUser(context.Background(), name)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func addTorrent(tb testing.TB, db *private.DB, h metainfo.Hash) {
	tb.Helper()
	if err := db.AddTorrent(context.Background(), private.Torrent{InfoHash: h, Name: "t-" + h.String()[:4], Size: 1 << 20}); err != nil {
		tb.Fatal(err)
	}
}

// rig is a tracker server in private mode over a database, with a fake
// clock, served through its handler (no sockets).
type rig struct {
	db    *private.DB
	tr    *private.Tracker
	h     http.Handler
	clock *fakeClock
	// remote is the client address of requests: "10.0.0.1:5555" unless a
	// test changes it.
	remote string
}

// newRig builds the private tracker and its server on db. cfg's DB and Now
// are set here; the server gets the same intervals.
func newRig(tb testing.TB, db *private.DB, cfg private.Config) *rig {
	tb.Helper()
	clock := newClock()
	cfg.DB, cfg.Now = db, clock.Now
	if cfg.Interval == 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Logger == nil {
		l := zerolog.New(zerolog.NewTestWriter(tb))
		cfg.Logger = &l
	}
	tr, err := private.New(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("private.New: %v", err)
	}
	s, err := server.New(server.Config{Interval: cfg.Interval, MinInterval: cfg.MinInterval, Now: clock.Now, Seed: 1,
		Hook: tr, Metrics: tr.Collectors(), Logger: cfg.Logger})
	if err != nil {
		tb.Fatalf("server.New: %v", err)
	}
	return &rig{db: db, tr: tr, h: s.Handler(), clock: clock, remote: "10.0.0.1:5555"}
}

// get serves GET target and returns the body.
func (r *rig) get(tb testing.TB, target string) string {
	tb.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.RemoteAddr = r.remote
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	body, _ := io.ReadAll(w.Body)
	if w.Code != http.StatusOK {
		tb.Fatalf("GET %s: status %d, body %q", target, w.Code, body)
	}
	return string(body)
}

// announce sends a with passkey (as written in the path) and returns the
// failure reason, "" on success.
func (r *rig) announce(tb testing.TB, passkey string, a tracker.AnnounceRequest) string {
	tb.Helper()
	path := "/announce"
	if passkey != "" {
		path = "/" + passkey + "/announce"
	}
	body := r.get(tb, path+"?"+a.Query())
	_, err := tracker.ParseAnnounceResponse([]byte(body))
	if fe, ok := err.(*tracker.FailureError); ok {
		return fe.Reason
	}
	if err != nil {
		tb.Fatalf("announce: %v (body %q)", err, body)
	}
	return ""
}

// mustAnnounce fails the test if the announce is refused.
func (r *rig) mustAnnounce(tb testing.TB, u private.User, a tracker.AnnounceRequest) {
	tb.Helper()
	if reason := r.announce(tb, u.Passkey.String(), a); reason != "" {
		tb.Fatalf("announce of %s (%+v) refused: %s", u.Name, a, reason)
	}
}

func (r *rig) flush(tb testing.TB) {
	tb.Helper()
	if err := r.tr.Flush(context.Background()); err != nil {
		tb.Fatal(err)
	}
}

func (r *rig) fold(tb testing.TB) {
	tb.Helper()
	if err := r.tr.Fold(context.Background()); err != nil {
		tb.Fatal(err)
	}
}

// metric returns the line of /metrics that starts with name, "" if none.
func (r *rig) metric(tb testing.TB, name string) string {
	tb.Helper()
	for line := range strings.Lines(r.get(tb, "/metrics")) {
		if strings.HasPrefix(line, name+" ") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// totals reads a user's totals from the database.
func totals(tb testing.TB, db *private.DB, name string) private.Totals {
	tb.Helper()
	u, err := db.User(context.Background(), name)
	if err != nil {
		tb.Fatal(err)
	}
	return u.Totals
}

// peer is announce parameters for a client: peer id from name.
func peer(h metainfo.Hash, name string, ev tracker.Event, up, down, left int64) tracker.AnnounceRequest {
	var id [20]byte
	copy(id[:], "-TEST00-"+name)
	return tracker.AnnounceRequest{InfoHash: h, PeerID: id, Port: 6881, Event: ev, Uploaded: up, Downloaded: down, Left: left, Compact: true}
}
