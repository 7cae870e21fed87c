package server

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"swarm/metainfo"
	"swarm/tracker"
)

// registry is the in-memory swarm state, split into shards by info hash so
// that announces to different torrents rarely wait for each other.
type registry struct {
	shards []shard
	shift  uint      // 64 - log2(len(shards))
	key    uint64    // mixed into the shard choice; from Config.Seed, so tests are repeatable
	epoch  time.Time // registry clock 0
	now    func() time.Time
	expiry uint32 // seconds without an announce after which a peer is dropped
	// maxSwarms bounds the swarms held (0: no bound); nswarms counts them
	// over all shards, so that the bound is exact without a global lock.
	maxSwarms int64
	nswarms   atomic.Int64
}

// shard is one slice of the registry. mu guards every field and every swarm
// in swarms; it is held only while one request reads or changes them.
type shard struct {
	mu       sync.Mutex
	swarms   map[metainfo.Hash]*swarm
	rng      *rand.Rand
	seeders  int      // peers with left=0, over all swarms of the shard
	leechers int      // the other peers
	snatches int64    // completed events counted
	sel      []int32  // scratch for sample
	set      intSet   // scratch for sample
	_        [64]byte // keep neighbouring shards' mutexes off one cache line
}

// swarm is the peers of one torrent.
type swarm struct {
	v4 peerList[addr4]
	v6 *peerList[addr6] // nil while the swarm has no IPv6 peer: 32 bytes saved on most swarms
	// downloaded counts completed events (snatches), saturating.
	downloaded uint32
	// sweepAt is the registry time before which no peer can have expired
	// (the oldest last-seen plus expiry); for an empty swarm, when it may be
	// dropped.
	sweepAt uint32
}

func (sw *swarm) empty() bool  { return sw.v4.len() == 0 && sw.v6.len() == 0 }
func (sw *swarm) seeders() int { return sw.v4.nseeders() + sw.v6.nseeders() }
func (sw *swarm) leechers() int {
	return sw.v4.leechers() + sw.v6.leechers()
}

func newRegistry(shards int, seed uint64, now func() time.Time, expiry time.Duration) *registry {
	if seed == 0 {
		seed = rand.Uint64()
	}
	r := &registry{
		shards: make([]shard, shards),
		shift:  uint(64 - bits.TrailingZeros(uint(shards))),
		key:    rand.New(rand.NewPCG(seed, seed)).Uint64(),
		epoch:  now(),
		now:    now,
		expiry: uint32(max(expiry/time.Second, 1)),
	}
	for i := range r.shards {
		r.shards[i].swarms = make(map[metainfo.Hash]*swarm)
		r.shards[i].rng = rand.New(rand.NewPCG(seed, uint64(i)))
	}
	return r
}

// clock returns the registry time in whole seconds since the epoch.
func (r *registry) clock() uint32 {
	d := r.now().Sub(r.epoch)
	if d < 0 {
		return 0
	}
	return uint32(min(d/time.Second, 1<<32-1))
}

// shard picks the shard of h. Info hashes are SHA-1 digests, already
// uniform; the key and the multiply keep hashes chosen to share a prefix
// from piling into one shard.
func (r *registry) shard(h metainfo.Hash) *shard {
	x := (binary.LittleEndian.Uint64(h[:8]) ^ r.key) * 0x9e3779b97f4a7c15
	return &r.shards[x>>r.shift]
}

// reply is what an announce takes out of the registry, copied while the
// shard is locked so the encoding happens after it is released.
type reply struct {
	complete, incomplete int
	v4, v6               []byte // compact peers
	ids4, ids6           []byte // 20-byte peer ids in the order of v4 and v6, when wantIDs
	wantIDs              bool
	// oneFamily limits the sample to the asker's address family: a UDP
	// reply holds peers of one size, 6 bytes over IPv4, 18 over IPv6.
	oneFamily bool
}

