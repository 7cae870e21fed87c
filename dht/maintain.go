package dht

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"
)

// maxPings bounds the pings in flight from maintenance.
const maxPings = 16

// maintain keeps the routing table healthy until ctx ends: it joins the DHT
// at once, pings nodes that queried us (so they can become good), and every
// minute rejoins if the table holds fewer than K nodes, refreshes buckets unchanged for
// Config.RefreshInterval with a lookup of a random id inside each, pings
// nodes not heard from for as long, expires stored peers and saves the
// state. It returns after the goroutines it started have ended.
func (n *Node) maintain(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, maxPings)
	ping := func(ni NodeInfo) {
		select {
		case sem <- struct{}{}:
			wg.Go(func() {
				defer func() { <-sem }()
				n.query(ctx, ni, true, methodPing, Args{})
			})
		default: // enough pings in flight; the node may be asked later
		}
	}
	busy := make(chan struct{}, 1) // one refresh at a time
	refresh := func(join bool) {
		select {
		case busy <- struct{}{}:
			wg.Go(func() {
				defer func() { <-busy }()
				n.refresh(ctx, join, ping)
			})
		default:
		}
	}
	refresh(true)
	tick := time.NewTicker(min(n.cfg.RefreshInterval, time.Minute))
	defer tick.Stop()
	// Orphaned queries wait here for their answer or their deadline, on one
	// timer for the earliest.
	var orphans []orphan
	expiry := time.NewTimer(time.Hour)
	defer expiry.Stop()
	for {
		var next <-chan time.Time
		if len(orphans) > 0 {
			expiry.Reset(time.Until(orphans[0].deadline))
			next = expiry.C
		}
		select {
		case <-ctx.Done():
			return
		case ni := <-n.pingq:
			ping(ni)
		case <-tick.C:
			refresh(false)
		case o := <-n.orphans:
			i, _ := slices.BinarySearchFunc(orphans, o.deadline, func(a orphan, t time.Time) int { return a.deadline.Compare(t) })
			orphans = slices.Insert(orphans, i, o)
		case now := <-next:
			for len(orphans) > 0 && !now.Before(orphans[0].deadline) {
				o := orphans[0]
				orphans = orphans[1:]
				n.timedOut(o.tx, o.id, o.idKnown, o.addr) // no-op if it was answered
			}
		}
	}
}

// orphan is a query whose lookup ended before its answer or deadline.
type orphan struct {
	tx       string
	id       ID
	idKnown  bool
	addr     netip.AddrPort
	deadline time.Time
}

// orphan hands an unanswered query of an ended lookup to maintenance, so a
// node that never answers is still marked failed; with maintenance behind
// or stopped the query is simply forgotten.
func (n *Node) orphan(tx string, c *candidate) {
	select {
	case n.orphans <- orphan{tx, c.ID, c.idKnown, c.Addr, c.deadline}:
	default:
		n.cancelQuery(tx)
	}
}

// refresh is one round of maintenance; join asks for a self-lookup even if
// the table is not empty (at start-up).
func (n *Node) refresh(ctx context.Context, join bool, ping func(NodeInfo)) {
	now := n.cfg.Now()
	n.mu.Lock()
	empty := n.table.len() == 0
	small := n.table.len() < K // a join that found too few nodes: try again
	var stale []ID
	var quiet []NodeInfo
	if !join && !empty {
		stale = n.table.stale(now, n.cfg.RefreshInterval)
		quiet = n.table.questionable(now, n.cfg.RefreshInterval)
	}
	n.store.expire(now)
	n.mu.Unlock()

	if (join || small) && !(empty && len(n.cfg.Bootstrap) == 0) {
		n.Bootstrap(ctx)
	}
	for _, ni := range quiet {
		ping(ni)
	}
	for _, target := range stale {
		if ctx.Err() != nil {
			return
		}
		n.FindNode(ctx, target)
	}
	if err := n.save(); err != nil {
		n.log.Warn().Err(err).Msg("dht state not saved")
	}
}

// Bootstrap joins the DHT: a lookup of our own id through the routing table
// and Config.Bootstrap, which fills the buckets near us and makes us known
// to our neighbours. Run calls it at start and whenever the table empties.
func (n *Node) Bootstrap(ctx context.Context) error {
	var seeds []netip.AddrPort
	for _, hp := range n.cfg.Bootstrap {
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			n.log.Warn().Err(err).Str("node", hp).Msg("bad dht bootstrap node")
			continue
		}
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
		if err != nil || len(ips) == 0 {
			n.log.Warn().Err(err).Str("node", hp).Msg("dht bootstrap node not resolved")
			continue
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil || p == 0 {
			n.log.Warn().Str("node", hp).Msg("bad dht bootstrap port")
			continue
		}
		seeds = append(seeds, netip.AddrPortFrom(ips[0].Unmap(), uint16(p)))
	}
	l, err := n.lookup(ctx, n.id, methodFindNode, seeds)
	if err != nil {
		if ctx.Err() == nil {
			n.log.Warn().Err(err).Msg("dht bootstrap failed")
		}
		return err
	}
	// The self-lookup filled the buckets near us; a lookup inside each
	// farther bucket fills the rest, as Kademlia's join does. Without it a
	// node knows little of the far half of the key space until its
	// 15-minute refreshes.
	n.mu.Lock()
	var far []ID
	for i := range len(n.table.buckets) - 1 {
		far = append(far, randomWithPrefix(n.id, i))
		n.table.buckets[i].changed = n.cfg.Now()
	}
	n.mu.Unlock()
	msgs := l.Messages
	for _, target := range far {
		fl, _ := n.lookup(ctx, target, methodFindNode, nil)
		msgs += fl.Messages
	}
	n.log.Info().Int("nodes", n.Stats().Nodes).Int("messages", msgs).Msg("dht bootstrapped")
	return ctx.Err()
}
