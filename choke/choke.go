package choke

import (
	"cmp"
	"errors"
	"math/rand/v2"
	"slices"
	"time"
)

// Defaults for Config fields left zero.
const (
	DefaultSlots              = 4
	DefaultRechokeInterval    = 10 * time.Second
	DefaultOptimisticInterval = 30 * time.Second
	DefaultNewPeerWindow      = 60 * time.Second
	DefaultSeedQuota          = 1 << 20
	// DefaultSeedSlots is libtorrent's unchoke_slots_limit.
	DefaultSeedSlots = 8
	// newPeerWeight is how much likelier a new peer is to get the
	// optimistic slot than an old one.
	newPeerWeight = 3
)

// Config configures a Choker.
type Config struct {
	// Slots is the number of regular unchoke slots; 0 means 4.
	Slots int
	// OptimisticInterval is how long the optimistic unchoke stays on one
	// peer; 0 means 30 s.
	OptimisticInterval time.Duration
	// NewPeerWindow is how long after connecting a peer counts as new for
	// the optimistic slot; 0 means 60 s.
	NewPeerWindow time.Duration
	// SeedQuota is how many bytes a peer gets from a seeding slot before
	// the slot may rotate to a peer that has waited longer; 0 means 1 MiB.
	// The session sets it to a piece (SetSeedQuota).
	SeedQuota int64
	// SeedSlots is the number of slots while seeding, all of them
	// rotating (there is no optimistic slot then); 0 means 8.
	SeedSlots int
	// Rand picks the optimistic peer; nil means a randomly seeded source.
	Rand *rand.Rand
}

// Peer is what the choker knows of one connected peer at a rechoke.
type Peer[K comparable] struct {
	Key K
	// Interested: the peer wants pieces from us. Only interested peers
	// hold slots.
	Interested bool
	// DownRate is how fast the peer has sent us payload, bytes per second
	// over the last 20 s; UpRate how fast we have sent it.
	DownRate, UpRate float64
	// Snubbed: we wanted blocks from it and got none for 60 s.
	Snubbed bool
	// UnchokesUs: the peer gives us a slot of its own. Among peers equally
	// fast to us (all of them before the first blocks) those come first:
	// a free rider never unchokes anyone.
	UnchokesUs bool
	// Connected is when the connection was made.
	Connected time.Time
	// Unchoked: the peer holds a slot now. Among equally fast peers the
	// current holders keep their slots, so ties do not churn.
	Unchoked bool
	// UnchokedAt is when the peer's current slot began, or its last one if
	// it is choked; zero if it never had one. SentSinceUnchoke is what we
	// have sent it in its current slot. Seeding rotates slots by them.
	UnchokedAt       time.Time
	SentSinceUnchoke int64
	// Evidence is what the peer is known to have uploaded, in bytes: to
	// us, and to others as far as a seed can tell (Evidence). A seed's
	// slots go to peers with evidence first (EvidenceBar).
	Evidence float64
}

// Reciprocates says whether the peer gives us anything back: payload over
// the last 20 s, or a slot of its own.
func (p Peer[K]) Reciprocates() bool { return p.DownRate > 0 || p.UnchokesUs }

// Choker keeps the optimistic slot between rechokes. It is not safe for
// concurrent use.
type Choker[K comparable] struct {
	cfg        Config
	optimistic K
	hasOpt     bool
	optSince   time.Time
}

// New checks cfg and fills in its defaults.
func New[K comparable](cfg Config) (*Choker[K], error) {
	if cfg.Slots < 0 || cfg.OptimisticInterval < 0 || cfg.NewPeerWindow < 0 || cfg.SeedQuota < 0 || cfg.SeedSlots < 0 {
		return nil, errors.New("choke: negative value in Config")
	}
	cfg.Slots = cmp.Or(cfg.Slots, DefaultSlots)
	cfg.OptimisticInterval = cmp.Or(cfg.OptimisticInterval, DefaultOptimisticInterval)
	cfg.NewPeerWindow = cmp.Or(cfg.NewPeerWindow, DefaultNewPeerWindow)
	cfg.SeedQuota = cmp.Or(cfg.SeedQuota, DefaultSeedQuota)
	cfg.SeedSlots = cmp.Or(cfg.SeedSlots, DefaultSeedSlots)
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return &Choker[K]{cfg: cfg}, nil
}

// SeedQuota returns how many bytes a seeding slot gives before it may
// rotate; SetSeedQuota sets it (n > 0), e.g. to the torrent's piece length
// once it is known.
func (c *Choker[K]) SeedQuota() int64 { return c.cfg.SeedQuota }

// SetSeedQuota sets the seeding quota to n bytes if n > 0.
func (c *Choker[K]) SetSeedQuota(n int64) {
	if n > 0 {
		c.cfg.SeedQuota = n
	}
}

// Slots returns how many peers may hold a slot at once: the regular slots
// and the optimistic one, or the seeding slots.
func (c *Choker[K]) Slots(seeding bool) int {
	if seeding {
		return c.cfg.SeedSlots
	}
	return c.cfg.Slots + 1
}

// Optimistic returns the peer holding the optimistic slot, if any.
func (c *Choker[K]) Optimistic() (K, bool) { return c.optimistic, c.hasOpt }

