package dht

import (
	"net/netip"
	"time"
)

// maxValues bounds the peers in one get_peers answer: 50 compact peers
// are 400 bytes, which with 8 nodes keeps the answer in one packet.
const maxValues = 50

// handleQuery answers one query, within the per-source reply limit.
func (n *Node) handleQuery(m Msg, from netip.AddrPort) {
	now := n.cfg.Now()
	n.mu.Lock()
	n.stats.QueriesReceived++
	if !n.limiter.allow(from, now) {
		n.stats.Limited++
		n.mu.Unlock()
		return
	}
	if m.RO == 0 {
		// A node that queries us is alive, but may be unreachable (NAT):
		// it enters unconfirmed and becomes good only when it answers us.
		ni := NodeInfo{ID: ID([]byte(m.A.ID)), Addr: from}
		if e, _ := n.table.find(ni.ID); e == nil && n.table.add(ni, false, now) {
			select {
			case n.pingq <- ni:
			default: // maintenance is behind; a lookup will ask it anyway
			}
		}
	}
	r, kerr := n.answer(m, from, now)
	n.mu.Unlock()
	if e := n.log.Debug(); e.Enabled() {
		e.Str("q", m.Q).Stringer("node", from).Str("v", m.V).AnErr("refused", kerr).Msg("dht query")
	}

	out := Msg{T: m.T, V: version}
	if kerr != nil {
		out.Y, out.E = typeError, kerr
	} else {
		r.ID = string(n.id[:])
		out.Y, out.R = typeResponse, r
	}
	if err := n.send(out, from); err != nil {
		n.log.Debug().Err(err).Stringer("node", from).Msg("reply not sent")
	}
}

// answer builds the reply to a query; the caller holds n.mu.
func (n *Node) answer(m Msg, from netip.AddrPort, now time.Time) (*Return, *KRPCError) {
	switch m.Q {
	case methodPing:
		return &Return{}, nil
	case methodFindNode:
		if m.A.Target == "" {
			return nil, &KRPCError{errProtocol, "find_node without target"}
		}
		return &Return{Nodes: n.closestCompact(ID([]byte(m.A.Target)))}, nil
	case methodGetPeers:
		if m.A.InfoHash == "" {
			return nil, &KRPCError{errProtocol, "get_peers without info_hash"}
		}
		ih := ID([]byte(m.A.InfoHash))
		r := &Return{Token: n.tokens.issue(from.Addr(), ih, now), Nodes: n.closestCompact(ih)}
		for _, p := range n.store.peers(ih, maxValues, now) {
			r.Values = append(r.Values, string(appendCompactPeer(nil, p)))
		}
		return r, nil
	case methodAnnouncePeer:
		if m.A.InfoHash == "" {
			return nil, &KRPCError{errProtocol, "announce_peer without info_hash"}
		}
		ih := ID([]byte(m.A.InfoHash))
		if !n.tokens.valid(m.A.Token, from.Addr(), ih, now) {
			return nil, &KRPCError{errProtocol, "bad token"}
		}
		port := uint16(m.A.Port)
		if m.A.ImpliedPort != 0 {
			port = from.Port() // BEP 5: the peer listens where its DHT node does
		}
		if port == 0 {
			return nil, &KRPCError{errProtocol, "announce_peer without port"}
		}
		if !n.store.add(ih, netip.AddrPortFrom(from.Addr(), port), now) {
			return nil, &KRPCError{errGeneric, "peer store full"}
		}
		return &Return{}, nil
	}
	return nil, &KRPCError{errMethod, "method unknown"}
}

// closestCompact returns the K good nodes nearest target, compact.
func (n *Node) closestCompact(target ID) string {
	return string(appendCompactNodes(nil, n.table.closest(target, K, true)))
}
