package private

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"swarm/metainfo"
	"swarm/tracker"
)

// CheatKind is why an announce's bytes were not credited. The announce is
// still answered, so the peer stays in the swarm: a false positive costs
// an honest user some credit, never their download.
type CheatKind string

const (
	// CheatTooFast: the upload since the last announce is faster than
	// Config.MaxRate.
	CheatTooFast CheatKind = "too_fast"
	// CheatNoLeechers: upload claimed on a torrent where no other peer was
	// leeching at any time since the last announce.
	CheatNoLeechers CheatKind = "no_leechers"
	// CheatDecreasing: a counter went down within a session, without the
	// "started" of a restarted client.
	CheatDecreasing CheatKind = "decreasing"
	// CheatNegative: a negative counter (the server's parsers refuse them;
	// counted in case a Hook caller does not).
	CheatNegative CheatKind = "negative"
)

var cheatKinds = [...]CheatKind{CheatTooFast, CheatNoLeechers, CheatDecreasing, CheatNegative}

// CheatEvent is one announce whose bytes were not credited.
type CheatEvent struct {
	UserID   int64         `json:"user_id"`
	User     string        `json:"user"` // empty if the user was deleted
	InfoHash metainfo.Hash `json:"info_hash"`
	Kind     CheatKind     `json:"kind"`
	// Claimed is the bytes not credited: the upload delta for too_fast and
	// no_leechers, the fall of the counter for decreasing.
	Claimed int64      `json:"claimed"`
	At      time.Time  `json:"at"`
	IP      netip.Addr `json:"ip"`
}

// CheatQuery selects cheat events: zero fields select everything.
type CheatQuery struct {
	UserID int64     // only this user's
	Since  time.Time // only events at or after
	Limit  int       // at most this many, newest first; 0 means 1000
}

// CheatEvents returns the recorded events, newest first. The running
// tracker writes them with each flush (a second).
func (d *DB) CheatEvents(ctx context.Context, q CheatQuery) ([]CheatEvent, error) {
	if q.Limit <= 0 {
		q.Limit = 1000
	}
	var (
		where []string
		args  []any
	)
	if q.UserID != 0 {
		where, args = append(where, "c.user_id = ?"), append(args, q.UserID)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "c.at >= ?"), append(args, q.Since.Unix())
	}
	query := "SELECT c.user_id, COALESCE(u.name, ''), c.info_hash, c.kind, c.claimed, c.at, c.ip FROM cheat_events c LEFT JOIN users u ON u.id = c.user_id"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY c.at DESC LIMIT ?"
	rows, err := d.sql.QueryContext(ctx, query, append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("list cheat events: %w", err)
	}
	defer rows.Close()
	var out []CheatEvent
	for rows.Next() {
		var (
			e        CheatEvent
			h, ip    string
			kind     string
			at       int64
			parseErr error
		)
		if err := rows.Scan(&e.UserID, &e.User, &h, &kind, &e.Claimed, &at, &ip); err != nil {
			return nil, fmt.Errorf("list cheat events: %w", err)
		}
		if e.InfoHash, parseErr = metainfo.ParseHash(h); parseErr != nil {
			return nil, fmt.Errorf("list cheat events: stored %w", parseErr)
		}
		e.IP, _ = netip.ParseAddr(ip) // an event from a Hook caller without an address has none
		e.Kind, e.At = CheatKind(kind), time.Unix(at, 0)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list cheat events: %w", err)
	}
	return out, nil
}

// DefaultMaxRate is Config.MaxRate's default: 1 GiB/s, far above any link
// a member seeds from, far below what a forged counter claims.
const DefaultMaxRate = 1 << 30

// The anti-cheat rules run in the announce path, on memory only, under the
// lock of the announcing session's shard (judge.credit): what the counters
// say was moved since the last announce is credited only if
//   - the counters did not fall within the session (CheatDecreasing; step
//     then counts nothing anyway, and keeps the higher counters);
//   - the upload is no faster than Config.MaxRate over the time since the
//     session's last announce, or over two intervals for a session the
//     tracker did not see start (CheatTooFast);
//   - some other peer was leeching the torrent at some time during that
//     interval: on a private torrent, a peer can only upload to peers that
//     the tracker knows (CheatNoLeechers).
// Refused bytes are in neither the raw nor the credited totals; the
// announce is answered all the same, and each refusal is kept (cheatLog)
// and written to cheat_events with the next flush.

