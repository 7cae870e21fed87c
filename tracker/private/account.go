package private

import (
	"encoding/binary"
	"sync"

	"swarm/metainfo"
	"swarm/tracker"
)

// Accounting works on cumulative counters. A client reports in every
// announce the bytes it has uploaded and downloaded since its "started"
// event (BEP 3); the tracker keeps the counters it last counted for each
// session, that is each (user, torrent, peer id), and adds the difference
// to the user's totals. Hence:
//   - a duplicate announce (an HTTP retry) adds nothing;
//   - an older announce replayed after a newer one has lower counters and
//     adds nothing;
//   - a client that restarts with the same peer id starts from zero again,
//     which it signals with "started": its counters are then counted from
//     zero, never as a negative transfer;
//   - an announce the tracker refuses or never sees loses nothing, since the
//     next one carries the bytes;
//   - "stopped" closes the session with its last counters;
//   - "completed", or left reaching 0 in a session that began leeching,
//     counts one snatch per session.
// A session unknown to the tracker (its first announce, or one after it
// expired) is counted from the counters it reports: a "started" reports
// zero anyway, and otherwise there is nothing to compare with.

// sessionKey names a session: one client's announces for one torrent.
type sessionKey struct {
	user int64
	hash metainfo.Hash
	peer [20]byte
}

// userTorrent names one user's totals on one torrent.
type userTorrent struct {
	user int64
	hash metainfo.Hash
}

// session is what the tracker keeps of a session between announces.
type session struct {
	up, down int64 // the counters last counted, in bytes
	seen     int64 // time of the last accepted announce, Unix nanoseconds
	started  int64 // time of the last "started" event, 0 if none
	seeder   bool  // the last announce had left=0
	snatched bool  // a "completed" was counted
	dirty    bool  // up, down, seeder or snatched changed since the last flush
	restored bool  // loaded from the database at start, not announced since
}

// delta is what announces add to a userTorrent's totals. up and down are
// the credited bytes, rawUp and rawDown the bytes counted before the
// torrent's Kind (freeleech.go); step fills in up and down only, apply the
// rest.
type delta struct {
	up, down       int64
	snatches       int64
	seedNanos      int64
	rawUp, rawDown int64
}

func (d delta) zero() bool { return d == delta{} }

func (d *delta) add(e delta) {
	d.up += e.up
	d.down += e.down
	d.snatches += e.snatches
	d.seedNanos += e.seedNanos
	d.rawUp += e.rawUp
	d.rawDown += e.rawDown
}

// announce is the part of a request accounting reads.
type announce struct {
	event          tracker.Event
	up, down, left int64
}

// policy is the timing that step applies, in nanoseconds.
type policy struct {
	// minInterval is the least time between two announces without an
	// event; 0 disables the check.
	minInterval int64
	// maxGap caps the seeding time one announce adds: a longer silence
	// means the seeder was away.
	maxGap int64
}

// verdict is what to do with an announce after step.
type verdict uint8

const (
	keepSession  verdict = iota // store the next session
	closeSession                // "stopped": forget the session
	tooSoon                     // refuse: min interval not respected
)

