package server

import (
	"encoding/binary"
	"net/netip"
	"slices"
)

// addrKey is a peer's compact address, which is also its key in a swarm: a
// peer is one IP and port, whatever peer id it sends (as in opentracker).
type addrKey interface {
	comparable
	appendCompact(dst []byte) []byte
	addrPort() netip.AddrPort
}

// addr4 is a BEP 23 compact IPv4 peer: 4 address bytes, 2 port bytes.
type addr4 [6]byte

func (a addr4) appendCompact(dst []byte) []byte { return append(dst, a[:]...) }
func (a addr4) addrPort() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[:4])), binary.BigEndian.Uint16(a[4:]))
}

// addr6 is a BEP 7 compact IPv6 peer: 16 address bytes, 2 port bytes.
type addr6 [18]byte

func (a addr6) appendCompact(dst []byte) []byte { return append(dst, a[:]...) }
func (a addr6) addrPort() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[:16])), binary.BigEndian.Uint16(a[16:]))
}

// peer is the record of one tracked peer: 32 bytes for IPv4, 44 for IPv6
// (fetched sits in what would be padding before seen).
type peer[K addrKey] struct {
	addr K
	id   [20]byte // kept for dictionary-model replies
	// fetched is set once the peer has shown, since its last started event,
	// that it downloads: it reported left>0, downloaded>0 or completed. Only
	// such a peer with left=0 is a known seed (see registry.announce).
	fetched bool
	seen    uint32 // registry clock (seconds) of its last announce
}

// peerList holds the peers of one address family of a swarm. Seeders come
// first: peers[:seeders] are seeders, peers[seeders:] leechers, so a uniform
// sample of either group is a sample of a contiguous range. Deletes swap the
// last peer of the group into the hole, so every operation is O(1).
//
// index maps an address to its slot once the list is longer than
// indexAbove; shorter lists (most swarms of a public tracker) are scanned,
// which saves a map of about 150 bytes per swarm.
type peerList[K addrKey] struct {
	peers   []peer[K]
	index   map[K]int32
	seeders int
}

// The index is built when a list grows past indexAbove peers and dropped
// when it shrinks below indexBelow, so a list at the edge does not flap.
const (
	indexAbove = 8
	indexBelow = 4
)

func (l *peerList[K]) find(k K) (int, bool) {
	if l.index != nil {
		i, ok := l.index[k]
		return int(i), ok
	}
	for i := range l.peers {
		if l.peers[i].addr == k {
			return i, true
		}
	}
	return 0, false
}

func (l *peerList[K]) swap(i, j int) {
	if i == j {
		return
	}
	l.peers[i], l.peers[j] = l.peers[j], l.peers[i]
	if l.index != nil {
		l.index[l.peers[i].addr] = int32(i)
		l.index[l.peers[j].addr] = int32(j)
	}
}

func (l *peerList[K]) buildIndex() {
	l.index = make(map[K]int32, len(l.peers))
	for j, p := range l.peers {
		l.index[p.addr] = int32(j)
	}
}

// add appends p to its group and returns its slot.
func (l *peerList[K]) add(p peer[K], seeder bool) int {
	i := len(l.peers)
	l.peers = append(l.peers, p)
	switch {
	case l.index != nil:
		l.index[p.addr] = int32(i)
	case len(l.peers) > indexAbove:
		l.buildIndex()
	}
	if seeder {
		l.swap(i, l.seeders)
		i = l.seeders
		l.seeders++
	}
	return i
}

// remove deletes the peer in slot i. The peer that was last moves into a
// hole at or after i, so a loop over slots can revisit i.
func (l *peerList[K]) remove(i int) {
	if i < l.seeders {
		l.swap(i, l.seeders-1)
		i = l.seeders - 1
		l.seeders--
	}
	last := len(l.peers) - 1
	l.swap(i, last)
	if l.index != nil {
		delete(l.index, l.peers[last].addr)
	}
	l.peers[last] = peer[K]{}
	l.peers = l.peers[:last]
	// Slices and maps never shrink by themselves: give memory back when the
	// list has lost most of its peers.
	switch {
	case last == 0:
		l.peers, l.index = nil, nil
	case l.index != nil && last < indexBelow:
		l.index = nil
	case cap(l.peers) >= 64 && last < cap(l.peers)/4:
		l.peers = slices.Clone(l.peers)
		if l.index != nil {
			l.buildIndex()
		}
	}
}

// setSeeder moves the peer in slot i to the seeders or the leechers and
// returns its new slot.
func (l *peerList[K]) setSeeder(i int, seeder bool) int {
	switch {
	case seeder && i >= l.seeders:
		l.swap(i, l.seeders)
		l.seeders++
		return l.seeders - 1
	case !seeder && i < l.seeders:
		l.swap(i, l.seeders-1)
		l.seeders--
		return l.seeders
	}
	return i
}

// len, nseeders and leechers count the peers; a nil list is empty.
func (l *peerList[K]) len() int {
	if l == nil {
		return 0
	}
	return len(l.peers)
}

func (l *peerList[K]) nseeders() int {
	if l == nil {
		return 0
	}
	return l.seeders
}

func (l *peerList[K]) leechers() int { return l.len() - l.nseeders() }
