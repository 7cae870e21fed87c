package private

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"swarm/metainfo"
)

// The admin operations beyond adding and listing (db.go): what a site's
// back end does through the admin API. The SQL is kept to what SQLite and
// PostgreSQL both accept.

// CreateUser adds a user with passkey p, or a new random one if p is nil.
// Its id is one more than any user's, deleted users' included, so that a
// running tracker's sessions of a deleted user are never counted for a new
// one. The error wraps ErrExists when the name or the passkey is taken.
func (d *DB) CreateUser(ctx context.Context, name string, p *Passkey) (User, error) {
	if err := checkName(name); err != nil {
		return User{}, err
	}
	u := User{Name: name, Passkey: NewPasskey(), Created: time.Now().Truncate(time.Second)}
	if p != nil {
		u.Passkey = *p
	}
	// INSERT ... SELECT needs a WHERE before ON CONFLICT for SQLite to
	// parse it (the ON could start a join); PostgreSQL takes a parameter
	// in a SELECT list for text unless cast.
	err := d.sql.QueryRowContext(ctx, `INSERT INTO users (id, name, passkey, created)
		SELECT COALESCE(MAX(id), 0) + 1, ?, ?, CAST(? AS BIGINT) FROM (SELECT id FROM users UNION ALL SELECT id FROM deleted_users) AS ids WHERE true
		ON CONFLICT DO NOTHING RETURNING id`,
		name, u.Passkey.String(), u.Created.Unix()).Scan(&u.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("add user %s: name or passkey %w", name, ErrExists)
	}
	if err != nil {
		return User{}, fmt.Errorf("add user %s: %w", name, err)
	}
	return u, nil
}

// DeleteUser deletes a user, their totals per torrent and their snatches
// (the hit-and-run list); their cheat events stay. A running
// tracker refuses their passkey within a second; what their sessions count
// until then is dropped. Disable a user instead to keep their history.
func (d *DB) DeleteUser(ctx context.Context, name string) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete user %s: %w", name, err)
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, "SELECT id FROM users WHERE name = ?", name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("user %s: %w", name, ErrNotFound)
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"DELETE FROM user_torrents WHERE user_id = ?", []any{id}},
		{"DELETE FROM snatches WHERE user_id = ?", []any{id}}, // no hit-and-runs for a member gone; cheat events stay
		{"DELETE FROM users WHERE id = ?", []any{id}},
		{"INSERT INTO deleted_users (id, name, deleted) VALUES (?, ?, ?)", []any{id, name, time.Now().Unix()}},
	} {
		if err == nil {
			_, err = tx.ExecContext(ctx, q.sql, q.args...)
		}
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return fmt.Errorf("delete user %s: %w", name, err)
	}
	return nil
}

// Class is what a user may do, set by the site; the zero Class is the
// most restricted, a new user's is DefaultClass.
type Class struct {
	// CanLeech lets the user announce with something left to download;
	// without it only seeding (left=0) is accepted.
	CanLeech bool
}

// DefaultClass is a new user's class.
var DefaultClass = Class{CanLeech: true}

// SetClass sets a user's class. A running tracker applies it within a
// second.
func (d *DB) SetClass(ctx context.Context, name string, c Class) error {
	canLeech := 0 // an integer column in both SQLite and PostgreSQL
	if c.CanLeech {
		canLeech = 1
	}
	return d.updateUser(ctx, name, "UPDATE users SET can_leech = ? WHERE name = ?", canLeech, name)
}

// Classes returns every user's class by id.
func (d *DB) Classes(ctx context.Context) (map[int64]Class, error) {
	rows, err := d.sql.QueryContext(ctx, "SELECT id, can_leech FROM users")
	if err != nil {
		return nil, fmt.Errorf("read user classes: %w", err)
	}
	defer rows.Close()
	out := map[int64]Class{}
	for rows.Next() {
		var (
			id int64
			c  Class
		)
		if err := rows.Scan(&id, &c.CanLeech); err != nil {
			return nil, fmt.Errorf("read user classes: %w", err)
		}
		out[id] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read user classes: %w", err)
	}
	return out, nil
}

