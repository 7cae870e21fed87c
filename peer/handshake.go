package peer

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Protocol is the protocol string a handshake starts with, after its length byte (BEP 3).
const Protocol = "BitTorrent protocol"

// HandshakeLen is the length of a handshake in bytes: 1+19 protocol, 8 reserved, 20 info
// hash, 20 peer id.
const HandshakeLen = 1 + len(Protocol) + 8 + 20 + 20

// HandshakeTimeout bounds a whole handshake exchange in Initiate and Accept:
// 10 s, as libtorrent's handshake_timeout and rain's, since an honest peer
// answers within a round trip and a silent one holds a slot until then.
const HandshakeTimeout = 10 * time.Second

// Errors a handshake can fail with. Test for them with errors.Is.
var (
	// ErrBadProtocol: the peer did not start with 19 "BitTorrent protocol" (it may be
	// encrypted, BEP 8 style, or not BitTorrent at all).
	ErrBadProtocol = errors.New("peer: not a BitTorrent handshake")
	// ErrInfoHashMismatch: the peer answered for a different torrent than we asked for.
	ErrInfoHashMismatch = errors.New("peer: info hash mismatch")
	// ErrUnknownInfoHash: an incoming peer asked for a torrent we do not serve.
	ErrUnknownInfoHash = errors.New("peer: unknown info hash")
)

// Reserved holds the 8 reserved handshake bytes, which advertise protocol extensions.
type Reserved [8]byte

// Extension bits in Reserved.
const (
	extendedByte, extendedBit = 5, 0x10 // extension protocol, BEP 10
	fastByte, fastBit         = 7, 0x04 // fast extension, BEP 6
	dhtByte, dhtBit           = 7, 0x01 // DHT, BEP 5
)

// Extended reports whether the extension protocol (BEP 10) bit is set.
func (r Reserved) Extended() bool { return r[extendedByte]&extendedBit != 0 }

// Fast reports whether the fast extension (BEP 6) bit is set. Only then may the peer send
// its messages (suggest, have all, have none, reject, allowed fast).
func (r Reserved) Fast() bool { return r[fastByte]&fastBit != 0 }

// DHT reports whether the DHT (BEP 5) bit is set.
func (r Reserved) DHT() bool { return r[dhtByte]&dhtBit != 0 }

// SetDHT sets the DHT (BEP 5) bit: we run a DHT node and will send a PORT message.
func (r *Reserved) SetDHT() { r[dhtByte] |= dhtBit }

// Handshake is the first message each side sends.
type Handshake struct {
	Reserved Reserved
	InfoHash [20]byte
	PeerID   [20]byte
}

// NewHandshake returns our handshake for a torrent: the extension protocol (BEP 10) and fast
// extension (BEP 6) bits set, the DHT (BEP 5) bit clear.
func NewHandshake(infoHash, peerID [20]byte) Handshake {
	h := Handshake{InfoHash: infoHash, PeerID: peerID}
	h.Reserved[extendedByte] |= extendedBit
	h.Reserved[fastByte] |= fastBit
	return h
}

// AppendHandshake appends the HandshakeLen-byte wire form of h to dst.
func AppendHandshake(dst []byte, h Handshake) []byte {
	dst = append(dst, byte(len(Protocol)))
	dst = append(dst, Protocol...)
	dst = append(dst, h.Reserved[:]...)
	dst = append(dst, h.InfoHash[:]...)
	return append(dst, h.PeerID[:]...)
}

// WriteHandshake writes h to w in one Write call.
func WriteHandshake(w io.Writer, h Handshake) error {
	var buf [HandshakeLen]byte
	_, err := w.Write(AppendHandshake(buf[:0], h))
	return err
}

// ReadHandshake reads exactly HandshakeLen bytes from r and parses them. It checks the
// protocol string as soon as its 20 bytes arrive, so a peer speaking something else fails
// fast, and it never reads past the handshake, so r can be handed to a Decoder afterwards.
// A stream that ends early gives io.ErrUnexpectedEOF (io.EOF if it ends before any byte).
func ReadHandshake(r io.Reader) (Handshake, error) {
	var buf [HandshakeLen]byte
	if _, err := io.ReadFull(r, buf[:20]); err != nil {
		return Handshake{}, err
	}
	if err := checkProtocol(buf[:20]); err != nil {
		return Handshake{}, err
	}
	if _, err := io.ReadFull(r, buf[20:]); err != nil {
		return Handshake{}, noEOF(err)
	}
	return parseHandshake(&buf), nil
}

