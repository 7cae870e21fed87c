package session

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"swarm/peer"
)

// Connections: dialing addresses from the book, adopting a connection
// once its handshake is done, and dropping it.

// adopt starts a connection's goroutines once its handshake is done.
func (t *Torrent) adopt(ctx context.Context, ev peerConnected) {
	reject := ""
	// An outgoing address refused below may be dialed again at once
	// unless a case says otherwise.
	now := time.Now()
	hold := now
	switch {
	case ev.hs.PeerID == t.sess.peerID:
		reject = "connection to ourselves"
		hold = hold.Add(24 * time.Hour)
	case t.addrs.isBanned(ev.addr.Addr()) || t.bannedIDs[ev.hs.PeerID]:
		reject = "banned peer"
	case t.complete && !t.cfg.Seed:
		reject = "download complete"
	default:
		for p := range t.peers {
			if p.id == ev.hs.PeerID && p.outgoing != ev.outgoing && keepNewConn(ev.outgoing, t.sess.peerID, ev.hs.PeerID) {
				t.disconnect(p, errSimultaneousOpen)
				break
			}
			if p.id == ev.hs.PeerID {
				reject = "duplicate connection"
				if ev.outgoing {
					// The peer connected to us first from another port;
					// its listen address rests until that connection ends.
					p.listen = ev.addr
					hold = hold.Add(redialMax)
				}
				break
			}
		}
	}
	if ip := t.sess.cappedIP(ev.addr); reject == "" && ip.IsValid() && t.peersFrom(ip) >= maxPeersPerIP {
		reject = "too many connections from this IP"
		hold = hold.Add(redialMax)
	}
	if reject == "" && len(t.peers) >= t.sess.cfg.MaxPeers {
		// Full: the newcomer takes the place of an idle peer, if any.
		if v := turnoverVictim(t.peers, now, t.sess.cfg.TurnoverAfter); v != nil {
			t.disconnect(v, errReplaced)
		} else {
			reject = "too many peers"
		}
	}
	if reject != "" {
		t.log.Debug().Str("peer", ev.addr.String()).Str("reason", reject).Msg("connection refused")
		ev.nc.Close()
		if ev.outgoing {
			t.addrs.hold(ev.addr, hold)
		}
		return
	}
	conn, err := peer.NewConn(ev.nc, peer.Config{NewBlock: getBlock, IdleTimeout: t.sess.cfg.PeerIdleTimeout})
	if err != nil {
		ev.nc.Close()
		if ev.outgoing {
			t.addrs.failed(ev.addr, time.Now())
		}
		return
	}
	if t.m != nil {
		// Before the info dict, the decoder's default bound holds (a
		// bitfield of up to 2 Mi pieces).
		conn.SetNumPieces(t.geo.NumPieces())
	}
	pctx, cancel := context.WithCancel(ctx)
	p := &peerConn{
		t: t, conn: conn, addr: ev.addr, id: ev.hs.PeerID, outgoing: ev.outgoing, ctx: pctx, cancel: cancel,
		fast:      ev.hs.Reserved.Fast(),
		amChoking: true, peerChoking: true, pipeline: minPipeline, slowStart: true, lastBlock: now, connected: now, lastPayload: now,
		log: t.log.With().Str("peer", ev.addr.String()).Str("client", peer.ClientName(ev.hs.PeerID)).Logger(),
	}
	p.q.wake = make(chan struct{}, 1)
	if ev.outgoing {
		p.listen = ev.addr
		t.addrs.connected(ev.addr)
	}
	t.peers[p] = struct{}{}
	p.log.Debug().Bool("outgoing", ev.outgoing).Msg("peer connected")
	context.AfterFunc(pctx, func() { conn.Close() })
	t.wg.Go(func() { p.readLoop(pctx, ctx) })
	t.wg.Go(func() {
		if err := p.writeLoop(pctx); err != nil && !isNormalClose(err) {
			p.log.Debug().Err(err).Msg("write failed")
		}
		cancel()
	})
	if ev.hs.Reserved.Extended() {
		t.sendExtensionHandshake(p)
	}
	if node := t.sess.cfg.DHT; node != nil && ev.hs.Reserved.DHT() && !t.private() {
		p.send(peer.Message{ID: peer.Port, Port: node.Addr().Port()})
	}
	// Tell the peer what we have: a bitfield, unless we have nothing (or
	// know nothing yet: learnInfo sends it then).
	t.sendBitfield(p)
	t.publishStats()
}

