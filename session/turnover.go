package session

import (
	"errors"
	"net/netip"
	"time"
)

// Making room in a full torrent. Peers that connect and then stay idle
// (issue 13: 50 connections from one IP that handshake and send a
// keep-alive a minute) would otherwise hold every slot for good. As
// libtorrent's peer turnover does, a new peer arriving at a full torrent
// replaces the least useful connected peer, if one has been connected for
// Config.TurnoverAfter and in that time moved no payload either way, or is
// of no interest either way. Peers trading blocks are never replaced, and
// a new peer is safe for TurnoverAfter, so a stream of newcomers cannot
// push out one another before they have had a chance.

// errReplaced is why a peer was dropped to make room for a new one.
var errReplaced = errors.New("replaced by a new peer: no payload or interest either way")

// defaultTurnoverAfter is Config.TurnoverAfter's default: a minute, in
// which an honest peer that is unchoked moves blocks and one waiting for an
// unchoke has seen two optimistic rounds (30 s each).
const defaultTurnoverAfter = 60 * time.Second

// replaceable reports whether a new peer may take p's place at now: it
// has been connected for after, and either moved no payload for after or
// neither side is interested.
func (p *peerConn) replaceable(now time.Time, after time.Duration) bool {
	if now.Sub(p.connected) < after {
		return false
	}
	return now.Sub(p.lastPayload) >= after || (!p.amInterested && !p.peerInterested)
}

// lessUseful orders replaceable peers, the first to go first: a peer of
// no interest either way, then the one whose payload is oldest, then the
// one connected longest.
func lessUseful(p, q *peerConn) bool {
	pi, qi := p.amInterested || p.peerInterested, q.amInterested || q.peerInterested
	if pi != qi {
		return !pi
	}
	if !p.lastPayload.Equal(q.lastPayload) {
		return p.lastPayload.Before(q.lastPayload)
	}
	return p.connected.Before(q.connected)
}

// turnoverVictim returns the peer a newcomer may replace at now, or nil
// if none is replaceable.
func turnoverVictim(peers map[*peerConn]struct{}, now time.Time, after time.Duration) *peerConn {
	var victim *peerConn
	for p := range peers {
		if p.replaceable(now, after) && (victim == nil || lessUseful(p, victim)) {
			victim = p
		}
	}
	return victim
}

// peersFrom counts the connected peers whose address is ip (unmapped).
func (t *Torrent) peersFrom(ip netip.Addr) int {
	n := 0
	for p := range t.peers {
		if p.addr.Addr().Unmap() == ip {
			n++
		}
	}
	return n
}
