package private_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"swarm/internal/pgtest"
	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/private"
)

// store makes new, empty databases of one kind.
type store struct {
	name string
	// open returns a new database and what reopens it (private.Open).
	open func(tb testing.TB) (*private.DB, string)
	// empty returns what OpenExisting must refuse: a path with no file, a
	// PostgreSQL database without the tables.
	empty func(tb testing.TB) string
	// raw opens dsn with the engine's own driver, behind private's back.
	raw func(tb testing.TB, dsn string) *sql.DB
	// serverCPU is the CPU time a database server has used so far; nil
	// for an embedded engine (its CPU is the test's own).
	serverCPU func() time.Duration
}

var sqliteStore = store{
	name:  "sqlite",
	open:  openDB,
	empty: func(tb testing.TB) string { return filepath.Join(tb.TempDir(), "missing.db") },
	// A writer waits for the tracker's write lock, as a site must.
	raw: func(tb testing.TB, dsn string) *sql.DB {
		return rawDB(tb, "sqlite", dsn+"?_pragma=busy_timeout(10000)")
	},
}

func postgresStore(c *pgtest.Cluster) store {
	return store{
		name: "postgres",
		open: func(tb testing.TB) (*private.DB, string) {
			u := c.NewDB(tb)
			return reopenDB(tb, u), u
		},
		empty:     c.NewDB,
		raw:       func(tb testing.TB, dsn string) *sql.DB { return rawDB(tb, "pgx", dsn) },
		serverCPU: c.CPU,
	}
}

func rawDB(tb testing.TB, driver, dsn string) *sql.DB {
	tb.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// TestStores is the conformance suite of the private tracker's stores: the
// same DB operations and the same tracker cycles (announce, flush, fold,
// crash, restart, admin changes while running) against SQLite and against
// PostgreSQL (a throwaway cluster: internal/pgtest; skipped without
// PostgreSQL's binaries unless SWARM_INTEROP=1).
func TestStores(t *testing.T) {
	tests := []struct {
		name string
		f    func(*testing.T, store)
	}{
		{"users", testStoreUsers},
		{"torrents", testStoreTorrents},
		{"announce base", testStoreAnnounceBase},
		{"reopen", testStoreReopen},
		{"admin errors", testAdminErrors},
		{"two users trade", testTwoUsersTrade},
		{"crash loses no bytes", testCrashLosesNoBytes},
		{"restored session waits for client backoff", testRestoredSessionWaitsForClientBackoff},
		{"run picks up admin changes", testRunPicksUpAdminChanges},
		{"schema doc queries", testStoreSchemaDocQueries},
		// The site's rules (rules_test.go).
		{"forged upload is not credited", testForgedUploadIsNotCredited},
		{"client allow list", testClientAllowList},
		{"bans", testBans},
		{"kinds credit apart from raw", testKindsCreditApartFromRaw},
		{"kind admin", testKindAdmin},
		{"hit and runs", testHitAndRuns},
		{"min ratio", testMinRatio},
		{"run picks up rule changes", testRunPicksUpRuleChanges},
		// The admin API's (manage_test.go).
		{"delete user never reuses the id", testDeleteUserNeverReusesTheID},
		{"activity from the database matches the tracker", testActivityFromTheDatabaseMatchesTheTracker},
		{"classes and torrent totals", testStoreClassesAndTorrentTotals},
	}
	run := func(t *testing.T, s store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { tt.f(t, s) })
		}
	}
	t.Run("sqlite", func(t *testing.T) { run(t, sqliteStore) })
	t.Run("postgres", func(t *testing.T) { run(t, postgresStore(pgtest.Start(t))) })
}

