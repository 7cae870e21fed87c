package private_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/private"
	"swarm/tracker/server"
)

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkPrivateAnnounce measures the handler in private mode (no
// network): 100 users on one torrent, half seeding, each iteration a
// re-announce of one of them with a millisecond more on the clock and a
// few more bytes, so every announce is accepted and accounted.
func BenchmarkPrivateAnnounce(b *testing.B) {
	db, _ := openDB(b)
	ih := metainfo.Hash{0xbe}
	addTorrent(b, db, ih)
	const n = 100
	users := make([]private.User, n)
	for i := range users {
		users[i] = addUser(b, db, fmt.Sprintf("u%d", i))
	}
	nop := zerolog.Nop() // the test writer's debug lines would dominate
	r := newRig(b, db, private.Config{MinInterval: time.Millisecond, Rate: 1e9, Burst: 1e6, Logger: &nop})
	for i, u := range users {
		r.mustAnnounce(b, u, peer(ih, fmt.Sprint(i), tracker.EventStarted, 0, 0, int64(i%2)*size))
	}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%n == 0 {
			r.clock.Advance(2 * time.Millisecond)
		}
		u := users[i%n]
		a := peer(ih, fmt.Sprint(i%n), tracker.EventNone, int64(i/n)*1000, int64(i/n)*1000, int64(i%2)*size)
		req := httptest.NewRequest(http.MethodGet, "/"+u.Passkey.String()+"/announce?"+a.Query(), nil)
		req.RemoteAddr = "10.0.0.1:5555"
		r.h.ServeHTTP(w, req)
	}
}

// BenchmarkBeforeAnnounce is the private mode's share of an announce: the
// Hook alone, on the same swarm as BenchmarkPrivateAnnounce.
func BenchmarkBeforeAnnounce(b *testing.B) {
	db, _ := openDB(b)
	ih := metainfo.Hash{0xbe}
	addTorrent(b, db, ih)
	const n = 100
	users := make([]private.User, n)
	for i := range users {
		users[i] = addUser(b, db, fmt.Sprintf("u%d", i))
	}
	nop := zerolog.Nop()
	r := newRig(b, db, private.Config{MinInterval: time.Millisecond, Rate: 1e9, Burst: 1e6, Logger: &nop})
	reqs := make([]server.AnnounceRequest, n)
	for i, u := range users {
		reqs[i] = server.AnnounceRequest{AnnounceRequest: peer(ih, fmt.Sprint(i), tracker.EventStarted, 0, 0, int64(i%2)*size),
			Addr: netip.MustParseAddrPort("10.0.0.1:6881"), Passkey: u.Passkey.String()}
		if err := r.tr.BeforeAnnounce(context.Background(), &reqs[i]); err != nil {
			b.Fatal(err)
		}
		reqs[i].Event = tracker.EventNone
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%n == 0 {
			r.clock.Advance(2 * time.Millisecond)
		}
		req := &reqs[i%n]
		req.Uploaded += 1000
		req.Downloaded += 1000
		if err := r.tr.BeforeAnnounce(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
