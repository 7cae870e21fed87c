package daemon_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"swarm/daemon"
	"swarm/metainfo"
)

// folderTorrent writes a two-file folder dir/name (a.bin, sub/b.bin) and
// returns its torrent, with no tracker: the daemon checks the data and
// seeds it with no network.
func folderTorrent(t testing.TB, dir, name string) []byte {
	t.Helper()
	root := filepath.Join(dir, name)
	for p, n := range map[string]int{"a.bin": 70_000, "sub/b.bin": 90_000} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(strings.Repeat(p, n/len(p))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := metainfo.Build(context.Background(), metainfo.BuildConfig{Path: root, PieceLength: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func write(t testing.TB, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t testing.TB, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != want {
		t.Errorf("%s = %q (%d bytes), %v; want %q", path, b[:min(len(b), 20)], len(b), err, want)
	}
}

// TestMoveKeepsOtherFilesAndNeverOverwrites: a move takes the torrent's
// files only (a user's file in the torrent's folder was deleted by a
// RemoveAll of the old folder), and refuses, before moving anything, a
// destination where a file of the torrent is already (it was overwritten).
func TestMoveKeepsOtherFilesAndNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	dl := filepath.Join(dir, "dl")
	raw := folderTorrent(t, dl, "t")
	write(t, filepath.Join(dl, "t", "notes.txt"), "mine")
	d := newDaemon(t, filepath.Join(dir, "state"), dl, nil)
	run(t, d)
	added, err := d.Add(context.Background(), daemon.AddRequest{Torrent: raw})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, d, added.ID, "seeding", 20*time.Second, seeding)

	moved := filepath.Join(dir, "moved")
	if err := d.SetLocation([]int{added.ID}, moved, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, d, added.ID, "seeding after the move", 20*time.Second, seeding)
	mustRead(t, filepath.Join(dl, "t", "notes.txt"), "mine")
	if _, err := os.Stat(filepath.Join(dl, "t", "sub")); err == nil {
		t.Error("the emptied folder t/sub is left in the old place")
	}

	other := filepath.Join(dir, "other")
	write(t, filepath.Join(other, "t", "sub", "b.bin"), "theirs")
	err = d.SetLocation([]int{added.ID}, other, true)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("move onto an existing file: %v, want a refusal", err)
	}
	mustRead(t, filepath.Join(other, "t", "sub", "b.bin"), "theirs")
	if _, err := os.Stat(filepath.Join(other, "t", "a.bin")); err == nil {
		t.Error("a refused move moved a.bin")
	}
	if _, err := os.Stat(filepath.Join(moved, "t", "a.bin")); err != nil {
		t.Errorf("a refused move left the data short: %v", err)
	}
	if v := view(t, d, added.ID); v.Dir != moved || v.Error == "" {
		t.Errorf("after the refused move: dir %q, error %q; want %q and the reason", v.Dir, v.Error, moved)
	}
}

// TestRemoveWithDataAndMoveStayInTheirFolders: a symbolic link planted in
// the torrent's folder, pointing out of it, is not followed by "remove
// with data" (it deleted the file it pointed at) nor by a move.
func TestRemoveWithDataAndMoveStayInTheirFolders(t *testing.T) {
	dir := t.TempDir()
	dl := filepath.Join(dir, "dl")
	raw := folderTorrent(t, dl, "t")
	d := newDaemon(t, filepath.Join(dir, "state"), dl, nil)
	run(t, d)
	added, err := d.Add(context.Background(), daemon.AddRequest{Torrent: raw})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, d, added.ID, "seeding", 20*time.Second, seeding)
	if err := d.Pause([]int{added.ID}); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(dir, "victim")
	write(t, filepath.Join(victim, "b.bin"), "precious")
	if err := os.RemoveAll(filepath.Join(dl, "t", "sub")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dl, "t", "sub")); err != nil {
		t.Fatal(err)
	}

	err = d.SetLocation([]int{added.ID}, filepath.Join(dir, "moved"), true)
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("move through a link: %v, want a refusal", err)
	}
	mustRead(t, filepath.Join(victim, "b.bin"), "precious")

	err = d.Remove([]int{added.ID}, true)
	if err == nil {
		t.Error("remove with data through a link out of the folder: no error")
	}
	mustRead(t, filepath.Join(victim, "b.bin"), "precious")
	if _, err := os.Stat(filepath.Join(dl, "t", "a.bin")); err == nil {
		t.Error("remove with data left a.bin")
	}
}
