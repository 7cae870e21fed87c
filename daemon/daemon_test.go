package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/daemon"
	"swarm/metainfo"
	"swarm/session"
	"swarm/tracker/server"
)

// content writes size random bytes as dir/name and returns its torrent
// (64 KiB pieces, announcing to announce) as bytes and parsed.
func content(t testing.TB, dir, name string, size int, announce string) ([]byte, *metainfo.MetaInfo) {
	t.Helper()
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(size), 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := metainfo.BuildConfig{Path: filepath.Join(dir, name), PieceLength: 64 << 10}
	if announce != "" {
		cfg.Tiers = [][]string{{announce}}
	}
	m, err := metainfo.Build(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return raw, m
}

// startTracker runs an open tracker on loopback until the test ends.
func startTracker(t testing.TB) string {
	t.Helper()
	s, err := server.New(server.Config{Interval: 2 * time.Second, MinInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts.URL + "/announce"
}

// seed seeds m's content from dir in a session of its own until the test
// ends.
func seed(t testing.TB, m *metainfo.MetaInfo, dir string) {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	s, err := session.New(session.Config{ListenAddr: "127.0.0.1:0", Logger: &log, NoUTP: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := session.OpenContent(context.Background(), m, dir, session.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Seed = true
	tor, err := s.NewTorrent(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.AddTorrent(tor)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// newDaemon makes a daemon with its state in state and downloads in dl.
func newDaemon(t testing.TB, state, dl string, mod func(*daemon.Config)) *daemon.Daemon {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	cfg := daemon.Config{StateDir: state, DownloadDir: dl, Logger: &log,
		Session: session.Config{ListenAddr: "127.0.0.1:0", NoUTP: true}}
	if mod != nil {
		mod(&cfg)
	}
	d, err := daemon.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// run starts d until the test ends (or the returned stop is called).
func run(t testing.TB, d *daemon.Daemon) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			d.Wait()
		}
	}
	t.Cleanup(stop)
	return stop
}

func view(t testing.TB, d *daemon.Daemon, id int) daemon.View {
	t.Helper()
	vs, _, err := d.Torrents([]int{id}, false)
	if err != nil {
		t.Fatal(err)
	}
	return vs[0]
}

// waitFor polls torrent id until ok, for at most timeout.
func waitFor(t testing.TB, d *daemon.Daemon, id int, what string, timeout time.Duration, ok func(daemon.View) bool) daemon.View {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := view(t, d, id)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("torrent %d not %s within %v: status %d, %.2f done, error %q", id, what, timeout, v.Status, v.PercentDone(), v.Error)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func seeding(v daemon.View) bool { return v.Status == daemon.StatusSeed && v.PercentDone() == 1 }

func TestAddIsOnDiskBeforeItReturnsAndSurvivesReload(t *testing.T) {
	dir := t.TempDir()
	state, dl := filepath.Join(dir, "state"), filepath.Join(dir, "dl")
	raw, m := content(t, filepath.Join(dir, "src"), "a.bin", 100_000, "")
	d := newDaemon(t, state, dl, func(c *daemon.Config) { c.MaxTorrents = 2 })
	ctx := context.Background()
	added, err := d.Add(ctx, daemon.AddRequest{Torrent: raw, Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	if added.ID != 1 || added.Hash != m.InfoHash.String() || added.Duplicate {
		t.Errorf("Add = %+v", added)
	}
	for _, p := range []string{added.Hash + ".json", added.Hash + ".torrent"} {
		if _, err := os.Stat(filepath.Join(state, "torrents", p)); err != nil {
			t.Errorf("after Add: %v", err)
		}
	}
	if again, err := d.Add(ctx, daemon.AddRequest{Torrent: raw}); err != nil || !again.Duplicate || again.ID != 1 {
		t.Errorf("second Add = %+v, %v; want a duplicate of id 1", again, err)
	}
	link := "magnet:?xt=urn:btih:" + string(bytes.Repeat([]byte("ab"), 20)) + "&dn=later"
	if mg, err := d.Add(ctx, daemon.AddRequest{Source: link, Paused: true}); err != nil || mg.ID != 2 || mg.Name != "later" {
		t.Errorf("Add(magnet) = %+v, %v", mg, err)
	}
	if _, err := d.Add(ctx, daemon.AddRequest{Torrent: []byte("junk")}); !errors.Is(err, daemon.ErrBadInput) {
		t.Errorf("Add(junk) = %v, want ErrBadInput", err)
	}
	_, other := content(t, filepath.Join(dir, "src"), "b.bin", 1000, "")
	rawB, _ := other.Encode()
	if _, err := d.Add(ctx, daemon.AddRequest{Torrent: rawB}); !errors.Is(err, daemon.ErrTooMany) {
		t.Errorf("third Add past MaxTorrents 2 = %v, want ErrTooMany", err)
	}
	d.Wait() // never started: closes the listener

	// Another daemon on the same state has both, same ids, still paused.
	d2 := newDaemon(t, state, dl, nil)
	defer d2.Wait()
	vs, _, err := d2.Torrents(nil, false)
	if err != nil || len(vs) != 2 {
		t.Fatalf("after reload: %v, %v", vs, err)
	}
	if vs[0].ID != 1 || vs[0].Name != "a.bin" || vs[0].Status != daemon.StatusStopped || vs[0].TotalSize != 100_000 {
		t.Errorf("reloaded torrent 1: %+v", vs[0])
	}
	if vs[1].ID != 2 || vs[1].Name != "later" || vs[1].MetadataDone {
		t.Errorf("reloaded magnet: %+v", vs[1])
	}
}

// TestDownloadPauseResumeVerifyMoveRemove drives one torrent through its
// life in a running daemon.
func TestDownloadPauseResumeVerifyMoveRemove(t *testing.T) {
	dir := t.TempDir()
	announce := startTracker(t)
	src := filepath.Join(dir, "src")
	raw, m := content(t, src, "a.bin", 700_001, announce)
	seed(t, m, src)
	dl := filepath.Join(dir, "dl")
	d := newDaemon(t, filepath.Join(dir, "state"), dl, nil)
	run(t, d)
	added, err := d.Add(context.Background(), daemon.AddRequest{Torrent: raw})
	if err != nil {
		t.Fatal(err)
	}
	id := added.ID
	v := waitFor(t, d, id, "complete", 30*time.Second, seeding)
	if v.Done == 0 || v.Downloaded < 700_001 || len(v.Files()) != 1 || v.Files()[0].Completed != 700_001 {
		t.Errorf("after the download: done %d, downloaded %d, files %+v", v.Done, v.Downloaded, v.Files())
	}
	same(t, filepath.Join(src, "a.bin"), filepath.Join(dl, "a.bin"))

	if err := d.Pause([]int{id}); err != nil {
		t.Fatal(err)
	}
	if v := view(t, d, id); v.Status != daemon.StatusStopped || v.PercentDone() != 1 || v.Error != "" {
		t.Errorf("paused: status %d, %.2f done, error %q", v.Status, v.PercentDone(), v.Error)
	}
	if err := d.Resume([]int{id}, false); err != nil {
		t.Fatal(err)
	}
	v = waitFor(t, d, id, "seeding again", 10*time.Second, seeding)
	if v.Downloaded != 700_001 {
		t.Errorf("resumed torrent downloaded again: %d bytes ever, want 700001", v.Downloaded)
	}

	if err := d.Verify([]int{id}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, d, id, "seeding after the check", 10*time.Second, seeding)

	moved := filepath.Join(dir, "moved")
	if err := d.SetLocation([]int{id}, moved, true); err != nil {
		t.Fatal(err)
	}
	v = waitFor(t, d, id, "seeding after the move", 10*time.Second, seeding)
	if v.Dir != moved {
		t.Errorf("Dir after the move = %q", v.Dir)
	}
	same(t, filepath.Join(src, "a.bin"), filepath.Join(moved, "a.bin"))
	if _, err := os.Stat(filepath.Join(dl, "a.bin")); err == nil {
		t.Error("the data is still in the old folder after the move")
	}

	if err := d.Set([]int{id}, daemon.Change{UpLimit: ptr(int64(50_000)), UpLimited: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if v := view(t, d, id); !v.UpLimited || v.UpLimit != 50_000 {
		t.Errorf("after Set: %+v", v)
	}

	if err := d.Remove([]int{id}, true); err != nil {
		t.Fatal(err)
	}
	if vs, _, _ := d.Torrents(nil, false); len(vs) != 0 {
		t.Errorf("after Remove: %v", vs)
	}
	if _, err := os.Stat(filepath.Join(moved, "a.bin")); err == nil {
		t.Error("Remove with deleteData left the file")
	}
	if _, _, err := d.Torrents([]int{id}, false); !errors.Is(err, daemon.ErrNotFound) {
		t.Errorf("Torrents of a removed id = %v, want ErrNotFound", err)
	}
}

// TestQueueBoundsActiveDownloads: with one download slot, the second torrent
// waits (status 3) until the first is paused.
func TestQueueBoundsActiveDownloads(t *testing.T) {
	dir := t.TempDir()
	d := newDaemon(t, filepath.Join(dir, "state"), filepath.Join(dir, "dl"), func(c *daemon.Config) { c.MaxActiveDownloads = 1 })
	run(t, d)
	var ids []int
	for i, name := range []string{"a.bin", "b.bin"} {
		raw, _ := content(t, filepath.Join(dir, "src"), name, 10_000+i, "")
		added, err := d.Add(context.Background(), daemon.AddRequest{Torrent: raw})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, added.ID)
	}
	waitFor(t, d, ids[0], "downloading", 10*time.Second, func(v daemon.View) bool { return v.Status == daemon.StatusDownload })
	if v := view(t, d, ids[1]); v.Status != daemon.StatusDownloadWait {
		t.Errorf("second torrent: status %d, want %d (queued)", v.Status, daemon.StatusDownloadWait)
	}
	if err := d.Pause(ids[:1]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, d, ids[1], "downloading once a slot is free", 10*time.Second, func(v daemon.View) bool { return v.Status == daemon.StatusDownload })
}

// TestUnwritableFolderIsAnErrorStateOthersRunOn: a torrent whose folder
// cannot be created stops with the error; the daemon's other torrent
// completes.
func TestUnwritableFolderIsAnErrorStateOthersRunOn(t *testing.T) {
	dir := t.TempDir()
	announce := startTracker(t)
	src := filepath.Join(dir, "src")
	rawA, ma := content(t, src, "a.bin", 300_000, announce)
	rawB, mb := content(t, src, "b.bin", 300_001, announce)
	seed(t, ma, src)
	seed(t, mb, src)
	d := newDaemon(t, filepath.Join(dir, "state"), filepath.Join(dir, "dl"), nil)
	run(t, d)
	// A folder below a regular file: no user, root included, can make it.
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bad, err := d.Add(context.Background(), daemon.AddRequest{Torrent: rawA, Dir: filepath.Join(dir, "file", "sub")})
	if err != nil {
		t.Fatal(err)
	}
	good, err := d.Add(context.Background(), daemon.AddRequest{Torrent: rawB})
	if err != nil {
		t.Fatal(err)
	}
	v := waitFor(t, d, bad.ID, "in error", 30*time.Second, func(v daemon.View) bool { return v.Error != "" })
	if v.Status != daemon.StatusStopped {
		t.Errorf("failed torrent: status %d, want stopped", v.Status)
	}
	t.Logf("error shown: %s", v.Error)
	waitFor(t, d, good.ID, "complete", 30*time.Second, seeding)
}

func TestWatchFolderAddsAndMarksInvalid(t *testing.T) {
	dir := t.TempDir()
	watch := filepath.Join(dir, "watch")
	raw, m := content(t, filepath.Join(dir, "src"), "w.bin", 5000, "")
	os.MkdirAll(watch, 0o755)
	os.WriteFile(filepath.Join(watch, "w.torrent"), raw, 0o644)
	os.WriteFile(filepath.Join(watch, "bad.torrent"), []byte("d4:infoi3ee"), 0o644)
	os.WriteFile(filepath.Join(watch, "notes.txt"), []byte("left alone"), 0o644)
	d := newDaemon(t, filepath.Join(dir, "state"), filepath.Join(dir, "dl"), func(c *daemon.Config) {
		c.WatchDir, c.WatchInterval = watch, 50*time.Millisecond
	})
	run(t, d)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, e1 := os.Stat(filepath.Join(watch, "w.torrent.added"))
		_, e2 := os.Stat(filepath.Join(watch, "bad.torrent.invalid"))
		if e1 == nil && e2 == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, name := range []string{"w.torrent.added", "bad.torrent.invalid", "notes.txt"} {
		if _, err := os.Stat(filepath.Join(watch, name)); err != nil {
			t.Error(err)
		}
	}
	if id, ok := d.ResolveHash(m.InfoHash.String()); !ok || view(t, d, id).Name != "w.bin" {
		t.Errorf("the watched torrent was not added")
	}
}

// TestWatchFolderWaitsForAFileStillBeingWritten: a .torrent copied into
// the watch folder in two writes, the first scan seeing only half of it,
// is added once whole, not renamed .invalid (Transmission retries too).
func TestWatchFolderWaitsForAFileStillBeingWritten(t *testing.T) {
	dir := t.TempDir()
	watch := filepath.Join(dir, "watch")
	raw, m := content(t, filepath.Join(dir, "src"), "w.bin", 5000, "")
	os.MkdirAll(watch, 0o755)
	path := filepath.Join(watch, "w.torrent")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(raw[:len(raw)/2])
	d := newDaemon(t, filepath.Join(dir, "state"), filepath.Join(dir, "dl"), func(c *daemon.Config) {
		c.WatchDir, c.WatchInterval = watch, time.Second
	})
	run(t, d) // scans at once: half a torrent
	time.Sleep(300 * time.Millisecond)
	f.Write(raw[len(raw)/2:])
	f.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, e1 := os.Stat(path + ".added")
		_, e2 := os.Stat(path + ".invalid")
		if e1 == nil || e2 == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(path + ".invalid"); err == nil {
		t.Fatal("the half-written torrent was renamed .invalid")
	}
	if id, ok := d.ResolveHash(m.InfoHash.String()); !ok || view(t, d, id).Name != "w.bin" {
		t.Errorf("the torrent was not added once whole")
	}
}

// TestStopSavesCountersAndRestartKeepsThem: a daemon stopped after a
// download has the torrent, complete, with its counters, after a restart.
func TestStopSavesCountersAndRestartKeepsThem(t *testing.T) {
	dir := t.TempDir()
	announce := startTracker(t)
	src := filepath.Join(dir, "src")
	raw, m := content(t, src, "a.bin", 200_000, announce)
	seed(t, m, src)
	state, dl := filepath.Join(dir, "state"), filepath.Join(dir, "dl")
	d := newDaemon(t, state, dl, nil)
	stop := run(t, d)
	added, err := d.Add(context.Background(), daemon.AddRequest{Torrent: raw})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, d, added.ID, "complete", 30*time.Second, seeding)
	stop()

	d2 := newDaemon(t, state, dl, nil)
	run(t, d2)
	v := waitFor(t, d2, added.ID, "seeding after the restart", 10*time.Second, seeding)
	if v.Downloaded != 200_000 || v.Done == 0 {
		t.Errorf("after the restart: downloaded %d, done %d", v.Downloaded, v.Done)
	}
}

// TestSecondDaemonOnOneStateFolderIsRefused: while a daemon holds a state
// folder, another is refused with a message saying why (the two would
// overwrite each other's records); once the first has stopped, one starts.
func TestSecondDaemonOnOneStateFolderIsRefused(t *testing.T) {
	dir := t.TempDir()
	state, dl := filepath.Join(dir, "state"), filepath.Join(dir, "dl")
	stop := run(t, newDaemon(t, state, dl, nil))
	_, err := daemon.New(daemon.Config{StateDir: state, DownloadDir: filepath.Join(dir, "dl2")})
	if err == nil || !strings.Contains(err.Error(), "in use by another swarm daemon") {
		t.Fatalf("second daemon on %s: %v, want it refused", state, err)
	}
	stop()
	d := newDaemon(t, state, dl, nil)
	d.Wait() // never started: frees the folder all the same
	run(t, newDaemon(t, state, dl, nil))
}

func ptr[T any](v T) *T { return &v }

func same(t testing.TB, want, got string) {
	t.Helper()
	a, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("%s differs from %s", got, want)
	}
}

// TestFilePrioritiesOrderTheDownload: file 1 high and file 0 low, under a
// download cap: no byte of file 0 is verified before file 1 is complete
// (the only seed sends blocks in the order asked). Set either before the
// torrent starts (stored, applied at start) or while it runs, before the
// seed is up (applied to the running torrent).
func TestFilePrioritiesOrderTheDownload(t *testing.T) {
	for _, running := range []bool{false, true} {
		t.Run(map[bool]string{false: "set while paused", true: "set while running"}[running], func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src", "two")
			for i, name := range []string{"a.bin", "b.bin"} {
				content(t, src, name, 320<<10+i, "")
			}
			m, err := metainfo.Build(context.Background(), metainfo.BuildConfig{Path: src, PieceLength: 64 << 10, Tiers: [][]string{{startTracker(t)}}})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !running {
				seed(t, m, filepath.Dir(src))
			}
			d := newDaemon(t, filepath.Join(dir, "state"), filepath.Join(dir, "dl"), nil)
			run(t, d)
			added, err := d.Add(context.Background(), daemon.AddRequest{Torrent: raw, Paused: !running, Start: running})
			if err != nil {
				t.Fatal(err)
			}
			id := added.ID
			if running {
				waitFor(t, d, id, "downloading", 10*time.Second, func(v daemon.View) bool { return v.Status == daemon.StatusDownload })
			}
			if err := d.Set([]int{id}, daemon.Change{PriorityHigh: []int{1}, PriorityLow: []int{0},
				DownLimit: ptr(int64(256 << 10)), DownLimited: ptr(true)}); err != nil {
				t.Fatal(err)
			}
			v := view(t, d, id)
			if fs := v.Files(); fs[0].Priority != -1 || fs[1].Priority != 1 {
				t.Fatalf("priorities after Set: %+v", fs)
			}
			if running {
				seed(t, m, filepath.Dir(src))
			} else if err := d.Resume([]int{id}, false); err != nil {
				t.Fatal(err)
			}
			waitFor(t, d, id, "complete", 30*time.Second, func(v daemon.View) bool {
				fs := v.Files()
				if fs[0].Completed > 0 && fs[1].Completed < fs[1].Length {
					t.Fatalf("file 0 (low) has %d bytes verified while file 1 (high) has %d of %d", fs[0].Completed, fs[1].Completed, fs[1].Length)
				}
				return seeding(v)
			})
		})
	}
}

// TestReannounceAndClose: Reannounce makes a seeding torrent announce
// again at once (its tracker's interval is 30 min), an unknown id is
// refused, and Close stops the daemon as SIGTERM does: Done closes, the
// tracker hears "stopped", Wait returns.
func TestReannounceAndClose(t *testing.T) {
	var mu sync.Mutex
	var events []string
	heard := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(events) }
	tr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		events = append(events, r.URL.Query().Get("event"))
		mu.Unlock()
		w.Write([]byte("d8:intervali1800e5:peers0:e"))
	}))
	t.Cleanup(tr.Close)
	dir := t.TempDir()
	dl := filepath.Join(dir, "dl")
	raw, _ := content(t, dl, "a.bin", 100_000, tr.URL+"/announce")
	d := newDaemon(t, filepath.Join(dir, "state"), dl, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	added, err := d.Add(context.Background(), daemon.AddRequest{Torrent: raw, Start: true})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, d, added.ID, "seeding", 10*time.Second, seeding)
	waitHeard := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); len(heard()) < n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the tracker heard %q, want %d announces within 10 s", heard(), n)
			}
		}
	}
	waitHeard(1)
	if err := d.Reannounce([]int{added.ID + 1}); !errors.Is(err, daemon.ErrNotFound) {
		t.Errorf("Reannounce of an unknown id = %v, want ErrNotFound", err)
	}
	if err := d.Reannounce([]int{added.ID}); err != nil {
		t.Fatal(err)
	}
	waitHeard(2)
	d.Close()
	select {
	case <-d.Done():
	case <-time.After(time.Second):
		t.Fatal("Done not closed after Close")
	}
	stopped := make(chan struct{})
	go func() { d.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return within 10 s of Close")
	}
	if got := heard(); !slices.Equal(got, []string{"started", "", "stopped"}) {
		t.Errorf("the tracker heard %q, want started, a regular announce, stopped", got)
	}
}

