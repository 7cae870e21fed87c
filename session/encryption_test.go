package session_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"swarm/mse"
	"swarm/peer"
	"swarm/session"
	"swarm/utp"
)

// TestEncryptionPolicies downloads between two sessions under each pair of
// policies (issue 19). With require on either side a download can only
// complete encrypted: require refuses plaintext handshakes and MSE's
// plaintext method both ways. prefer → require shows the fallback: the
// plaintext handshake is hung up on and the retry is encrypted.
func TestEncryptionPolicies(t *testing.T) {
	tests := []struct {
		leech, seed session.Encryption
		refusal     string // "" if the download completes; else the seed's logged reason
	}{
		{session.EncryptionRequire, session.EncryptionRequire, ""},
		{session.EncryptionPrefer, session.EncryptionRequire, ""},
		{session.EncryptionRequire, session.EncryptionPrefer, ""},
		{session.EncryptionPrefer, session.EncryptionPrefer, ""},
		{session.EncryptionPlaintext, session.EncryptionRequire, "plaintext handshake refused"},
		{session.EncryptionRequire, session.EncryptionPlaintext, "encryption is off"},
	}
	for _, tt := range tests {
		t.Run(tt.leech.String()+" to "+tt.seed.String(), func(t *testing.T) {
			checkGoroutines(t)
			m, content := makeTorrent(t, 1<<20+777, 64<<10)
			var logs logBuffer
			seedSess := loggedSession(t, session.Config{Encryption: tt.seed, NoUTP: true}, &logs)
			seed, err := seedSess.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: bytes.Clone(content)}, Have: fullBitfield(m.Info.NumPieces()), Seed: true})
			if err != nil {
				t.Fatal(err)
			}
			seedSess.AddTorrent(seed)
			runSession(t, seedSess)

			leechSess := newSession(t, session.Config{Encryption: tt.leech, NoUTP: true})
			store := &memStore{data: make([]byte, len(content))}
			leech, err := leechSess.NewTorrent(m, session.TorrentConfig{Store: store, Peers: []netip.AddrPort{addrOf(t, seedSess)}})
			if err != nil {
				t.Fatal(err)
			}
			leechSess.AddTorrent(leech)
			runSession(t, leechSess)
			if tt.refusal == "" {
				select {
				case <-leech.Done():
				case <-time.After(30 * time.Second):
					t.Fatalf("download did not complete: %+v", leech.Stats())
				}
				if !bytes.Equal(store.data, content) {
					t.Fatal("downloaded bytes differ")
				}
				return
			}
			for deadline := time.Now().Add(10 * time.Second); logs.grep(tt.refusal) == ""; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the seed logged no %q", tt.refusal)
				}
			}
			if s := leech.Stats(); s.Downloaded > 0 {
				t.Errorf("downloaded %d bytes from a seed that refuses us", s.Downloaded)
			}
		})
	}
}

// TestEncryptedHandshakeBounds: what a stranger can make a session (with
// the default policy, which tries anything that is not a plaintext
// handshake as MSE) spend on an encrypted handshake. Each connection is
// dropped with a reason; bytes and time are bounded in package mse
// (96+512+20 bytes before the sync hash, one 10 s deadline).
func TestEncryptedHandshakeBounds(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 256<<10, 64<<10)
	var logs logBuffer
	s := loggedSession(t, session.Config{}, &logs)
	seed, err := s.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: bytes.Clone(content)}, Have: fullBitfield(m.Info.NumPieces()), Seed: true})
	if err != nil {
		t.Fatal(err)
	}
	s.AddTorrent(seed)
	runSession(t, s)
	addr := addrOf(t, s).String()
	other := m.InfoHash
	other[0] ^= 0xff

	tests := []struct {
		name   string
		attack func(c net.Conn)
		within time.Duration
		reason string
	}{
		{"junk that never synchronises", func(c net.Conn) {
			c.Write(bytes.Repeat([]byte("GET / HTTP/1.1\r\n"), 256))
		}, 5 * time.Second, "no synchronisation"},
		{"MSE for a torrent we do not have", func(c net.Conn) {
			mse.Initiate(c, other, mse.RC4, nil)
		}, 5 * time.Second, "unknown stream key"},
		{"MSE keyed for one torrent, handshake for another", func(c net.Conn) {
			mse.Initiate(c, m.InfoHash, mse.RC4, handshakeBytes(other))
		}, 5 * time.Second, "unknown info hash"},
		{"20 bytes, then silence", func(c net.Conn) {
			c.Write(bytes.Repeat([]byte{0xA5}, 20))
		}, peer.HandshakeTimeout + 5*time.Second, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(tt.within))
			tt.attack(c)
			if !closedWithin(c, tt.within) {
				t.Fatalf("the session kept the connection %v", tt.within)
			}
			reason := logs.waitDropReason(t, c.LocalAddr().String())
			if !strings.Contains(reason, tt.reason) {
				t.Errorf("logged %q, want %q", reason, tt.reason)
			}
			t.Logf("dropped: %s", reason)
		})
	}
}

// TestEncryptedHandshakeOverUTP: an incoming uTP connection is told apart
// by its first bytes like a TCP one: MSE with the BitTorrent handshake in
// its initial payload gets the session's handshake back, encrypted.
func TestEncryptedHandshakeOverUTP(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 256<<10, 64<<10)
	s := runSeed(t, m, content, session.Config{Encryption: session.EncryptionRequire})
	sock, err := utp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sock.Dial(ctx, addrOf(t, s))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	ec, method, err := mse.Initiate(c, m.InfoHash, mse.RC4|mse.Plaintext, handshakeBytes(m.InfoHash))
	if err != nil {
		t.Fatalf("MSE over uTP: %v", err)
	}
	if method != mse.RC4 {
		t.Errorf("selected %v, want rc4 (the session requires it)", method)
	}
	hs, err := peer.ReadHandshake(ec)
	if err != nil || hs.InfoHash != m.InfoHash || hs.PeerID != s.PeerID() {
		t.Fatalf("handshake over encrypted uTP: %+v, %v", hs, err)
	}
	// The session's bitfield follows, length-prefixed.
	var msg [5]byte
	if _, err := io.ReadFull(ec, msg[:]); err != nil {
		t.Fatal(err)
	}
	if peer.ID(msg[4]) != peer.Extended && peer.ID(msg[4]) != peer.Bitfield {
		t.Errorf("first message after the handshake has id %d", msg[4])
	}
}