// Initiate performs the dialing side of a handshake on conn: it sends ours, then reads the
// peer's handshake and checks that its info hash is ours.InfoHash. On ErrInfoHashMismatch it
// also returns the peer's handshake, for the log. Initiate sets conn's deadline to
// HandshakeTimeout from now and clears it before returning; the caller closes conn on error.
func Initiate(conn net.Conn, ours Handshake) (theirs Handshake, err error) {
	if err := conn.SetDeadline(time.Now().Add(HandshakeTimeout)); err != nil {
		return Handshake{}, err
	}
	defer func() {
		if derr := conn.SetDeadline(time.Time{}); err == nil {
			err = derr
		}
	}()
	if err := WriteHandshake(conn, ours); err != nil {
		return Handshake{}, fmt.Errorf("write handshake: %w", err)
	}
	theirs, err = ReadHandshake(conn)
	if err != nil {
		return Handshake{}, fmt.Errorf("read handshake: %w", err)
	}
	if theirs.InfoHash != ours.InfoHash {
		return theirs, fmt.Errorf("%w: asked for %x, peer answered %x", ErrInfoHashMismatch, ours.InfoHash, theirs.InfoHash)
	}
	return theirs, nil
}

// Accept performs the accepting side of a handshake on conn. It reads the peer's handshake up
// to the info hash and calls lookup with it; lookup returns our handshake for that torrent, or
// false if we do not serve it (Accept then returns ErrUnknownInfoHash having sent nothing).
// Accept sends our handshake before it reads the peer id, as BEP 3 allows and libtorrent
// does, so a peer that waits for us before sending its id does not stall. The returned
// Handshake is the peer's. Deadlines are handled as in Initiate.
func Accept(conn net.Conn, lookup func(infoHash [20]byte) (ours Handshake, ok bool)) (theirs Handshake, err error) {
	if err := conn.SetDeadline(time.Now().Add(HandshakeTimeout)); err != nil {
		return Handshake{}, err
	}
	defer func() {
		if derr := conn.SetDeadline(time.Time{}); err == nil {
			err = derr
		}
	}()
	var buf [HandshakeLen]byte
	// Read whatever has arrived, up to the whole handshake but never past it.
	n, err := io.ReadAtLeast(conn, buf[:], 20)
	if err != nil {
		return Handshake{}, fmt.Errorf("read handshake: %w", err)
	}
	if err := checkProtocol(buf[:20]); err != nil {
		return Handshake{}, fmt.Errorf("read handshake: %w", err)
	}
	const hashEnd = HandshakeLen - 20
	if n < hashEnd {
		if _, err := io.ReadFull(conn, buf[n:hashEnd]); err != nil {
			return Handshake{}, fmt.Errorf("read handshake: %w", noEOF(err))
		}
		n = hashEnd
	}
	infoHash := [20]byte(buf[28:48])
	ours, ok := lookup(infoHash)
	if !ok {
		return Handshake{}, fmt.Errorf("%w %x", ErrUnknownInfoHash, infoHash)
	}
	if ours.InfoHash != infoHash {
		return Handshake{}, fmt.Errorf("%w: peer asked for %x, lookup answered %x", ErrInfoHashMismatch, infoHash, ours.InfoHash)
	}
	if err := WriteHandshake(conn, ours); err != nil {
		return Handshake{}, fmt.Errorf("write handshake: %w", err)
	}
	if _, err := io.ReadFull(conn, buf[n:]); err != nil {
		return Handshake{}, fmt.Errorf("read handshake peer id: %w", noEOF(err))
	}
	return parseHandshake(&buf), nil
}

func checkProtocol(b []byte) error {
	if b[0] != byte(len(Protocol)) || string(b[1:20]) != Protocol {
		return fmt.Errorf("%w: starts with %q", ErrBadProtocol, b)
	}
	return nil
}

func parseHandshake(buf *[HandshakeLen]byte) Handshake {
	return Handshake{
		Reserved: Reserved(buf[20:28]),
		InfoHash: [20]byte(buf[28:48]),
		PeerID:   [20]byte(buf[48:68]),
	}
}

// noEOF turns io.EOF, which means a clean end between messages, into io.ErrUnexpectedEOF
// for reads that started mid-message.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