// sendBitfield tells p which pieces we have: to a fast peer (BEP 6) by
// have-all or have-none when they say it, otherwise by a bitfield unless we
// have none.
func (t *Torrent) sendBitfield(p *peerConn) {
	if t.picker == nil {
		return
	}
	if t.superSeeding() {
		t.superGreet(p)
		return
	}
	switch have := t.picker.Have(); {
	case p.fast && have.Full():
		p.send(peer.Message{ID: peer.HaveAll})
	case p.fast && have.Count() == 0:
		p.send(peer.Message{ID: peer.HaveNone})
	case have.Count() > 0:
		p.send(peer.Message{ID: peer.Bitfield, Bitfield: have.Bytes()})
	}
}

// sendExtensionHandshake tells a BEP 10 peer who we are and how many
// requests we queue; it comes before the bitfield, as libtorrent sends it.
func (t *Torrent) sendExtensionHandshake(p *peerConn) {
	hs := peer.ExtensionHandshake{V: "swarm " + Version, Reqq: maxQueuedUploads, M: map[string]uint8{}}
	t.offerMetadata(&hs)
	if t.pexEnabled() {
		hs.M[peer.PexExtension] = peer.PexID
	}
	if a, ok := t.sess.listener.Addr().(*net.TCPAddr); ok {
		hs.Port = uint16(a.Port)
	}
	payload, err := hs.Marshal()
	if err != nil {
		t.log.Error().Err(err).Msg("encode extension handshake")
		return
	}
	p.send(peer.Message{ID: peer.Extended, ExtendedID: peer.ExtensionHandshakeID, Payload: payload})
}

// disconnect drops a peer and gives its requests back to the picker.
func (t *Torrent) disconnect(p *peerConn, err error) {
	if _, ok := t.peers[p]; !ok {
		return
	}
	delete(t.peers, p)
	p.cancel()
	t.logSlotEnd(p)
	if !p.amChoking && p.peerInterested {
		t.rechoke(time.Now()) // its slot goes to someone else now
	}
	if t.picker != nil {
		t.picker.PeerLeft(p)
	}
	t.superLeft(p)
	if t.evidence != nil {
		t.evidence.Forget(p)
	}
	if t.meta != nil {
		t.meta.Drop(p)
		t.requestMetadata(time.Now())
	}
	if p.outgoing {
		t.addrs.closed(p.addr, time.Now())
	} else if p.listen.IsValid() {
		// An incoming peer's port is not its listen port.
		t.addrs.closed(p.listen, time.Now())
	}
	if isNormalClose(err) || errors.Is(err, errBothSeeds) || errors.Is(err, errReplaced) {
		p.log.Debug().Err(err).Msg("peer disconnected")
	} else {
		p.log.Info().Err(err).Msg("peer disconnected")
	}
	// Its blocks are pickable again: give them to others.
	for q := range t.peers {
		t.fillRequests(q)
	}
	t.publishStats()
}

// connectMore dials addresses from the book while we are short of peers;
// each costs a heap pop, so a full book costs nothing per tick.
func (t *Torrent) connectMore(ctx context.Context) {
	if t.complete && !t.cfg.Seed {
		return
	}
	now := time.Now()
	for len(t.peers)+t.addrs.dialing < t.sess.cfg.MaxPeers && t.addrs.dialing < maxHalfOpen && t.sess.conns.room() {
		addr, ok := t.addrs.next(now)
		if !ok {
			return
		}
		if t.connectedTo(addr) {
			// A peer that connected to us listens there: not while it stays.
			t.addrs.hold(addr, now.Add(redialMin))
			continue
		}
		if ip := t.sess.cappedIP(addr); ip.IsValid() && t.peersFrom(ip) >= maxPeersPerIP {
			t.addrs.hold(addr, now.Add(redialMax)) // adopt would refuse it
			continue
		}
		t.wg.Go(func() { t.dial(ctx, addr) })
	}
}

func (t *Torrent) connectedTo(addr netip.AddrPort) bool {
	for p := range t.peers {
		if p.addr == addr || p.listen == addr {
			return true
		}
	}
	return false
}

// dial connects to addr and does the handshake, off the loop.
func (t *Torrent) dial(ctx context.Context, addr netip.AddrPort) {
	nc, hs, err := t.sess.connect(ctx, addr, t.infoHash)
	if err != nil {
		t.post(ctx, dialFailed{addr: addr, err: err})
		return
	}
	if !t.post(ctx, peerConnected{nc: nc, hs: hs, addr: addr, outgoing: true}) {
		nc.Close()
	}
}
