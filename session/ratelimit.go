package session

import (
	"context"
	"time"

	"golang.org/x/time/rate"

	"swarm/peer"
)

// newLimiter returns a limiter for bytesPerSec, nil for unlimited. The burst
// is a tenth of a second of traffic, and at least one block, since a
// reservation larger than the burst never succeeds. It starts empty (see
// emptyBucket).
func newLimiter(bytesPerSec int64) *rate.Limiter {
	if bytesPerSec == 0 {
		return nil
	}
	burst := max(int(bytesPerSec/10), peer.BlockSize)
	l := rate.NewLimiter(rate.Limit(bytesPerSec), burst)
	emptyBucket(l)
	return l
}

// emptyBucket empties l's bucket of saved tokens, so that from now on no more
// than rate × t goes through in t seconds. A full bucket at the start let
// every peer of a lab send a tenth of a second for free, and a swarm of 4
// with F = 2 MiB finish under the bound (D/bound 0.87; issue 20). A bucket
// in debt (reservations waiting) is left as it is.
func emptyBucket(l *rate.Limiter) {
	now := time.Now()
	if tok := l.TokensAt(now); tok >= 1 && l.Limit() != rate.Inf {
		l.ReserveN(now, int(tok))
	}
}

// budget is the set of limits one direction of a connection obeys: its
// torrent's and the session's. Loopback peers obey them too (libtorrent
// exempts local peers by default; a lab on 127.0.0.1 depends on not doing
// that).
type budget []*rate.Limiter

func makeBudget(ls ...*rate.Limiter) budget {
	var b budget
	for _, l := range ls {
		if l != nil {
			b = append(b, l)
		}
	}
	return b
}

// reserve takes n bytes from every limiter and says how long to wait before
// moving them. Reserving from all at once (rather than waiting on each in
// turn) keeps a slow torrent limit from holding session tokens idle.
func (b budget) reserve(n int) time.Duration {
	if len(b) == 0 {
		return 0
	}
	now := time.Now()
	var wait time.Duration
	for _, l := range b {
		r := l.ReserveN(now, n) // n ≤ one block ≤ burst, so r is OK
		wait = max(wait, r.DelayFrom(now))
	}
	return wait
}

// reserveUndo is reserve that also returns a function that gives the
// tokens back (as far as later reservations allow), for bytes that turn out
// not to be sent.
func (b budget) reserveUndo(n int) (time.Duration, func()) {
	now := time.Now()
	var wait time.Duration
	rs := make([]*rate.Reservation, 0, len(b))
	for _, l := range b {
		r := l.ReserveN(now, n)
		rs = append(rs, r)
		wait = max(wait, r.DelayFrom(now))
	}
	return wait, func() {
		for _, r := range rs {
			r.Cancel()
		}
	}
}

// limited reports whether some limiter of b has a finite rate.
func (b budget) limited() bool {
	for _, l := range b {
		if l.Limit() != rate.Inf {
			return true
		}
	}
	return false
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
