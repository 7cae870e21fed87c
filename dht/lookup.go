package dht

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Lookup is the outcome of an iterative lookup.
type Lookup struct {
	Target ID
	// Closest holds up to K nodes that answered, nearest the target first.
	Closest []NodeInfo
	// Peers are the get_peers values found, without duplicates.
	Peers []netip.AddrPort
	// Hops is the number of sequential round trips it took to reach
	// Closest[0]: 1 if it was in our own table.
	Hops int
	// Messages is the number of queries sent.
	Messages int

	tokens map[netip.AddrPort]string // get_peers tokens of the nodes that answered
}

// maxLookupPeers bounds the peers one lookup collects.
const maxLookupPeers = 1024

type candState int

const (
	fresh candState = iota
	asked
	answered
	failed
)

// candidate is a node a lookup has heard of.
type candidate struct {
	NodeInfo
	idKnown  bool // false for a bootstrap address we have not heard from
	depth    int  // round trips from us to this node
	state    candState
	tx       string
	deadline time.Time
	stallAt  time.Time // after this it no longer holds one of the α slots
	stalled  bool
}

// FindNode looks up the K nodes nearest target (find_node).
func (n *Node) FindNode(ctx context.Context, target ID) (Lookup, error) {
	return n.lookup(ctx, target, methodFindNode, nil)
}

// GetPeers looks up the peers of infoHash (get_peers) and returns them;
// an empty list with a nil error means the lookup completed and nobody has
// announced the torrent.
func (n *Node) GetPeers(ctx context.Context, infoHash ID) ([]netip.AddrPort, error) {
	l, err := n.lookup(ctx, infoHash, methodGetPeers, nil)
	return l.Peers, err
}

