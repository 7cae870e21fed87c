package dht

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/anacrolix/torrent/bencode"
)

// MaxPacket is the largest KRPC datagram a Node reads or writes, in bytes.
// Honest messages stay well under one Ethernet frame; a larger datagram is
// dropped unread.
const MaxPacket = 1500

// maxTransactionID bounds the "t" key: ours are 4 bytes, libtorrent's 2.
const maxTransactionID = 32

// KRPC message types ("y") and the queries of BEP 5 ("q").
const (
	typeQuery    = "q"
	typeResponse = "r"
	typeError    = "e"

	methodPing         = "ping"
	methodFindNode     = "find_node"
	methodGetPeers     = "get_peers"
	methodAnnouncePeer = "announce_peer"
)

// KRPC error codes (BEP 5).
const (
	errGeneric  = 201
	errProtocol = 203
	errMethod   = 204
)

// Msg is one KRPC message: a query (Y "q", with Q and A), a response (Y
// "r", with R) or an error (Y "e", with E). Byte strings stay raw Go strings;
// ParseMsg has checked the lengths of the ones a Node acts on.
type Msg struct {
	T  string     `bencode:"t"`
	Y  string     `bencode:"y"`
	Q  string     `bencode:"q,omitempty"`
	A  *Args      `bencode:"a,omitempty"`
	R  *Return    `bencode:"r,omitempty"`
	E  *KRPCError `bencode:"e,omitempty"`
	V  string     `bencode:"v,omitempty"`
	RO int64      `bencode:"ro,omitempty"` // BEP 43: the sender answers no queries
}

// Args are a query's arguments.
type Args struct {
	ID          string `bencode:"id"`
	Target      string `bencode:"target,omitempty"`    // find_node
	InfoHash    string `bencode:"info_hash,omitempty"` // get_peers, announce_peer
	Token       string `bencode:"token,omitempty"`     // announce_peer
	Port        int64  `bencode:"port,omitempty"`      // announce_peer
	ImpliedPort int64  `bencode:"implied_port,omitempty"`
}

// Return is a response's body.
type Return struct {
	ID     string   `bencode:"id"`
	Nodes  string   `bencode:"nodes,omitempty"`  // compact node info, 26 bytes each
	Values []string `bencode:"values,omitempty"` // compact peers, 6 bytes each
	Token  string   `bencode:"token,omitempty"`
}

// KRPCError is the body of an error message: a code and a text.
type KRPCError struct {
	Code int64
	Msg  string
}

func (e *KRPCError) Error() string { return fmt.Sprintf("krpc error %d: %s", e.Code, e.Msg) }

// MarshalBencode writes the error as BEP 5's two-element list.
func (e KRPCError) MarshalBencode() ([]byte, error) {
	return bencode.Marshal([]any{e.Code, e.Msg})
}

// UnmarshalBencode reads BEP 5's [code, message] list.
func (e *KRPCError) UnmarshalBencode(b []byte) error {
	var v any
	if err := bencode.Unmarshal(b, &v); err != nil {
		return err
	}
	l, ok := v.([]any)
	if !ok {
		return errors.New("error is not a list")
	}
	if len(l) != 2 {
		return fmt.Errorf("error list has %d elements, want 2", len(l))
	}
	code, ok1 := l[0].(int64)
	msg, ok2 := l[1].(string)
	if !ok1 || !ok2 {
		return errors.New("error list is not [integer, string]")
	}
	e.Code, e.Msg = code, msg
	return nil
}