func (rp *reply) reset(wantIDs bool) {
	*rp = reply{v4: rp.v4[:0], v6: rp.v6[:0], ids4: rp.ids4[:0], ids6: rp.ids6[:0], wantIDs: wantIDs}
}

// errFull refuses an announce that would start a swarm past
// Config.MaxSwarms.
var errFull = &refusal{label: "max_swarms", reason: "this tracker is full: it tracks no new torrents for now"}

// announce applies req to its swarm and fills rp with the swarm's counts and
// a uniform random sample of at most req.NumWant other peers. It returns
// errFull, and changes nothing, if req would start a swarm past maxSwarms;
// swarms already held carry on.
//
// A known seed (left=0 after it showed a download: see peer.fetched) is sent
// leechers only, since other seeds are no use to it. Any other left=0 peer
// is sent seeds too: a magnet client without the metadata (aria2) announces
// left=0 because it does not know the size yet, and a seed started from
// complete data looks the same; sending them leechers only hid each from the
// other (issue 21). opentracker never filters seeds out of a reply.
func (r *registry) announce(req *AnnounceRequest, rp *reply) error {
	now := r.clock()
	sh := r.shard(req.InfoHash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sw := sh.swarms[req.InfoHash]
	if sw == nil {
		if req.Event == tracker.EventStopped {
			return nil
		}
		if n := r.nswarms.Add(1); r.maxSwarms > 0 && n > r.maxSwarms {
			r.nswarms.Add(-1)
			return errFull
		}
		sw = &swarm{}
		sh.swarms[req.InfoHash] = sw
	}
	sh.maybeSweep(sw, now, r.expiry)

	var (
		pos      int  // the asker's slot, -1 once it has left
		known    bool // the asker is a known seed
		ip       = req.Addr.Addr().Unmap()
		isIPv6   = !ip.Is4()
		wasEmpty = sw.empty()
	)
	if isIPv6 {
		var k addr6
		*(*[16]byte)(k[:]) = ip.As16()
		binary.BigEndian.PutUint16(k[16:], req.Addr.Port())
		if sw.v6 == nil {
			sw.v6 = &peerList[addr6]{}
		}
		pos, known = apply(sh, sw, sw.v6, k, req, now)
		if sw.v6.len() == 0 {
			sw.v6 = nil
		}
	} else {
		var k addr4
		*(*[4]byte)(k[:]) = ip.As4()
		binary.BigEndian.PutUint16(k[4:], req.Addr.Port())
		pos, known = apply(sh, sw, &sw.v4, k, req, now)
	}
	switch {
	case sw.empty() && sw.downloaded == 0:
		// Nothing worth keeping: the last peer left a swarm without
		// snatches.
		delete(sh.swarms, req.InfoHash)
		r.nswarms.Add(-1)
		return nil
	case sw.empty():
		// Keep the snatch count for a while; sweep drops it later.
		sw.sweepAt = now + r.expiry
	case wasEmpty:
		sw.sweepAt = now + r.expiry + 1
	}
	rp.complete, rp.incomplete = sw.seeders(), sw.leechers()
	if pos >= 0 && req.NumWant > 0 {
		sh.sample(sw, isIPv6, pos, known, req.NumWant, rp)
	}
	return nil
}

// apply records req in l (the list of the asker's family) and returns the
// asker's slot (-1 after a stopped event) and whether the asker is a known
// seed.
func apply[K addrKey](sh *shard, sw *swarm, l *peerList[K], k K, req *AnnounceRequest, now uint32) (int, bool) {
	i, found := l.find(k)
	if req.Event == tracker.EventStopped {
		if found {
			sh.count(i < l.seeders, -1)
			l.remove(i)
		}
		return -1, false
	}
	seeder := req.Left == 0
	fetched := req.Left > 0 || req.Downloaded > 0 || req.Event == tracker.EventCompleted
	// A completed event counts once per peer: not again from a peer that
	// was already known as a seeder.
	snatch := req.Event == tracker.EventCompleted && (!found || i >= l.seeders)
	if snatch {
		sh.snatches++
		if sw.downloaded < 1<<32-1 {
			sw.downloaded++
		}
	}
	if !found {
		sh.count(seeder, 1)
		return l.add(peer[K]{addr: k, id: req.PeerID, fetched: fetched, seen: now}, seeder), seeder && fetched
	}
	p := &l.peers[i]
	p.id = req.PeerID
	p.seen = now
	// A started event begins a new session: a client that deleted its data
	// and is fetching a magnet again from the same address is not a seed.
	if req.Event == tracker.EventStarted {
		p.fetched = fetched
	} else {
		p.fetched = p.fetched || fetched
	}
	fetched = p.fetched
	if was := i < l.seeders; was != seeder {
		sh.count(was, -1)
		sh.count(seeder, 1)
		i = l.setSeeder(i, seeder)
	}
	return i, seeder && fetched
}

func (sh *shard) count(seeder bool, d int) {
	if seeder {
		sh.seeders += d
	} else {
		sh.leechers += d
	}
}

// sample appends to rp a uniformly random subset of at most numWant peers of
// sw, drawn from the leechers if leechersOnly and from all peers otherwise,
// never the asker itself (in slot pos of its family's list).
//
// The candidates are numbered as one virtual array: the IPv4 group, then the
// IPv6 group, with the asker's own number skipped. Floyd's algorithm picks k
// distinct numbers out of m with k random draws, each subset equally likely.
func (sh *shard) sample(sw *swarm, isIPv6 bool, pos int, leechersOnly bool, numWant int, rp *reply) {
	lo4, lo6 := 0, 0
	if leechersOnly {
		lo4, lo6 = sw.v4.seeders, sw.v6.nseeders()
	}
	m4 := len(sw.v4.peers) - lo4
	m6 := sw.v6.len() - lo6
	switch {
	case rp.oneFamily && isIPv6:
		m4 = 0
	case rp.oneFamily:
		m6 = 0
	}
	self := -1 // the asker's virtual number, if it is a candidate
	switch {
	case !isIPv6 && pos >= lo4:
		self = pos - lo4
	case isIPv6 && pos >= lo6:
		self = m4 + pos - lo6
	}
	m := m4 + m6
	if self >= 0 {
		m--
	}
	k := min(numWant, m)
	sel := sh.sel[:0]
	switch {
	case k == m:
		for t := range m {
			sel = append(sel, int32(t))
		}
	default:
		set := sh.set.reset(k)
		for j := m - k; j < m; j++ {
			t := int32(sh.rng.IntN(j + 1))
			if !set.add(t) {
				// t was drawn before; j cannot have been (all draws so far
				// were below j), which is what keeps Floyd's subsets uniform.
				t = int32(j)
				set.add(t)
			}
			sel = append(sel, t)
		}
	}
	for _, t := range sel {
		v := int(t)
		if self >= 0 && v >= self {
			v++
		}
		if v < m4 {
			p := &sw.v4.peers[lo4+v]
			rp.v4 = p.addr.appendCompact(rp.v4)
			if rp.wantIDs {
				rp.ids4 = append(rp.ids4, p.id[:]...)
			}
		} else {
			p := &sw.v6.peers[lo6+v-m4]
			rp.v6 = p.addr.appendCompact(rp.v6)
			if rp.wantIDs {
				rp.ids6 = append(rp.ids6, p.id[:]...)
			}
		}
	}
	sh.sel = sel
}

// maybeSweep drops the expired peers of sw if any can have expired.
func (sh *shard) maybeSweep(sw *swarm, now, expiry uint32) {
	if now < sw.sweepAt || sw.empty() {
		return
	}
	oldest := sweepList(sh, &sw.v4, now, expiry)
	if sw.v6 != nil {
		oldest = min(oldest, sweepList(sh, sw.v6, now, expiry))
		if sw.v6.len() == 0 {
			sw.v6 = nil
		}
	}
	switch {
	case sw.empty() && sw.downloaded == 0:
		sw.sweepAt = now // nothing to keep: the next sweep drops it
	case sw.empty():
		sw.sweepAt = now + expiry // keep the snatch count a while
	default:
		sw.sweepAt = oldest + expiry + 1
	}
}

// sweepList drops the peers of l last seen more than expiry seconds before
// now and returns the oldest last-seen time of those left (now if none).
func sweepList[K addrKey](sh *shard, l *peerList[K], now, expiry uint32) uint32 {
	oldest := now
	for i := 0; i < len(l.peers); {
		p := &l.peers[i]
		if now > p.seen && now-p.seen > expiry {
			sh.count(i < l.seeders, -1)
			l.remove(i) // moves an unvisited peer into slot i
			continue
		}
		oldest = min(oldest, p.seen)
		i++
	}
	return oldest
}

// sweep drops expired peers from every swarm and drops swarms that have been
// empty for expiry. It locks one shard at a time.
func (r *registry) sweep() {
	now := r.clock()
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for h, sw := range sh.swarms {
			sh.maybeSweep(sw, now, r.expiry)
			if sw.empty() && now >= sw.sweepAt {
				delete(sh.swarms, h)
				r.nswarms.Add(-1)
			}
		}
		sh.mu.Unlock()
	}
}

