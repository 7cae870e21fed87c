package tracker

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Sizes of one compact peer: 4 address bytes and a big-endian port (BEP 23),
// or 16 address bytes and the port (BEP 7).
const (
	CompactIPv4Len = 6
	CompactIPv6Len = 18
)

// ParseCompactIPv4 decodes a BEP 23 peers string: 6 bytes per peer. It fails
// when the length is not a multiple of 6. Peers with port 0 are kept: the
// caller decides what to do with them.
func ParseCompactIPv4(b []byte) ([]netip.AddrPort, error) {
	return parseCompact(b, CompactIPv4Len)
}

// ParseCompactIPv6 decodes a BEP 7 peers6 string: 18 bytes per peer.
func ParseCompactIPv6(b []byte) ([]netip.AddrPort, error) {
	return parseCompact(b, CompactIPv6Len)
}

func parseCompact(b []byte, size int) ([]netip.AddrPort, error) {
	if len(b)%size != 0 {
		return nil, fmt.Errorf("compact peers: length %d is not a multiple of %d", len(b), size)
	}
	peers := make([]netip.AddrPort, 0, len(b)/size)
	for ; len(b) > 0; b = b[size:] {
		var addr netip.Addr
		if size == CompactIPv4Len {
			addr = netip.AddrFrom4([4]byte(b[:4]))
		} else {
			addr = netip.AddrFrom16([16]byte(b[:16]))
		}
		port := binary.BigEndian.Uint16(b[size-2 : size])
		peers = append(peers, netip.AddrPortFrom(addr, port))
	}
	return peers, nil
}

// AppendCompact appends the compact form of p to dst: 6 bytes for an IPv4
// address (an IPv4-mapped IPv6 address counts as IPv4) and 18 bytes for IPv6.
// The zone is dropped. An invalid address appends nothing.
func AppendCompact(dst []byte, p netip.AddrPort) []byte {
	addr := p.Addr().Unmap()
	switch {
	case addr.Is4():
		a := addr.As4()
		dst = append(dst, a[:]...)
	case addr.Is6():
		a := addr.As16()
		dst = append(dst, a[:]...)
	default:
		return dst
	}
	return binary.BigEndian.AppendUint16(dst, p.Port())
}

// EncodeCompact splits peers into a BEP 23 peers string (IPv4) and a BEP 7
// peers6 string (IPv6). Invalid addresses are skipped.
func EncodeCompact(peers []netip.AddrPort) (v4, v6 []byte) {
	for _, p := range peers {
		if p.Addr().Unmap().Is4() {
			v4 = AppendCompact(v4, p)
		} else {
			v6 = AppendCompact(v6, p)
		}
	}
	return v4, v6
}
