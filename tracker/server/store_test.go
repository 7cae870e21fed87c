package server

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"swarm/internal/redistest"
	"swarm/metainfo"
	"swarm/tracker"
)

// storeEnv is one store under test with its clock.
type storeEnv struct {
	t   *testing.T
	st  store
	now *time.Time
}

const testExpiry = 2 * time.Minute

var redisPrefixes atomic.Int64

// forEachStore runs f against the in-memory store and the Redis store (a
// redis-server of the test's own; each run has its own key prefix).
func forEachStore(t *testing.T, url string, maxSwarms int64, f func(e *storeEnv)) {
	newEnv := func(t *testing.T) *storeEnv {
		now := time.Unix(1_700_000_000, 0)
		return &storeEnv{t: t, now: &now}
	}
	t.Run("memory", func(t *testing.T) {
		e := newEnv(t)
		reg := newRegistry(4, 1, func() time.Time { return *e.now }, testExpiry)
		reg.maxSwarms = maxSwarms
		e.st = memStore{reg}
		f(e)
	})
	t.Run("redis", func(t *testing.T) {
		if url == "" {
			t.Skip("redis-server not installed (apt-get install redis-server; SWARM_INTEROP=1 makes this a failure)")
		}
		e := newEnv(t)
		prefix := fmt.Sprintf("test%d:", redisPrefixes.Add(1))
		rs, err := newRedisStore(context.Background(), url, prefix, func() time.Time { return *e.now }, testExpiry, maxSwarms)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rs.close() })
		e.st = rs
		f(e)
	})
}

// startRedis starts the redis-server a test's subtests share, or returns
// "" when there is none (the Redis runs then skip, but with SWARM_INTEROP=1).
func startRedis(t *testing.T) string {
	if _, err := exec.LookPath("redis-server"); err != nil && os.Getenv("SWARM_INTEROP") != "1" {
		return ""
	}
	return redistest.Start(t)
}

// withRedis runs f with the in-memory store (redis "") and, in a subtest,
// with a redis-server of its own (skipped as in forEachStore).
func withRedis(t *testing.T, f func(t *testing.T, redis string)) {
	t.Run("memory", func(t *testing.T) { f(t, "") })
	t.Run("redis", func(t *testing.T) {
		url := startRedis(t)
		if url == "" {
			t.Skip("redis-server not installed (apt-get install redis-server; SWARM_INTEROP=1 makes this a failure)")
		}
		f(t, url)
	})
}

// ann announces peer n (10.0.0.n:port 10000+n, or [2001:db8::n] with v6) to
// ih and returns the reply.
func (e *storeEnv) ann(ih metainfo.Hash, n int, left int64, ev tracker.Event, numWant int, opts ...func(*AnnounceRequest, *reply)) (reply, error) {
	e.t.Helper()
	req := AnnounceRequest{
		AnnounceRequest: tracker.AnnounceRequest{InfoHash: ih, Left: left, Event: ev, NumWant: numWant},
		Addr:            netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(n)}), uint16(10000+n)),
	}
	copy(req.PeerID[:], fmt.Sprintf("-TEST00-%012d", n))
	var rp reply
	rp.reset(true)
	for _, o := range opts {
		o(&req, &rp)
	}
	err := e.st.announce(context.Background(), &req, &rp)
	return rp, err
}

func (e *storeEnv) mustAnn(ih metainfo.Hash, n int, left int64, ev tracker.Event, numWant int, opts ...func(*AnnounceRequest, *reply)) reply {
	e.t.Helper()
	rp, err := e.ann(ih, n, left, ev, numWant, opts...)
	if err != nil {
		e.t.Fatalf("announce of peer %d: %v", n, err)
	}
	return rp
}

func v6(req *AnnounceRequest, _ *reply) {
	a := req.Addr.Addr().As4()
	req.Addr = netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: a[3]}), req.Addr.Port())
}

func oneFamily(_ *AnnounceRequest, rp *reply) { rp.oneFamily = true }