// dropIf drops every swarm whose info hash drop reports true, with its
// peers: the torrents an allow or deny list newly refuses give their memory
// back at once. It locks one shard at a time and returns how many it
// dropped.
func (r *registry) dropIf(drop func(metainfo.Hash) bool) int {
	n := 0
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for h, sw := range sh.swarms {
			if !drop(h) {
				continue
			}
			sh.seeders -= sw.seeders()
			sh.leechers -= sw.leechers()
			delete(sh.swarms, h)
			r.nswarms.Add(-1)
			n++
		}
		sh.mu.Unlock()
	}
	return n
}

// scrapeCounts is one torrent's entry of a scrape reply.
type scrapeCounts struct {
	complete, incomplete, downloaded int64
}

// scrape returns the counts of h, all zero for an unknown torrent.
func (r *registry) scrape(h metainfo.Hash) scrapeCounts {
	now := r.clock()
	sh := r.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sw := sh.swarms[h]
	if sw == nil {
		return scrapeCounts{}
	}
	sh.maybeSweep(sw, now, r.expiry)
	return scrapeCounts{int64(sw.seeders()), int64(sw.leechers()), int64(sw.downloaded)}
}

// stats are registry-wide totals for the metrics.
type stats struct {
	swarms, seeders, leechers int
	snatches                  int64
}

