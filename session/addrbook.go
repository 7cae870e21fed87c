package session

import (
	"cmp"
	"container/heap"
	"net/netip"
	"slices"
	"time"
)

// The address book: the peer addresses a torrent may dial, where each came
// from, when each may be dialed again, and the IPs it refuses. It reads no
// clock (callers pass now) and does no I/O; it belongs to the torrent's loop.
//
// It holds at most maxAddrs entries. One tracker reply can carry ~170,000
// addresses; beyond the cap an address gets in only by evicting an idle
// entry worth less than it (addrEntry.worth): a dial that failed and never
// connected goes first, then the weaker source, and an address that
// connected before outranks any it never reached. Entries being dialed or
// connected, and the user's own (--peer), are never evicted; a tie keeps
// the entry already there, so a flood cannot churn the book.
//
// Picking the next address to dial is a heap pop (O(log n)) over the idle
// entries ordered by when they may be dialed, better entries first among
// equals: the loop never rescans the book.

// maxAddrs caps the address book. libtorrent's max_peerlist_size is 3000
// for a downloading torrent (1000 paused); at roughly 150 bytes an entry,
// 3000 cost under half a MiB per torrent, far more than MaxPeers needs.
const maxAddrs = 3000

// addrSource says who named an address; a higher value is kept first.
type addrSource uint8

const (
	srcPEX      addrSource = iota + 1 // a peer's ut_pex message: anyone can claim anything
	srcDHT                            // a DHT lookup
	srcIncoming                       // a peer that connected to us gave its listen port
	srcTracker                        // a tracker reply
	srcUser                           // given by the user (--peer, AddPeers); never evicted
)

type addrState uint8

const (
	addrIdle addrState = iota
	addrDialing
	addrConnected
)

type addrEntry struct {
	addr  netip.AddrPort
	src   addrSource // the best source that named it
	state addrState
	next  time.Time // when it may be dialed again (idle)
	fails int       // rests in a row: dial failures and closes, for the backoff
	met   bool      // a connection to it was ever established
	idx   int       // position in addrBook.due; -1 when not idle
}

// worth ranks an entry for eviction: lower goes first.
func (e *addrEntry) worth() int {
	tier := 1 // never tried, or tried and not failed yet
	switch {
	case e.met:
		tier = 2
	case e.fails > 0:
		tier = 0
	}
	return tier*int(srcUser+1) + int(e.src)
}

type addrBook struct {
	max     int
	entries map[netip.AddrPort]*addrEntry
	due     dueHeap             // idle entries, the next to dial first
	banned  map[netip.Addr]bool // IPs (unmapped) refused for good
	dialing int                 // entries in addrDialing
}

func newAddrBook(max int) *addrBook {
	return &addrBook{max: max, entries: map[netip.AddrPort]*addrEntry{}, banned: map[netip.Addr]bool{}}
}

// len returns the number of addresses in the book.
func (b *addrBook) len() int { return len(b.entries) }

// has reports whether a is in the book.
func (b *addrBook) has(a netip.AddrPort) bool { return b.entries[unmap(a)] != nil }

// isBanned reports whether ip is refused.
func (b *addrBook) isBanned(ip netip.Addr) bool { return b.banned[ip.Unmap()] }

// dialable reports whether a can be an entry at all.
func dialable(a netip.AddrPort) bool {
	ip := a.Addr()
	return ip.IsValid() && a.Port() != 0 && !ip.IsUnspecified() && !ip.IsMulticast()
}

// add puts addresses from src in the book, dialable at once, and returns
// how many were new. An address already there keeps its state and takes
// the better of its sources. Once the book is full, a new address evicts
// the least worth idle entry if that is worth less than a fresh address
// from src; when none is, add stops: the rest of addrs are worth the same.
func (b *addrBook) add(src addrSource, addrs []netip.AddrPort) int {
	var victims []*addrEntry // built on the first eviction, worst first
	n := 0
	for _, a := range addrs {
		a = unmap(a)
		if !dialable(a) || b.banned[a.Addr()] {
			continue
		}
		if e := b.entries[a]; e != nil {
			if src > e.src {
				e.src = src
				if e.idx >= 0 {
					heap.Fix(&b.due, e.idx)
				}
			}
			continue
		}
		e := &addrEntry{addr: a, src: src, idx: -1}
		if len(b.entries) >= b.max {
			if victims == nil {
				victims = b.victims(e.worth())
			}
			if len(victims) == 0 || victims[0].worth() >= e.worth() {
				break
			}
			b.remove(victims[0])
			victims = victims[1:]
		}
		b.entries[a] = e
		heap.Push(&b.due, e)
		n++
	}
	return n
}

