package session_test

import (
	"bytes"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"swarm/peer"
	"swarm/session"
)

// TestPexIntroducesLeechersToEachOther: leechers A and B are each given
// only the seed's address, and nothing else (no tracker, no DHT) can tell
// them of each other; the seed's ut_pex messages (BEP 11) do, and they
// connect. The seed's upload is rate-limited so that neither completes
// (and stops looking for peers) before the test looks.
func TestPexIntroducesLeechersToEachOther(t *testing.T) {
	simulate(t, testPexIntroducesLeechersToEachOther)
}

func testPexIntroducesLeechersToEachOther(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 1<<20, 64<<10)
	cfg := session.Config{PexInterval: time.Second}
	seedSess := newSession(t, cfg)
	seed, err := seedSess.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: bytes.Clone(content)}, Have: fullBitfield(16), Seed: true, UploadRate: 32 << 10})
	if err != nil {
		t.Fatal(err)
	}
	seedSess.AddTorrent(seed)
	runSession(t, seedSess)
	seedAddr := addrOf(t, seedSess)

	var leechers []*session.Torrent
	for range 2 {
		s := newSession(t, cfg)
		tor, err := s.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: make([]byte, len(content))}, Peers: []netip.AddrPort{seedAddr}})
		if err != nil {
			t.Fatal(err)
		}
		s.AddTorrent(tor)
		runSession(t, s)
		leechers = append(leechers, tor)
	}
	// Each leecher must reach two peers: the seed and the other leecher,
	// whose address only the seed's pex carried.
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	reached := [2]bool{}
	for !reached[0] || !reached[1] {
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: leechers reached two peers: %v; stats %+v, %+v", reached, leechers[0].Stats(), leechers[1].Stats())
		}
		for i, l := range leechers {
			if st := l.Stats(); st.Peers == 2 {
				reached[i] = true
			} else if st.Complete {
				t.Fatalf("leecher %d completed before it met the other", i)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("leechers connected to each other %v after start", time.Since(start).Round(time.Millisecond))
}

// rawPeer is a hand-driven peer connection to a session.
type rawPeer struct {
	t    *testing.T
	conn *peer.Conn
}

// dialRaw connects to addr as a peer with the given id and completes the
// handshake (with the extension bit, BEP 10).
func dialRaw(t *testing.T, addr netip.AddrPort, ih [20]byte, id string) *rawPeer {
	t.Helper()
	nc := dial(t, addr)
	var pid [20]byte
	copy(pid[:], id)
	if _, err := peer.Initiate(nc, peer.NewHandshake(ih, pid)); err != nil {
		t.Fatal(err)
	}
	c, err := peer.NewConn(nc, peer.Config{IdleTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &rawPeer{t: t, conn: c}
}

// extended sends an extended message; payload is bencoded.
func (r *rawPeer) extended(id uint8, payload []byte) {
	r.t.Helper()
	if err := r.conn.WriteMessage(peer.Message{ID: peer.Extended, ExtendedID: id, Payload: payload}); err != nil {
		r.t.Fatal(err)
	}
}

// handshake sends our extension handshake.
func (r *rawPeer) handshake(h peer.ExtensionHandshake) {
	r.t.Helper()
	b, err := h.Marshal()
	if err != nil {
		r.t.Fatal(err)
	}
	r.extended(peer.ExtensionHandshakeID, b)
}

// next returns the next extended message with the given id that arrives
// before the deadline; ok is false if none does.
func (r *rawPeer) next(id uint8, deadline time.Time) (payload []byte, ok bool) {
	r.conn.NetConn().SetReadDeadline(deadline)
	defer r.conn.NetConn().SetReadDeadline(time.Time{})
	for {
		var m peer.Message
		if err := r.conn.ReadMessage(&m); err != nil {
			return nil, false
		}
		if m.ID == peer.Extended && m.ExtendedID == id {
			return bytes.Clone(m.Payload), true
		}
	}
}

// listener accepts connections on 127.0.0.1 and counts them.
func listener(t *testing.T) (netip.AddrPort, <-chan struct{}) {
	t.Helper()
	ln := listen(t)
	accepted := make(chan struct{}, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return netip.MustParseAddrPort(ln.Addr().String()), accepted
}

func connectedWithin(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// TestPexOnlyForPublicTorrents drives a seed with hand-made peers. A public
// torrent advertises ut_pex, tells a peer of another peer's listen address
// (and not of its own), dials an address it hears of, and ignores a second
// message that comes too soon. A private torrent (BEP 27) advertises no
// ut_pex, sends none and dials nothing it is told of.
func TestPexOnlyForPublicTorrents(t *testing.T) {
	for _, tt := range []struct {
		name           string
		private, noPex bool
	}{
		{"public", false, false},
		{"private", true, false},
		{"public, turned off (--pex=false)", false, true},
	} {
		// off: the torrent must behave as if ut_pex did not exist.
		off := tt.private || tt.noPex
		t.Run(tt.name, func(t *testing.T) {
			simulate(t, func(t *testing.T) {
				checkGoroutines(t)
				m, content := makeTorrentFlag(t, 256<<10, 64<<10, tt.private)
				s := runSeed(t, m, content, session.Config{PexInterval: time.Second, NoPex: tt.noPex})
				addr := addrOf(t, s)

				// other has a listen address the seed learns from its
				// extension handshake; asker advertises ut_pex under id 7.
				otherListen, _ := listener(t)
				other := dialRaw(t, addr, m.InfoHash, "-XX0000-other0000000")
				other.handshake(peer.ExtensionHandshake{M: map[string]uint8{}, Port: otherListen.Port()})
				askerListen, _ := listener(t)
				asker := dialRaw(t, addr, m.InfoHash, "-XX0000-asker0000000")
				asker.handshake(peer.ExtensionHandshake{M: map[string]uint8{peer.PexExtension: 7}, Port: askerListen.Port()})

				payload, ok := asker.next(peer.ExtensionHandshakeID, time.Now().Add(5*time.Second))
				if !ok {
					t.Fatal("no extension handshake from the seed")
				}
				hs, err := peer.ParseExtensionHandshake(payload)
				if err != nil {
					t.Fatal(err)
				}
				id, advertised := hs.M[peer.PexExtension]
				if advertised == off || advertised && id != peer.PexID {
					t.Fatalf("extension handshake m = %v: ut_pex advertised %v, want %v (id %d)", hs.M, advertised, !off, peer.PexID)
				}

				// The seed's pex message to asker.
				payload, got := asker.next(7, time.Now().Add(3*time.Second))
				if off {
					if got {
						t.Fatalf("a torrent without pex sent ut_pex %q", payload)
					}
				} else {
					if !got {
						t.Fatal("no ut_pex message from the seed within 3 s")
					}
					msg, err := peer.ParsePexMessage(payload)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(msg.Added, []netip.AddrPort{otherListen}) || len(msg.Dropped) != 0 {
						t.Errorf("ut_pex to asker = %+v, want added [%v] (other's listen address, not asker's own %v)", msg, otherListen, askerListen)
					}
					if !bytes.Equal(msg.AddedFlags, []byte{0}) {
						t.Errorf("flags of an incoming peer that is no seed = %v, want [0]", msg.AddedFlags)
					}
				}

				// A peer the seed hears of through pex gets a connection; one in
				// a message right after that is ignored.
				heard, heardConn := listener(t)
				tooSoon, tooSoonConn := listener(t)
				for _, a := range []netip.AddrPort{heard, tooSoon} {
					b, err := peer.PexMessage{Added: []netip.AddrPort{a}, AddedFlags: []byte{peer.PexReachable}}.Marshal()
					if err != nil {
						t.Fatal(err)
					}
					asker.extended(peer.PexID, b)
				}
				if dialed := connectedWithin(heardConn, 3*time.Second); dialed == off {
					t.Errorf("seed dialed the address it heard of via ut_pex: %v, want %v", dialed, !off)
				}
				if connectedWithin(tooSoonConn, 2*time.Second) {
					t.Error("seed dialed an address from a ut_pex message that came too soon after the last")
				}
			})
		})
	}
}

// TestPexHostileMessages: a malformed ut_pex message drops the peer; a
// well-formed one with more added peers than we take (60) gets 50 of them
// dialed and no more.
func TestPexHostileMessages(t *testing.T) { simulate(t, testPexHostileMessages) }

func testPexHostileMessages(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 256<<10, 64<<10)
	s := runSeed(t, m, content, session.Config{PexInterval: time.Second, MaxPeers: 100})
	addr := addrOf(t, s)

	{ // malformed (the cases share the seed, and t.Run is not allowed in a synctest bubble)
		for _, payload := range []string{"d5:added7:1234567e", "d5:added6:1234567:added.f2:\x00\x00e", "le", "d5:added99999:x"} {
			c := dialRaw(t, addr, m.InfoHash, "-XX0000-malformedpex")
			c.extended(peer.PexID, []byte(payload))
			if !closedWithin(c.conn.NetConn(), 5*time.Second) {
				t.Errorf("ut_pex %q: the seed kept the connection", payload)
			}
		}
	}

	{ // too many added
		var dialed atomic.Int32
		msg := peer.PexMessage{}
		for range 60 {
			ln := listen(t)
			done := make(chan struct{})
			go func() {
				defer close(done)
				counted := false
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Close()
					if !counted {
						counted = true
						dialed.Add(1)
					}
				}
			}()
			t.Cleanup(func() { ln.Close(); <-done })
			msg.Added = append(msg.Added, netip.MustParseAddrPort(ln.Addr().String()))
		}
		b, err := msg.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		c := dialRaw(t, addr, m.InfoHash, "-XX0000-toomanypex00")
		c.extended(peer.PexID, b)
		deadline := time.Now().Add(30 * time.Second)
		for dialed.Load() < 50 {
			if time.Now().After(deadline) {
				t.Fatalf("after 30 s the seed dialed %d of the 60 addresses, want 50", dialed.Load())
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(2 * time.Second)
		if n := dialed.Load(); n != 50 {
			t.Errorf("the seed dialed %d of the 60 addresses in one ut_pex message, want 50", n)
		}
		if closedWithin(c.conn.NetConn(), 100*time.Millisecond) {
			t.Error("the seed dropped a peer for a well-formed ut_pex message with 60 added peers")
		}
	}
}
