package dht

import (
	"math/rand/v2"
	"net/netip"
	"time"
)

// store keeps the peers announced to us, per info hash. It is bounded in
// both directions: at most maxHashes info hashes and maxPeers peers each.
// A full swarm forgets its oldest announce; a new info hash when every slot
// is taken is refused, so a flood of fake hashes cannot push out real ones
// before they expire. Not safe for concurrent use; the Node guards it.
type store struct {
	maxHashes, maxPeers int
	ttl                 time.Duration
	swarms              map[ID]map[netip.AddrPort]time.Time
}

func newStore(maxHashes, maxPeers int, ttl time.Duration) *store {
	return &store{maxHashes: maxHashes, maxPeers: maxPeers, ttl: ttl, swarms: map[ID]map[netip.AddrPort]time.Time{}}
}

// add records peer p for infoHash and reports whether it was kept.
func (s *store) add(infoHash ID, p netip.AddrPort, now time.Time) bool {
	sw := s.swarms[infoHash]
	if sw == nil {
		if len(s.swarms) >= s.maxHashes {
			s.expire(now)
			if len(s.swarms) >= s.maxHashes {
				return false
			}
		}
		sw = map[netip.AddrPort]time.Time{}
		s.swarms[infoHash] = sw
	}
	if _, ok := sw[p]; !ok && len(sw) >= s.maxPeers {
		var oldest netip.AddrPort
		var at time.Time
		for q, t := range sw {
			if at.IsZero() || t.Before(at) {
				oldest, at = q, t
			}
		}
		delete(sw, oldest)
	}
	sw[p] = now
	return true
}

// peers returns up to n live peers of infoHash, a random subset when there
// are more.
func (s *store) peers(infoHash ID, n int, now time.Time) []netip.AddrPort {
	var out []netip.AddrPort
	for p, t := range s.swarms[infoHash] {
		if now.Sub(t) < s.ttl {
			out = append(out, p)
		}
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out[:min(n, len(out))]
}

// expire forgets announces older than the ttl.
func (s *store) expire(now time.Time) {
	for h, sw := range s.swarms {
		for p, t := range sw {
			if now.Sub(t) >= s.ttl {
				delete(sw, p)
			}
		}
		if len(sw) == 0 {
			delete(s.swarms, h)
		}
	}
}

// len returns the number of info hashes and peers held.
func (s *store) len() (hashes, peers int) {
	for _, sw := range s.swarms {
		peers += len(sw)
	}
	return len(s.swarms), peers
}
