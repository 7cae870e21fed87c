package dht

import (
	"net/netip"
	"slices"
	"time"
)

// K is the bucket size and the number of closest nodes a lookup returns.
const K = 8

// maxFails is how many queries in a row a node may leave unanswered
// before it leaves the table: one loss is common on the Internet, two
// mean the node is most likely gone.
const maxFails = 2

// entry is a node in the routing table.
type entry struct {
	NodeInfo
	lastSeen  time.Time // last message of any kind from it
	responded bool      // it has answered one of our queries
	fails     int       // our queries it left unanswered since it last answered
}

// good is BEP 5's notion: it answered us and was heard from lately.
func (e *entry) good(now time.Time) bool {
	return e.responded && e.fails == 0 && now.Sub(e.lastSeen) < 15*time.Minute
}

// bucket holds at most K nodes and a replacement cache of at most K more,
// newest last in both.
type bucket struct {
	nodes   []*entry
	spare   []*entry
	changed time.Time // last time a node was added or answered; drives refresh
}

// table is a Kademlia routing table. buckets[i] holds the nodes whose id
// shares exactly i leading bits with self, except the last bucket, which
// holds every node sharing at least len(buckets)-1 bits. Only the last
// bucket splits, so the table is detailed near self and coarse far away
// (BEP 5), and it never holds more than 160 buckets of K nodes. A table is
// not safe for concurrent use; the Node guards it.
type table struct {
	self    ID
	buckets []*bucket
}

func newTable(self ID, now time.Time) *table {
	return &table{self: self, buckets: []*bucket{{changed: now}}}
}

func (t *table) index(id ID) int {
	return min(commonPrefix(t.self, id), len(t.buckets)-1)
}

// find returns the entry for id and its bucket, or nil.
func (t *table) find(id ID) (*entry, *bucket) {
	b := t.buckets[t.index(id)]
	for _, e := range b.nodes {
		if e.ID == id {
			return e, b
		}
	}
	return nil, b
}

// add records that we heard from n; responded says it answered a query of
// ours. It returns whether n is in the table afterwards (not in the cache).
// An id already present keeps its address: a message from elsewhere with
// the same id is ignored, so nobody can hijack a known node's slot.
func (t *table) add(n NodeInfo, responded bool, now time.Time) bool {
	if n.ID == t.self || !n.Addr.IsValid() {
		return false
	}
	for {
		e, b := t.find(n.ID)
		if e != nil {
			if e.Addr != n.Addr {
				return true
			}
			e.lastSeen = now
			if responded {
				e.responded, e.fails = true, 0
				b.changed = now
			}
			return true
		}
		if len(b.nodes) < K {
			b.nodes = append(b.nodes, &entry{NodeInfo: n, lastSeen: now, responded: responded})
			b.changed = now
			b.dropSpare(n.ID)
			return true
		}
		if b == t.buckets[len(t.buckets)-1] && len(t.buckets) < 160 {
			t.split()
			continue
		}
		// A full bucket far from us: replace a node that stopped answering,
		// else keep n as a spare for when one does (BEP 5 prefers old nodes,
		// which stay up longer).
		for i, old := range b.nodes {
			if old.fails > 0 && !old.good(now) && responded {
				b.nodes[i] = &entry{NodeInfo: n, lastSeen: now, responded: responded}
				b.changed = now
				return true
			}
		}
		b.dropSpare(n.ID)
		if len(b.spare) == K {
			b.spare = b.spare[1:]
		}
		b.spare = append(b.spare, &entry{NodeInfo: n, lastSeen: now, responded: responded})
		return false
	}
}

func (b *bucket) dropSpare(id ID) {
	b.spare = slices.DeleteFunc(b.spare, func(e *entry) bool { return e.ID == id })
}

// split divides the last bucket in two: the nodes sharing exactly
// len(buckets)-1 bits with self stay, the closer ones move to a new last
// bucket.
func (t *table) split() {
	last := t.buckets[len(t.buckets)-1]
	depth := len(t.buckets) - 1
	next := &bucket{changed: last.changed}
	keep := func(es []*entry) (stay, move []*entry) {
		for _, e := range es {
			if commonPrefix(t.self, e.ID) > depth {
				move = append(move, e)
			} else {
				stay = append(stay, e)
			}
		}
		return stay, move
	}
	last.nodes, next.nodes = keep(last.nodes)
	last.spare, next.spare = keep(last.spare)
	t.buckets = append(t.buckets, next)
}

// failed records that id left a query unanswered. After maxFails in a row
// it leaves the table and the newest spare that answered us, if any, takes
// its place.
func (t *table) failed(id ID, addr netip.AddrPort) {
	e, b := t.find(id)
	if e == nil || e.Addr != addr {
		return
	}
	e.fails++
	if e.fails < maxFails {
		return
	}
	b.nodes = slices.DeleteFunc(b.nodes, func(x *entry) bool { return x == e })
	for i := len(b.spare) - 1; i >= 0; i-- {
		if s := b.spare[i]; s.responded {
			b.spare = slices.Delete(b.spare, i, i+1)
			b.nodes = append(b.nodes, s)
			break
		}
	}
}

// closest returns up to n nodes nearest to target, nearest first. With
// noFailed it leaves out nodes that left our last query unanswered: those
// are what we tell others about. Nodes that queried us but have not yet
// answered a query of ours are included; maintenance pings each as it
// arrives, so a node that cannot be reached soon has a failure and drops out
// of answers (a stricter rule, good nodes only, starves a young network of
// the nodes that just joined it).
func (t *table) closest(target ID, n int, noFailed bool) []NodeInfo {
	var all []NodeInfo
	for _, b := range t.buckets {
		for _, e := range b.nodes {
			if !noFailed || e.fails == 0 {
				all = append(all, e.NodeInfo)
			}
		}
	}
	slices.SortFunc(all, func(a, b NodeInfo) int { return cmpDistance(target, a.ID, b.ID) })
	return all[:min(n, len(all))]
}

func cmpDistance(target, a, b ID) int {
	switch {
	case Closer(target, a, b):
		return -1
	case Closer(target, b, a):
		return 1
	}
	return 0
}

// len returns how many nodes the table holds (spares not counted).
func (t *table) len() int {
	n := 0
	for _, b := range t.buckets {
		n += len(b.nodes)
	}
	return n
}

// stale returns, for each bucket not changed within d, a random target
// inside it whose lookup refreshes it (BEP 5: 15 minutes).
func (t *table) stale(now time.Time, d time.Duration) []ID {
	var out []ID
	for i, b := range t.buckets {
		if now.Sub(b.changed) >= d {
			out = append(out, randomWithPrefix(t.self, i))
			b.changed = now // one refresh per interval, whatever it finds
		}
	}
	return out
}

// questionable returns nodes in the table not heard from within d, to ping.
func (t *table) questionable(now time.Time, d time.Duration) []NodeInfo {
	var out []NodeInfo
	for _, b := range t.buckets {
		for _, e := range b.nodes {
			if now.Sub(e.lastSeen) >= d {
				out = append(out, e.NodeInfo)
			}
		}
	}
	return out
}

// nodes returns every node in the table, for saving.
func (t *table) nodes() []NodeInfo {
	var out []NodeInfo
	for _, b := range t.buckets {
		for _, e := range b.nodes {
			out = append(out, e.NodeInfo)
		}
	}
	return out
}
