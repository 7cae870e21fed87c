package private

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver: pure Go, no cgo

	"swarm/metainfo"
)

// migrations are the schema, one step per version (PRAGMA user_version
// counts the steps applied). Append new steps; never edit an old one, since
// databases in use have already run it. Hashes are stored as hex text so an
// operator can read the tables with the sqlite3 shell.
var migrations = []string{
	// 1: users, torrents, totals and the counters of open sessions.
	`CREATE TABLE meta (
		key   TEXT PRIMARY KEY,
		value TEXT NOT NULL
	) WITHOUT ROWID;
	CREATE TABLE users (
		id           INTEGER PRIMARY KEY,
		name         TEXT NOT NULL UNIQUE,
		passkey      TEXT NOT NULL UNIQUE,
		disabled     INTEGER NOT NULL DEFAULT 0,
		created      INTEGER NOT NULL,
		uploaded     INTEGER NOT NULL DEFAULT 0,
		downloaded   INTEGER NOT NULL DEFAULT 0,
		snatches     INTEGER NOT NULL DEFAULT 0,
		seed_seconds INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE torrents (
		info_hash TEXT PRIMARY KEY,
		name      TEXT NOT NULL,
		size      INTEGER NOT NULL,
		added     INTEGER NOT NULL
	) WITHOUT ROWID;
	-- Per-user-per-torrent totals, folded in from the journal every
	-- Config.FoldInterval (a minute) in key order; users.* is current to the
	-- last flush.
	CREATE TABLE user_torrents (
		user_id      INTEGER NOT NULL REFERENCES users(id),
		info_hash    BLOB NOT NULL,
		uploaded     INTEGER NOT NULL DEFAULT 0,
		downloaded   INTEGER NOT NULL DEFAULT 0,
		snatches     INTEGER NOT NULL DEFAULT 0,
		seed_seconds INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (user_id, info_hash)
	) WITHOUT ROWID;
	-- One row per flush (once a second), appended: the per-user-per-torrent
	-- deltas and the sessions changed, binary (journal.go). Appending keeps
	-- a flush sequential; updating a row per session would dirty a page per
	-- announce.
	CREATE TABLE journal (
		seq  INTEGER PRIMARY KEY,
		data BLOB NOT NULL
	);
	-- Every open session's counters as of the last fold, in chunks; with
	-- the journal after it, the counters the totals were counted up to.
	CREATE TABLE session_snapshot (
		chunk INTEGER PRIMARY KEY,
		data  BLOB NOT NULL
	);`,
	// 2: anti-cheat, client rules, bans, freeleech and hit-and-run
	// (rules.go, cheat.go, freeleech.go, hnr.go). Written in SQL that
	// PostgreSQL accepts too: BIGINT, TEXT, no WITHOUT ROWID, no AUTOINCREMENT.
	// uploaded and downloaded stay the credited totals (what ratios use);
	// raw_* are the bytes counted before freeleech, neutral and double
	// upload (after anti-cheat). Until now both were the same.
	`ALTER TABLE users ADD COLUMN raw_uploaded BIGINT NOT NULL DEFAULT 0;
	ALTER TABLE users ADD COLUMN raw_downloaded BIGINT NOT NULL DEFAULT 0;
	UPDATE users SET raw_uploaded = uploaded, raw_downloaded = downloaded;
	ALTER TABLE user_torrents ADD COLUMN raw_uploaded BIGINT NOT NULL DEFAULT 0;
	ALTER TABLE user_torrents ADD COLUMN raw_downloaded BIGINT NOT NULL DEFAULT 0;
	UPDATE user_torrents SET raw_uploaded = uploaded, raw_downloaded = downloaded;
	-- 'normal', 'freeleech', 'neutral' or 'double_upload' (Kind).
	ALTER TABLE torrents ADD COLUMN kind TEXT NOT NULL DEFAULT 'normal';
	-- Site-wide windows [starts, ends) in Unix seconds.
	CREATE TABLE site_freeleech (
		starts BIGINT NOT NULL,
		ends   BIGINT NOT NULL,
		kind   TEXT NOT NULL,
		PRIMARY KEY (starts, ends, kind)
	);
	-- Peer id prefixes allowed to announce; none means every client.
	CREATE TABLE client_rules (
		prefix TEXT PRIMARY KEY,
		added  BIGINT NOT NULL
	);
	-- Banned addresses and ranges, as CIDR text (an address is a /32 or /128).
	CREATE TABLE bans (
		cidr   TEXT PRIMARY KEY,
		reason TEXT NOT NULL,
		added  BIGINT NOT NULL
	);
	-- Announces whose bytes were not credited (CheatKind). No foreign
	-- key: the record outlives a deleted user.
	CREATE TABLE cheat_events (
		user_id   BIGINT NOT NULL,
		info_hash TEXT NOT NULL,
		kind      TEXT NOT NULL,
		claimed   BIGINT NOT NULL,
		at        BIGINT NOT NULL,
		ip        TEXT NOT NULL
	);
	CREATE INDEX cheat_events_at ON cheat_events (at);
	CREATE INDEX cheat_events_user ON cheat_events (user_id, at);
	-- A user's first snatch of a torrent and the seeding time counted
	-- within Config.HnRWindow of it, written at each fold.
	CREATE TABLE snatches (
		user_id      BIGINT NOT NULL,
		info_hash    TEXT NOT NULL,
		snatched_at  BIGINT NOT NULL,
		seed_seconds BIGINT NOT NULL DEFAULT 0,
		PRIMARY KEY (user_id, info_hash)
	);
	CREATE INDEX snatches_at ON snatches (snatched_at);`,
	// 3: class flags, and the ids of deleted users, never given again:
	// a running tracker's sessions and journal may still name them
	// (manage.go).
	// BIGINT, as PostgreSQL needs for 64-bit values.
	`ALTER TABLE users ADD COLUMN can_leech BIGINT NOT NULL DEFAULT 1;
	CREATE TABLE deleted_users (
		id      BIGINT PRIMARY KEY,
		name    TEXT NOT NULL,
		deleted BIGINT NOT NULL
	);`,
}