// Rechoke returns the set of peers to unchoke now: the regular slots by the
// rules in the package doc, plus the optimistic one. seeding says whether we
// have every piece. Call it every rechoke interval and when a peer holding
// a slot leaves or loses interest.
func (c *Choker[K]) Rechoke(now time.Time, peers []Peer[K], seeding bool) map[K]bool {
	unchoke := make(map[K]bool, c.cfg.Slots+1)
	var candidates []Peer[K]
	for _, p := range peers {
		// The optimistic peer earns a regular slot by its rate, not by
		// holding the slot when rates tie at zero.
		earned := seeding || !c.hasOpt || p.Key != c.optimistic || p.DownRate > 0
		if p.Interested && !(p.Snubbed && !seeding) && earned {
			candidates = append(candidates, p)
		}
	}
	// Ties (all zero at start) in a random order so no peer is favoured by
	// its place in the list.
	c.cfg.Rand.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
	if seeding {
		// Peers that show evidence of uploading first; the rotation
		// among equals.
		bar := EvidenceBar(peers)
		slices.SortStableFunc(candidates, func(a, b Peer[K]) int {
			if c := cmp.Compare(b2i(b.Evidence >= bar), b2i(a.Evidence >= bar)); c != 0 {
				return c
			}
			return c.seedOrder(now, a, b)
		})
	} else {
		// Fastest to us first; among equals, those that unchoke us, then
		// current holders that gave us something (a holder that gave
		// nothing keeps no tie: that is how a free rider kept a slot).
		slices.SortStableFunc(candidates, func(a, b Peer[K]) int {
			if c := cmp.Compare(b.DownRate, a.DownRate); c != 0 {
				return c
			}
			if c := cmp.Compare(b2i(b.UnchokesUs), b2i(a.UnchokesUs)); c != 0 {
				return c
			}
			return cmp.Compare(b2i(b.Unchoked && b.DownRate > 0), b2i(a.Unchoked && a.DownRate > 0))
		})
	}
	slots := c.cfg.Slots
	if seeding {
		slots = c.cfg.SeedSlots
	}
	for _, p := range candidates[:min(len(candidates), slots)] {
		unchoke[p.Key] = true
	}
	if seeding {
		// The seeding slots rotate through every interested peer: no
		// optimistic slot is needed to reach newcomers.
		var zero K
		c.optimistic, c.hasOpt = zero, false
		return unchoke
	}

	// Keep the optimistic peer for its interval while it is still a
	// choked, interested peer; otherwise pick a new one.
	keep := false
	if c.hasOpt && now.Sub(c.optSince) < c.cfg.OptimisticInterval {
		for _, p := range peers {
			if p.Key == c.optimistic && p.Interested && !unchoke[p.Key] {
				keep = true
			}
		}
	}
	if !keep {
		c.pickOptimistic(now, peers, unchoke)
	}
	if c.hasOpt {
		unchoke[c.optimistic] = true
	}
	return unchoke
}

// EvidenceBar is the Evidence an interested peer needs for a seed's
// slots to come to it before peers with less: a quarter of the
// interested peers' mean. Zero, so every peer passes, while nobody has
// any: then the slots rotate among all (a lone leecher, the start of a
// swarm). Peers below it still get slots nobody above it wants, so a seed
// never idles while a free rider wants data.
func EvidenceBar[K comparable](peers []Peer[K]) float64 {
	var sum float64
	n := 0
	for _, p := range peers {
		if p.Interested {
			sum += p.Evidence
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n) / 4
}

// seedOrder ranks peers for a seed's regular slots: holders still short of
// their quota first (a slot is not taken away mid-piece; a slow taker keeps
// it at most an optimistic interval), then waiting peers, the one whose
// last slot began longest ago first (never comes first), then holders whose
// turn is over; the fastest first among equals.
func (c *Choker[K]) seedOrder(now time.Time, a, b Peer[K]) int {
	tier := func(p Peer[K]) int {
		switch {
		case !p.Unchoked:
			return 1
		case p.SentSinceUnchoke < c.cfg.SeedQuota && now.Sub(p.UnchokedAt) < c.cfg.OptimisticInterval:
			return 0
		default:
			return 2
		}
	}
	if c := cmp.Compare(tier(a), tier(b)); c != 0 {
		return c
	}
	if c := a.UnchokedAt.Compare(b.UnchokedAt); c != 0 {
		return c
	}
	return cmp.Compare(b.UpRate, a.UpRate)
}

// pickOptimistic draws a choked, interested peer, new peers weighted three
// to one.
func (c *Choker[K]) pickOptimistic(now time.Time, peers []Peer[K], regular map[K]bool) {
	var zero K
	c.optimistic, c.hasOpt = zero, false
	total := 0
	weight := func(p Peer[K]) int {
		if !p.Interested || regular[p.Key] {
			return 0
		}
		if now.Sub(p.Connected) < c.cfg.NewPeerWindow {
			return newPeerWeight
		}
		return 1
	}
	for _, p := range peers {
		total += weight(p)
	}
	if total == 0 {
		return
	}
	n := c.cfg.Rand.IntN(total)
	for _, p := range peers {
		if n -= weight(p); n < 0 {
			c.optimistic, c.hasOpt, c.optSince = p.Key, true, now
			return
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