// victims returns the idle entries worth less than worth, that may be
// evicted, worst first: least worth, then most failures.
func (b *addrBook) victims(worth int) []*addrEntry {
	vs := []*addrEntry{}
	for _, e := range b.entries {
		if e.state == addrIdle && e.src != srcUser && e.worth() < worth {
			vs = append(vs, e)
		}
	}
	slices.SortFunc(vs, func(x, y *addrEntry) int {
		return cmp.Or(cmp.Compare(x.worth(), y.worth()), cmp.Compare(y.fails, x.fails))
	})
	return vs
}

// next returns an address that may be dialed at now and marks it dialing;
// false if none is due.
func (b *addrBook) next(now time.Time) (netip.AddrPort, bool) {
	if len(b.due) == 0 || b.due[0].next.After(now) {
		return netip.AddrPort{}, false
	}
	e := heap.Pop(&b.due).(*addrEntry)
	e.state = addrDialing
	b.dialing++
	return e.addr, true
}

// connected notes an established connection to a (dialed by us).
func (b *addrBook) connected(a netip.AddrPort) {
	if e := b.entries[unmap(a)]; e != nil {
		b.leave(e)
		e.state, e.met = addrConnected, true
	}
}

// failed rests a after a failed dial: it may be dialed again after a wait
// that doubles with each rest in a row, from redialMin up to redialMax.
func (b *addrBook) failed(a netip.AddrPort, now time.Time) {
	if e := b.entries[unmap(a)]; e != nil {
		b.rest(e, now, false)
	}
}

// closed rests a after a connection to it ended, as failed does. An
// address not in the book (the listen address of a peer that connected to
// us) is added as srcIncoming first.
func (b *addrBook) closed(a netip.AddrPort, now time.Time) {
	a = unmap(a)
	if b.entries[a] == nil {
		b.add(srcIncoming, []netip.AddrPort{a})
	}
	if e := b.entries[a]; e != nil {
		b.rest(e, now, true)
	}
}

func (b *addrBook) rest(e *addrEntry, now time.Time, met bool) {
	if b.banned[e.addr.Addr()] {
		b.remove(e) // banned while we dialed it
		return
	}
	b.leave(e)
	e.met = e.met || met
	e.next = now.Add(min(redialMax, redialMin<<min(e.fails, 10)))
	e.fails++
	heap.Push(&b.due, e)
}

// hold makes a idle and not dialable before until, without counting a
// failure: our own address, a peer we are connected to already, a peer
// refused for lack of room.
func (b *addrBook) hold(a netip.AddrPort, until time.Time) {
	if e := b.entries[unmap(a)]; e != nil {
		if b.banned[e.addr.Addr()] {
			b.remove(e)
			return
		}
		b.leave(e)
		e.next = until
		heap.Push(&b.due, e)
	}
}

// ban refuses ip from now on and removes its addresses; one being dialed
// stays until its dial ends (it still counts as half-open), and the
// caller closes its connections.
func (b *addrBook) ban(ip netip.Addr) {
	ip = ip.Unmap()
	b.banned[ip] = true
	for a, e := range b.entries {
		if a.Addr() == ip && e.state != addrDialing {
			b.remove(e)
		}
	}
}

// leave takes e out of its state, leaving it idle and out of the heap.
func (b *addrBook) leave(e *addrEntry) {
	switch {
	case e.state == addrDialing:
		b.dialing--
	case e.idx >= 0:
		heap.Remove(&b.due, e.idx)
	}
	e.state = addrIdle
}

func (b *addrBook) remove(e *addrEntry) {
	b.leave(e)
	delete(b.entries, e.addr)
}

// dueHeap orders idle entries by when they may be dialed, the worthier
// first among equals (all new addresses are due at once).
type dueHeap []*addrEntry

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if c := h[i].next.Compare(h[j].next); c != 0 {
		return c < 0
	}
	return h[i].worth() > h[j].worth()
}
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *dueHeap) Push(x any) {
	e := x.(*addrEntry)
	e.idx = len(*h)
	*h = append(*h, e)
}
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.idx = -1
	return e
}
