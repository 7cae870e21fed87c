package server

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"time"
)

// errIPRate refuses an announce from a client address over Config.IPRate;
// errPrefixRate one from a client whose /24 (IPv6: /48) is over
// Config.PrefixRate.
var (
	errIPRate     = &refusal{label: "ip_rate", reason: "too many announces from your address, slow down"}
	errPrefixRate = &refusal{label: "prefix_rate", reason: "too many announces from your network, slow down"}
)

// ipLimiter is a token bucket per client address (or per network prefix),
// for announces: rate tokens a second, at most burst saved up.
//
// Its memory is bounded without a list to keep in order: each shard holds
// two generations of buckets, cur and old. An address is looked up in cur,
// then in old (and moved to cur); when cur reaches max entries it becomes
// old and the previous old is dropped. So a shard holds at most 2*max
// buckets, and an address keeps its bucket as long as fewer than max other
// addresses of its shard were seen since its last announce. A dropped
// bucket comes back full: an attacker gains nothing it would not gain by
// owning the addresses that pushed it out.
type ipLimiter struct {
	rate   float64 // tokens a nanosecond
	burst  float64
	v4, v6 int // prefix lengths an address is cut to
	shards []ipShard
}

type ipShard struct {
	mu       sync.Mutex // guards cur and old
	cur, old map[ipKey]bucket
	max      int      // entries in cur before it becomes old
	_        [64]byte // keep neighbouring shards' mutexes off one cache line
}

// ipKey is an address cut to the limiter's prefix, as 16 bytes (IPv4 mapped
// into IPv6).
type ipKey [16]byte

// bucket is one address's tokens as of at (Unix nanoseconds).
type bucket struct {
	tokens float64
	at     int64
}

const ipShards = 16

// Prefix lengths of the two limiters. Per address, an IPv6 client counts as
// its /64, the block one subscriber usually gets, so that stepping through
// the addresses of one's own /64 buys nothing. Per network, an IPv4 /24 and
// an IPv6 /48 (a site's usual block): one host given many addresses gets
// them from one such block, and the coarser limit bounds what they add up
// to, while per-address limits keep one client from using up its
// neighbours' share.
const (
	addrBits4, addrBits6     = 32, 64
	prefixBits4, prefixBits6 = 24, 48
)

// newIPLimiter limits each address, cut to v4 or v6 bits, to rate
// announces a second and burst at once, tracking at most about maxAddrs
// keys (twice that at worst).
func newIPLimiter(rate float64, burst, maxAddrs, v4, v6 int) *ipLimiter {
	l := &ipLimiter{rate: rate / float64(time.Second), burst: float64(burst), v4: v4, v6: v6, shards: make([]ipShard, ipShards)}
	for i := range l.shards {
		l.shards[i].max = max(maxAddrs/ipShards, 1)
		l.shards[i].cur = map[ipKey]bucket{}
	}
	return l
}

func (l *ipLimiter) keyOf(ip netip.Addr) ipKey {
	ip = ip.Unmap()
	bits := l.v6
	if ip.Is4() {
		bits = l.v4
	}
	p, err := ip.Prefix(bits)
	if err != nil { // an invalid address: parseAnnounce lets none through
		return ipKey{}
	}
	return ipKey(p.Addr().As16())
}

// allow takes one token from ip's bucket at now and reports whether there
// was one.
func (l *ipLimiter) allow(ip netip.Addr, now time.Time) bool {
	k := l.keyOf(ip)
	x := (binary.LittleEndian.Uint64(k[:8]) ^ binary.LittleEndian.Uint64(k[8:])) * 0x9e3779b97f4a7c15
	sh := &l.shards[x>>(64-4)] // ipShards = 1<<4
	t := now.UnixNano()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b, ok := sh.cur[k]
	if !ok {
		if b, ok = sh.old[k]; ok {
			delete(sh.old, k)
		} else {
			b = bucket{tokens: l.burst, at: t}
		}
		if len(sh.cur) >= sh.max {
			sh.old, sh.cur = sh.cur, make(map[ipKey]bucket, sh.max)
		}
	}
	if t > b.at {
		b.tokens = min(l.burst, b.tokens+float64(t-b.at)*l.rate)
		b.at = t
	}
	ok = b.tokens >= 1
	if ok {
		b.tokens--
	}
	sh.cur[k] = b
	return ok
}

// size is the number of buckets held.
func (l *ipLimiter) size() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.cur) + len(sh.old)
		sh.mu.Unlock()
	}
	return n
}