// TestStartRemovesWhatAnInterruptedWriteLeft: a daemon killed in the
// middle of an atomic write (SIGKILL, power cut) leaves its temporary
// file; the next start removes those of the state folder and of the
// resume records' folders, and nothing else in a download folder.
func TestStartRemovesWhatAnInterruptedWriteLeft(t *testing.T) {
	dir := t.TempDir()
	state, dl := filepath.Join(dir, "state"), filepath.Join(dir, "dl")
	raw, m := content(t, filepath.Join(dir, "src"), "a.bin", 1000, "")
	d := newDaemon(t, state, dl, nil)
	if _, err := d.Add(context.Background(), daemon.AddRequest{Torrent: raw, Paused: true}); err != nil {
		t.Fatal(err)
	}
	d.Wait()
	h := m.InfoHash.String()
	old := time.Now().Add(-2 * time.Minute)
	files := map[string]bool{ // path: removed
		filepath.Join(state, ".swarm-tmp-settings.json-1"):               true,
		filepath.Join(state, "torrents", ".tmp-2"):                       true, // before this version
		filepath.Join(state, "torrents", ".swarm-tmp-"+h+".json-3"):      true,
		filepath.Join(dl, session.StateDir, ".swarm-tmp-"+h+".resume-4"): true,
		filepath.Join(dl, session.StateDir, h+".resume.5.tmp"):           true,  // before this version
		filepath.Join(dl, ".tmp-6"):                                      false, // the user's, not in .swarm
		filepath.Join(dl, "a.bin.swarm-tmp-7"):                           false,
		filepath.Join(state, "torrents", h+".json"):                      false,
		filepath.Join(state, "torrents", h+".torrent"):                   false,
	}
	for p := range files {
		if _, err := os.Stat(p); err == nil {
			continue // the daemon's own
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	d2 := newDaemon(t, state, dl, nil)
	defer d2.Wait()
	for p, removed := range files {
		_, err := os.Stat(p)
		if gone := errors.Is(err, fs.ErrNotExist); gone != removed {
			t.Errorf("%s: removed %v, want %v", p, gone, removed)
		}
	}
	if vs, _, err := d2.Torrents(nil, false); err != nil || len(vs) != 1 || vs[0].Name != "a.bin" {
		t.Errorf("after the restart: %+v, %v; want a.bin", vs, err)
	}
}
