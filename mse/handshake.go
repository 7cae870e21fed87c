package mse

import (
	"bytes"
	"crypto/rc4"
	"encoding/binary"
	"fmt"
	"io"
	"net"
)

// The exchange (A dials, B accepts):
//
//	1 A->B: Ya, PadA
//	2 B->A: Yb, PadB
//	3 A->B: HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
//	        ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
//	4 B->A: ENCRYPT(VC, crypto_select, len(PadD), PadD), payload
//	5 A->B: payload
//
// A encrypts with HASH('keyA', S, SKEY), B with HASH('keyB', S, SKEY). The
// padding has no length field in messages 1 and 2, so B finds message 3 by
// searching for HASH('req1', S) and A finds message 4 by searching for the
// encrypted VC, each within the 512 bytes the padding may take.

// Result is what the receiving side learned.
type Result struct {
	Method Method   // crypto_select: Plaintext or RC4
	SKey   [20]byte // the stream key (info hash) the initiator asked for
}

// Initiate performs the dialing side on conn for the torrent skey,
// offering the methods in provide, and sends ia (the initial payload, at
// most MaxInitialPayload bytes; typically the BitTorrent handshake)
// encrypted inside the exchange. It returns the conn to use from then on
// and the method the peer selected. The caller bounds the time the exchange
// may take with conn's deadline (see HandshakeTimeout), clears it after,
// and closes conn on error.
func Initiate(conn net.Conn, skey [20]byte, provide Method, ia []byte) (c net.Conn, m Method, err error) {
	if provide&^(Plaintext|RC4) != 0 || provide == 0 || len(ia) > MaxInitialPayload {
		return nil, 0, fmt.Errorf("mse: bad arguments: provide %v, %d bytes of initial payload", provide, len(ia))
	}
	x, ya, err := newKey()
	if err != nil {
		return nil, 0, err
	}
	padA, err := randomPad()
	if err != nil {
		return nil, 0, err
	}
	if _, err := conn.Write(append(ya[:], padA...)); err != nil {
		return nil, 0, fmt.Errorf("mse: write key: %w", err)
	}
	r := &reader{r: conn}
	yb, err := r.next(keyLen)
	if err != nil {
		return nil, 0, fmt.Errorf("mse: read key: %w", err)
	}
	s, err := secret(x, yb)
	if err != nil {
		return nil, 0, err
	}
	enc := newCipher("keyA", &s, skey)
	dec := newCipher("keyB", &s, skey)

	req1 := hash([]byte("req1"), s[:])
	req2 := StreamKeyHash(skey)
	req3 := hash([]byte("req3"), s[:])
	msg := make([]byte, 0, 40+vcLen+4+2+2+len(ia))
	msg = append(msg, req1[:]...)
	for i := range req2 {
		msg = append(msg, req2[i]^req3[i])
	}
	msg = append(msg, make([]byte, vcLen)...)
	msg = binary.BigEndian.AppendUint32(msg, uint32(provide))
	msg = binary.BigEndian.AppendUint16(msg, 0) // PadC: reserved, empty as libtorrent's receivers expect nothing of it
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(ia)))
	msg = append(msg, ia...)
	enc.XORKeyStream(msg[40:], msg[40:])
	if _, err := conn.Write(msg); err != nil {
		return nil, 0, fmt.Errorf("mse: write request: %w", err)
	}

	// Message 4 starts with VC encrypted by B's stream: find it past PadB.
	var vc [vcLen]byte
	dec.XORKeyStream(vc[:], vc[:])
	if err := r.sync(vc[:], maxPad); err != nil {
		return nil, 0, fmt.Errorf("mse: find the verification constant: %w", err)
	}
	b, err := r.next(4 + 2)
	if err != nil {
		return nil, 0, fmt.Errorf("mse: read crypto_select: %w", noEOF(err))
	}
	dec.XORKeyStream(b, b)
	sel := Method(binary.BigEndian.Uint32(b))
	padD := int(binary.BigEndian.Uint16(b[4:]))
	if !single(sel) || sel&provide == 0 {
		return nil, 0, fmt.Errorf("%w: provided %v, peer selected %v", ErrNoCommonMethod, provide, sel)
	}
	if padD > maxPad {
		return nil, 0, fmt.Errorf("mse: PadD of %d bytes, more than %d", padD, maxPad)
	}
	pad, err := r.next(padD)
	if err != nil {
		return nil, 0, fmt.Errorf("mse: read PadD: %w", noEOF(err))
	}
	dec.XORKeyStream(pad, pad)
	return newConn(conn, sel, enc, dec, nil, r.buf), sel, nil
}