// DB is the private tracker's database: a SQLite file, or a PostgreSQL
// database (postgres.go). Several processes may open the same database: the
// tracker, and admin commands while it serves.
type DB struct {
	sql     *sql.DB
	dialect *dialect
}

// dialect is what differs between the SQL engines; queries are written
// once, with ? placeholders, in SQL both accept.
type dialect struct {
	migrations []string
	// schemaVersion returns the number of migrations applied, and
	// setSchemaVersion records it, inside the migrating transaction.
	schemaVersion    func(context.Context, *sql.Tx) (int, error)
	setSchemaVersion func(context.Context, *sql.Tx, int) error
	// dataVersion is a query for a number that changes when a connection
	// other than the tracker's commits a change to users or torrents.
	dataVersion string
	// trackerTx, if not empty, begins each of the tracker's own write
	// transactions: it keeps them from counting in the data version.
	trackerTx string
	// arrays: a flush writes with one statement of arrays per table
	// (PostgreSQL: a statement a row would be a round trip a row).
	arrays bool
}

var (
	sqlite = &dialect{
		migrations: migrations,
		schemaVersion: func(ctx context.Context, tx *sql.Tx) (v int, err error) {
			return v, tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
		},
		setSchemaVersion: func(ctx context.Context, tx *sql.Tx, v int) error {
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v))
			return err
		},
		dataVersion: "PRAGMA data_version",
	}
	postgres = &dialect{
		migrations:       pgMigrations,
		schemaVersion:    pgSchemaVersion,
		setSchemaVersion: pgSetSchemaVersion,
		dataVersion:      "SELECT version FROM data_version",
		trackerTx:        "SET LOCAL swarm.tracker = 'on'",
		arrays:           true,
	}
)

