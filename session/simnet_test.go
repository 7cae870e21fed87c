package session_test

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"swarm/internal/memnet"
	"swarm/session"
)

// nets maps a test running under simulate to its in-memory network, so
// that the shared helpers (newSession, dialFrom, listen) keep their
// signatures and use it when there is one, and real sockets on 127.0.0.1
// otherwise (the tests that need them: uTP, EMFILE, the DHT, trackers).
var nets sync.Map // testing.TB → *memnet.Network

// simulate runs f in a testing/synctest bubble with an in-memory network
// (internal/memnet): time is the bubble's fake clock, which jumps ahead
// whenever every goroutine of the bubble waits, so timeouts of seconds or
// minutes cost no real time; sessions and connections made with the
// helpers below meet on that network, without sockets. Subtests each call
// simulate themselves: t.Run is not allowed inside a bubble.
func simulate(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		nets.Store(t, &memnet.Network{})
		t.Cleanup(func() { nets.Delete(t) }) // runs after f's cleanups
		f(t)
	})
}

// testNet is t's in-memory network, or nil when t runs on real sockets.
func testNet(t testing.TB) *memnet.Network {
	if n, ok := nets.Load(t); ok {
		return n.(*memnet.Network)
	}
	return nil
}

// networkConfig points cfg at t's network: an in-memory listener and
// dialer under simulate, a listener on 127.0.0.1 otherwise.
func networkConfig(t testing.TB, cfg *session.Config) {
	t.Helper()
	n := testNet(t)
	if n == nil {
		cfg.ListenAddr = "127.0.0.1:0"
		return
	}
	ln, err := n.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listener, cfg.Dial, cfg.NoUTP = ln, n.Dial, true
}

// listen opens a listener on 127.0.0.1 on t's network; it closes when the
// test ends.
func listen(t testing.TB) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	if n := testNet(t); n != nil {
		ln, err = n.Listen("tcp", "127.0.0.1:0")
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// acceptWithin accepts one connection on ln, giving up after d.
func acceptWithin(ln net.Listener, d time.Duration) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-time.After(d):
		ln.Close()
		r := <-ch
		if r.c != nil {
			r.c.Close()
		}
		return nil, context.DeadlineExceeded
	}
}

// dialFrom connects to addr on t's network from the address from
// (127.0.0.1 if from is the zero Addr), giving up after 5 s.
func dialFrom(t testing.TB, from netip.Addr, addr netip.AddrPort) (net.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n := testNet(t); n != nil {
		if !from.IsValid() {
			from = netip.MustParseAddr("127.0.0.1")
		}
		return n.DialFrom(ctx, from, "tcp", addr.String())
	}
	var d net.Dialer
	if from.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0))
	}
	return d.DialContext(ctx, "tcp", addr.String())
}

// dial is dialFrom 127.0.0.1 that fails the test on error; the connection
// closes when the test ends.
func dial(t testing.TB, addr netip.AddrPort) net.Conn {
	t.Helper()
	c, err := dialFrom(t, netip.Addr{}, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