// peersOf returns the peer numbers in rp (from the ports), checking that
// each peer id matches its address.
func (e *storeEnv) peersOf(rp reply) []int {
	e.t.Helper()
	var ns []int
	check := func(compact, ids []byte, size int) {
		if len(ids) != len(compact)/size*20 {
			e.t.Fatalf("%d bytes of peer ids for %d peers", len(ids), len(compact)/size)
		}
		for i := 0; i < len(compact)/size; i++ {
			p := compact[i*size : (i+1)*size]
			n := int(p[size-2])<<8 | int(p[size-1]) - 10000
			if want := fmt.Sprintf("-TEST00-%012d", n); string(ids[i*20:(i+1)*20]) != want {
				e.t.Fatalf("peer %d has id %q, want %q", n, ids[i*20:(i+1)*20], want)
			}
			ns = append(ns, n)
		}
	}
	check(rp.v4, rp.ids4, 6)
	check(rp.v6, rp.ids6, 18)
	slices.Sort(ns)
	return ns
}

func (e *storeEnv) stats() stats {
	e.t.Helper()
	s, err := e.st.stats(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *storeEnv) scrape(hs ...metainfo.Hash) []scrapeCounts {
	e.t.Helper()
	out := make([]scrapeCounts, len(hs))
	if err := e.st.scrape(context.Background(), hs, out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// TestStoreConformance runs the same cases against both stores.
func TestStoreConformance(t *testing.T) {
	ih := metainfo.Hash{0xaa, 1}
	url := startRedis(t)
	t.Run("sample", func(t *testing.T) {
		forEachStore(t, url, 0, func(e *storeEnv) {
			t := e.t
			for n := 1; n <= 10; n++ {
				left := int64(5)
				if n <= 4 {
					left = 0 // seeders, not known ones: started from full data
				}
				e.mustAnn(ih, n, left, tracker.EventStarted, 0)
			}
			rp := e.mustAnn(ih, 7, 5, tracker.EventNone, 50)
			if rp.complete != 4 || rp.incomplete != 6 {
				t.Errorf("counts %d/%d, want 4 seeders, 6 leechers", rp.complete, rp.incomplete)
			}
			if got := e.peersOf(rp); !slices.Equal(got, []int{1, 2, 3, 4, 5, 6, 8, 9, 10}) {
				t.Errorf("numwant 50: peers %v, want all but the asker 7", got)
			}
			for range 20 {
				got := e.peersOf(e.mustAnn(ih, 7, 5, tracker.EventNone, 3))
				if len(got) != 3 || slices.Contains(got, 7) || len(slices.Compact(slices.Clone(got))) != 3 {
					t.Fatalf("numwant 3: peers %v, want 3 distinct others", got)
				}
			}
			if got := e.peersOf(e.mustAnn(ih, 7, 5, tracker.EventNone, 0)); len(got) != 0 {
				t.Errorf("numwant 0: peers %v", got)
			}
			// A seeder that is not known as one (left=0 from the start) gets
			// seeders too.
			if got := e.peersOf(e.mustAnn(ih, 1, 0, tracker.EventNone, 50)); len(got) != 9 {
				t.Errorf("unknown seed: peers %v, want the 9 others", got)
			}
		})
	})
	t.Run("uniform", func(t *testing.T) {
		// 2 seeders and 3 leechers besides the asker, one peer a reply:
		// each of the 5 is expected 100 times in 500.
		forEachStore(t, url, 0, func(e *storeEnv) {
			t := e.t
			for n := 1; n <= 6; n++ {
				e.mustAnn(ih, n, int64(max(0, n-2)), tracker.EventStarted, 0)
			}
			counts := map[int]int{}
			for range 500 {
				for _, n := range e.peersOf(e.mustAnn(ih, 6, 5, tracker.EventNone, 1)) {
					counts[n]++
				}
			}
			for n := 1; n <= 5; n++ {
				if counts[n] < 50 || counts[n] > 160 {
					t.Errorf("peer %d sent %d times of 500, want about 100 (all: %v)", n, counts[n], counts)
				}
			}
		})
	})
	t.Run("known seed and snatches", func(t *testing.T) {
		forEachStore(t, url, 0, func(e *storeEnv) {
			t := e.t
			e.mustAnn(ih, 1, 0, tracker.EventStarted, 0) // seeder
			e.mustAnn(ih, 2, 9, tracker.EventStarted, 0) // leecher
			e.mustAnn(ih, 3, 9, tracker.EventStarted, 0)
			rp := e.mustAnn(ih, 3, 0, tracker.EventCompleted, 50) // now a known seed
			if got := e.peersOf(rp); !slices.Equal(got, []int{2}) {
				t.Errorf("known seed: peers %v, want the leecher 2 only", got)
			}
			if rp.complete != 2 || rp.incomplete != 1 {
				t.Errorf("counts %d/%d, want 2/1", rp.complete, rp.incomplete)
			}
			e.mustAnn(ih, 3, 0, tracker.EventCompleted, 0) // counted once
			// A started event begins a new session: no longer known.
			if got := e.peersOf(e.mustAnn(ih, 3, 0, tracker.EventStarted, 50)); !slices.Equal(got, []int{1, 2}) {
				t.Errorf("after started: peers %v, want 1 and 2", got)
			}
			if c := e.scrape(ih, metainfo.Hash{9}); c[0] != (scrapeCounts{2, 1, 1}) || c[1] != (scrapeCounts{}) {
				t.Errorf("scrape %+v, want {2 1 1} and zeros", c)
			}
			if s := e.stats(); s != (stats{swarms: 1, seeders: 2, leechers: 1, snatches: 1}) {
				t.Errorf("stats %+v", s)
			}
		})
	})
	t.Run("stopped", func(t *testing.T) {
		forEachStore(t, url, 0, func(e *storeEnv) {
			t := e.t
			other := metainfo.Hash{0xbb}
			e.mustAnn(ih, 1, 5, tracker.EventStarted, 0)
			e.mustAnn(ih, 2, 0, tracker.EventStarted, 0)
			rp := e.mustAnn(ih, 2, 0, tracker.EventStopped, 50)
			if len(e.peersOf(rp)) != 0 || rp.complete != 0 || rp.incomplete != 1 {
				t.Errorf("stopped: %d/%d peers %v, want 0/1 and none", rp.complete, rp.incomplete, e.peersOf(rp))
			}
			e.mustAnn(ih, 1, 5, tracker.EventStopped, 0)
			e.mustAnn(other, 1, 5, tracker.EventStopped, 0) // unknown swarm: nothing made
			if s := e.stats(); s != (stats{}) {
				t.Errorf("after the last peer stopped: %+v, want nothing left", s)
			}
			// A leecher turning seeder moves between the counts.
			e.mustAnn(ih, 1, 5, tracker.EventStarted, 0)
			if rp := e.mustAnn(ih, 1, 0, tracker.EventNone, 0); rp.complete != 1 || rp.incomplete != 0 {
				t.Errorf("leecher turned seeder: %d/%d, want 1/0", rp.complete, rp.incomplete)
			}
		})
	})
	t.Run("expiry", func(t *testing.T) {
		forEachStore(t, url, 0, func(e *storeEnv) {
			t := e.t
			quiet, snatched := metainfo.Hash{0xcc}, metainfo.Hash{0xdd}
			e.mustAnn(ih, 1, 5, tracker.EventStarted, 0)
			e.mustAnn(quiet, 1, 5, tracker.EventStarted, 0)
			e.mustAnn(snatched, 1, 0, tracker.EventCompleted, 0)
			e.mustAnn(snatched, 1, 0, tracker.EventStopped, 0)
			*e.now = e.now.Add(90 * time.Second)
			e.mustAnn(ih, 2, 5, tracker.EventStarted, 0)
			*e.now = e.now.Add(31 * time.Second) // peer 1: 121 s silent
			if c := e.scrape(ih); c[0].incomplete != 1 {
				t.Errorf("scrape after peer 1 expired: %+v, want 1 leecher", c[0])
			}
			if got := e.peersOf(e.mustAnn(ih, 2, 5, tracker.EventNone, 50)); len(got) != 0 {
				t.Errorf("peers %v, want none: peer 1 expired", got)
			}
			if err := e.st.sweep(context.Background()); err != nil {
				t.Fatal(err)
			}
			if s := e.stats(); s != (stats{swarms: 1, leechers: 1, snatches: 1}) {
				t.Errorf("after the sweep: %+v, want only the live swarm", s)
			}
			*e.now = e.now.Add(testExpiry + time.Second)
			if err := e.st.sweep(context.Background()); err != nil {
				t.Fatal(err)
			}
			if s := e.stats(); s != (stats{snatches: 1}) {
				t.Errorf("after everything expired: %+v, want nothing but the snatch total", s)
			}
		})
	})
	t.Run("max swarms", func(t *testing.T) {
		forEachStore(t, url, 2, func(e *storeEnv) {
			t := e.t
			a, b, c := metainfo.Hash{1}, metainfo.Hash{2}, metainfo.Hash{3}
			e.mustAnn(a, 1, 5, tracker.EventStarted, 0)
			e.mustAnn(b, 1, 5, tracker.EventStarted, 0)
			if _, err := e.ann(c, 1, 5, tracker.EventStarted, 0); !errors.Is(err, errFull) {
				t.Fatalf("third swarm: %v, want errFull", err)
			}
			e.mustAnn(a, 2, 5, tracker.EventStarted, 0) // a swarm held carries on
			e.mustAnn(b, 1, 5, tracker.EventStopped, 0)
			e.mustAnn(c, 1, 5, tracker.EventStarted, 0) // room again
			if s := e.stats(); s.swarms != 2 || s.leechers != 3 {
				t.Errorf("stats %+v, want 2 swarms, 3 leechers", s)
			}
		})
	})
	t.Run("ipv6", func(t *testing.T) {
		forEachStore(t, url, 0, func(e *storeEnv) {
			t := e.t
			e.mustAnn(ih, 1, 5, tracker.EventStarted, 0)
			e.mustAnn(ih, 2, 5, tracker.EventStarted, 0, v6)
			e.mustAnn(ih, 3, 5, tracker.EventStarted, 0, v6)
			rp := e.mustAnn(ih, 3, 5, tracker.EventNone, 50, v6)
			if len(rp.v4) != 6 || len(rp.v6) != 18 || !slices.Equal(e.peersOf(rp), []int{1, 2}) {
				t.Errorf("both families: v4 %x v6 %x", rp.v4, rp.v6)
			}
			rp = e.mustAnn(ih, 3, 5, tracker.EventNone, 50, v6, oneFamily)
			if len(rp.v4) != 0 || !slices.Equal(e.peersOf(rp), []int{2}) {
				t.Errorf("one family (UDP over IPv6): v4 %x v6 %x, want peer 2 only", rp.v4, rp.v6)
			}
			rp = e.mustAnn(ih, 1, 5, tracker.EventNone, 50, oneFamily)
			if len(rp.v6) != 0 || len(rp.v4) != 0 {
				t.Errorf("one family (UDP over IPv4): v4 %x v6 %x, want none", rp.v4, rp.v6)
			}
		})
	})
	t.Run("drop", func(t *testing.T) {
		forEachStore(t, url, 0, func(e *storeEnv) {
			t := e.t
			keep, gone := metainfo.Hash{1}, metainfo.Hash{2}
			e.mustAnn(keep, 1, 5, tracker.EventStarted, 0)
			e.mustAnn(gone, 1, 0, tracker.EventStarted, 0)
			e.mustAnn(gone, 2, 5, tracker.EventStarted, 0)
			n, err := e.st.dropIf(context.Background(), func(h metainfo.Hash) bool { return h == gone })
			if err != nil || n != 1 {
				t.Fatalf("dropIf: %d, %v, want 1 swarm dropped", n, err)
			}
			if s := e.stats(); s != (stats{swarms: 1, leechers: 1}) {
				t.Errorf("stats %+v, want the kept swarm only", s)
			}
			if c := e.scrape(gone); c[0] != (scrapeCounts{}) {
				t.Errorf("dropped swarm scrapes %+v", c[0])
			}
		})
	})
}
