package server

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRawLoopsBounded: with more slow clients than the raw loops may hold,
// the rest go to net/http; the loops' tables never hold more than the
// bound, an announce is still answered, and every slow client is dropped
// after the read timeout, emptying the tables.
func TestRawLoopsBounded(t *testing.T) {
	s, err := New(Config{Interval: time.Minute, ReadTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s.maxLean = 4
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	addr := ln.Addr().String()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	const slow = 12
	var conns []net.Conn
	for range slow {
		c := dial()
		defer c.Close()
		if _, err := io.WriteString(c, "GET /announce?info_hash=x HTTP/1.1\r\nHost: t\r\n"); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	waiting := func() int64 {
		n := s.leanWaiting.Load()
		if n > int64(s.maxLean) {
			t.Fatalf("%d connections waiting in the raw loops, bound %d", n, s.maxLean)
		}
		return n
	}
	for i := 0; i < 200 && waiting() == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if waiting() == 0 {
		t.Fatal("no slow connection waiting in the raw loops after 2 s")
	}

	c := dial()
	defer c.Close()
	if _, err := io.WriteString(c, "GET /announce?"+okBase+" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(c); err != nil || !bytes.Contains(got, []byte("8:interval")) {
		t.Errorf("announce beside %d slow clients: %q, %v", slow, got, err)
	}
	waiting()
	for i, c := range conns {
		if got, err := io.ReadAll(c); err != nil {
			t.Errorf("slow client %d: %v (read %q), want the tracker to close it", i, err, got)
		}
	}
	for i := 0; i < 200 && waiting() != 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := waiting(); n != 0 {
		t.Errorf("%d connections still waiting in the raw loops after their clients were dropped", n)
	}
}

// TestWriteCloseSlowReader: a reply larger than the socket takes at once,
// to a client that reads late, arrives whole: writeClose hands the rest to
// Go's poller instead of waiting in the loop.
func TestWriteCloseSlowReader(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 4096); err != nil {
		t.Fatal(err)
	}
	peer := os.NewFile(uintptr(fds[1]), "peer")
	defer peer.Close()
	want := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	var wg sync.WaitGroup
	writeClose(fds[0], want, 10*time.Second, &wg)
	time.Sleep(100 * time.Millisecond) // the socket is full by now
	_ = peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(peer)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("read %d bytes (%v), want the %d written", len(got), err, len(want))
	}
	wg.Wait()
}

// TestExpireReadsBeforeDropping: a connection past its deadline whose
// request has arrived, unread because the loop came late, is answered;
// one whose request is still incomplete is closed. Before, both were
// closed, and closing the first with its request unread reset it: at
// load 30 to 60 the lab's 256 leechers saw 262 announces reset
// (issue 20).
func TestExpireReadsBeforeDropping(t *testing.T) {
	s, err := New(Config{Interval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	l := &rawLoop{s: s, ctx: context.Background(), conns: &wg, pending: map[int]*rawConn{}}
	late := time.Now().Add(-time.Second)
	client := func(req string) *os.File {
		t.Helper()
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		peer := os.NewFile(uintptr(fds[1]), "client")
		t.Cleanup(func() { peer.Close() })
		if _, err := io.WriteString(peer, req); err != nil {
			t.Fatal(err)
		}
		l.pending[fds[0]] = &rawConn{remote: netip.MustParseAddr("127.0.0.2"), deadline: late}
		s.leanWaiting.Add(1)
		return peer
	}
	whole := client("GET /announce?" + okBase + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	half := client("GET /announce?" + okBase + " HTTP/1.1\r\nHost: t\r\n")
	l.expire(-1, time.Now())
	wg.Wait()
	if len(l.pending) != 0 || s.leanWaiting.Load() != 0 {
		t.Errorf("after expire: %d pending, %d waiting; want none", len(l.pending), s.leanWaiting.Load())
	}
	_ = whole.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := io.ReadAll(whole); err != nil || !bytes.Contains(got, []byte("8:interval")) {
		t.Errorf("request that arrived in time: read %q, %v; want the announce's answer", got, err)
	}
	_ = half.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := io.ReadAll(half); err != nil || len(got) != 0 {
		t.Errorf("request still incomplete: read %q, %v; want the connection closed", got, err)
	}
}
