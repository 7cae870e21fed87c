package private

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"testing"
)

// TestMigrationKeepsTotalsAsRaw: a database made before the site's rules
// (schema version 1) gets raw totals equal to its credited ones, every
// torrent normal, and the new tables empty.
func TestMigrationKeepsTotalsAsRaw(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{migrations[0], "PRAGMA user_version = 1",
		"INSERT INTO users (name, passkey, created, uploaded, downloaded) VALUES ('alice', '0123456789abcdef0123456789abcdef', 0, 300, 100)",
		"INSERT INTO torrents (info_hash, name, size, added) VALUES ('aa00000000000000000000000000000000000000', 't', 1, 0)",
		"INSERT INTO user_torrents (user_id, info_hash, uploaded, downloaded) VALUES (1, x'aa00000000000000000000000000000000000000', 300, 100)",
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	old.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := db.User(ctx, "alice")
	if err != nil || u.Raw != (Raw{300, 100}) {
		t.Errorf("alice after the migration: %+v, %v; want raw 300 up, 100 down", u, err)
	}
	per, err := db.UserTorrents(ctx, u.ID)
	if err != nil || len(per) != 1 || per[0].Raw != (Raw{300, 100}) {
		t.Errorf("alice's per-torrent totals after the migration: %+v, %v", per, err)
	}
	ts, err := db.Torrents(ctx)
	if err != nil || len(ts) != 1 || ts[0].Kind != KindNormal {
		t.Errorf("torrents after the migration: %+v, %v; want one, normal", ts, err)
	}
	if rules, err := db.ClientRules(ctx); err != nil || len(rules) != 0 {
		t.Errorf("client rules after the migration: %+v, %v", rules, err)
	}
}

// TestJournalVersion1: journal rows written before raw totals decode with
// raw equal to credited.
func TestJournalVersion1(t *testing.T) {
	ut := userTorrent{3, [20]byte{9}}
	row := []byte{1, 1, 3}
	row = append(row, ut.hash[:]...)
	row = append(row, 5, 7, 1, 2, 0) // up 5, down 7, 1 snatch, 2 s seeding; no ops
	deltas, ops, err := decodeJournal(row)
	want := []seedDelta{{ut, delta{up: 5, down: 7, snatches: 1, seedNanos: 2, rawUp: 5, rawDown: 7}}}
	if err != nil || len(ops) != 0 || !reflect.DeepEqual(deltas, want) {
		t.Errorf("decodeJournal(v1 row) = %+v, %+v, %v; want %+v", deltas, ops, err, want)
	}
}