// Open opens the database at path, creating it if it does not exist, and
// brings its schema up to date. The caller closes it. A path of the form
// postgres://… (or postgresql://…) is a PostgreSQL database instead, which
// must exist; Open creates the tables in it.
//
// The file holds every passkey, so it is readable and writable by its owner
// only (0600), and so are the -wal and -shm files beside it, which SQLite
// creates with the database file's mode. A database found with wider
// permissions (made by an older swarm) is narrowed to its owner's; when the
// caller does not own it, its mode is left as the owner set it.
func Open(ctx context.Context, path string) (*DB, error) { return open(ctx, path, true) }

// OpenExisting is Open for a database that must exist already: when path
// does not exist it returns an error wrapping fs.ErrNotExist instead of
// creating an empty database (an admin command given a mistyped path). A
// PostgreSQL database must hold the tables already.
func OpenExisting(ctx context.Context, path string) (*DB, error) { return open(ctx, path, false) }

func open(ctx context.Context, path string, create bool) (*DB, error) {
	if IsPostgres(path) {
		return openPostgres(ctx, path, create)
	}
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open database %q: want a file path without ? or #", path)
	}
	if create {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
		f.Close()
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := ownerOnly(p); err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
	}
	// WAL lets admin commands read and write while the tracker serves;
	// synchronous=NORMAL keeps every commit across a process crash (only a
	// power loss may undo the last ones); immediate transactions take the
	// write lock up front, so busy_timeout covers them instead of failing
	// on a lock upgrade.
	dsn := path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
		"&_pragma=foreign_keys(1)&_txlock=immediate"
	s, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	d := &DB{sql: s, dialect: sqlite}
	if err := d.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return d, nil
}

// ownerOnly takes group and other permissions off the file at p, if it
// exists and the caller owns it.
func ownerOnly(p string) error {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode().Perm()&0o077 == 0:
		return nil
	}
	if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil && !errors.Is(err, fs.ErrPermission) {
		return err
	}
	return nil
}

// Close closes the database.
func (d *DB) Close() error { return d.sql.Close() }

func (d *DB) migrate(ctx context.Context) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	migrations := d.dialect.migrations
	v, err := d.dialect.schemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this swarm knows (%d)", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", i+1, err)
		}
	}
	if v == len(migrations) {
		return nil
	}
	if err := d.dialect.setSchemaVersion(ctx, tx, len(migrations)); err != nil {
		return err
	}
	return tx.Commit()
}

// Totals are what a user (or a user on one torrent) has moved.
type Totals struct {
	Uploaded, Downloaded int64 // bytes
	Snatches             int64 // completed downloads
	SeedSeconds          int64 // time announced as a seeder
}

// Ratio is uploaded over downloaded; +Inf when nothing was downloaded but
// something uploaded, 0 when neither.
func (t Totals) Ratio() float64 {
	if t.Downloaded == 0 {
		if t.Uploaded == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return float64(t.Uploaded) / float64(t.Downloaded)
}

// User is one member of the tracker.
type User struct {
	ID       int64
	Name     string
	Passkey  Passkey
	Disabled bool
	Created  time.Time
	Totals
	Raw
}

// Raw is what a user moved before freeleech, neutral and double upload
// (Kind); Totals hold the credited bytes, which ratios use. Bytes refused
// by anti-cheat are in neither.
type Raw struct {
	RawUploaded, RawDownloaded int64 // bytes
}

// Torrent is a registered torrent.
type Torrent struct {
	InfoHash metainfo.Hash
	Name     string
	Size     int64 // bytes
	Added    time.Time
	Kind     Kind // how its transfer is credited (SetTorrentKind)
}

// TorrentTotals are one user's totals on one torrent. Name is empty if the
// torrent is no longer registered.
type TorrentTotals struct {
	InfoHash metainfo.Hash
	Name     string
	Totals
	Raw
}

// Errors callers branch on; wrapped with the name or hash concerned.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// checkName accepts 1 to 64 letters, digits, '.', '_' and '-': names appear
// in tables and shell commands.
func checkName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("user name %q: want 1 to 64 characters", name)
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("user name %q: only letters, digits, '.', '_' and '-'", name)
		}
	}
	return nil
}

