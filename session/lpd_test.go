package session_test

import (
	"context"
	"net"
	"testing"
	"time"

	"swarm/lpd"
	"swarm/metainfo"
	"swarm/peer"
	"swarm/session"
)

// TestLPDAnnouncesAndDialsPublicTorrentsOnly: local peer discovery (BEP
// 14) announces the public torrent and not the private one, and dials a
// peer announced for the public torrent, never for the private one. The
// kernel here gives loopback no multicast, and tests stay on 127.0.0.1, so
// the group is a unicast UDP socket on loopback: the code under test is
// the one that runs on the multicast group.
func TestLPDAnnouncesAndDialsPublicTorrentsOnly(t *testing.T) {
	checkGoroutines(t)
	pub, _ := makeTorrent(t, 256<<10, 64<<10)
	priv, _ := makeTorrentFlag(t, 300<<10, 64<<10, true)
	s := newSession(t, session.Config{})
	var torrents []*session.Torrent
	for _, m := range []*metainfo.MetaInfo{pub, priv} {
		tor, err := s.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: make([]byte, m.Info.Length)}})
		if err != nil {
			t.Fatal(err)
		}
		s.AddTorrent(tor)
		torrents = append(torrents, tor)
	}
	cancel := runSession(t, s)
	defer cancel()

	lanSide, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer lanSide.Close()
	ours, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		session.ServeLPD(s, ctx, ours, lanSide.LocalAddr().(*net.UDPAddr), 7777, "ourcookie")
	}()
	defer func() { stop(); ours.Close(); <-done }()

	buf := make([]byte, 2048)
	lanSide.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := lanSide.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("no announce: %v", err)
	}
	a, err := lpd.Parse(buf[:n])
	if err != nil || a.Port != 7777 || a.Cookie != "ourcookie" || len(a.InfoHashes) != 1 || a.InfoHashes[0] != pub.InfoHash {
		t.Fatalf("announce %+v, %v, want port 7777 and only the public torrent %v", a, err, pub.InfoHash)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	msg := lpd.Announce{Port: port, InfoHashes: [][20]byte{priv.InfoHash, pub.InfoHash}, Cookie: "theirs"}.Marshal()
	if _, err := lanSide.WriteToUDP(msg, ours.LocalAddr().(*net.UDPAddr)); err != nil {
		t.Fatal(err)
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("the announced peer was not dialled: %v", err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	hs, err := peer.ReadHandshake(c)
	if err != nil || hs.InfoHash != pub.InfoHash {
		t.Fatalf("dialled for %x (%v), want the public torrent %v", hs.InfoHash, err, pub.InfoHash)
	}
	if k := torrents[1].Stats().Known; k != 0 {
		t.Errorf("the private torrent knows %d addresses, want 0", k)
	}
}
