package main

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"swarm/internal/pgtest"
	"swarm/tracker/private"
)

// TestTrackerAdminCommands walks through setting up a private tracker's
// database from the command line, as the README does, in a SQLite file and
// in PostgreSQL.
func TestTrackerAdminCommands(t *testing.T) {
	// The admin commands never create the database (issue 13): a mistyped
	// --db is an error, and no file (or no table) appears.
	refusesMissing := func(t *testing.T, db string) {
		t.Helper()
		_, errOut, code := runSwarm(t, "tracker", "user", "add", "alice", "--db", db)
		if want := "no tracker database at " + db + "; 'swarm tracker --private --db " + db + "' creates one"; code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("user add on a missing database: exit %d, stderr %q; want exit 1 and %q", code, errOut, want)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		db := filepath.Join(dir, "tracker.db")
		refusesMissing(t, db)
		if _, err := os.Stat(db); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("user add on a missing database: stat %s = %v, want no file", db, err)
		}
		testTrackerAdminCommands(t, dir, db)
	})
	t.Run("postgres", func(t *testing.T) {
		db := pgtest.Start(t).NewDB(t)
		refusesMissing(t, db)
		refusesMissing(t, db) // still no tables
		testTrackerAdminCommands(t, t.TempDir(), db)
	})
}

func testTrackerAdminCommands(t *testing.T, dir, db string) {
	// 'swarm tracker --private' creates it; so does private.Open.
	pdb, err := private.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	pdb.Close()
	mustRun := func(args ...string) string {
		t.Helper()
		out, errOut, code := runSwarm(t, append(args, "--db", db)...)
		if code != 0 {
			t.Fatalf("swarm %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	keyRe := regexp.MustCompile(`passkey: +([0-9a-f]{32})\nannounce URL: (\S+)\n +or: +(\S+)`)
	out := mustRun("tracker", "user", "add", "alice", "--public-url", "http://tracker.example:6969/")
	m := keyRe.FindStringSubmatch(out)
	if m == nil || m[2] != "http://tracker.example:6969/"+m[1]+"/announce" || m[3] != "http://tracker.example:6969/announce?passkey="+m[1] {
		t.Fatalf("user add printed %q, want the passkey and its announce URL in both forms", out)
	}
	mustRun("tracker", "user", "add", "bob")
	if out := mustRun("tracker", "user", "list"); !strings.Contains(out, "alice") || !strings.Contains(out, "bob") {
		t.Errorf("user list = %q, want alice and bob", out)
	}
	out = mustRun("tracker", "user", "reset-passkey", "alice")
	if m2 := keyRe.FindStringSubmatch(out); m2 == nil || m2[1] == m[1] {
		t.Errorf("reset-passkey printed %q, want a new passkey", out)
	}
	mustRun("tracker", "user", "disable", "bob")
	var shown struct {
		Name     string   `json:"name"`
		Disabled bool     `json:"disabled"`
		Uploaded int64    `json:"uploaded"`
		Ratio    *float64 `json:"ratio"`
	}
	if err := json.Unmarshal([]byte(mustRun("tracker", "user", "show", "bob", "--json")), &shown); err != nil || !shown.Disabled || shown.Ratio != nil {
		t.Errorf("user show bob --json = %+v, %v; want disabled, no ratio", shown, err)
	}
	mustRun("tracker", "user", "enable", "bob")

	content := filepath.Join(dir, "data.bin")
	if err := os.WriteFile(content, []byte(strings.Repeat("x", 100000)), 0o644); err != nil {
		t.Fatal(err)
	}
	torrent := filepath.Join(dir, "data.torrent")
	if _, errOut, code := runSwarm(t, "create", content, "-o", torrent, "--private", "-t", m[2]); code != 0 {
		t.Fatalf("create: %s", errOut)
	}
	out = mustRun("tracker", "torrent", "add", torrent)
	hash := regexp.MustCompile(`torrent ([0-9a-f]{40}) data.bin registered`).FindStringSubmatch(out)
	if hash == nil {
		t.Fatalf("torrent add printed %q", out)
	}
	if out := mustRun("tracker", "torrent", "list"); !strings.Contains(out, hash[1]) {
		t.Errorf("torrent list = %q, want %s", out, hash[1])
	}
	mustRun("tracker", "torrent", "remove", hash[1])
	if out := mustRun("tracker", "torrent", "list"); strings.Contains(out, hash[1]) {
		t.Errorf("torrent list after remove = %q", out)
	}

	for _, tt := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"tracker", "user", "add", "alice"}, 1, "already exists"},
		{[]string{"tracker", "user", "show", "nobody"}, 1, "not found"},
		{[]string{"tracker", "user", "frob"}, 2, "unknown command"},
		{[]string{"tracker", "user", "add"}, 2, "want one NAME"},
		{[]string{"tracker", "user", "add", "a b"}, 1, "only letters"},
		{[]string{"tracker", "torrent", "remove", "xyz"}, 2, "hex"},
	} {
		_, errOut, code := runSwarm(t, append(tt.args, "--db", db)...)
		if code != tt.code || !strings.Contains(errOut, tt.err) {
			t.Errorf("swarm %v: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut, tt.code, tt.err)
		}
	}
}

// 'swarm tracker torrent --help' lists only flags its verbs read: no
// --public-url (torrents print no announce URL), no "show" for --json.
func TestTrackerTorrentHelpShowsItsOwnFlags(t *testing.T) {
	out, _, code := runSwarm(t, "tracker", "torrent", "--help")
	if code != 0 || strings.Contains(out, "--public-url") || strings.Contains(out, "list, show") || !strings.Contains(out, "--freeleech") {
		t.Errorf("tracker torrent --help: exit %d, want 0, --freeleech and no --public-url or \"list, show\":\n%s", code, out)
	}
	out, _, code = runSwarm(t, "tracker", "user", "--help")
	if code != 0 || !strings.Contains(out, "--public-url") || strings.Contains(out, "--freeleech") {
		t.Errorf("tracker user --help: exit %d, want 0, --public-url and no --freeleech:\n%s", code, out)
	}
}
