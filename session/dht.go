package session

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"swarm/dht"
)

// DHT timing per torrent. libtorrent re-announces every 15 minutes by
// default; a torrent short of peers asks sooner.
const (
	dhtAnnounceInterval = 15 * time.Minute
	// dhtRetryMin: a torrent short of peers looks again this soon, then
	// twice as long each time up to dhtRetryMax. Peers that start together
	// (a seed and its first leechers) find each other within seconds; a
	// torrent nobody else has costs about six lookups in its first minute.
	dhtRetryMin = time.Second
	// dhtJoinRetry: a node that has not joined the DHT yet (no node in
	// its table, as at start-up) is asked again this soon, doubling.
	dhtJoinRetry     = 250 * time.Millisecond
	dhtRetryMax      = time.Minute
	dhtLookupTimeout = time.Minute
)

// dhtLoop announces the torrent into the DHT (BEP 5) and hands the peers the
// lookup finds to the loop: at start, then every 15 minutes, or sooner (1 s
// doubling to a minute) while the lookup fails or the torrent downloads
// with fewer than a handful of peers.
// Private torrents (BEP 27) never get here.
func (t *Torrent) dhtLoop(ctx context.Context, node *dht.Node) {
	port := 0
	if a, ok := t.sess.listener.Addr().(*net.TCPAddr); ok {
		port = a.Port
	}
	retry := dhtRetryMin
	joinRetry := dhtJoinRetry
	for {
		lctx, cancel := context.WithTimeout(ctx, dhtLookupTimeout)
		peers, err := node.Announce(lctx, dht.ID(t.infoHash), port)
		cancel()
		if ctx.Err() != nil {
			return
		}
		t.lookups.Add(1)
		short := err != nil
		if err != nil {
			t.log.Debug().Err(err).Msg("DHT announce failed")
		} else {
			t.log.Debug().Int("peers", len(peers)).Msg("announced to the DHT")
			t.post(ctx, peersFound{addrs: peers, src: srcDHT})
			st := t.Stats()
			short = st.Peers+len(peers) < fewPeers && !st.Complete
		}
		wait := dhtAnnounceInterval
		if errors.Is(err, dht.ErrNoNodes) && joinRetry < dhtRetryMin {
			// Not joined yet: the first announce comes right after
			// start, before bootstrap has answered.
			wait, joinRetry = joinRetry, 2*joinRetry
		} else if short {
			wait, retry = retry, min(2*retry, dhtRetryMax)
		} else {
			retry = dhtRetryMin
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// A peer's PORT messages (BEP 5) start one DHT ping a minute at most: an
// honest peer sends one per connection, and each ping holds a goroutine
// and a query slot for up to its 10 s timeout. One that sends
// maxIgnoredPorts more within that minute is flooding us, and is dropped,
// as a keep-alive flood is.
const (
	dhtPingInterval = time.Minute
	maxIgnoredPorts = 100
)

// onPort takes a peer's PORT message. Loop only.
func (t *Torrent) onPort(p *peerConn, port uint16) error {
	if t.private() {
		return nil // BEP 27: nothing of a private torrent's peers goes to the DHT
	}
	now := time.Now()
	if !p.dhtPing.IsZero() && now.Sub(p.dhtPing) < dhtPingInterval {
		if p.portsIgnored++; p.portsIgnored > maxIgnoredPorts {
			return violation("%d PORT messages within %v", p.portsIgnored+1, dhtPingInterval)
		}
		return nil
	}
	p.dhtPing, p.portsIgnored = now, 0
	t.addDHTNode(p.ctx, p.addr.Addr(), port)
	return nil
}

// addDHTNode tells the DHT about a peer's node after its PORT message
// (BEP 5): the peer is alive, so its node likely is too.
func (t *Torrent) addDHTNode(ctx context.Context, addr netip.Addr, port uint16) {
	node := t.sess.cfg.DHT
	if node == nil || port == 0 {
		return
	}
	t.wg.Go(func() {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		node.Ping(pctx, netip.AddrPortFrom(addr, port))
	})
}
