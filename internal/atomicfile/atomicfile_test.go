package atomicfile_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"swarm/internal/atomicfile"
)

// names lists dir's entries.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestWriteReplacesWhole: Write creates and replaces the file with the
// mode asked for, durable or not, and leaves no temporary file; a failed
// write (no such folder) leaves nothing.
func TestWriteReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		data    string
		perm    os.FileMode
		durable bool
	}{{"first", 0o600, true}, {"second, longer", 0o644, false}, {"3", 0o600, true}} {
		path := filepath.Join(dir, "f.json")
		if err := atomicfile.Write(path, []byte(tc.data), tc.perm, tc.durable); err != nil {
			t.Fatalf("Write(%q): %v", tc.data, err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != tc.data {
			t.Errorf("after Write(%q): %q, %v", tc.data, got, err)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != tc.perm {
			t.Errorf("after Write(%q, %v): mode %v, %v", tc.data, tc.perm, fi.Mode().Perm(), err)
		}
		if n := names(t, dir); !slices.Equal(n, []string{"f.json"}) {
			t.Errorf("after Write(%q) the folder holds %q, want only f.json", tc.data, n)
		}
	}
	if err := atomicfile.Write(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600, true); err == nil {
		t.Error("Write into a missing folder succeeded")
	}
}

// TestCleanRemovesOnlyOldTemporaryFiles: what an interrupted Write (or an
// older swarm's writer) leaves is removed once old enough; records, a
// young temporary file (a write under way elsewhere) and folders are kept.
func TestCleanRemovesOnlyOldTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * atomicfile.MinAge)
	files := map[string]bool{ // name: removed
		".swarm-tmp-aa.json-123":   true,
		".tmp-4567":                true, // the daemon's, before
		".dht-89.tmp":              true, // the DHT state's, before
		"aa.resume.1234.tmp":       true, // a resume record's, before
		"aa.resume":                false,
		"aa.json":                  false,
		"dht.state":                false,
		".swarm-tmp-young-1":       false, // written just now: kept
		"notes.tmp":                false,
		".dhtfile":                 false,
		"settings.json.tmp-backup": false,
	}
	for name := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if name != ".swarm-tmp-young-1" {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".tmp-folder"), 0o755); err != nil {
		t.Fatal(err)
	}
	n, err := atomicfile.Clean(dir, atomicfile.MinAge)
	if err != nil || n != 4 {
		t.Errorf("Clean = %d, %v; want 4 removed", n, err)
	}
	left := names(t, dir)
	for name, removed := range files {
		if slices.Contains(left, name) == removed {
			t.Errorf("%s: removed %v, want %v", name, !removed, removed)
		}
	}
	if !slices.Contains(left, ".tmp-folder") {
		t.Error("Clean removed a folder")
	}
	if n, err := atomicfile.Clean(dir, 0); err != nil || n != 1 {
		t.Errorf("Clean with no minimum age = %d, %v; want the young one removed", n, err)
	}
	if n, err := atomicfile.Clean(filepath.Join(dir, "missing"), 0); err != nil || n != 0 {
		t.Errorf("Clean of a missing folder = %d, %v", n, err)
	}
}