func testStoreUsers(t *testing.T, s store) {
	ctx := context.Background()
	db, _ := s.open(t)
	bob, alice := addUser(t, db, "bob"), addUser(t, db, "alice")
	if alice.ID == bob.ID || alice.ID <= 0 || bob.ID <= 0 {
		t.Errorf("user ids %d and %d: want distinct and positive", alice.ID, bob.ID)
	}
	if _, err := db.AddUser(ctx, "alice"); !errors.Is(err, private.ErrExists) {
		t.Errorf("AddUser of alice again: %v, want ErrExists", err)
	}
	got, err := db.User(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != alice.ID || got.Passkey != alice.Passkey || got.Disabled || !got.Created.Equal(alice.Created) || got.Totals != (private.Totals{}) {
		t.Errorf("User(alice) = %+v, want %+v", got, alice)
	}
	if _, err := db.User(ctx, "carol"); !errors.Is(err, private.ErrNotFound) {
		t.Errorf("User(carol) = %v, want ErrNotFound", err)
	}
	if err := db.SetDisabled(ctx, "bob", true); err != nil {
		t.Fatal(err)
	}
	p, err := db.ResetPasskey(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if p == alice.Passkey {
		t.Error("ResetPasskey gave the same passkey back")
	}
	if _, err := db.ResetPasskey(ctx, "carol"); !errors.Is(err, private.ErrNotFound) {
		t.Errorf("ResetPasskey(carol) = %v, want ErrNotFound", err)
	}
	us, err := db.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 2 || us[0].Name != "alice" || us[0].Passkey != p || us[0].Disabled ||
		us[1].Name != "bob" || !us[1].Disabled {
		t.Errorf("Users = %+v, want alice (new passkey) then bob (disabled)", us)
	}
	if err := db.SetDisabled(ctx, "bob", false); err != nil {
		t.Fatal(err)
	}
	if u, _ := db.User(ctx, "bob"); u.Disabled {
		t.Error("bob still disabled after SetDisabled false")
	}
}

func testStoreTorrents(t *testing.T, s store) {
	ctx := context.Background()
	db, _ := s.open(t)
	added := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	want := []private.Torrent{
		{InfoHash: metainfo.Hash{0xff, 1}, Name: "a", Size: 1, Added: added},
		{InfoHash: metainfo.Hash{0x01, 2}, Name: "b", Size: 1 << 40, Added: added},
	}
	for _, tr := range []private.Torrent{want[1], want[0]} {
		if err := db.AddTorrent(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AddTorrent(ctx, want[0]); !errors.Is(err, private.ErrExists) {
		t.Errorf("AddTorrent again: %v, want ErrExists", err)
	}
	got, err := db.Torrents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].InfoHash != want[0].InfoHash || got[0].Name != "a" || got[1].Size != 1<<40 || !got[1].Added.Equal(added) {
		t.Errorf("Torrents = %+v, want %+v", got, want)
	}
	if err := db.RemoveTorrent(ctx, want[0].InfoHash); err != nil {
		t.Fatal(err)
	}
	if err := db.RemoveTorrent(ctx, want[0].InfoHash); !errors.Is(err, private.ErrNotFound) {
		t.Errorf("RemoveTorrent again: %v, want ErrNotFound", err)
	}
	if got, _ := db.Torrents(ctx); len(got) != 1 || got[0].Name != "b" {
		t.Errorf("Torrents after a removal = %+v, want b only", got)
	}
}

func testStoreAnnounceBase(t *testing.T, s store) {
	ctx := context.Background()
	db, _ := s.open(t)
	if b, err := db.AnnounceBase(ctx); err != nil || b != "" {
		t.Errorf("AnnounceBase of a new database = %q, %v; want none", b, err)
	}
	for _, base := range []string{"http://a:1", "https://b.example"} {
		if err := db.SetAnnounceBase(ctx, base); err != nil {
			t.Fatal(err)
		}
		if b, err := db.AnnounceBase(ctx); err != nil || b != base {
			t.Errorf("AnnounceBase = %q, %v; want %q", b, err, base)
		}
	}
}

// testStoreReopen: a database reopened keeps what it holds and migrates
// nothing twice; OpenExisting refuses a database without the tables; a
// schema newer than this swarm is refused rather than written to.
func testStoreReopen(t *testing.T, s store) {
	ctx := context.Background()
	db, dsn := s.open(t)
	alice := addUser(t, db, "alice")
	db.Close()
	again, err := private.OpenExisting(ctx, dsn)
	if err != nil {
		t.Fatalf("OpenExisting of a database Open made: %v", err)
	}
	defer again.Close()
	if u, err := again.User(ctx, "alice"); err != nil || u.Passkey != alice.Passkey {
		t.Errorf("alice after reopening = %+v, %v; want her passkey kept", u, err)
	}

	empty := s.empty(t)
	if db, err := private.OpenExisting(ctx, empty); !errors.Is(err, fs.ErrNotExist) {
		if db != nil {
			db.Close()
		}
		t.Errorf("OpenExisting(%s) = %v, want an error wrapping fs.ErrNotExist", empty, err)
	}

	raw := s.raw(t, dsn)
	bump := "PRAGMA user_version = 99"
	if s.name == "postgres" {
		bump = "UPDATE schema_version SET version = 99"
	}
	if _, err := raw.ExecContext(ctx, bump); err != nil {
		t.Fatal(err)
	}
	if db, err := private.Open(ctx, dsn); err == nil || !strings.Contains(err.Error(), "newer") {
		if db != nil {
			db.Close()
		}
		t.Errorf("Open of a schema at version 99 = %v, want an error naming a newer schema", err)
	}
}

// testStoreSchemaDocQueries: the example queries of docs/private-schema.md
// run on a database with members, torrents and folded totals.
func testStoreSchemaDocQueries(t *testing.T, s store) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "private-schema.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "```sql\n")
	block, _, _ = strings.Cut(block, "```")
	if !ok || block == "" {
		t.Fatal("docs/private-schema.md has no ```sql block")
	}
	db, dsn := s.open(t)
	alice, bob := addUser(t, db, "alice"), addUser(t, db, "bob")
	addTorrent(t, db, ihA)
	r := newRig(t, db, private.Config{})
	r.mustAnnounce(t, alice, peer(ihA, "a", tracker.EventStarted, 0, 0, 0))
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventStarted, 0, 0, size))
	r.clock.Advance(time.Minute)
	r.mustAnnounce(t, alice, peer(ihA, "a", 0, size, 0, 0))
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventCompleted, 0, size, 0))
	r.fold(t)
	raw := s.raw(t, dsn)
	n := 0
	for q := range strings.SplitSeq(block, ";") {
		if strings.TrimSpace(stripComments(q)) == "" {
			continue
		}
		n++
		rows, err := raw.Query(q)
		if err != nil {
			t.Errorf("query %d of the doc: %v\n%s", n, err, q)
			continue
		}
		got := 0
		for rows.Next() {
			got++
		}
		if err := rows.Err(); err != nil {
			t.Errorf("query %d of the doc: %v", n, err)
		}
		rows.Close()
		if got == 0 {
			t.Errorf("query %d of the doc returned no row:\n%s", n, q)
		}
	}
	if n < 3 {
		t.Errorf("ran %d queries from the doc, want its 3 or more", n)
	}
}

