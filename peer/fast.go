package peer

import (
	"crypto/sha1"
	"encoding/binary"
	"net/netip"
)

// AllowedFastSet returns the k pieces (fewer if the torrent has fewer) a peer at addr may
// request from us while choked, by the algorithm of BEP 6: repeated SHA-1 over the peer's
// /24 network and the info hash, so that every client computes the same set for it and a
// peer cannot get a different one by reconnecting from a neighbouring address. ok is false
// for an address BEP 6 defines no set for (IPv6; an IPv4-mapped one counts as IPv4) or a
// torrent without pieces.
func AllowedFastSet(k, numPieces int, addr netip.Addr, infoHash [20]byte) (set []uint32, ok bool) {
	addr = addr.Unmap()
	if !addr.Is4() || numPieces <= 0 || k <= 0 {
		return nil, false
	}
	k = min(k, numPieces) // otherwise the loop below could never finish
	ip := addr.As4()
	x := make([]byte, 0, 24)
	x = append(x, ip[0], ip[1], ip[2], 0) // ip & 0xffffff00
	x = append(x, infoHash[:]...)
	set = make([]uint32, 0, k)
	for len(set) < k {
		h := sha1.Sum(x)
		x = h[:]
		for i := 0; i < 5 && len(set) < k; i++ {
			index := binary.BigEndian.Uint32(x[4*i:]) % uint32(numPieces)
			if !contains(set, index) {
				set = append(set, index)
			}
		}
	}
	return set, true
}

func contains(s []uint32, v uint32) bool {
	for _, w := range s {
		if w == v {
			return true
		}
	}
	return false
}