// judge decides what of one announce is credited. It lives on the
// announcing goroutine's stack.
type judge struct {
	t      *Tracker
	rules  *ruleSet
	key    sessionKey
	a      announce
	addr   netip.Addr
	now    int64
	events [2]cheatEvent
	n      int
}

// cheatEvent is a CheatEvent before it is written.
type cheatEvent struct {
	ut      userTorrent
	kind    CheatKind
	claimed int64
	at      int64 // Unix nanoseconds
	addr    netip.Addr
}

func (j *judge) record(kind CheatKind, claimed int64) {
	if j.n < len(j.events) {
		j.events[j.n] = cheatEvent{ut: userTorrent{j.key.user, j.key.hash}, kind: kind, claimed: claimed, at: j.now, addr: j.addr}
		j.n++
	}
}

// credit applies the anti-cheat rules and the torrent's Kind to d, whose
// raw and credited counts both hold what step counted, and notes the
// session's part in the swarm (leeching or not) for others' announces.
func (j *judge) credit(prev session, found bool, d *delta) {
	t, a := j.t, &j.a
	if found && fell(prev, *a, j.now, t.policy) {
		j.record(CheatDecreasing, max(prev.up-a.up, 0)+max(prev.down-a.down, 0))
	}
	self := peerKey{j.key.user, j.key.peer}
	var q *leechQuery
	if d.rawUp > 0 {
		// The interval the bytes were moved in: since the last announce;
		// for a session new to the tracker, the longest a session lives
		// unseen. A session restored after a restart moved its bytes since
		// the last write before the crash, over the downtime: at least as
		// long as the longest unseen life for the rate, and for leechers
		// since the restart, when the leechers restored with it count as
		// present.
		since, elapsed := j.now-t.policy.maxGap, t.policy.maxGap
		if found {
			since, elapsed = prev.seen, j.now-prev.seen
			if prev.restored {
				elapsed = max(elapsed, t.policy.maxGap)
			}
		}
		if t.cfg.MaxRate > 0 && float64(d.rawUp) > float64(t.cfg.MaxRate)*float64(elapsed)/1e9 {
			j.record(CheatTooFast, d.rawUp)
			d.rawUp = 0
		} else {
			q = &leechQuery{since: since, expiry: t.policy.maxGap, up: d.rawUp, rate: max(t.cfg.MaxRate, 0)}
		}
	}
	leeching, stopped := a.left > 0 && a.event != tracker.EventStopped, a.event == tracker.EventStopped
	others, budget := t.activity.observe(j.key.hash, self, leeching, stopped, j.now, q)
	switch {
	case q != nil && !others:
		j.record(CheatNoLeechers, d.rawUp)
		d.rawUp = 0
	case q != nil && !budget:
		// Within the rate for this client, beyond it for the member's
		// clients on the torrent together: each new peer id would
		// otherwise bring another MaxRate.
		j.record(CheatTooFast, d.rawUp)
		d.rawUp = 0
	}
	up, down := j.rules.factors(j.key.hash, j.now)
	d.up, d.down = d.rawUp*up, d.rawDown*down
}

// peerKey names one client of one user in a swarm.
type peerKey struct {
	user int64
	peer [20]byte
}

// activity is what the anti-cheat rules know of each torrent's swarm
// beyond one session: who leeches it, and from which addresses each user
// announces it. It is sharded by info hash; a shard's mutex guards its map
// and is taken inside a session shard's lock, never the other way round.
type activity [nShards]activityShard

type activityShard struct {
	mu     sync.Mutex
	swarms map[metainfo.Hash]*swarmActivity
	_      [64]byte // keep neighbouring shards' mutexes off one cache line
}

// swarmActivity is one torrent's.
type swarmActivity struct {
	// leechers holds the time of the last announce of each peer whose last
	// announce had left > 0, in Unix nanoseconds.
	leechers map[peerKey]int64
	// leaves are the last two leechers to complete or stop, latest first:
	// the latest other than the one asking tells whether someone left
	// during its interval.
	leaves [2]leave
	// addrs lists, per user, the addresses their clients announce from
	// (only with Config.MaxIPsPerTorrent).
	addrs map[int64][]addrSeen
	// budgets holds, per user, what their clients together may still be
	// credited for uploads (spend); a user without one has a full budget.
	budgets map[int64]budget
}

