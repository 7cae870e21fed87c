package private

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"sync"
	"time"

	"swarm/metainfo"
	"swarm/tracker"
)

// Peer is one client in a torrent's swarm, as its last accepted announce
// described it.
type Peer struct {
	UserID   int64
	InfoHash metainfo.Hash
	PeerID   [20]byte
	Addr     netip.AddrPort // the address the swarm was given
	// Uploaded, Downloaded and Left are the client's counters, in bytes,
	// as it reported them (what was credited may differ).
	Uploaded, Downloaded, Left int64
	LastAnnounce               time.Time
}

// peerIndex is the swarms as the admin API lists them: who announced what,
// from where. The server's registry holds the addresses too, but not the
// user; the accounting sessions hold the user but nothing else a site
// wants to see.
type peerIndex [nShards]peerShard

// peerShard is the torrents whose info hash falls in it; mu guards them.
type peerShard struct {
	mu       sync.Mutex
	torrents map[metainfo.Hash]map[indexKey]peerEntry
	_        [64]byte // keep neighbouring shards' mutexes off one cache line
}

type indexKey struct {
	user int64
	peer [20]byte
}

type peerEntry struct {
	addr           netip.AddrPort
	up, down, left int64
	seen           int64 // Unix nanoseconds
}

func (x *peerIndex) of(h metainfo.Hash) *peerShard {
	sh := &x[(binary.LittleEndian.Uint64(h[:8])*0x9e3779b97f4a7c15)>>58]
	return sh
}

// record notes an accepted announce by user at now; "stopped" removes the
// peer.
func (x *peerIndex) record(user int64, req *tracker.AnnounceRequest, addr netip.AddrPort, now int64) {
	sh := x.of(req.InfoHash)
	k := indexKey{user, req.PeerID}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	peers := sh.torrents[req.InfoHash]
	if req.Event == tracker.EventStopped {
		delete(peers, k)
		if len(peers) == 0 {
			delete(sh.torrents, req.InfoHash)
		}
		return
	}
	if peers == nil {
		if sh.torrents == nil {
			sh.torrents = map[metainfo.Hash]map[indexKey]peerEntry{}
		}
		peers = map[indexKey]peerEntry{}
		sh.torrents[req.InfoHash] = peers
	}
	peers[k] = peerEntry{addr: addr, up: req.Uploaded, down: req.Downloaded, left: req.Left, seen: now}
}

// sweep drops the peers not seen since cutoff (Unix nanoseconds).
func (x *peerIndex) sweep(cutoff int64) {
	for i := range x {
		sh := &x[i]
		sh.mu.Lock()
		for h, peers := range sh.torrents {
			for k, e := range peers {
				if e.seen < cutoff {
					delete(peers, k)
				}
			}
			if len(peers) == 0 {
				delete(sh.torrents, h)
			}
		}
		sh.mu.Unlock()
	}
}

// Peers returns the peers of torrent h that announced within the last two
// intervals, seeders first, then by user id.
func (t *Tracker) Peers(h metainfo.Hash) []Peer {
	cutoff := t.cfg.Now().Add(-2 * t.cfg.Interval).UnixNano()
	sh := t.peers.of(h)
	sh.mu.Lock()
	out := make([]Peer, 0, len(sh.torrents[h]))
	for k, e := range sh.torrents[h] {
		if e.seen >= cutoff {
			out = append(out, Peer{UserID: k.user, InfoHash: h, PeerID: k.peer, Addr: e.addr,
				Uploaded: e.up, Downloaded: e.down, Left: e.left, LastAnnounce: time.Unix(0, e.seen)})
		}
	}
	sh.mu.Unlock()
	slices.SortFunc(out, func(a, b Peer) int {
		switch {
		case (a.Left == 0) != (b.Left == 0):
			if a.Left == 0 {
				return -1
			}
			return 1
		case a.UserID != b.UserID:
			return int(min(max(a.UserID-b.UserID, -1), 1))
		}
		return slices.Compare(a.PeerID[:], b.PeerID[:])
	})
	return out
}

// Activity returns the live peers that announced within the last two
// intervals, counted per torrent and per user id: seeding (left=0) or
// leeching.
func (t *Tracker) Activity() (map[metainfo.Hash]Activity, map[int64]Activity) {
	cutoff := t.cfg.Now().Add(-2 * t.cfg.Interval).UnixNano()
	byTorrent, byUser := map[metainfo.Hash]Activity{}, map[int64]Activity{}
	for i := range t.peers {
		sh := &t.peers[i]
		sh.mu.Lock()
		for h, peers := range sh.torrents {
			for k, e := range peers {
				if e.seen >= cutoff {
					byTorrent[h] = byTorrent[h].with(e.left == 0)
					byUser[k.user] = byUser[k.user].with(e.left == 0)
				}
			}
		}
		sh.mu.Unlock()
	}
	return byTorrent, byUser
}
