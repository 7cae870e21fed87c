package session

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"swarm/mse"
	"swarm/peer"
)

// Encryption is the policy for Message Stream Encryption (MSE/PE). The zero
// value is EncryptionPrefer.
type Encryption int

const (
	// EncryptionPrefer accepts plaintext and encrypted peers and dials
	// plaintext first, retrying encrypted on a new connection when the
	// peer hangs up on the plaintext handshake (what a peer that requires
	// encryption does). Plaintext first costs nothing with the many peers
	// that take it (no key exchange, no RC4, no extra round trip) and one
	// reconnect with the few that require encryption; encrypting first
	// would cost a round trip and RC4 on every connection and a reconnect
	// with peers that have MSE off. An MSE peer that offers both methods
	// gets plaintext after the (obfuscated) handshake, as libtorrent's
	// default (prefer_rc4 off) gives: default-settings libtorrent and
	// qBittorrent dial MSE first, and RC4 costs about 2.7 s of CPU per GiB
	// a side (bench/transfer --encrypt); one that offers RC4 only gets it.
	EncryptionPrefer Encryption = iota
	// EncryptionRequire speaks MSE with RC4 only, both ways: plaintext
	// handshakes and MSE's plaintext method are refused.
	EncryptionRequire
	// EncryptionPlaintext never encrypts: it dials plaintext and refuses
	// incoming MSE.
	EncryptionPlaintext
)

var encryptionNames = []string{"prefer", "require", "plaintext"}

func (e Encryption) String() string {
	if e >= 0 && int(e) < len(encryptionNames) {
		return encryptionNames[e]
	}
	return fmt.Sprintf("Encryption(%d)", int(e))
}

// ParseEncryption reads "prefer", "require" or "plaintext".
func ParseEncryption(s string) (Encryption, error) {
	for i, n := range encryptionNames {
		if s == n {
			return Encryption(i), nil
		}
	}
	return 0, fmt.Errorf("encryption %q: want prefer, require or plaintext", s)
}

// plainStart is how every plaintext BitTorrent handshake begins (BEP 3);
// anything else an incoming peer sends first is tried as MSE.
const plainStart = "\x13" + peer.Protocol

// sniff reads an incoming peer's first 20 bytes and tells a plaintext
// handshake from MSE. It returns the conn to do the BitTorrent handshake on
// (the 20 bytes put back in front), the conn to hand to the torrent after
// it, and for MSE the info hash the key exchange was for. It sets conn's
// deadline to peer.HandshakeTimeout from now: the first bytes and the
// whole MSE exchange fit in it, and peer.Accept sets its own for the
// BitTorrent handshake after (which an MSE peer sends in its initial
// payload, so it costs no wait).
func (s *Session) sniff(conn net.Conn) (hs, wire net.Conn, skey *[20]byte, err error) {
	if err := conn.SetDeadline(time.Now().Add(peer.HandshakeTimeout)); err != nil {
		return nil, nil, nil, err
	}
	var first [len(plainStart)]byte
	if _, err := io.ReadFull(conn, first[:]); err != nil {
		return nil, nil, nil, fmt.Errorf("read handshake: %w", err)
	}
	pc := &prefixConn{Conn: conn, r: io.MultiReader(bytes.NewReader(first[:]), conn)}
	enc := s.cfg.Encryption
	switch {
	case string(first[:]) == plainStart && enc == EncryptionRequire:
		return nil, nil, nil, errors.New("plaintext handshake refused: encryption required")
	case string(first[:]) == plainStart:
		// peer.Accept reads exactly the 68 handshake bytes, the 20 put
		// back among them: the torrent gets conn itself (writev intact).
		return pc, conn, nil, nil
	case enc == EncryptionPlaintext:
		return nil, nil, nil, fmt.Errorf("read handshake: %w: starts with %q (encryption is off)", peer.ErrBadProtocol, first[:])
	}
	allow, prefer := mse.Plaintext|mse.RC4, mse.Plaintext
	if enc == EncryptionRequire {
		allow, prefer = mse.RC4, mse.RC4
	}
	ec, res, err := mse.Accept(pc, s.findStreamKey, allow, prefer)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encrypted handshake: %w", err)
	}
	return ec, ec, &res.SKey, nil
}

// findStreamKey returns the info hash of a torrent of ours (a magnet link's
// too, before its metadata) whose HASH('req2', info hash) is h. It hashes
// each info hash, once per incoming MSE handshake (about 0.3 µs per
// torrent).
func (s *Session) findStreamKey(h [20]byte) ([20]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ih := range s.torrents {
		if mse.StreamKeyHash(ih) == h {
			return ih, true
		}
	}
	return [20]byte{}, false
}

// prefixConn is a conn whose first reads return bytes already read.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// initiateMSE does our side of an MSE exchange on nc for the torrent ih,
// our BitTorrent handshake riding in its initial payload, then reads the
// peer's handshake; all within peer.HandshakeTimeout. It returns the conn
// to use from then on; the caller closes nc on error.
func (s *Session) initiateMSE(nc net.Conn, ih [20]byte) (net.Conn, peer.Handshake, error) {
	if err := nc.SetDeadline(time.Now().Add(peer.HandshakeTimeout)); err != nil {
		return nil, peer.Handshake{}, err
	}
	provide := mse.RC4 | mse.Plaintext
	if s.cfg.Encryption == EncryptionRequire {
		provide = mse.RC4
	}
	ec, _, err := mse.Initiate(nc, ih, provide, peer.AppendHandshake(nil, s.handshake(ih)))
	if err != nil {
		return nil, peer.Handshake{}, fmt.Errorf("encrypted handshake: %w", err)
	}
	theirs, err := peer.ReadHandshake(ec)
	if err != nil {
		return nil, peer.Handshake{}, fmt.Errorf("read handshake: %w", err)
	}
	if theirs.InfoHash != ih {
		return nil, theirs, fmt.Errorf("%w: asked for %x, peer answered %x", peer.ErrInfoHashMismatch, ih, theirs.InfoHash)
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return nil, theirs, err
	}
	return ec, theirs, nil
}

// hungUp reports whether err is the peer closing the connection before it
// answered: as one that requires encryption does on a plaintext handshake,
// or one with TCP off on any. A reset counts: the peer closed while our
// bytes were on their way.
func hungUp(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}