// budget is a member's upload credit left on one torrent: it fills at
// Config.MaxRate up to that rate over maxGap, the most one client's
// announce may claim, and each credited upload takes from it.
type budget struct {
	bytes float64
	at    int64 // Unix nanoseconds of the last fill
}

type leave struct {
	peer peerKey
	at   int64 // Unix nanoseconds; 0 if none
}

// leaveGrace is how long after a leecher left uploads to it are still
// believed: clients report their counters a second or two behind their
// transfers (libtorrent updates them once a second), so the bytes a seeder
// sent just before the leecher completed may come with an announce made
// just after.
const leaveGrace = int64(10 * time.Second)

type addrSeen struct {
	addr netip.Addr
	peer [20]byte
	seen int64
}

func (a *activity) shard(h metainfo.Hash) *activityShard {
	return &a[binary.LittleEndian.Uint64(h[:8])%nShards]
}

func (sh *activityShard) swarm(h metainfo.Hash) *swarmActivity {
	if sh.swarms == nil {
		sh.swarms = map[metainfo.Hash]*swarmActivity{}
	}
	s := sh.swarms[h]
	if s == nil {
		s = &swarmActivity{leechers: map[peerKey]int64{}}
		sh.swarms[h] = s
	}
	return s
}

// leechQuery asks observe whether a peer other than the one announcing
// leeched at some time since since: one left during it (or leaveGrace
// before), or one announced leeching at most expiry before it (the server
// lists a peer for two intervals after its last announce); and, if so and
// rate > 0, to take up from the user's budget (spend), whose burst is
// expiry at rate.
type leechQuery struct{ since, expiry, up, rate int64 }

// observe answers q (others false if q is nil; budget whether the upload
// fits the user's budget, true unless it was asked) and then records
// self's announce at now: leeching, or not (completed, seeding, stopped).
// A stopped client also gives up its address. One lock for all: it runs on
// every announce.
func (a *activity) observe(h metainfo.Hash, self peerKey, leeching, stopped bool, now int64, q *leechQuery) (others, budget bool) {
	sh := a.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := sh.swarms[h]
	others, budget = q != nil && s != nil && s.othersLeeching(self, q.since, q.expiry), true
	if others && q.rate > 0 {
		budget = s.spend(self.user, q.up, now, q.rate, q.expiry)
	}
	if s == nil && !leeching {
		return others, budget
	}
	if s == nil {
		s = sh.swarm(h)
	}
	if leeching {
		s.leechers[self] = now
	} else if _, ok := s.leechers[self]; ok {
		delete(s.leechers, self)
		if s.leaves[0].peer != self {
			s.leaves[1] = s.leaves[0]
		}
		s.leaves[0] = leave{self, now}
	}
	if stopped && s.addrs != nil {
		s.addrs[self.user] = slices.DeleteFunc(s.addrs[self.user], func(e addrSeen) bool { return e.peer == self.peer })
	}
	return others, budget
}

// othersLeeching looks at other users' clients only: a user's own second
// client leeching is nobody to credit an upload to, or one member alone
// could claim up to Config.MaxRate with forged counters.
func (s *swarmActivity) othersLeeching(self peerKey, since, expiry int64) bool {
	for _, l := range s.leaves {
		if l.at != 0 && l.peer.user != self.user {
			if l.at > since-leaveGrace {
				return true
			}
			break
		}
	}
	for k, seen := range s.leechers {
		if k.user != self.user && seen >= since-expiry {
			return true
		}
	}
	return false
}

// spend takes up bytes from user's upload budget at now and reports
// whether there were enough; if not, it takes nothing. The budget fills at
// rate bytes a second up to rate over burst nanoseconds.
func (s *swarmActivity) spend(user, up, now, rate, burst int64) bool {
	if s.budgets == nil {
		s.budgets = map[int64]budget{}
	}
	full := float64(rate) * float64(burst) / 1e9
	b, ok := s.budgets[user]
	if !ok {
		b.bytes = full
	} else {
		b.bytes = min(full, b.bytes+float64(rate)*float64(now-b.at)/1e9)
	}
	b.at = now
	enough := float64(up) <= b.bytes
	if enough {
		b.bytes -= float64(up)
	}
	s.budgets[user] = b
	return enough
}