// ParseMsg decodes one datagram. It refuses anything a Node could not act
// on safely: oversized packets, a missing or long transaction id, an
// unknown type, a query or response without a 20-byte id, ids, targets and
// info hashes of the wrong length, and compact node lists that are not a
// whole number of entries. Bencode itself is read leniently (key order,
// duplicate keys): unlike a torrent, no hash is taken over a KRPC message, so
// two readings of one packet cannot disagree on anything that matters.
func ParseMsg(b []byte) (Msg, error) {
	var m Msg
	if len(b) > MaxPacket {
		return m, fmt.Errorf("krpc: %d-byte packet exceeds %d", len(b), MaxPacket)
	}
	if err := bencode.Unmarshal(b, &m); err != nil {
		return Msg{}, fmt.Errorf("krpc: %w", err)
	}
	if m.T == "" || len(m.T) > maxTransactionID {
		return Msg{}, fmt.Errorf("krpc: transaction id of %d bytes", len(m.T))
	}
	switch m.Y {
	case typeQuery:
		if m.Q == "" || m.A == nil {
			return Msg{}, errors.New("krpc: query without method or arguments")
		}
		if len(m.A.ID) != 20 {
			return Msg{}, fmt.Errorf("krpc: query id of %d bytes", len(m.A.ID))
		}
		if m.A.Target != "" && len(m.A.Target) != 20 {
			return Msg{}, fmt.Errorf("krpc: target of %d bytes", len(m.A.Target))
		}
		if m.A.InfoHash != "" && len(m.A.InfoHash) != 20 {
			return Msg{}, fmt.Errorf("krpc: info_hash of %d bytes", len(m.A.InfoHash))
		}
		if m.A.Port < 0 || m.A.Port > 65535 {
			return Msg{}, fmt.Errorf("krpc: port %d", m.A.Port)
		}
	case typeResponse:
		if m.R == nil || len(m.R.ID) != 20 {
			return Msg{}, errors.New("krpc: response without a 20-byte id")
		}
		if len(m.R.Nodes)%compactNodeLen != 0 {
			return Msg{}, fmt.Errorf("krpc: nodes of %d bytes, not a multiple of %d", len(m.R.Nodes), compactNodeLen)
		}
	case typeError:
		if m.E == nil {
			return Msg{}, errors.New("krpc: error message without an error")
		}
	default:
		return Msg{}, fmt.Errorf("krpc: unknown message type %q", m.Y)
	}
	return m, nil
}

// Marshal encodes m as bencode.
func (m Msg) Marshal() ([]byte, error) { return bencode.Marshal(m) }

// NodeInfo is a DHT node's id and UDP address.
type NodeInfo struct {
	ID   ID
	Addr netip.AddrPort
}

const (
	compactNodeLen = 26 // BEP 5: 20-byte id, 4-byte IPv4 address, 2-byte port
	compactPeerLen = 6
)

// appendCompactNodes appends BEP 5's compact node info for the IPv4 nodes
// in ns.
func appendCompactNodes(b []byte, ns []NodeInfo) []byte {
	for _, n := range ns {
		if !n.Addr.Addr().Is4() {
			continue
		}
		b = append(b, n.ID[:]...)
		b = appendCompactPeer(b, n.Addr)
	}
	return b
}

// parseCompactNodes reads compact node info; entries with port 0 or an
// unspecified address are left out, since nobody can be reached there.
func parseCompactNodes(s string) []NodeInfo {
	var ns []NodeInfo
	for len(s) >= compactNodeLen {
		var n NodeInfo
		copy(n.ID[:], s[:20])
		n.Addr = parseCompactPeer(s[20:compactNodeLen])
		if n.Addr.Port() != 0 && !n.Addr.Addr().IsUnspecified() {
			ns = append(ns, n)
		}
		s = s[compactNodeLen:]
	}
	return ns
}

func appendCompactPeer(b []byte, a netip.AddrPort) []byte {
	ip := a.Addr().As4()
	b = append(b, ip[:]...)
	return binary.BigEndian.AppendUint16(b, a.Port())
}

func parseCompactPeer(s string) netip.AddrPort {
	ip := netip.AddrFrom4([4]byte{s[0], s[1], s[2], s[3]})
	return netip.AddrPortFrom(ip, binary.BigEndian.Uint16([]byte(s[4:6])))
}

// parseValues reads get_peers values, skipping entries that are not IPv4
// compact peers (BEP 32 nodes may send 18-byte IPv6 ones) or have port 0.
func parseValues(vs []string) []netip.AddrPort {
	var out []netip.AddrPort
	for _, v := range vs {
		if len(v) != compactPeerLen {
			continue
		}
		if p := parseCompactPeer(v); p.Port() != 0 {
			out = append(out, p)
		}
	}
	return out
}
