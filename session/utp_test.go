package session_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"swarm/peer"
	"swarm/session"
	"swarm/utp"
)

// tcpOff makes s refuse TCP, so that its peers reach it over uTP only.
func tcpOff(t *testing.T, s *session.Session) {
	t.Helper()
	if err := session.CloseTCPListener(s); err != nil {
		t.Fatal(err)
	}
}

// TestDownloadOverUTP: a seed whose TCP port refuses serves a download
// over uTP (BEP 29) on the same port number: the leecher's TCP dial is
// refused, it dials uTP, the seed accepts it on its UDP socket, and the
// content arrives whole.
func TestDownloadOverUTP(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 3<<20+12345, 256<<10)
	seed := runSeed(t, m, content, session.Config{})
	tcpOff(t, seed)
	leechFrom(t, m, content, addrOf(t, seed))
}

// TestUTPPeersCountInMaxConns: uTP connections take connection slots like
// TCP ones: of 6 uTP peers that handshake and then idle, a seed with
// MaxConns 3 holds 3 and closes the rest.
func TestUTPPeersCountInMaxConns(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 64<<10, 16<<10)
	seed := runSeed(t, m, content, session.Config{MaxConns: 3})
	tcpOff(t, seed)
	us, err := utp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer us.Close()
	var conns []net.Conn
	for i := range 6 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := us.Dial(ctx, addrOf(t, seed))
		cancel()
		if err != nil {
			t.Fatalf("uTP connection %d: %v", i+1, err)
		}
		defer c.Close()
		var id [20]byte
		copy(id[:], fmt.Sprintf("-XX0000-idle%08d", i))
		c.Write(peer.AppendHandshake(nil, peer.NewHandshake([20]byte(m.InfoHash), id)))
		conns = append(conns, c)
	}
	if held := stillOpen(conns, time.Second); held != 3 {
		t.Errorf("%d of 6 idle uTP peers held, want 3 (MaxConns)", held)
	}
}

// TestPeerThatHangsUpOnTCPIsRetriedOverUTP: a seed whose TCP port accepts
// and closes, as libtorrent with incoming TCP off (qBittorrent's "uTP
// only") does, serves a download over uTP: the leecher's handshake over
// TCP ends in EOF, and it tries the same address over uTP. The fake peer
// reads the handshake before it closes: closed with the handshake unread,
// the socket sends a reset, the leecher reads ECONNRESET rather than EOF,
// and does not try uTP (connect in utp.go retries on EOF only).
func TestPeerThatHangsUpOnTCPIsRetriedOverUTP(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 1<<20, 64<<10)
	seed := runSeed(t, m, content, session.Config{})
	tcpOff(t, seed)
	ln, err := net.Listen("tcp", addrOf(t, seed).String())
	if err != nil {
		t.Fatalf("listen on the seed's freed TCP port: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			io.ReadFull(c, make([]byte, 68))
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	leechFrom(t, m, content, addrOf(t, seed))
}