// AddUser adds a user with a new random passkey (CreateUser).
func (d *DB) AddUser(ctx context.Context, name string) (User, error) {
	return d.CreateUser(ctx, name, nil)
}

const userColumns = "id, name, passkey, disabled, created, uploaded, downloaded, snatches, seed_seconds, raw_uploaded, raw_downloaded"

func scanUser(sc interface{ Scan(...any) error }) (User, error) {
	var (
		u       User
		passkey string
		created int64
	)
	err := sc.Scan(&u.ID, &u.Name, &passkey, &u.Disabled, &created, &u.Uploaded, &u.Downloaded, &u.Snatches, &u.SeedSeconds,
		&u.RawUploaded, &u.RawDownloaded)
	if err != nil {
		return u, err
	}
	if u.Passkey, err = ParsePasskey(passkey); err != nil {
		return u, fmt.Errorf("user %s: stored %w", u.Name, err)
	}
	u.Created = time.Unix(created, 0)
	return u, nil
}

// Users returns every user, by name.
func (d *DB) Users(ctx context.Context) ([]User, error) {
	rows, err := d.sql.QueryContext(ctx, "SELECT "+userColumns+" FROM users ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var us []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// User returns the user called name.
func (d *DB) User(ctx context.Context, name string) (User, error) {
	u, err := scanUser(d.sql.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("user %s: %w", name, err)
	}
	return u, nil
}

// UserTorrents returns the user's totals per torrent, largest upload first,
// as of the running tracker's last fold (at most Config.FoldInterval ago;
// the user's own totals are current to the last second).
func (d *DB) UserTorrents(ctx context.Context, userID int64) ([]TorrentTotals, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT ut.info_hash, COALESCE(t.name, ''), ut.uploaded, ut.downloaded, ut.snatches, ut.seed_seconds,
		ut.raw_uploaded, ut.raw_downloaded
		FROM user_torrents ut LEFT JOIN torrents t ON t.info_hash = lower(hex(ut.info_hash))
		WHERE ut.user_id = ? ORDER BY ut.uploaded DESC, ut.info_hash`, userID)
	if err != nil {
		return nil, fmt.Errorf("user torrents: %w", err)
	}
	defer rows.Close()
	var out []TorrentTotals
	for rows.Next() {
		var (
			tt TorrentTotals
			h  []byte
		)
		if err := rows.Scan(&h, &tt.Name, &tt.Uploaded, &tt.Downloaded, &tt.Snatches, &tt.SeedSeconds, &tt.RawUploaded, &tt.RawDownloaded); err != nil {
			return nil, fmt.Errorf("user torrents: %w", err)
		}
		if len(h) != len(tt.InfoHash) {
			return nil, fmt.Errorf("user torrents: stored hash of %d bytes", len(h))
		}
		tt.InfoHash = metainfo.Hash(h)
		out = append(out, tt)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("user torrents: %w", err)
	}
	return out, nil
}

// SetDisabled disables or enables a user. A running tracker refuses or
// accepts the user's announces within a second.
func (d *DB) SetDisabled(ctx context.Context, name string, disabled bool) error {
	return d.updateUser(ctx, name, "UPDATE users SET disabled = ? WHERE name = ?", disabled, name)
}

// ResetPasskey gives a user a new passkey; the old one stops working within
// a second on a running tracker.
func (d *DB) ResetPasskey(ctx context.Context, name string) (Passkey, error) {
	p := NewPasskey()
	return p, d.updateUser(ctx, name, "UPDATE users SET passkey = ? WHERE name = ?", p.String(), name)
}

func (d *DB) updateUser(ctx context.Context, name, query string, args ...any) error {
	res, err := d.sql.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("update user %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %s: %w", name, ErrNotFound)
	}
	return nil
}

// AddTorrent registers a torrent.
func (d *DB) AddTorrent(ctx context.Context, t Torrent) error {
	if t.Added.IsZero() {
		t.Added = time.Now()
	}
	res, err := d.sql.ExecContext(ctx, "INSERT INTO torrents (info_hash, name, size, added) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
		t.InfoHash.String(), t.Name, t.Size, t.Added.Unix())
	if err != nil {
		return fmt.Errorf("add torrent %s: %w", t.InfoHash, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("torrent %s: %w", t.InfoHash, ErrExists)
	}
	return nil
}

// Torrents returns the registered torrents, by name.
func (d *DB) Torrents(ctx context.Context) ([]Torrent, error) {
	rows, err := d.sql.QueryContext(ctx, "SELECT info_hash, name, size, added, kind FROM torrents ORDER BY name, info_hash")
	if err != nil {
		return nil, fmt.Errorf("list torrents: %w", err)
	}
	defer rows.Close()
	var ts []Torrent
	for rows.Next() {
		var (
			t     Torrent
			h     string
			added int64
			kind  string
		)
		if err := rows.Scan(&h, &t.Name, &t.Size, &added, &kind); err != nil {
			return nil, fmt.Errorf("list torrents: %w", err)
		}
		if t.Kind, err = ParseKind(kind); err != nil {
			return nil, fmt.Errorf("list torrents: stored %w", err)
		}
		if t.InfoHash, err = metainfo.ParseHash(h); err != nil {
			return nil, fmt.Errorf("list torrents: stored hash: %w", err)
		}
		t.Added = time.Unix(added, 0)
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list torrents: %w", err)
	}
	return ts, nil
}

// RemoveTorrent unregisters a torrent: announces for it are refused from
// then on. The users' totals on it are kept.
func (d *DB) RemoveTorrent(ctx context.Context, h metainfo.Hash) error {
	res, err := d.sql.ExecContext(ctx, "DELETE FROM torrents WHERE info_hash = ?", h.String())
	if err != nil {
		return fmt.Errorf("remove torrent %s: %w", h, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("torrent %s: %w", h, ErrNotFound)
	}
	return nil
}

// metaAnnounceBase is the meta key of the tracker's URL without a path
// ("http://host:port"), recorded by the tracker so that admin commands can
// print a user's announce URL.
const metaAnnounceBase = "announce_base"

// SetAnnounceBase records the tracker's base URL.
func (d *DB) SetAnnounceBase(ctx context.Context, base string) error {
	_, err := d.sql.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
		metaAnnounceBase, base)
	if err != nil {
		return fmt.Errorf("record announce URL: %w", err)
	}
	return nil
}

// AnnounceBase returns the recorded base URL, "" if none.
func (d *DB) AnnounceBase(ctx context.Context) (string, error) {
	var base string
	err := d.sql.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", metaAnnounceBase).Scan(&base)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read announce URL: %w", err)
	}
	return base, nil
}

// AnnounceURL is the announce URL of passkey under base, with the passkey
// in the path: base/PASSKEY/announce.
func AnnounceURL(base string, p Passkey) string {
	return strings.TrimRight(base, "/") + "/" + p.String() + "/announce"
}

// AnnounceQueryURL is the announce URL of passkey under base with the
// passkey in the query: base/announce?passkey=PASSKEY. libtorrent (and so
// qBittorrent) refuses a tracker on a loopback address whose path is not
// /announce, so clients on the tracker's own machine need this form.
func AnnounceQueryURL(base string, p Passkey) string {
	return strings.TrimRight(base, "/") + "/announce?passkey=" + p.String()
}
