package private

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"swarm/metainfo"
)

// Defaults of the hit-and-run rule: a user who snatched a torrent must
// seed it for DefaultHnRSeedTime within DefaultHnRWindow of the snatch.
const (
	DefaultHnRSeedTime = 72 * time.Hour
	DefaultHnRWindow   = 14 * 24 * time.Hour
)

// HitAndRun is a user who snatched a torrent and has seeded it less than
// the seed time within the window after the snatch.
type HitAndRun struct {
	UserID   int64         `json:"user_id"`
	User     string        `json:"user"`
	InfoHash metainfo.Hash `json:"info_hash"`
	Name     string        `json:"name"` // empty if the torrent is no longer registered
	Snatched time.Time     `json:"snatched"`
	// SeedSeconds is the seeding time counted within the window so far, to
	// the running tracker's last fold (a minute).
	SeedSeconds int64 `json:"seed_seconds"`
	// WindowEnd is when the window closes. Before it the user may still
	// seed enough; after it, Seeded is final.
	WindowEnd time.Time `json:"window_end"`
	Closed    bool      `json:"closed"`
}

// HnRQuery selects hit-and-runs. Zero durations mean the defaults, a zero
// Now the current time and a zero UserID every user.
type HnRQuery struct {
	SeedTime, Window time.Duration
	Now              time.Time
	UserID           int64
	// Closed keeps only those whose window has closed: the hit-and-runs a
	// site punishes, rather than the snatches still at risk.
	Closed bool
}

// HitAndRuns returns the snatches seeded less than q.SeedTime, oldest
// snatch first. The seeding time counted is what the tracker saw within
// its own Config.HnRWindow of the snatch; give the same window here.
func (d *DB) HitAndRuns(ctx context.Context, q HnRQuery) ([]HitAndRun, error) {
	if q.SeedTime <= 0 {
		q.SeedTime = DefaultHnRSeedTime
	}
	if q.Window <= 0 {
		q.Window = DefaultHnRWindow
	}
	if q.Now.IsZero() {
		q.Now = time.Now()
	}
	query := `SELECT s.user_id, COALESCE(u.name, ''), s.info_hash, COALESCE(t.name, ''), s.snatched_at, s.seed_seconds
		FROM snatches s LEFT JOIN users u ON u.id = s.user_id LEFT JOIN torrents t ON t.info_hash = s.info_hash
		WHERE s.seed_seconds < ? AND s.snatched_at <= ?`
	args := []any{int64(q.SeedTime / time.Second), q.Now.Unix()}
	if q.Closed {
		query += " AND s.snatched_at < ?"
		args = append(args, q.Now.Add(-q.Window).Unix())
	}
	if q.UserID != 0 {
		query += " AND s.user_id = ?"
		args = append(args, q.UserID)
	}
	query += " ORDER BY s.snatched_at, s.user_id, s.info_hash"
	rows, err := d.sql.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list hit-and-runs: %w", err)
	}
	defer rows.Close()
	var out []HitAndRun
	for rows.Next() {
		var (
			h    HitAndRun
			hash string
			at   int64
		)
		if err := rows.Scan(&h.UserID, &h.User, &hash, &h.Name, &at, &h.SeedSeconds); err != nil {
			return nil, fmt.Errorf("list hit-and-runs: %w", err)
		}
		if h.InfoHash, err = metainfo.ParseHash(hash); err != nil {
			return nil, fmt.Errorf("list hit-and-runs: stored %w", err)
		}
		h.Snatched = time.Unix(at, 0)
		h.WindowEnd = h.Snatched.Add(q.Window)
		h.Closed = !q.Now.Before(h.WindowEnd)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list hit-and-runs: %w", err)
	}
	return out, nil
}

// addSnatches records, at a fold at now, the first snatch of each
// user-torrent that snatched since the last fold, and adds the seeding
// time folded to the snatches still within window: the hit-and-run rule
// counts seeding after the snatch only. The snatch time is the fold's, up
// to Config.FoldInterval late, which a rule measured in days can afford.
func addSnatches(ctx context.Context, tx *sql.Tx, dl *dialect, m map[userTorrent]delta, now time.Time, window time.Duration) error {
	if dl.arrays {
		return pgAddSnatches(ctx, tx, m, now, window)
	}
	var ins, upd *sql.Stmt
	defer func() {
		for _, st := range []*sql.Stmt{ins, upd} {
			if st != nil {
				st.Close()
			}
		}
	}()
	var err error
	for ut, d := range m {
		if d.snatches > 0 {
			if ins == nil {
				// Not for a user deleted since (DB.DeleteUser), as in
				// addUserTorrents.
				ins, err = tx.PrepareContext(ctx, `INSERT INTO snatches (user_id, info_hash, snatched_at)
					SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE id = ?)
					ON CONFLICT (user_id, info_hash) DO NOTHING`)
				if err != nil {
					return err
				}
			}
			if _, err := ins.ExecContext(ctx, ut.user, ut.hash.String(), now.Unix(), ut.user); err != nil {
				return err
			}
		}
	}
	for ut, d := range m {
		if d.seedNanos > 0 { // seconds here (inSeconds)
			if upd == nil {
				upd, err = tx.PrepareContext(ctx, `UPDATE snatches SET seed_seconds = seed_seconds + ?
					WHERE user_id = ? AND info_hash = ? AND snatched_at >= ?`)
				if err != nil {
					return err
				}
			}
			if _, err := upd.ExecContext(ctx, d.seedNanos, ut.user, ut.hash.String(), now.Add(-window).Unix()); err != nil {
				return err
			}
		}
	}
	return nil
}
