package session

import (
	"bytes"
	"errors"
	"net/netip"
	"time"

	"swarm/peer"
)

// Peer exchange (BEP 11, ut_pex), for public torrents only: a private
// torrent (BEP 27) neither advertises ut_pex nor acts on a pex message.
//
// Sending: every PexInterval (60 s, as libtorrent) at most, each peer that
// advertised ut_pex hears which of our peers' listen addresses are new to
// it (added) and which of those it heard about are gone (dropped), at most
// maxPexEntries of each; a tick with nothing to tell sends nothing. The
// first message lists our current peers. A peer never hears of itself, and
// peers whose listen address we do not know (an incoming connection whose
// extension handshake gave no port) are left out, as libtorrent does.
//
// Receiving: a message that comes less than a third of PexInterval after
// the last one we used is ignored (libtorrent disconnects a peer that sends
// more than six a minute; we stay quieter than that and more forgiving).
// Of the added entries, the first maxPexEntries become dial candidates of
// the torrent, unless one is our own listen address, banned, connected or
// already known; a loopback or private address counts only from a peer
// that is itself on such an address. A malformed or oversized message
// (peer.ParsePexMessage) breaks the protocol. Dropped entries are not used:
// an address we know rests on its own after a failed dial.
const (
	// defaultPexInterval is PexInterval's default.
	defaultPexInterval = time.Minute
	// maxPexEntries bounds the added and the dropped entries of a message
	// we send, and the added entries of a received one we use.
	maxPexEntries = 50
	// maxPexKnown: pex adds candidates only while the torrent knows fewer
	// addresses than this, so peers feeding us addresses cannot grow the
	// table without bound.
	maxPexKnown = 1000
)

// pexState is a peer's side of peer exchange; it belongs to the torrent's
// loop.
type pexState struct {
	id       uint8                   // the peer's extended id for ut_pex; 0 if it has none
	sent     map[netip.AddrPort]bool // addresses it heard from us as connected and not since as dropped
	lastSent time.Time               // when we last sent it a message
	lastRecv time.Time               // when we last used one of its messages
}

// setID notes the peer's ut_pex id from its extension handshake m dict; an
// id of 0 turns exchange off, and a later handshake that turns it back on
// gets a full list again.
func (s *pexState) setID(m map[string]uint8) {
	id, ok := m[peer.PexExtension]
	if !ok {
		return
	}
	s.id = id
	if id == 0 {
		s.sent = nil
	}
}

// pexEnabled reports whether the torrent exchanges peers: public ones only,
// unless the session turns it off.
func (t *Torrent) pexEnabled() bool { return !t.private() && !t.sess.cfg.NoPex }

// pexTick sends a message to each peer whose interval has passed. Loop only.
func (t *Torrent) pexTick(now time.Time) {
	if !t.pexEnabled() {
		return
	}
	var current map[netip.AddrPort]byte
	for p := range t.peers {
		if p.pex.id == 0 || now.Sub(p.pex.lastSent) < t.sess.cfg.PexInterval {
			continue
		}
		if current == nil {
			current = t.pexPeers()
		}
		t.sendPex(p, current, now)
	}
}

// pexPeers returns the listen addresses of our peers, each with its BEP 11
// flags: reachable when we connected to it, seed when it has everything.
func (t *Torrent) pexPeers() map[netip.AddrPort]byte {
	cur := make(map[netip.AddrPort]byte, len(t.peers))
	for q := range t.peers {
		if !q.listen.IsValid() || q.listen.Port() == 0 {
			continue
		}
		var f byte
		if q.outgoing {
			f |= peer.PexReachable
		}
		if q.has != nil && q.has.Full() {
			f |= peer.PexSeed
		}
		cur[unmap(q.listen)] = f
	}
	return cur
}

