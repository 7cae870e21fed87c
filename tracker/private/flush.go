package private

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
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
// the error of the last write, if it failed.
//
// A flush updates the users' totals and appends one journal row with the
// per-torrent deltas and the sessions' new counters; every
// Config.FoldInterval, and when Run stops, a fold moves the journal into
// user_torrents and a snapshot of the sessions. After a crash (SIGKILL,
// power cut) the announces of the last flush interval are not in the
// totals, but the counters written are the ones the written totals were
// counted up to, so the sessions' next announces bring those bytes back.
func (t *Tracker) Run(ctx context.Context) error {
	defer func() { t.conn.Close() }() // the last connection: reconnectIfBroken may replace it
	tick := time.NewTicker(t.cfg.FlushInterval)
	defer tick.Stop()
	sweepEvery := max(t.cfg.Interval/2, time.Second)
	lastSweep, lastFold := t.cfg.Now(), t.cfg.Now()
	for {
		select {
		case <-ctx.Done():
			// The final write must not be cut short by the cancelled ctx.
			return t.Fold(context.WithoutCancel(ctx))
		case done := <-t.reloads:
			done <- t.maybeReload(context.WithoutCancel(ctx))
			continue
		case <-tick.C:
		}
		now := t.cfg.Now()
		if now.Sub(lastSweep) >= sweepEvery {
			t.sweep(now)
			t.peers.sweep(now.Add(-2 * t.cfg.Interval).UnixNano())
			lastSweep = now
		}
		// Writes are never cut short: a transaction whose context ends
		// mid-way can leave the connection inside it (SQLite then refuses
		// the final fold's BEGIN). Shutdown waits for at most one write.
		wctx := context.WithoutCancel(ctx)
		var err error
		if now.Sub(lastFold) >= t.cfg.FoldInterval {
			err = t.Fold(wctx)
			lastFold = now
		} else {
			err = t.Flush(wctx)
		}
		if err == nil {
			err = t.maybeReload(wctx)
		}
		if err != nil {
			t.log.Error().Err(err).Msg("private tracker: database write or reload failed; retrying in a second")
			t.reconnectIfBroken(wctx)
		}
	}
}

// Reload makes the running tracker (Run) read the database's users,
// torrents and rules now, and returns once it has or ctx ends. The admin
// API calls it before it answers a change, so that a member created
// through it can announce at once: a client refused "unknown passkey" may
// not ask again for minutes (libtorrent backs off).
func (t *Tracker) Reload(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case t.reloads <- done:
	case <-ctx.Done():
		return fmt.Errorf("reload: %w", ctx.Err())
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("reload: %w", ctx.Err())
	}
}

