package private_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"swarm/tracker/private"
)

// TestDatabaseFilesAreOwnerOnly: the database holds every passkey, so it and
// the -wal and -shm files SQLite makes beside it are 0600, even with a umask
// of 0; a database left readable by others (an older swarm made them 0644)
// is narrowed when opened (issue 13).
func TestDatabaseFilesAreOwnerOnly(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "tracker.db")
	files := []string{path, path + "-wal", path + "-shm"}
	checkModes := func(when string) {
		t.Helper()
		for _, p := range files {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %s has mode %v, want -rw-------", when, filepath.Base(p), fi.Mode().Perm())
			}
		}
	}
	db, err := private.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	addUser(t, db, "alice") // a write, so the -wal and -shm files exist
	checkModes("new database")
	db.Close()

	for _, p := range files {
		if err := os.Chmod(p, 0o644); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	db = reopenDB(t, path)
	addUser(t, db, "bob")
	checkModes("database found 0644")
}

// TestOpenExistingCreatesNothing: OpenExisting on a missing file fails with
// fs.ErrNotExist and leaves no file behind.
func TestOpenExistingCreatesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "typo.db")
	db, err := private.OpenExisting(context.Background(), path)
	if !errors.Is(err, fs.ErrNotExist) {
		if db != nil {
			db.Close()
		}
		t.Fatalf("OpenExisting(%s) = %v, want an error wrapping fs.ErrNotExist", path, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after OpenExisting, stat %s = %v, want no file", path, err)
	}
	db, err = private.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = private.OpenExisting(context.Background(), path)
	if err != nil {
		t.Fatalf("OpenExisting of the database Open made: %v", err)
	}
	db.Close()
}