// Accept performs the receiving side on conn. find maps HASH('req2', SKEY)
// (see StreamKeyHash) to the stream key of a torrent we serve; it is called
// once per handshake. Of the methods the peer provides and allow permits,
// prefer is selected if it is among them, else the other. The returned
// conn first yields the initiator's initial payload, then the rest of the
// stream. Deadlines are the caller's, as in Initiate.
//
// A stranger can make Accept read at most 96+512+20 bytes before it knows
// the peer knows S, and 20+14+512+2+MaxInitialPayload more; it costs two
// 768-bit modular exponentiations with 160-bit exponents.
func Accept(conn net.Conn, find func(skeyHash [20]byte) ([20]byte, bool), allow, prefer Method) (c net.Conn, res Result, err error) {
	r := &reader{r: conn}
	ya, err := r.next(keyLen)
	if err != nil {
		return nil, res, fmt.Errorf("mse: read key: %w", err)
	}
	x, yb, err := newKey()
	if err != nil {
		return nil, res, err
	}
	s, err := secret(x, ya)
	if err != nil {
		return nil, res, err
	}
	padB, err := randomPad()
	if err != nil {
		return nil, res, err
	}
	if _, err := conn.Write(append(yb[:], padB...)); err != nil {
		return nil, res, fmt.Errorf("mse: write key: %w", err)
	}
	req1 := hash([]byte("req1"), s[:])
	if err := r.sync(req1[:], maxPad); err != nil {
		return nil, res, fmt.Errorf("mse: find HASH('req1', S): %w", err)
	}
	b, err := r.next(20)
	if err != nil {
		return nil, res, fmt.Errorf("mse: read stream key hash: %w", noEOF(err))
	}
	req3 := hash([]byte("req3"), s[:])
	var req2 [20]byte
	for i := range req2 {
		req2[i] = b[i] ^ req3[i]
	}
	skey, ok := find(req2)
	if !ok {
		return nil, res, ErrUnknownStreamKey
	}
	dec := newCipher("keyA", &s, skey)
	enc := newCipher("keyB", &s, skey)

	b, err = r.next(vcLen + 4 + 2)
	if err != nil {
		return nil, res, fmt.Errorf("mse: read crypto_provide: %w", noEOF(err))
	}
	dec.XORKeyStream(b, b)
	if !bytes.Equal(b[:vcLen], make([]byte, vcLen)) {
		return nil, res, fmt.Errorf("mse: verification constant is %x, not zero", b[:vcLen])
	}
	provide := Method(binary.BigEndian.Uint32(b[vcLen:]))
	padC := int(binary.BigEndian.Uint16(b[vcLen+4:]))
	if padC > maxPad {
		return nil, res, fmt.Errorf("mse: PadC of %d bytes, more than %d", padC, maxPad)
	}
	b, err = r.next(padC + 2)
	if err != nil {
		return nil, res, fmt.Errorf("mse: read PadC: %w", noEOF(err))
	}
	dec.XORKeyStream(b, b)
	iaLen := int(binary.BigEndian.Uint16(b[padC:]))
	if iaLen > MaxInitialPayload {
		return nil, res, fmt.Errorf("mse: initial payload of %d bytes, more than %d", iaLen, MaxInitialPayload)
	}
	ia, err := r.next(iaLen)
	if err != nil {
		return nil, res, fmt.Errorf("mse: read initial payload: %w", noEOF(err))
	}
	dec.XORKeyStream(ia, ia)
	ia = bytes.Clone(ia)

	sel := provide & allow
	if sel&prefer != 0 {
		sel = prefer
	}
	if !single(sel) {
		return nil, res, fmt.Errorf("%w: peer provided %v, we allow %v", ErrNoCommonMethod, provide, allow)
	}
	msg := make([]byte, vcLen, vcLen+4+2)
	msg = binary.BigEndian.AppendUint32(msg, uint32(sel))
	msg = binary.BigEndian.AppendUint16(msg, 0) // PadD: empty
	enc.XORKeyStream(msg, msg)
	if _, err := conn.Write(msg); err != nil {
		return nil, res, fmt.Errorf("mse: write crypto_select: %w", err)
	}
	return newConn(conn, sel, enc, dec, ia, r.buf), Result{Method: sel, SKey: skey}, nil
}

// reader reads the handshake from r, keeping what a synchronisation
// search read past its pattern.
type reader struct {
	r   io.Reader
	buf []byte // read and not consumed yet
}

// next consumes the next n bytes, reading no more than it needs. The slice
// is valid until the next call.
func (h *reader) next(n int) ([]byte, error) {
	if len(h.buf) < n {
		b := make([]byte, n)
		have := copy(b, h.buf)
		if _, err := io.ReadFull(h.r, b[have:]); err != nil {
			if have > 0 {
				err = noEOF(err)
			}
			return nil, err
		}
		h.buf = b
	}
	b := h.buf[:n]
	h.buf = h.buf[n:]
	return b, nil
}

// sync consumes bytes up to and including pattern, which must start within
// the next maxSkip bytes; it reads at most maxSkip+len(pattern) bytes.
func (h *reader) sync(pattern []byte, maxSkip int) error {
	limit := maxSkip + len(pattern)
	buf := make([]byte, len(h.buf), limit)
	copy(buf, h.buf)
	for {
		if i := bytes.Index(buf, pattern); i >= 0 {
			h.buf = buf[i+len(pattern):]
			return nil
		}
		if len(buf) >= limit {
			return ErrNoSync
		}
		n, err := h.r.Read(buf[len(buf):limit])
		buf = buf[:len(buf)+n]
		if err != nil && n == 0 {
			return noEOF(err)
		}
	}
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF for reads that started
// mid-handshake.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// newConn returns the stream after the handshake: with RC4, enc and dec
// go on from where the handshake left them; with Plaintext only the
// bytes read ahead (rest) and the initial payload (ia) are special.
func newConn(nc net.Conn, m Method, enc, dec *rc4.Cipher, ia, rest []byte) net.Conn {
	pending := append(ia, rest...)
	if m == RC4 {
		dec.XORKeyStream(pending[len(ia):], pending[len(ia):])
		return &Conn{Conn: nc, pending: pending, enc: enc, dec: dec}
	}
	if len(pending) == 0 {
		return nc
	}
	return &Conn{Conn: nc, pending: pending}
}