// maybeReload reloads the snapshot if another connection (an admin command)
// committed since the last load.
func (t *Tracker) maybeReload(ctx context.Context) error {
	var v int64
	if err := t.conn.QueryRowContext(ctx, t.cfg.DB.dialect.dataVersion).Scan(&v); err != nil {
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

// takeBatch returns the batch a failed write left, or a new one.
func (t *Tracker) takeBatch() *batch {
	b := t.retry
	t.retry = nil
	if b == nil {
		b = &batch{totals: map[userTorrent]delta{}}
	}
	return b
}

// Flush writes what has been counted so far: the users' totals and one
// journal row. Run calls it every Config.FlushInterval; tests may too. Only
// Run's goroutine (or, before Run, one caller) may call it.
func (t *Tracker) Flush(ctx context.Context) error {
	b := t.takeBatch()
	t.shards.collect(b, nil)
	cheats := t.cheats.take()
	if b.empty() && len(cheats) == 0 {
		return nil
	}
	start := time.Now()
	deltas := inSeconds(b.totals)
	err := t.inTx(ctx, func(tx *sql.Tx) error {
		if err := writeCheats(ctx, tx, cheats); err != nil || b.empty() {
			return err
		}
		if err := addUserTotals(ctx, tx, t.cfg.DB.dialect, deltas); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO journal (data) VALUES (?)", encodeJournal(deltas, b.ops))
		return err
	})
	if err != nil {
		t.cheats.putBack(cheats)
		t.retry = b // the next flush writes it first, then what came after
		t.metrics.flushErrors.Inc()
		return fmt.Errorf("write totals: %w", err)
	}
	for _, sd := range deltas {
		e := t.unfolded[sd.ut]
		e.add(sd.d)
		t.unfolded[sd.ut] = e
	}
	t.metrics.flushSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// Fold writes what has been counted so far, adds every delta since the last
// fold to user_torrents in key order, replaces the session snapshot with
// the sessions as they are now and empties the journal, all in one
// transaction. Run calls it every Config.FoldInterval and when it stops.
func (t *Tracker) Fold(ctx context.Context) error {
	b := t.takeBatch()
	var chunks [][]byte
	t.shards.collect(b, &chunks)
	cheats := t.cheats.take()
	start := time.Now()
	deltas := inSeconds(b.totals)
	folded := make(map[userTorrent]delta, len(t.unfolded)+len(deltas))
	for ut, d := range t.unfolded {
		folded[ut] = d
	}
	for _, sd := range deltas {
		e := folded[sd.ut]
		e.add(sd.d)
		folded[sd.ut] = e
	}
	err := t.inTx(ctx, func(tx *sql.Tx) error {
		if err := addUserTotals(ctx, tx, t.cfg.DB.dialect, deltas); err != nil {
			return err
		}
		if err := addUserTorrents(ctx, tx, t.cfg.DB.dialect, folded); err != nil {
			return err
		}
		if err := addSnatches(ctx, tx, t.cfg.DB.dialect, folded, t.cfg.Now(), t.cfg.HnRWindow); err != nil {
			return err
		}
		if err := writeCheats(ctx, tx, cheats); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM session_snapshot"); err != nil {
			return err
		}
		for i, data := range chunks {
			if _, err := tx.ExecContext(ctx, "INSERT INTO session_snapshot (chunk, data) VALUES (?, ?)", i, data); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM journal")
		return err
	})
	if err != nil {
		// The batch's sessions are in no snapshot: journal them next time.
		t.retry = b
		t.cheats.putBack(cheats)
		t.metrics.flushErrors.Inc()
		return fmt.Errorf("fold journal: %w", err)
	}
	clear(t.unfolded)
	t.metrics.foldSeconds.Observe(time.Since(start).Seconds())
	return nil
}

func (t *Tracker) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := t.conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if q := t.cfg.DB.dialect.trackerTx; q != "" {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// connect takes the tracker's own connection from the database's pool.
func (t *Tracker) connect(ctx context.Context) error {
	c, err := t.cfg.DB.sql.Conn(ctx)
	if err != nil {
		return err
	}
	t.conn = c
	return nil
}

// reconnectIfBroken replaces the tracker's connection if it no longer
// answers: a PostgreSQL server restarted, or the network between broke.
// The pool dials a new one; until it can, writes keep failing and are
// retried.
func (t *Tracker) reconnectIfBroken(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if t.conn.PingContext(ctx) == nil {
		return
	}
	old := t.conn
	if err := t.connect(ctx); err != nil {
		t.log.Warn().Err(err).Msg("private tracker: database connection broken, reconnecting failed; retrying in a second")
		return
	}
	old.Close()
	t.log.Info().Msg("private tracker: database connection broken, reconnected")
}

// inSeconds lists the deltas with their seeding time rounded to seconds.
func inSeconds(m map[userTorrent]delta) []seedDelta {
	out := make([]seedDelta, 0, len(m))
	for ut, d := range m {
		d.seedNanos = int64(math.Round(float64(d.seedNanos) / 1e9))
		out = append(out, seedDelta{ut, d})
	}
	return out
}

// addUserTotals adds the deltas to the users' totals, one update per user.
func addUserTotals(ctx context.Context, tx *sql.Tx, dl *dialect, deltas []seedDelta) error {
	users := map[int64]delta{}
	for _, sd := range deltas {
		e := users[sd.ut.user]
		e.add(sd.d)
		users[sd.ut.user] = e
	}
	if dl.arrays {
		return pgAddUserTotals(ctx, tx, users)
	}
	st, err := tx.PrepareContext(ctx, `UPDATE users SET uploaded = uploaded + ?, downloaded = downloaded + ?,
		snatches = snatches + ?, seed_seconds = seed_seconds + ?,
		raw_uploaded = raw_uploaded + ?, raw_downloaded = raw_downloaded + ? WHERE id = ?`)
	if err != nil {
		return err
	}
	defer st.Close()
	for id, d := range users {
		if _, err := st.ExecContext(ctx, d.up, d.down, d.snatches, d.seedNanos, d.rawUp, d.rawDown, id); err != nil {
			return err
		}
	}
	return nil
}

// userTorrentsAdd is the SET of an upsert into user_torrents: each delta
// added to the row's total. The row's columns are named with the table:
// PostgreSQL finds a bare name ambiguous beside excluded's.
const userTorrentsAdd = `uploaded = user_torrents.uploaded + excluded.uploaded,
	downloaded = user_torrents.downloaded + excluded.downloaded,
	snatches = user_torrents.snatches + excluded.snatches, seed_seconds = user_torrents.seed_seconds + excluded.seed_seconds,
	raw_uploaded = user_torrents.raw_uploaded + excluded.raw_uploaded,
	raw_downloaded = user_torrents.raw_downloaded + excluded.raw_downloaded`

// addUserTorrents adds the deltas to user_torrents in key order, so that
// the B-tree's pages are visited in order and each is written once.
func addUserTorrents(ctx context.Context, tx *sql.Tx, dl *dialect, m map[userTorrent]delta) error {
	keys := make([]userTorrent, 0, len(m))
	for ut := range m {
		keys = append(keys, ut)
	}
	slices.SortFunc(keys, func(a, b userTorrent) int {
		return cmp.Or(cmp.Compare(a.user, b.user), slices.Compare(a.hash[:], b.hash[:]))
	})
	if dl.arrays {
		return pgAddUserTorrents(ctx, tx, keys, m)
	}
	// A user deleted since (DB.DeleteUser) is skipped: the foreign key
	// would fail the whole fold, again at every retry.
	st, err := tx.PrepareContext(ctx, `INSERT INTO user_torrents (user_id, info_hash, uploaded, downloaded, snatches, seed_seconds,
		raw_uploaded, raw_downloaded)
		SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE id = ?) ON CONFLICT (user_id, info_hash) DO UPDATE SET `+userTorrentsAdd)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, ut := range keys {
		d := m[ut]
		if _, err := st.ExecContext(ctx, ut.user, ut.hash[:], d.up, d.down, d.snatches, d.seedNanos, d.rawUp, d.rawDown, ut.user); err != nil {
			return err
		}
	}
	return nil
}

// collect moves every shard's pending totals and changed sessions into b,
// and if snap is not nil appends every shard's sessions to it as a snapshot
// chunk (encoded at once: a million sessions as structs would be 100 MB of
// garbage). Each shard's are taken under its lock at once, so that the
// counters written for a session match the totals written with them.
func (ss *shards) collect(b *batch, snap *[][]byte) {
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
		if snap != nil {
			*snap = append(*snap, encodeSessions(sh.sessions))
		}
		sh.mu.Unlock()
	}
}

// sweep closes the sessions not seen for two intervals: their clients are
// gone. The bytes they moved after their last announce are not known.
// Sessions restored at start and not announced since are kept for
// Config.RestoreGrace instead: their clients failed to reach the tracker
// while it was down and come back on their back-off, and without the
// session the bytes they moved meanwhile would be lost.
func (t *Tracker) sweep(now time.Time) {
	cutoff := now.Add(-2 * t.cfg.Interval).UnixNano()
	restoredCutoff := now.Add(-max(2*t.cfg.Interval, t.cfg.RestoreGrace)).UnixNano()
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for k, s := range sh.sessions {
			if s.seen < cutoff && (!s.restored || s.seen < restoredCutoff) {
				delete(sh.sessions, k)
				if !s.dirty {
					sh.dirty = append(sh.dirty, k)
				}
			}
		}
		sh.mu.Unlock()
	}
	t.sweepActivity(now)
}