// sendPex tells p what changed in cur since its last message, if anything.
func (t *Torrent) sendPex(p *peerConn, cur map[netip.AddrPort]byte, now time.Time) {
	self := func(a netip.AddrPort) bool { return a == unmap(p.addr) || p.listen.IsValid() && a == unmap(p.listen) }
	var msg peer.PexMessage
	var added, dropped []netip.AddrPort
	for a, f := range cur {
		if len(added) == maxPexEntries {
			break
		}
		if p.pex.sent[a] || self(a) {
			continue
		}
		added = append(added, a)
		if a.Addr().Is4() {
			msg.Added, msg.AddedFlags = append(msg.Added, a), append(msg.AddedFlags, f)
		} else {
			msg.Added6, msg.Added6Flags = append(msg.Added6, a), append(msg.Added6Flags, f)
		}
	}
	for a := range p.pex.sent {
		if len(dropped) == maxPexEntries {
			break
		}
		if _, ok := cur[a]; ok && !self(a) {
			continue
		}
		dropped = append(dropped, a)
		if a.Addr().Is4() {
			msg.Dropped = append(msg.Dropped, a)
		} else {
			msg.Dropped6 = append(msg.Dropped6, a)
		}
	}
	if len(added) == 0 && len(dropped) == 0 {
		return
	}
	payload, err := msg.Marshal()
	if err != nil {
		p.log.Error().Err(err).Msg("encode pex message")
		return
	}
	if p.pex.sent == nil {
		p.pex.sent = make(map[netip.AddrPort]bool, len(added))
	}
	for _, a := range added {
		p.pex.sent[a] = true
	}
	for _, a := range dropped {
		delete(p.pex.sent, a)
	}
	p.pex.lastSent = now
	p.send(peer.Message{ID: peer.Extended, ExtendedID: p.pex.id, Payload: payload})
	p.log.Debug().Int("added", len(added)).Int("dropped", len(dropped)).Msg("pex sent")
}

// onPex takes a ut_pex message from p: its added peers become candidates
// the next tick dials. Loop only.
func (t *Torrent) onPex(p *peerConn, payload []byte) error {
	if !t.pexEnabled() {
		return nil // BEP 27: never act on peers from pex
	}
	if len(payload) > peer.MaxPexMessageLen {
		return violation("ut_pex message of %d bytes, limit %d", len(payload), peer.MaxPexMessageLen)
	}
	now := time.Now()
	if !p.pex.lastRecv.IsZero() && now.Sub(p.pex.lastRecv) < t.sess.cfg.PexInterval/3 {
		p.log.Debug().Dur("since_last", now.Sub(p.pex.lastRecv)).Msg("pex message too soon after the last: ignored")
		return nil
	}
	msg, err := peer.ParsePexMessage(payload)
	if err != nil {
		return violation("ut_pex: %v", err)
	}
	p.pex.lastRecv = now
	added := append(msg.Added, msg.Added6...)
	added = added[:min(len(added), maxPexEntries)]
	fresh := 0
	for _, a := range added {
		a = unmap(a)
		if t.addrs.len() >= maxPexKnown {
			break
		}
		if t.pexCandidate(p, a) {
			fresh += t.addrs.add(srcPEX, []netip.AddrPort{a})
		}
	}
	p.log.Debug().Int("added", len(msg.Added)+len(msg.Added6)).Int("dropped", len(msg.Dropped)+len(msg.Dropped6)).
		Int("new", fresh).Msg("pex received")
	return nil
}

// pexCandidate reports whether a, from p's pex message, is worth dialing.
func (t *Torrent) pexCandidate(from *peerConn, a netip.AddrPort) bool {
	ip := a.Addr()
	if !ip.IsValid() || a.Port() == 0 || ip.IsUnspecified() || ip.IsMulticast() {
		return false
	}
	if isLocal(ip) && !isLocal(from.addr.Addr().Unmap()) {
		return false // a peer elsewhere cannot mean our neighbourhood
	}
	if t.ownAddr(a) || t.addrs.isBanned(ip) || t.connectedTo(a) {
		return false
	}
	return !t.addrs.has(a)
}

// ownAddr reports whether a is our listen address: the listener's, or any
// loopback address with its port when we listen on all addresses.
func (t *Torrent) ownAddr(a netip.AddrPort) bool {
	ln, err := netip.ParseAddrPort(t.sess.listener.Addr().String())
	if err != nil || a.Port() != ln.Port() {
		return false
	}
	lip := ln.Addr().Unmap()
	return a.Addr() == lip || lip.IsUnspecified() && a.Addr().IsLoopback()
}

// isLocal: loopback, private (RFC 1918, fc00::/7) and link-local addresses.
func isLocal(ip netip.Addr) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast()
}

// unmap returns a with an IPv4-mapped IPv6 address turned into IPv4.
func unmap(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }

// errSimultaneousOpen drops one of two connections between the same pair
// of peers, one opened by each side.
var errSimultaneousOpen = errors.New("connected both ways: keeping the connection the lower peer id opened")

// keepNewConn decides a simultaneous open, which pex makes common (two
// peers hear of each other in the same round and dial at once): of two
// connections opened by either side, both sides keep the one opened by the
// lower peer id, as libtorrent does. Refusing the newer one on both sides
// would close both. outgoing says whether we opened the new one.
func keepNewConn(outgoing bool, ours, theirs [20]byte) bool {
	return outgoing == (bytes.Compare(ours[:], theirs[:]) < 0)
}