func (r *registry) stats() stats {
	var s stats
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		s.swarms += len(sh.swarms)
		s.seeders += sh.seeders
		s.leechers += sh.leechers
		s.snatches += sh.snatches
		sh.mu.Unlock()
	}
	return s
}

// intSet is a small open-addressing set of non-negative int32s, sized for the
// k numbers of one sample: O(1) per add, O(k) to reset, no allocation once
// grown.
type intSet struct {
	slots []int32 // -1 marks an empty slot
	shift uint
}

// reset empties the set and sizes it for n numbers (load at most 1/2).
func (s *intSet) reset(n int) *intSet {
	size := 8
	for size < 2*n {
		size *= 2
	}
	if cap(s.slots) < size {
		s.slots = make([]int32, size)
	}
	s.slots = s.slots[:size]
	for i := range s.slots {
		s.slots[i] = -1
	}
	s.shift = uint(64 - bits.TrailingZeros(uint(size)))
	return s
}

// add inserts v and reports whether it was new.
func (s *intSet) add(v int32) bool {
	mask := len(s.slots) - 1
	i := int(uint64(v) * 0x9e3779b97f4a7c15 >> s.shift)
	for {
		switch s.slots[i] {
		case -1:
			s.slots[i] = v
			return true
		case v:
			return false
		}
		i = (i + 1) & mask
	}
}