// step applies announce a, made at now, to the session prev (found tells
// whether there was one) and returns the next session, what to add to the
// totals and the verdict. It is the whole accounting rule, with no I/O.
func step(prev session, found bool, a announce, now int64, p policy) (session, delta, verdict) {
	var d delta
	if !found {
		if a.event == tracker.EventStopped {
			return prev, d, closeSession
		}
		next := session{up: a.up, down: a.down, seen: now, seeder: a.left == 0, dirty: true}
		if a.event == tracker.EventStarted {
			next.started = now
		}
		if a.event == tracker.EventCompleted {
			next.snatched, d.snatches = true, 1
		}
		return next, d, keepSession
	}
	// Clients announce early with an event, so only regular announces are
	// held to the min interval, less a tenth for clocks and timers.
	// A session restored after a restart may announce at once.
	if a.event == tracker.EventNone && !prev.restored && now-prev.seen < p.minInterval-p.minInterval/10 {
		return prev, d, tooSoon
	}
	next := prev
	next.seen, next.restored = now, false
	switch {
	case a.up >= prev.up && a.down >= prev.down:
		d.up, d.down = a.up-prev.up, a.down-prev.down
		next.up, next.down = a.up, a.down
	case a.event == tracker.EventStarted && now-prev.started >= p.minInterval:
		// The client restarted with the same peer id: its counters began
		// again at zero. (A "started" repeated within the min interval is a
		// duplicate, handled by the default case.)
		d.up, d.down = a.up, a.down
		next.up, next.down = a.up, a.down
	default:
		// Counters went down without a restart: a stale or replayed
		// announce. Count nothing and keep the higher counters, so the
		// bytes are not counted again when the client catches up.
	}
	if a.event == tracker.EventStarted {
		next.started = now
	}
	if prev.seeder && (a.left == 0 || a.event == tracker.EventStopped) {
		d.seedNanos = min(now-prev.seen, p.maxGap)
	}
	next.seeder = a.left == 0
	// A leecher that reports nothing left has completed, whether or not it
	// says so: aria2c, finishing before its next announce, sends only
	// "stopped".
	if !prev.snatched && (a.event == tracker.EventCompleted || !prev.seeder && a.left == 0) {
		next.snatched, d.snatches = true, 1
	}
	if a.event == tracker.EventStopped {
		return next, d, closeSession
	}
	next.dirty = prev.dirty || next.up != prev.up || next.down != prev.down ||
		next.seeder != prev.seeder || next.snatched != prev.snatched
	return next, d, keepSession
}

// fell reports whether a's counters are below prev's without a restart:
// step's last case, which counts nothing (anti-cheat records it).
func fell(prev session, a announce, now int64, p policy) bool {
	return (a.up < prev.up || a.down < prev.down) && !(a.event == tracker.EventStarted && now-prev.started >= p.minInterval)
}

// nShards is the number of session shards, each with its own mutex.
const nShards = 64

// shard is one slice of the sessions. mu guards every field; it is held
// only while one announce is applied or a flush takes the shard's changes.
type shard struct {
	mu       sync.Mutex
	sessions map[sessionKey]session
	// dirty lists the sessions to write or (if gone) delete at the next
	// flush; a key may appear twice.
	dirty []sessionKey
	// pending is what was counted since the last flush. It is taken with
	// dirty under mu, so that a flush writes the counters of a session and
	// the totals counted up to them in the same transaction.
	pending map[userTorrent]delta
	_       [64]byte // keep neighbouring shards' mutexes off one cache line
}

type shards [nShards]shard

func (ss *shards) init() {
	for i := range ss {
		ss[i].sessions = make(map[sessionKey]session)
		ss[i].pending = make(map[userTorrent]delta)
	}
}

// of returns the shard of k. Info hashes are uniform, but the user and the
// peer id are mixed in so that one torrent's sessions spread out.
func (ss *shards) of(k *sessionKey) *shard {
	x := binary.LittleEndian.Uint64(k.hash[:8]) ^ binary.LittleEndian.Uint64(k.peer[12:]) ^ uint64(k.user)
	return &ss[(x*0x9e3779b97f4a7c15)>>58]
}

// apply runs step for one announce under the shard's lock and records the
// result. It returns the delta counted, and false if the announce must be
// refused for the min interval.
func (sh *shard) apply(k sessionKey, a announce, now int64, p policy) (delta, bool) {
	return sh.applyJudged(k, a, now, p, nil)
}

// applyJudged is apply with j (if not nil) deciding, under the same lock,
// what of the counted bytes is credited (judge.credit): the totals a flush
// writes with a session's counters must be the ones counted up to them.
func (sh *shard) applyJudged(k sessionKey, a announce, now int64, p policy, j *judge) (delta, bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	prev, found := sh.sessions[k]
	next, d, v := step(prev, found, a, now, p)
	if v == tooSoon {
		return d, false
	}
	d.rawUp, d.rawDown = d.up, d.down
	if j != nil {
		j.credit(prev, found, &d)
	}
	switch v {
	case closeSession:
		if found {
			delete(sh.sessions, k)
			if !prev.dirty {
				sh.dirty = append(sh.dirty, k)
			}
		}
	case keepSession:
		if next.dirty && !prev.dirty {
			sh.dirty = append(sh.dirty, k)
		}
		sh.sessions[k] = next
	}
	if !d.zero() {
		ut := userTorrent{k.user, k.hash}
		e := sh.pending[ut]
		e.add(d)
		sh.pending[ut] = e
	}
	return d, true
}
