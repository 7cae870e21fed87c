package server_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/server"
)

// runServer runs s on 127.0.0.1:0 until the test ends and returns its
// announce URL.
func runServer(tb testing.TB, s *server.Server) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return runServerOn(tb, s, ln)
}

// runServerOn is runServer on ln.
func runServerOn(tb testing.TB, s *server.Server, ln net.Listener) string {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
	})
	return "http://" + ln.Addr().String() + "/announce"
}

// TestPeersFindEachOther runs a real tracker on loopback; several clients
// announce through the Announcer and the HTTP client, and each ends up
// knowing all the others.
func TestPeersFindEachOther(t *testing.T) {
	log := zerolog.New(zerolog.NewTestWriter(t))
	s, err := server.New(server.Config{Logger: &log, Interval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	url := runServer(t, s)
	ih := metainfo.Hash{0xe2, 0xe0}
	const peers = 5
	var announcers []*tracker.Announcer
	for range peers {
		a, err := tracker.NewAnnouncer(tracker.AnnouncerConfig{
			// A dead tracker first: the Announcer falls through to the real one.
			Tiers:          [][]string{{"http://127.0.0.1:1/announce"}, {url}},
			Logger:         &log,
			AttemptTimeout: 5 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		announcers = append(announcers, a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := func(n int, ev tracker.Event) tracker.AnnounceRequest {
		left := int64(100)
		if ev == tracker.EventCompleted {
			left = 0
		}
		r := testPeer(ih, n, left)
		r.Event = ev
		return r
	}
	for n, a := range announcers {
		resp, err := a.Announce(ctx, req(n, tracker.EventStarted))
		if err != nil {
			t.Fatalf("peer %d started: %v", n, err)
		}
		if len(resp.Peers) != n || resp.Incomplete != int64(n+1) {
			t.Errorf("peer %d started: %d peers, %d leechers; want %d, %d", n, len(resp.Peers), resp.Incomplete, n, n+1)
		}
		if resp.Interval != time.Minute || resp.MinInterval != 30*time.Second {
			t.Errorf("interval %v / %v, want 1m / 30s", resp.Interval, resp.MinInterval)
		}
	}
	for n, a := range announcers {
		resp, err := a.Announce(ctx, req(n, tracker.EventCompleted))
		if err != nil {
			t.Fatalf("peer %d completed: %v", n, err)
		}
		// A seeder now, n is sent the leechers: the peers that have not
		// completed yet.
		var want []netip.AddrPort
		for m := n + 1; m < peers; m++ {
			want = append(want, netip.MustParseAddrPort("127.0.0.1:"+strconv.Itoa(10000+m)))
		}
		got := resp.Peers
		slices.SortFunc(got, func(a, b netip.AddrPort) int { return a.Compare(b) })
		if !slices.Equal(got, want) {
			t.Errorf("peer %d completed: peers %v, want %v", n, got, want)
		}
	}
	for n, a := range announcers {
		if _, err := a.Announce(ctx, req(n, tracker.EventStopped)); err != nil {
			t.Fatalf("peer %d stopped: %v", n, err)
		}
	}
	var c tracker.Client
	resp, err := c.Announce(ctx, url, req(99, tracker.EventNone))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Peers) != 0 || resp.Complete != 0 || resp.Incomplete != 1 {
		t.Errorf("after everyone stopped: %+v, want only the asker left", resp)
	}
	// A bad announce over the wire is a bencoded failure, not an HTTP error.
	bad := req(100, tracker.EventNone)
	bad.Port = 0
	if _, err := c.Announce(ctx, url, bad); !errors.As(err, new(*tracker.FailureError)) {
		t.Errorf("port 0 announce: %v, want a FailureError", err)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	s, _ := newTestServer(t, server.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	var c tracker.Client
	if _, err := c.Announce(ctx, "http://"+ln.Addr().String()+"/announce", testPeer(ihA, 1, 0)); err != nil {
		t.Fatalf("announce: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run() = %v, want nil after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of cancel")
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener still accepts after Run returned")
	}
}
