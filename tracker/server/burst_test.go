package server_test

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/server"
)

// TestBurstOfAnnouncesAllAnswered: 256 clients announce "started" at the
// same moment, as the leechers of `swarm lab --peers 256` do, half on
// keep-alive connections (net/http's path) and half asking for the
// connection to be closed (the lean path), each from a loopback address
// of its own on Linux. Every one is answered, none reset or timed out
// (issue 20: the lab's slow start-up was suspected there; it was not).
func TestBurstOfAnnouncesAllAnswered(t *testing.T) {
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	s, err := server.New(server.Config{Logger: &log, Interval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ln, err := server.Listen(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := runServerOn(t, s, ln)
	ih := metainfo.Hash{0xb0, 0x25}
	const peers = 256
	start := make(chan struct{})
	errs := make([]error, peers)
	var wg sync.WaitGroup
	for n := range peers {
		d := &net.Dialer{}
		if runtime.GOOS == "linux" {
			d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, byte((n+2)>>8), byte(n+2))}
		}
		tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: n%2 == 0}
		defer tr.CloseIdleConnections()
		c := tracker.Client{HTTP: &http.Client{Transport: tr}}
		wg.Go(func() {
			<-start
			req := testPeer(ih, n, 100)
			req.Event = tracker.EventStarted
			_, errs[n] = c.Announce(ctx, url, req)
		})
	}
	close(start)
	wg.Wait()
	failed := 0
	for n, err := range errs {
		if err != nil {
			failed++
			if failed <= 5 {
				t.Errorf("announce %d: %v", n, err)
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d simultaneous announces failed", failed, peers)
	}
	var c tracker.Client
	resp, err := c.Announce(ctx, url, testPeer(ih, peers, 100))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Incomplete != peers+1 {
		t.Errorf("after the burst the tracker counts %d leechers, want %d", resp.Incomplete, peers+1)
	}
}
