package private_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"syscall"
	"testing"
	"time"

	"swarm/internal/pgtest"
	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/private"
)

// BenchmarkFlush measures what the accounting costs the database: one
// flush (the users' totals and a journal row) after flushSessions sessions
// of as many users each announced once with bytes moved, as at about
// 10,000 announces a second, and one fold of them (per-torrent totals and
// the session snapshot), on SQLite and on PostgreSQL. Per flush: ms (wall
// time: at one flush a second, the share of the second spent writing),
// cpu-ms (this process) and server-cpu-ms (PostgreSQL's processes). On a
// machine shared with other jobs wall time waits for a core; CPU does not.
func BenchmarkFlush(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchFlush(b, sqliteStore) })
	b.Run("postgres", func(b *testing.B) { benchFlush(b, postgresStore(pgtest.Start(b))) })
}

const (
	flushSessions = 10_000
	flushTorrents = 1_000
)

func benchFlush(b *testing.B, s store) {
	ctx := context.Background()
	db, _ := s.open(b)
	users := make([]private.User, flushSessions)
	for i := range users {
		users[i] = addUser(b, db, fmt.Sprintf("u%d", i))
	}
	hashes := make([]metainfo.Hash, flushTorrents)
	for i := range hashes {
		binary.BigEndian.PutUint32(hashes[i][:], uint32(i))
		addTorrent(b, db, hashes[i])
	}
	r := newRig(b, db, private.Config{Rate: 1e6, Burst: 1e6})
	round := int64(0)
	announceAll := func() {
		round++
		for i, u := range users {
			p := peer(hashes[i%flushTorrents], fmt.Sprint(i), tracker.EventNone, round<<20, round<<19, 1<<30)
			if round == 1 {
				p.Event = tracker.EventStarted
			}
			r.mustAnnounce(b, u, p)
		}
		r.clock.Advance(time.Minute)
	}
	announceAll()
	r.flush(b)
	for _, what := range []string{"flush", "fold"} {
		b.Run(what, func(b *testing.B) {
			var spent, cpu, server time.Duration
			for b.Loop() {
				b.StopTimer()
				announceAll()
				b.StartTimer()
				start, cpu0, server0 := time.Now(), selfCPU(), time.Duration(0)
				if s.serverCPU != nil {
					server0 = s.serverCPU()
				}
				var err error
				if what == "flush" {
					err = r.tr.Flush(ctx)
				} else {
					err = r.tr.Fold(ctx)
				}
				spent += time.Since(start)
				cpu += selfCPU() - cpu0
				if s.serverCPU != nil {
					server += s.serverCPU() - server0
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
			b.ReportMetric(ms(spent), "ms/"+what)
			b.ReportMetric(ms(cpu), "cpu-ms/"+what)
			if s.serverCPU != nil {
				b.ReportMetric(ms(server), "server-cpu-ms/"+what)
			}
		})
	}
}

// selfCPU is the CPU time this process has used, user and system.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