// lookup runs Kademlia's iterative lookup: ask the α nearest nodes not yet
// asked, learn nearer ones from their answers, and stop when the K nearest
// nodes heard of have all answered (or failed), or after
// Config.MaxLookupQueries queries. seeds are extra addresses to ask, whose
// ids we do not know (bootstrap nodes).
func (n *Node) lookup(ctx context.Context, target ID, method string, seeds []netip.AddrPort) (Lookup, error) {
	l := Lookup{Target: target}
	cands := map[netip.AddrPort]*candidate{}
	byTx := map[string]*candidate{}
	var list []*candidate
	add := func(ni NodeInfo, idKnown bool, depth int) {
		if ni.ID == n.id && idKnown || ni.Addr == n.addr || cands[ni.Addr] != nil {
			return
		}
		if len(list) >= 16*n.cfg.MaxLookupQueries {
			return // bounded memory; far more than a lookup can ask
		}
		c := &candidate{NodeInfo: ni, idKnown: idKnown, depth: depth}
		cands[ni.Addr] = c
		list = append(list, c)
	}
	n.mu.Lock()
	for _, ni := range n.table.closest(target, K, false) {
		add(ni, true, 1)
	}
	if method == methodGetPeers {
		// We may be one of the nodes nearest the key ourselves: in a small
		// DHT the announces can all be in our own store.
		l.Peers = n.store.peers(target, maxValues, n.cfg.Now())
	}
	n.mu.Unlock()
	for _, a := range seeds {
		add(NodeInfo{Addr: a}, false, 1)
	}
	if len(list) == 0 {
		return l, ErrNoNodes
	}

	// A query unanswered after a quarter of the timeout is stalled: it
	// gives its α slot to the next candidate and no longer holds up the end
	// of the lookup, but its answer still counts if it comes while the
	// lookup runs (libtorrent's short timeout). One dead node near the key
	// then costs a lookup a quarter timeout, not a full one. Queries still
	// out when the lookup ends are left to maintenance, which marks the
	// node failed if the full timeout passes without an answer.
	stallAfter := n.cfg.QueryTimeout / 4
	replies := make(chan reply, n.cfg.MaxLookupQueries) // one slot per query it can send
	inflight, active := 0, 0                            // queries awaiting an answer; those not stalled
	nAnswered := 0
	defer func() {
		for tx, c := range byTx {
			if c.state == asked {
				n.orphan(tx, c)
			}
		}
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	args := Args{Target: string(target[:])}
	if method == methodGetPeers {
		args = Args{InfoHash: string(target[:])}
		l.tokens = map[netip.AddrPort]string{}
	}
	for {
		// Nodes with a known id sort by distance; unknown ones come last.
		slices.SortStableFunc(list, func(a, b *candidate) int {
			switch {
			case a.idKnown != b.idKnown:
				if a.idKnown {
					return -1
				}
				return 1
			case !a.idKnown:
				return 0
			}
			return cmpDistance(target, a.ID, b.ID)
		})
		// Ask the nearest fresh ones among the K nearest still in the race.
		waiting, top := false, 0
		for _, c := range list {
			if top == K {
				break
			}
			switch c.state {
			case failed:
				continue
			case asked:
				if c.stalled {
					continue
				}
				waiting = true
			case fresh:
				waiting = true
				if active >= n.cfg.Alpha || l.Messages >= n.cfg.MaxLookupQueries {
					break
				}
				tx, err := n.startQuery(c.Addr, method, args, replies)
				if err != nil {
					c.state = failed // busy or unsendable: try the next one
					continue
				}
				l.Messages++
				inflight++
				active++
				now := time.Now()
				c.state, c.tx, c.deadline, c.stallAt = asked, tx, now.Add(n.cfg.QueryTimeout), now.Add(stallAfter)
				byTx[tx] = c
			}
			top++
		}
		if inflight == 0 || !waiting && nAnswered >= K {
			break // stalled queries hold up the end only while too few answered
		}
		// Wait for an answer, the earliest stall or the earliest deadline.
		var next time.Time
		for _, c := range byTx {
			if c.state != asked {
				continue
			}
			at := c.deadline
			if !c.stalled {
				at = c.stallAt
			}
			if next.IsZero() || at.Before(next) {
				next = at
			}
		}
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return l, ctx.Err()
		case <-n.done:
			return l, net.ErrClosed
		case r := <-replies:
			c := byTx[r.tx]
			if c == nil || c.state != asked {
				continue
			}
			inflight--
			if !c.stalled {
				active--
			}
			if r.msg.Y != typeResponse {
				c.state = failed // alive, but no use to this lookup
				continue
			}
			c.state = answered
			nAnswered++
			c.ID, c.idKnown = ID([]byte(r.msg.R.ID)), true
			for _, ni := range parseCompactNodes(r.msg.R.Nodes) {
				add(ni, true, c.depth+1)
			}
			if l.tokens != nil && r.msg.R.Token != "" {
				l.tokens[c.Addr] = r.msg.R.Token
			}
			for _, p := range parseValues(r.msg.R.Values) {
				if len(l.Peers) < maxLookupPeers && !slices.Contains(l.Peers, p) {
					l.Peers = append(l.Peers, p)
				}
			}
		case <-timer.C:
			now := time.Now()
			for tx, c := range byTx {
				if c.state != asked {
					continue
				}
				if !c.stalled && !now.Before(c.stallAt) {
					c.stalled = true
					active--
				}
				if !now.Before(c.deadline) {
					c.state = failed
					inflight--
					n.timedOut(tx, c.ID, c.idKnown, c.Addr)
				}
			}
		}
	}
	for _, c := range list {
		if c.state == answered && len(l.Closest) < K {
			l.Closest = append(l.Closest, c.NodeInfo)
			if len(l.Closest) == 1 {
				l.Hops = c.depth
			}
		}
	}
	if len(l.Closest) == 0 {
		return l, ErrNoNodes
	}
	return l, nil
}

// Announce tells the DHT that a peer of infoHash listens on port (TCP) of
// our address: a get_peers lookup, then announce_peer to the K nearest
// nodes that answered, with the tokens they gave. Port 0 announces the DHT
// node's own port (BEP 5's implied_port). It returns the peers the lookup
// found, and an error only if no node took the announce.
func (n *Node) Announce(ctx context.Context, infoHash ID, port int) ([]netip.AddrPort, error) {
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("dht: announce port %d", port)
	}
	l, err := n.lookup(ctx, infoHash, methodGetPeers, nil)
	if err != nil {
		return l.Peers, err
	}
	args := Args{InfoHash: string(infoHash[:]), Port: int64(port)}
	if port == 0 {
		args.ImpliedPort = 1
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok int
	var last error
	for _, ni := range l.Closest {
		tok, has := l.tokens[ni.Addr]
		if !has {
			continue
		}
		a := args
		a.Token = tok
		wg.Go(func() {
			_, err := n.query(ctx, ni, true, methodAnnouncePeer, a)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				last = err
				return
			}
			ok++
		})
	}
	wg.Wait()
	if ok == 0 {
		if last == nil {
			last = errors.New("no node gave a token")
		}
		return l.Peers, fmt.Errorf("dht: announce %v: %w", infoHash, last)
	}
	return l.Peers, nil
}