func stripComments(q string) string {
	var b strings.Builder
	for line := range strings.Lines(q) {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// testStoreClassesAndTorrentTotals: class flags round-trip; a torrent's
// totals are the sums over its users as of the last fold.
func testStoreClassesAndTorrentTotals(t *testing.T, s store) {
	ctx := context.Background()
	db, _ := s.open(t)
	alice, bob := addUser(t, db, "alice"), addUser(t, db, "bob")
	addTorrent(t, db, ihA)
	if err := db.SetClass(ctx, "bob", private.Class{}); err != nil {
		t.Fatal(err)
	}
	cs, err := db.Classes(ctx)
	if err != nil || cs[alice.ID] != private.DefaultClass || cs[bob.ID] != (private.Class{}) {
		t.Errorf("Classes = %+v, %v; want alice %+v, bob none", cs, err, private.DefaultClass)
	}
	if tr, err := db.Torrent(ctx, ihA); err != nil || tr.Name == "" || tr.Size != size {
		t.Errorf("Torrent(%s) = %+v, %v", ihA, tr, err)
	}
	if _, err := db.Torrent(ctx, ihB); !errors.Is(err, private.ErrNotFound) {
		t.Errorf("Torrent(%s) = %v, want ErrNotFound", ihB, err)
	}
	carol := addUser(t, db, "carol")
	r := newRig(t, db, private.Config{})
	r.mustAnnounce(t, alice, peer(ihA, "a", tracker.EventStarted, 0, 0, 0))
	r.mustAnnounce(t, carol, peer(ihA, "c", tracker.EventStarted, 0, 0, size))
	r.clock.Advance(time.Minute)
	r.mustAnnounce(t, alice, peer(ihA, "a", 0, 3000, 0, 0))
	r.mustAnnounce(t, carol, peer(ihA, "c", tracker.EventCompleted, 0, 2000, 0))
	r.fold(t)
	tt, err := db.TorrentTotals(ctx)
	if want := (private.Totals{Uploaded: 3000, Downloaded: 2000, Snatches: 1, SeedSeconds: 60}); err != nil || tt[ihA] != want {
		t.Errorf("TorrentTotals = %+v, %v; want %+v for %s", tt, err, want, ihA)
	}
}
