package daemon_test

import (
	"context"
	"encoding/json"
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

// TestMoveCutShortByACrashIsFinishedAtStart: a daemon killed in the middle
// of a move (one file in the new folder, the other and the resume record
// still in the old; the record saying "moving to" the new one) finishes
// the move when it starts again. Before, the record still named the old
// folder: the torrent restarted there at 0 % and would have downloaded
// again what was already in the new folder.
func TestMoveCutShortByACrashIsFinishedAtStart(t *testing.T) {
	dir := t.TempDir()
	dl, state, moved := filepath.Join(dir, "dl"), filepath.Join(dir, "state"), filepath.Join(dir, "moved")
	raw := folderTorrent(t, dl, "t")
	d := newDaemon(t, state, dl, nil)
	stop := run(t, d)
	added, err := d.Add(context.Background(), daemon.AddRequest{Torrent: raw})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, d, added.ID, "seeding", 20*time.Second, seeding)
	stop()

	// What SetLocation leaves if killed after moving a.bin.
	rec := filepath.Join(state, "torrents", added.Hash+".json")
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	r["move_to"] = moved
	if b, err = json.Marshal(r); err != nil {
		t.Fatal(err)
	}
	write(t, rec, string(b))
	write(t, filepath.Join(moved, "t", "keep"), "")
	if err := os.Rename(filepath.Join(dl, "t", "a.bin"), filepath.Join(moved, "t", "a.bin")); err != nil {
		t.Fatal(err)
	}

	d = newDaemon(t, state, dl, nil)
	run(t, d)
	v := waitFor(t, d, added.ID, "seeding after the restart", 20*time.Second, seeding)
	if v.Dir != moved {
		t.Errorf("after the restart the torrent is in %q, want %q", v.Dir, moved)
	}
	for _, p := range []string{"t/a.bin", "t/sub/b.bin"} {
		if _, err := os.Stat(filepath.Join(moved, p)); err != nil {
			t.Errorf("%s not in the new folder: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dl, "t")); err == nil {
		t.Error("the old torrent folder is left")
	}
}

// TestDaemonStartsAfterCorruptStateFiles: a settings.json full of garbage
// (before: the daemon refused to start), a truncated torrent record and a
// garbage .torrent are set aside; the daemon starts with the defaults and
// the torrents whose files are whole.
func TestDaemonStartsAfterCorruptStateFiles(t *testing.T) {
	dir := t.TempDir()
	dl, state := filepath.Join(dir, "dl"), filepath.Join(dir, "state")
	d := newDaemon(t, state, dl, nil)
	var hashes []string
	for _, name := range []string{"one", "two", "three"} {
		raw := folderTorrent(t, dl, name)
		added, err := d.Add(context.Background(), daemon.AddRequest{Torrent: raw, Paused: true})
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, added.Hash)
	}
	if err := d.SetSettings(func(s *daemon.Settings) { s.SpeedLimitUp, s.SpeedLimitUpEnabled = 1000, true }); err != nil {
		t.Fatal(err)
	}
	d.Wait() // never started: frees the state folder for the next daemon
	write(t, filepath.Join(state, "settings.json"), "{garbage")
	write(t, filepath.Join(state, "torrents", hashes[0]+".json"), "")
	write(t, filepath.Join(state, "torrents", hashes[1]+".torrent"), "d4:infoi1ee junk")

	d = newDaemon(t, state, dl, nil)
	run(t, d)
	vs, _, err := d.Torrents(nil, false)
	if err != nil || len(vs) != 1 || vs[0].Name != "three" {
		t.Errorf("after the restart: %+v, %v; want the one whole torrent, three", vs, err)
	}
	if s := d.Settings(); s.SpeedLimitUpEnabled || s.DownloadDir != dl {
		t.Errorf("settings after a corrupt settings.json: %+v, want the defaults", s)
	}
	mustRead(t, filepath.Join(state, "settings.json.corrupt"), "{garbage")
}

// TestWatchFolderWaitsForAFileBeingCopied: a .torrent written slowly into
// the watch folder (cp over a slow disk) is added once whole. Before, a
// scan in the middle of the copy read half a file and renamed it
// .invalid for good.
func TestWatchFolderWaitsForAFileBeingCopied(t *testing.T) {
	dir := t.TempDir()
	watch := filepath.Join(dir, "watch")
	raw, m := content(t, filepath.Join(dir, "src"), "w.bin", 3_000_000, "") // 46 piece hashes: a 1 KB torrent
	if err := os.MkdirAll(watch, 0o755); err != nil {
		t.Fatal(err)
	}
	d := newDaemon(t, filepath.Join(dir, "state"), filepath.Join(dir, "dl"), func(c *daemon.Config) {
		c.WatchDir, c.WatchInterval = watch, 250*time.Millisecond
	})
	run(t, d)
	f, err := os.Create(filepath.Join(watch, "slow.torrent"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := len(raw)/40 + 1
	for i := 0; i < len(raw); i += chunk { // 40 writes, 25 ms apart: 1 s, 4 scans
		if _, err := f.Write(raw[i:min(i+chunk, len(raw))]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	f.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok := d.ResolveHash(m.InfoHash.String()); ok {
			break
		}
		if _, err := os.Stat(filepath.Join(watch, "slow.torrent.invalid")); err == nil {
			t.Fatal("a torrent file read while being written was renamed .invalid")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, ok := d.ResolveHash(m.InfoHash.String()); !ok {
		t.Fatal("the slowly written torrent was not added within 10 s")
	}
}
