// Package utp is the Micro Transport Protocol (BEP 29): reliable, ordered
// byte streams over UDP with LEDBAT congestion control, as libtorrent,
// qBittorrent, Transmission and aria2 speak it. A Socket owns one UDP socket
// and carries every connection through it, incoming (Accept) and outgoing
// (Dial); each connection is a net.Conn.
//
// It is written to the BEP and to what libutp (the reference) does where the
// BEP is vague: the acceptor's first STATE carries the sequence number of its
// first data packet, so the initiator acknowledges up to one less.
package utp

import (
	"encoding/binary"
	"errors"
)

// Packet types (BEP 29).
const (
	stData  = 0
	stFin   = 1
	stState = 2
	stReset = 3
	stSyn   = 4
)

const (
	version   = 1
	headerLen = 20
	extSack   = 1 // selective acknowledgement extension
)

// header is a packet's fixed header and the one extension we use.
type header struct {
	typ    uint8
	connID uint16
	ts     uint32 // sender's clock, microseconds
	tsDiff uint32 // sender's clock minus the ts of the last packet it received
	wnd    uint32 // bytes the sender can still take in
	seq    uint16
	ack    uint16
	sack   []byte // selective ack bitmask: bit i is seq ack+2+i; nil if absent
}

var errBadPacket = errors.New("utp: malformed packet")

// parse reads one packet; payload aliases b.
func parse(b []byte) (h header, payload []byte, err error) {
	if len(b) < headerLen {
		return h, nil, errBadPacket
	}
	v := b[0] & 0xf
	h.typ = b[0] >> 4
	if v != version || h.typ > stSyn {
		return h, nil, errBadPacket
	}
	h.connID = binary.BigEndian.Uint16(b[2:])
	h.ts = binary.BigEndian.Uint32(b[4:])
	h.tsDiff = binary.BigEndian.Uint32(b[8:])
	h.wnd = binary.BigEndian.Uint32(b[12:])
	h.seq = binary.BigEndian.Uint16(b[16:])
	h.ack = binary.BigEndian.Uint16(b[18:])
	next, off := b[1], headerLen
	for next != 0 {
		if off+2 > len(b) {
			return h, nil, errBadPacket
		}
		typ, n := next, int(b[off+1])
		next = b[off]
		off += 2
		if off+n > len(b) {
			return h, nil, errBadPacket
		}
		if typ == extSack {
			h.sack = b[off : off+n]
		}
		off += n
	}
	return h, b[off:], nil
}

// appendPacket appends h and payload as one packet to b.
func appendPacket(b []byte, h header, payload []byte) []byte {
	ext := byte(0)
	if len(h.sack) > 0 {
		ext = extSack
	}
	b = append(b, h.typ<<4|version, ext)
	b = binary.BigEndian.AppendUint16(b, h.connID)
	b = binary.BigEndian.AppendUint32(b, h.ts)
	b = binary.BigEndian.AppendUint32(b, h.tsDiff)
	b = binary.BigEndian.AppendUint32(b, h.wnd)
	b = binary.BigEndian.AppendUint16(b, h.seq)
	b = binary.BigEndian.AppendUint16(b, h.ack)
	if ext != 0 {
		b = append(b, 0, byte(len(h.sack)))
		b = append(b, h.sack...)
	}
	return append(b, payload...)
}

// seqLess says whether a comes before b in 16-bit wrapping order.
func seqLess(a, b uint16) bool { return int16(a-b) < 0 }
