package dht

import (
	"net/netip"
	"time"
)

// limiter caps the replies we send to each source address: a token bucket
// of burst tokens refilled at rate per second. It keys on address and port,
// not address alone, because many honest nodes can share an address
// (loopback tests, NAT); a flood from many ports still meets the table's
// cap. At most max sources are tracked; when a new one arrives with the
// table full, sources that are back at full burst are forgotten first, and
// if none are the newcomer is refused. Not safe for concurrent use.
type limiter struct {
	rate    float64
	burst   float64
	max     int
	sources map[netip.AddrPort]*tokenBucket
}

type tokenBucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(rate float64, burst, max int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), max: max, sources: map[netip.AddrPort]*tokenBucket{}}
}

// allow takes a token for src and reports whether it had one.
func (l *limiter) allow(src netip.AddrPort, now time.Time) bool {
	b := l.sources[src]
	if b == nil {
		if len(l.sources) >= l.max {
			l.sweep(now)
			if len(l.sources) >= l.max {
				return false
			}
		}
		b = &tokenBucket{tokens: l.burst, at: now}
		l.sources[src] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep forgets sources whose bucket has refilled: they are no different
// from a source never seen.
func (l *limiter) sweep(now time.Time) {
	for src, b := range l.sources {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.sources, src)
		}
	}
}