// admit records that self announces h from addr at now, unless its user
// already announces h from max other addresses seen within expiry; a
// client changing address keeps its place.
func (a *activity) admit(h metainfo.Hash, self peerKey, addr netip.Addr, now, expiry int64, max int) bool {
	sh := a.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := sh.swarm(h)
	if s.addrs == nil {
		s.addrs = map[int64][]addrSeen{}
	}
	list := slices.DeleteFunc(s.addrs[self.user], func(e addrSeen) bool { return e.seen < now-expiry || e.peer == self.peer })
	distinct, known := 0, false
	for i, e := range list {
		if e.addr == addr {
			known = true
		}
		if !slices.ContainsFunc(list[:i], func(f addrSeen) bool { return f.addr == e.addr }) {
			distinct++
		}
	}
	if !known && distinct >= max {
		s.addrs[self.user] = list
		return false
	}
	s.addrs[self.user] = append(list, addrSeen{addr: addr, peer: self.peer, seen: now})
	return true
}

// sweepActivity forgets what no announce can ask about any more. A
// session is judged from its last announce, at most two intervals ago (a
// little more for one the session sweep has not reached yet), or for one
// restored at start from the start, at most Config.RestoreGrace ago; it
// looks back two intervals further for leechers and leaveGrace for leaves.
func (t *Tracker) sweepActivity(now time.Time) {
	expiry := 2 * t.cfg.Interval
	horizon := max(3*expiry, t.cfg.RestoreGrace+expiry) + time.Duration(leaveGrace)
	t.activity.sweep(now.Add(-horizon).UnixNano())
}

// sweep forgets the leechers, leaves and addresses older than cutoff, and
// swarms left empty.
func (a *activity) sweep(cutoff int64) {
	for i := range a {
		sh := &a[i]
		sh.mu.Lock()
		for h, s := range sh.swarms {
			maps.DeleteFunc(s.leechers, func(_ peerKey, seen int64) bool { return seen < cutoff })
			maps.DeleteFunc(s.addrs, func(_ int64, l []addrSeen) bool {
				return !slices.ContainsFunc(l, func(e addrSeen) bool { return e.seen >= cutoff })
			})
			// A budget unused since the cutoff (more than maxGap ago) is
			// full again: the same as none.
			maps.DeleteFunc(s.budgets, func(_ int64, b budget) bool { return b.at < cutoff })
			if len(s.leechers) == 0 && len(s.addrs) == 0 && len(s.budgets) == 0 && s.leaves[0].at < cutoff {
				delete(sh.swarms, h)
			}
		}
		sh.mu.Unlock()
	}
}

// cheatLog holds the events not yet written, at most maxPendingCheats: a
// flood of forged announces must not grow memory without bound.
type cheatLog struct {
	mu      sync.Mutex
	pending []cheatEvent
}

const maxPendingCheats = 10_000

// add keeps evs, and returns how many it had to drop.
func (l *cheatLog) add(evs []cheatEvent) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := min(len(evs), maxPendingCheats-len(l.pending))
	l.pending = append(l.pending, evs[:max(n, 0)]...)
	return len(evs) - max(n, 0)
}

func (l *cheatLog) take() []cheatEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	evs := l.pending
	l.pending = nil
	return evs
}

// putBack returns events whose write failed, ahead of newer ones.
func (l *cheatLog) putBack(evs []cheatEvent) {
	if len(evs) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = append(evs, l.pending...)
	if len(l.pending) > maxPendingCheats {
		l.pending = l.pending[:maxPendingCheats]
	}
}

// writeCheats inserts events into cheat_events.
func writeCheats(ctx context.Context, tx *sql.Tx, evs []cheatEvent) error {
	if len(evs) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, "INSERT INTO cheat_events (user_id, info_hash, kind, claimed, at, ip) VALUES (?, ?, ?, ?, ?, ?)")
	if err != nil {
		return err
	}
	defer st.Close()
	for _, e := range evs {
		ip := ""
		if e.addr.IsValid() {
			ip = e.addr.String()
		}
		if _, err := st.ExecContext(ctx, e.ut.user, e.ut.hash.String(), string(e.kind), e.claimed, e.at/1e9, ip); err != nil {
			return err
		}
	}
	return nil
}

// noteRestoredLeechers marks the leechers among the sessions restored at
// start as leeching now, so that the seeders they download from are
// credited when they announce again.
func (t *Tracker) noteRestoredLeechers() {
	now := t.cfg.Now().UnixNano()
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for k, s := range sh.sessions {
			if !s.seeder {
				t.activity.observe(k.hash, peerKey{k.user, k.peer}, true, false, now, nil)
			}
		}
		sh.mu.Unlock()
	}
}
