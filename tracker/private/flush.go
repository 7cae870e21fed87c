package private

import (
	"context"
	"fmt"
	"math"
	"time"
)

// batch is what one flush writes: the totals counted since the last flush
// and the sessions changed, in the order they were taken.
type batch struct {
	totals map[userTorrent]delta
	ops    []sessionOp
}

// sessionOp writes a session's counters, or deletes it when gone.
type sessionOp struct {
	key  sessionKey
	s    session
	gone bool
}

func (b *batch) empty() bool { return len(b.totals) == 0 && len(b.ops) == 0 }

// Run writes the accounting to the database every Config.FlushInterval and
// once more when ctx is done, picks up users and torrents changed by admin
// commands, and closes sessions silent for two intervals. Stop the server
// first: announces accepted after Run returns are not written. Run returns
// the error of the last write, if it failed. After a crash (SIGKILL, power
// cut) the announces of the last flush interval are not in the totals; the
// sessions' next announces bring their bytes back, since the counters
// written are the ones the written totals were counted up to.
func (t *Tracker) Run(ctx context.Context) error {
	defer t.conn.Close()
	tick := time.NewTicker(t.cfg.FlushInterval)
	defer tick.Stop()
	sweepEvery := max(t.cfg.Interval/2, time.Second)
	lastSweep := t.cfg.Now()
	for {
		select {
		case <-ctx.Done():
			// The final flush must not be cut short by the cancelled ctx.
			return t.flush(context.WithoutCancel(ctx))
		case <-tick.C:
		}
		if now := t.cfg.Now(); now.Sub(lastSweep) >= sweepEvery {
			t.sweep(now)
			lastSweep = now
		}
		if err := t.flush(ctx); err != nil {
			t.log.Error().Err(err).Msg("private tracker: writing the totals failed; retrying in a second")
		}
		if err := t.maybeReload(ctx); err != nil {
			t.log.Error().Err(err).Msg("private tracker: reloading users and torrents failed")
		}
	}
}

// maybeReload reloads the snapshot if another connection (an admin command)
// committed since the last load.
func (t *Tracker) maybeReload(ctx context.Context) error {
	var v int64
	if err := t.conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		return fmt.Errorf("read data version: %w", err)
	}
	if v == t.dataVersion {
		return nil
	}
	if err := t.reload(ctx); err != nil {
		return err
	}
	s := t.snap.Load()
	t.log.Info().Int("users", s.enabled).Int("torrents", len(s.torrents)).Msg("private tracker reloaded users and torrents")
	return nil
}

// Flush writes what has been counted so far. Run calls it; tests and
// benchmarks may too.
func (t *Tracker) Flush(ctx context.Context) error { return t.flush(ctx) }

func (t *Tracker) flush(ctx context.Context) error {
	b := t.retry
	t.retry = nil
	if b == nil {
		b = &batch{totals: map[userTorrent]delta{}}
	}
	t.shards.collect(b)
	if b.empty() {
		return nil
	}
	start := time.Now()
	if err := t.write(ctx, b); err != nil {
		// Keep it: the next flush writes it first, then what came after.
		t.retry = b
		t.metrics.flushErrors.Inc()
		return err
	}
	t.metrics.flushSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// collect moves every shard's pending totals and changed sessions into b.
// Each shard's two are taken under its lock at once, so that the counters
// written for a session match the totals written with them.
func (ss *shards) collect(b *batch) {
	for i := range ss {
		sh := &ss[i]
		sh.mu.Lock()
		for _, k := range sh.dirty {
			s, ok := sh.sessions[k]
			switch {
			case !ok:
				b.ops = append(b.ops, sessionOp{key: k, gone: true})
			case s.dirty:
				s.dirty = false
				sh.sessions[k] = s
				b.ops = append(b.ops, sessionOp{key: k, s: s})
			}
		}
		sh.dirty = sh.dirty[:0]
		for ut, d := range sh.pending {
			e := b.totals[ut]
			e.add(d)
			b.totals[ut] = e
		}
		clear(sh.pending)
		sh.mu.Unlock()
	}
}

// write stores b in one transaction.
func (t *Tracker) write(ctx context.Context, b *batch) error {
	tx, err := t.conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write totals: %w", err)
	}
	defer tx.Rollback()
	upsertUT, err := tx.PrepareContext(ctx, `INSERT INTO user_torrents (user_id, info_hash, uploaded, downloaded, snatches, seed_seconds)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, info_hash) DO UPDATE SET
		uploaded = uploaded + excluded.uploaded, downloaded = downloaded + excluded.downloaded,
		snatches = snatches + excluded.snatches, seed_seconds = seed_seconds + excluded.seed_seconds`)
	if err != nil {
		return fmt.Errorf("write totals: %w", err)
	}
	addUser, err := tx.PrepareContext(ctx, `UPDATE users SET uploaded = uploaded + ?, downloaded = downloaded + ?,
		snatches = snatches + ?, seed_seconds = seed_seconds + ? WHERE id = ?`)
	if err != nil {
		return fmt.Errorf("write totals: %w", err)
	}
	upsertSession, err := tx.PrepareContext(ctx, `INSERT INTO sessions (user_id, info_hash, peer_id, uploaded, downloaded, seeder, snatched)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, info_hash, peer_id) DO UPDATE SET
		uploaded = excluded.uploaded, downloaded = excluded.downloaded, seeder = excluded.seeder, snatched = excluded.snatched`)
	if err != nil {
		return fmt.Errorf("write sessions: %w", err)
	}
	deleteSession, err := tx.PrepareContext(ctx, "DELETE FROM sessions WHERE user_id = ? AND info_hash = ? AND peer_id = ?")
	if err != nil {
		return fmt.Errorf("write sessions: %w", err)
	}
	users := map[int64]delta{}
	for ut, d := range b.totals {
		secs := seconds(d.seedNanos)
		if _, err := upsertUT.ExecContext(ctx, ut.user, ut.hash.String(), d.up, d.down, d.snatches, secs); err != nil {
			return fmt.Errorf("write totals: %w", err)
		}
		e := users[ut.user]
		e.add(delta{up: d.up, down: d.down, snatches: d.snatches, seedNanos: secs})
		users[ut.user] = e
	}
	for id, d := range users {
		if _, err := addUser.ExecContext(ctx, d.up, d.down, d.snatches, d.seedNanos, id); err != nil {
			return fmt.Errorf("write totals: %w", err)
		}
	}
	for _, op := range b.ops {
		k := &op.key
		if op.gone {
			_, err = deleteSession.ExecContext(ctx, k.user, k.hash.String(), k.peer[:])
		} else {
			_, err = upsertSession.ExecContext(ctx, k.user, k.hash.String(), k.peer[:], op.s.up, op.s.down, op.s.seeder, op.s.snatched)
		}
		if err != nil {
			return fmt.Errorf("write sessions: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write totals: %w", err)
	}
	return nil
}

// seconds rounds nanoseconds to whole seconds.
func seconds(ns int64) int64 { return int64(math.Round(float64(ns) / 1e9)) }

// sweep closes the sessions not seen for two intervals: their clients are
// gone. The bytes they moved after their last announce are not known.
func (t *Tracker) sweep(now time.Time) {
	cutoff := now.Add(-2 * t.cfg.Interval).UnixNano()
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for k, s := range sh.sessions {
			if s.seen < cutoff {
				delete(sh.sessions, k)
				if !s.dirty {
					sh.dirty = append(sh.dirty, k)
				}
			}
		}
		sh.mu.Unlock()
	}
}
