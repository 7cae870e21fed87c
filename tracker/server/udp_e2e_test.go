package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/server"
)

// runUDP serves s over UDP on n sockets of host (port 0) until the test
// ends and returns the udp:// announce URL.
func runUDP(tb testing.TB, s *server.Server, host string, n int) string {
	tb.Helper()
	conns, err := server.ListenUDP(context.Background(), net.JoinHostPort(host, "0"), n)
	if err != nil {
		tb.Skipf("udp on %s: %v", host, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.RunUDP(ctx, conns...) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("RunUDP: %v", err)
		}
	})
	return "udp://" + conns[0].LocalAddr().String() + "/announce"
}

// TestUDPClientsFindEachOther: swarm's own UDP tracker client (BEP 15)
// against the server on real sockets, IPv4 and IPv6, with peers announcing
// over HTTP to the same Server in the same swarm.
func TestUDPClientsFindEachOther(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			s, _ := newTestServer(t, server.Config{Interval: time.Minute})
			udpURL := runUDP(t, s, host, 2)
			httpURL := runServer(t, s)
			ih := metainfo.Hash{0x0d, 0x9}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var c tracker.Client
			// Peer 0 over HTTP from 127.0.0.1: over IPv6 UDP it is not in
			// the replies (another family), but it is counted.
			if _, err := c.Announce(ctx, httpURL, testPeer(ih, 0, 0)); err != nil {
				t.Fatal(err)
			}
			const peers = 4
			for n := 1; n <= peers; n++ {
				resp, err := c.Announce(ctx, udpURL, testPeer(ih, n, 10))
				if err != nil {
					t.Fatalf("peer %d over %s: %v", n, udpURL, err)
				}
				var want []netip.AddrPort
				first := 1
				if host == "127.0.0.1" {
					first = 0
				}
				for m := first; m < n; m++ {
					want = append(want, netip.AddrPortFrom(netip.MustParseAddr(host), uint16(10000+m)))
				}
				slices.SortFunc(resp.Peers, func(a, b netip.AddrPort) int { return a.Compare(b) })
				if !slices.Equal(resp.Peers, want) || resp.Complete != 1 || resp.Incomplete != int64(n) {
					t.Errorf("peer %d: peers %v, %d seeders, %d leechers; want %v, 1, %d", n, resp.Peers, resp.Complete, resp.Incomplete, want, n)
				}
				if resp.Interval != time.Minute {
					t.Errorf("peer %d: interval %v, want 1m", n, resp.Interval)
				}
			}
			// The HTTP side sees the UDP peers.
			resp, err := c.Announce(ctx, httpURL, testPeer(ih, 50, 10))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Complete != 1 || resp.Incomplete != peers+1 || len(resp.Peers) != peers+1 {
				t.Errorf("HTTP announce after UDP ones: %d peers, %d seeders, %d leechers; want %d, 1, %d",
					len(resp.Peers), resp.Complete, resp.Incomplete, peers+1, peers+1)
			}
			// A refusal comes back as the client's FailureError.
			bad := testPeer(ih, 9, 1)
			bad.Port = 0
			var fe *tracker.FailureError
			if _, err := c.Announce(ctx, udpURL, bad); !errors.As(err, &fe) || fe.Reason != "port must be a number from 1 to 65535, got 0" {
				t.Errorf("port 0 over UDP: %v, want the HTTP failure reason", err)
			}
		})
	}
}

// TestUDPDualStack: one socket on [::] serves IPv4 clients (as mapped
// addresses) and IPv6 ones; each gets peers of its own family.
func TestUDPDualStack(t *testing.T) {
	s, _ := newTestServer(t, server.Config{})
	u := runUDP(t, s, "::", 1)
	port := u[strings.LastIndex(u, ":")+1 : strings.LastIndex(u, "/")]
	ih := metainfo.Hash{0xd5}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var c tracker.Client
	for n, host := range []string{"127.0.0.1", "[::1]", "127.0.0.1", "[::1]"} {
		resp, err := c.Announce(ctx, "udp://"+host+":"+port+"/announce", testPeer(ih, n, 1))
		if err != nil {
			t.Skipf("announce to %s: %v (no dual-stack loopback here?)", host, err)
		}
		if resp.Incomplete != int64(n+1) {
			t.Errorf("peer %d via %s: %d leechers, want %d", n, host, resp.Incomplete, n+1)
		}
		if n >= 2 {
			want := netip.AddrPortFrom(netip.MustParseAddr(strings.Trim(host, "[]")), uint16(10000+n-2))
			if len(resp.Peers) != 1 || resp.Peers[0] != want {
				t.Errorf("peer %d via %s: peers %v, want [%v] (its own family only)", n, host, resp.Peers, want)
			}
		}
	}
}

// TestRunUDPStopsOnCancel: RunUDP returns nil once its context is done and
// the port is closed (goleak in TestMain checks its goroutines ended).
func TestRunUDPStopsOnCancel(t *testing.T) {
	s, _ := newTestServer(t, server.Config{})
	conns, err := server.ListenUDP(context.Background(), "127.0.0.1:0", 3)
	if err != nil {
		t.Fatal(err)
	}
	addr := conns[0].LocalAddr().String()
	for _, c := range conns[1:] {
		if c.LocalAddr().String() != addr {
			t.Fatalf("sockets on %v and %v, want one port", addr, c.LocalAddr())
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.RunUDP(ctx, conns...) }()
	var c tracker.Client
	if _, err := c.Announce(ctx, fmt.Sprintf("udp://%s/announce", addr), testPeer(ihA, 1, 0)); err != nil {
		t.Fatalf("announce: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunUDP() = %v, want nil after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunUDP did not return within 10 s of cancel")
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Errorf("port still taken after RunUDP returned: %v", err)
	} else {
		pc.Close()
	}
}
