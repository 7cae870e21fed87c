package server_test

import (
	"context"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/server"
)

// TestTrackerUnderLoad: 200 clients announce as fast as they can, each in
// its own goroutine with its own connection, to a real tracker on loopback
// for SWARM_LOAD_DURATION (10 s by default; RELIABILITY.md gives the 60 s
// command). Every announce must succeed, and at the end every client must
// be counted in its swarm and listed to the others (no lost peers). The
// latency percentiles and the rate are logged.
func TestTrackerUnderLoad(t *testing.T) {
	duration := 10 * time.Second
	if v := os.Getenv("SWARM_LOAD_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SWARM_LOAD_DURATION: %v", err)
		}
		duration = d
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	s, err := server.New(server.Config{Logger: &log, Interval: time.Hour, MaxNumWant: 200})
	if err != nil {
		t.Fatal(err)
	}
	url := runServer(t, s)
	const clients, swarms = 200, 4
	type result struct {
		lat    []time.Duration
		errs   int
		firstE error
		last   tracker.AnnounceResponse
	}
	results := make([]result, clients)
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			r := &results[i]
			c := &tracker.Client{HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}}
			defer c.HTTP.CloseIdleConnections()
			req := testPeer(metainfo.Hash{byte(i % swarms), 0xaa}, i, int64(i%3)*1000)
			req.NumWant = clients
			req.Event = tracker.EventStarted
			// Bounded by time and count: at most one announce a millisecond.
			for n := 0; n < int(duration/time.Millisecond) && time.Now().Before(deadline); n++ {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				start := time.Now()
				resp, err := c.Announce(ctx, url, req)
				r.lat = append(r.lat, time.Since(start))
				cancel()
				if err != nil {
					if r.errs++; r.firstE == nil {
						r.firstE = err
					}
					continue
				}
				r.last = resp
				req.Event = tracker.EventNone
				req.Uploaded += 16 << 10
			}
		})
	}
	wg.Wait()

	var all []time.Duration
	errs := 0
	for i, r := range results {
		all = append(all, r.lat...)
		errs += r.errs
		if r.firstE != nil {
			t.Errorf("client %d: %d failed announces, first: %v", i, r.errs, r.firstE)
		}
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(float64(len(all))*p))] }
	t.Logf("%d clients for %v: %d announces (%.0f/s), %d errors; latency p50 %v, p99 %v, max %v",
		clients, duration, len(all), float64(len(all))/duration.Seconds(), errs,
		pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), all[len(all)-1].Round(time.Microsecond))

	// No lost peers: one more announce per client sees its whole swarm.
	c := &tracker.Client{}
	lost := 0
	for i := range clients {
		req := testPeer(metainfo.Hash{byte(i % swarms), 0xaa}, i, int64(i%3)*1000)
		req.NumWant = clients
		resp, err := c.Announce(context.Background(), url, req)
		if err != nil {
			t.Fatalf("final announce of client %d: %v", i, err)
		}
		if got := resp.Complete + resp.Incomplete; got != clients/swarms {
			t.Errorf("client %d: its swarm counts %d peers, want %d", i, got, clients/swarms)
		}
		seen := map[netip.AddrPort]bool{}
		for _, p := range resp.Peers {
			seen[p] = true
		}
		for j := i % swarms; j < clients; j += swarms {
			if i%3 == 0 && j%3 == 0 {
				continue // a seeder is sent leechers only
			}
			if j != i && !seen[netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(10000+j))] {
				lost++
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d peers missing from the lists their swarm mates got", lost)
	}
	t.Logf("after the load: %d of %d clients counted, %d missing from their swarm mates' lists", clients, clients, lost)
}
