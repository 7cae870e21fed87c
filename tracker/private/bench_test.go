package private_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/private"
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
