package private

import (
	"testing"

	"swarm/tracker"
)

func TestStep(t *testing.T) {
	const sec = int64(1e9)
	p := policy{minInterval: 10 * sec, maxGap: 60 * sec}
	base := session{up: 1000, down: 500, seen: 100 * sec, started: 50 * sec}
	seeding := session{up: 1000, down: 500, seen: 100 * sec, seeder: true}
	tests := []struct {
		name    string
		prev    session
		found   bool
		a       announce
		now     int64
		want    delta
		verdict verdict
		next    session // checked when verdict is keepSession; dirty is ignored
	}{
		{"first announce counts nothing", session{}, false,
			announce{event: tracker.EventStarted, up: 0, down: 0, left: 10},
			100 * sec, delta{}, keepSession, session{seen: 100 * sec, started: 100 * sec}},
		{"unknown session is counted from what it reports", session{}, false,
			announce{up: 7000, down: 3000, left: 10},
			100 * sec, delta{}, keepSession, session{up: 7000, down: 3000, seen: 100 * sec}},
		{"growth is counted", base, true,
			announce{up: 1500, down: 800, left: 10},
			120 * sec, delta{up: 500, down: 300}, keepSession, session{up: 1500, down: 800, seen: 120 * sec, started: 50 * sec}},
		{"duplicate adds nothing", base, true,
			announce{up: 1000, down: 500, left: 10},
			120 * sec, delta{}, keepSession, session{up: 1000, down: 500, seen: 120 * sec, started: 50 * sec}},
		{"replayed older announce adds nothing and keeps the counters", base, true,
			announce{up: 400, down: 100, left: 10},
			120 * sec, delta{}, keepSession, session{up: 1000, down: 500, seen: 120 * sec, started: 50 * sec}},
		{"restart with started counts from zero", base, true,
			announce{event: tracker.EventStarted, up: 30, down: 20, left: 10},
			120 * sec, delta{up: 30, down: 20}, keepSession, session{up: 30, down: 20, seen: 120 * sec, started: 120 * sec}},
		{"started repeated within min interval is a duplicate", base, true,
			announce{event: tracker.EventStarted, up: 0, down: 0, left: 10},
			55 * sec, delta{}, keepSession, session{up: 1000, down: 500, seen: 55 * sec, started: 55 * sec}},
		{"too soon without event", base, true,
			announce{up: 2000, down: 500, left: 10},
			105 * sec, delta{}, tooSoon, session{}},
		{"within a tenth of the min interval is accepted", base, true,
			announce{up: 2000, down: 500, left: 10},
			109 * sec, delta{up: 1000}, keepSession, session{up: 2000, down: 500, seen: 109 * sec, started: 50 * sec}},
		{"event may come early", base, true,
			announce{event: tracker.EventCompleted, up: 1000, down: 900, left: 0},
			101 * sec, delta{down: 400, snatches: 1}, keepSession, session{up: 1000, down: 900, seen: 101 * sec, started: 50 * sec, seeder: true, snatched: true}},
		{"a leecher reaching left=0 without completed is a snatch", base, true,
			announce{event: tracker.EventStopped, up: 1000, down: 900, left: 0},
			120 * sec, delta{down: 400, snatches: 1}, closeSession, session{}},
		{"completed from a session seeding all along still counts once", seeding, true,
			announce{event: tracker.EventCompleted, up: 1000, down: 500, left: 0},
			101 * sec, delta{seedNanos: 1 * sec, snatches: 1}, keepSession, session{up: 1000, down: 500, seen: 101 * sec, seeder: true, snatched: true}},
		{"second completed is no snatch", session{up: 1, seen: 100 * sec, snatched: true}, true,
			announce{event: tracker.EventCompleted, up: 1, left: 0},
			120 * sec, delta{}, keepSession, session{up: 1, seen: 120 * sec, seeder: true, snatched: true}},
		{"completed of an unknown session is a snatch", session{}, false,
			announce{event: tracker.EventCompleted, up: 1, left: 0},
			120 * sec, delta{snatches: 1}, keepSession, session{up: 1, seen: 120 * sec, seeder: true, snatched: true}},
		{"seeding time accrues", seeding, true,
			announce{up: 1000, down: 500, left: 0},
			130 * sec, delta{seedNanos: 30 * sec}, keepSession, session{up: 1000, down: 500, seen: 130 * sec, seeder: true}},
		{"seeding time is capped after a long silence", seeding, true,
			announce{up: 1000, down: 500, left: 0},
			1000 * sec, delta{seedNanos: 60 * sec}, keepSession, session{up: 1000, down: 500, seen: 1000 * sec, seeder: true}},
		{"a leecher accrues no seeding time", base, true,
			announce{up: 1000, down: 500, left: 5},
			130 * sec, delta{}, keepSession, session{up: 1000, down: 500, seen: 130 * sec, started: 50 * sec}},
		{"stopped counts the last bytes and closes", seeding, true,
			announce{event: tracker.EventStopped, up: 1200, down: 500, left: 0},
			110 * sec, delta{up: 200, seedNanos: 10 * sec}, closeSession, session{}},
		{"stopped of an unknown session is ignored", session{}, false,
			announce{event: tracker.EventStopped, up: 1200, down: 500},
			110 * sec, delta{}, closeSession, session{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, d, v := step(tt.prev, tt.found, tt.a, tt.now, p)
			if d != tt.want || v != tt.verdict {
				t.Errorf("step() delta %+v verdict %d, want %+v verdict %d", d, v, tt.want, tt.verdict)
			}
			next.dirty = false
			if v == keepSession && next != tt.next {
				t.Errorf("step() next %+v, want %+v", next, tt.next)
			}
		})
	}
}

// TestShardMarksChangesOnce: a session is listed for the next flush when
// its counters change or it closes, and only once until then.
func TestShardMarksChangesOnce(t *testing.T) {
	var ss shards
	ss.init()
	k := sessionKey{user: 1}
	sh := ss.of(&k)
	p := policy{}
	sh.apply(k, announce{event: tracker.EventStarted, left: 1}, 1, p)
	sh.apply(k, announce{up: 5, left: 1}, 2, p)
	sh.apply(k, announce{up: 9, left: 1}, 3, p)
	if len(sh.dirty) != 1 || sh.pending[userTorrent{user: 1}].up != 9 {
		t.Fatalf("after three announces: dirty %v, pending %+v; want one key, 9 bytes up", sh.dirty, sh.pending)
	}
	b := &batch{totals: map[userTorrent]delta{}}
	ss.collect(b, nil)
	sh.apply(k, announce{up: 9, left: 1}, 4, p)
	if len(sh.dirty) != 0 {
		t.Errorf("an announce that changed nothing listed the session: %v", sh.dirty)
	}
	sh.apply(k, announce{event: tracker.EventStopped, up: 9, left: 1}, 5, p)
	if len(sh.dirty) != 1 || len(sh.sessions) != 0 {
		t.Errorf("after stopped: dirty %v, sessions %v; want the key listed and no session", sh.dirty, sh.sessions)
	}
}