// Torrent returns the registered torrent h.
func (d *DB) Torrent(ctx context.Context, h metainfo.Hash) (Torrent, error) {
	t := Torrent{InfoHash: h}
	var (
		added int64
		kind  string
	)
	err := d.sql.QueryRowContext(ctx, "SELECT name, size, added, kind FROM torrents WHERE info_hash = ?", h.String()).
		Scan(&t.Name, &t.Size, &added, &kind)
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("torrent %s: %w", h, ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("torrent %s: %w", h, err)
	}
	t.Added = time.Unix(added, 0)
	if t.Kind, err = ParseKind(kind); err != nil {
		return t, fmt.Errorf("torrent %s: stored %w", h, err)
	}
	return t, nil
}

// TorrentTotals returns every torrent's totals over its users (registered
// or not), as of the running tracker's last fold (at most
// Config.FoldInterval ago).
func (d *DB) TorrentTotals(ctx context.Context) (map[metainfo.Hash]Totals, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT info_hash, SUM(uploaded), SUM(downloaded), SUM(snatches), SUM(seed_seconds)
		FROM user_torrents GROUP BY info_hash`)
	if err != nil {
		return nil, fmt.Errorf("torrent totals: %w", err)
	}
	defer rows.Close()
	out := map[metainfo.Hash]Totals{}
	for rows.Next() {
		var (
			h []byte
			t Totals
		)
		if err := rows.Scan(&h, &t.Uploaded, &t.Downloaded, &t.Snatches, &t.SeedSeconds); err != nil {
			return nil, fmt.Errorf("torrent totals: %w", err)
		}
		if len(h) != len(metainfo.Hash{}) {
			return nil, fmt.Errorf("torrent totals: stored hash of %d bytes", len(h))
		}
		out[metainfo.Hash(h)] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("torrent totals: %w", err)
	}
	return out, nil
}

// Activity is how many open sessions (client, torrent) seed and leech.
type Activity struct {
	Seeding, Leeching int
}

// Activity returns the open sessions per torrent and per user id as the
// tracker last wrote them (at most Config.FlushInterval ago while it runs;
// as it left them when it stopped), for a process without the tracker in
// it. Tracker.Activity gives the live figures.
func (d *DB) Activity(ctx context.Context) (map[metainfo.Hash]Activity, map[int64]Activity, error) {
	sessions := map[sessionKey]bool{} // seeder
	apply := func(ops []sessionOp) {
		for _, op := range ops {
			if op.gone {
				delete(sessions, op.key)
			} else {
				sessions[op.key] = op.s.seeder
			}
		}
	}
	// One transaction, so that a fold between the two reads cannot hide
	// the journal's changes.
	tx, err := d.sql.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, fmt.Errorf("read sessions: %w", err)
	}
	defer tx.Rollback()
	for _, table := range []string{"session_snapshot ORDER BY chunk", "journal ORDER BY seq"} {
		err := eachRow(ctx, tx, "SELECT data FROM "+table, func(data []byte) error {
			if table[0] == 's' {
				ops, err := decodeSnapshot(data)
				apply(ops)
				return err
			}
			_, ops, err := decodeJournal(data)
			apply(ops)
			return err
		})
		if err != nil {
			return nil, nil, fmt.Errorf("read sessions: %w", err)
		}
	}
	byTorrent, byUser := map[metainfo.Hash]Activity{}, map[int64]Activity{}
	for k, seeder := range sessions {
		byTorrent[k.hash] = byTorrent[k.hash].with(seeder)
		byUser[k.user] = byUser[k.user].with(seeder)
	}
	return byTorrent, byUser, nil
}

func (a Activity) with(seeder bool) Activity {
	if seeder {
		a.Seeding++
	} else {
		a.Leeching++
	}
	return a
}

// eachRow calls f with the one BLOB column of each row of query.
func eachRow(ctx context.Context, tx *sql.Tx, query string, f func([]byte) error) error {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return err
		}
		if err := f(data); err != nil {
			return err
		}
	}
	return rows.Err()
}

// CheckName accepts a user name: 1 to 64 letters, digits, '.', '_' and
// '-'. The admin API checks names with it before it asks the database.
func CheckName(name string) error { return checkName(name) }
