package interop_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests of `swarm daemon` (issue 15) driven by the real transmission-remote
// and by swarm's own client commands.

// swarmDaemon is a running `swarm daemon` and how to reach it.
type swarmDaemon struct {
	p     *proc
	rpc   string // 127.0.0.1:PORT
	state string
	dl    string
}

// startDaemon runs swarm daemon with its state in state, downloads in dl,
// peers on an ephemeral port and the RPC on rpc ("" picks a free port).
func startDaemon(t testing.TB, state, dl, rpc string, extra ...string) *swarmDaemon {
	t.Helper()
	if rpc == "" {
		rpc = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	}
	args := append([]string{"daemon", "--state", state, "--download-dir", dl, "--listen", "127.0.0.1:0",
		"--rpc", rpc, "--log-level", "debug", "--log-format", "json"}, extra...)
	p := start(t, "", "swarm daemon", swarmBin, args...)
	port, _ := strconv.Atoi(rpc[strings.LastIndex(rpc, ":")+1:])
	waitListening(t, port, 20*time.Second)
	return &swarmDaemon{p: p, rpc: rpc, state: state, dl: dl}
}

// remote runs transmission-remote against the daemon and returns its
// output; it fails the test when transmission-remote fails.
func (d *swarmDaemon) remote(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, need(t, "transmission-remote"), append([]string{d.rpc}, args...)...)
}

// listedTorrent is a row of `swarm list --json`.
type listedTorrent struct {
	ID          int     `json:"id"`
	Name        string  `json:"name"`
	PercentDone float64 `json:"percentDone"`
	Status      int     `json:"status"`
	Error       int     `json:"error"`
	ErrorString string  `json:"errorString"`
	Hash        string  `json:"hashString"`
}

// list returns the daemon's torrents by id, through `swarm list --json`.
func (d *swarmDaemon) list(t testing.TB) map[int]listedTorrent {
	t.Helper()
	out := run(t, swarmBin, "list", "--json", "--rpc", d.rpc)
	var ts []listedTorrent
	if err := json.Unmarshal([]byte(out), &ts); err != nil {
		t.Fatalf("swarm list --json: %v\n%s", err, out)
	}
	m := map[int]listedTorrent{}
	for _, x := range ts {
		m[x.ID] = x
	}
	return m
}

// waitTorrent polls until ok holds for torrent id, or fails after timeout.
func (d *swarmDaemon) waitTorrent(t testing.TB, id int, what string, timeout time.Duration, ok func(listedTorrent) bool) listedTorrent {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		x, found := d.list(t)[id]
		if found && ok(x) {
			return x
		}
		if time.Now().After(deadline) {
			t.Fatalf("torrent %d not %s within %v: %+v (listed: %v)", id, what, timeout, x, found)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func complete(x listedTorrent) bool { return x.PercentDone == 1 && x.Status == 6 }

// seedContent makes content (a file, or a folder with two files), its
// torrent announcing to announce, and seeds it with swarm seed until the
// test ends. It returns the torrent's path and info hash.
func seedContent(t testing.TB, dir, name string, folder bool, announce string, seed uint64) (string, string) {
	t.Helper()
	src := filepath.Join(dir, "src-"+name)
	content := filepath.Join(src, name)
	if folder {
		writeRandomFile(t, filepath.Join(content, "a.bin"), 700_000, seed)
		writeRandomFile(t, filepath.Join(content, "b.bin"), 300_001, seed+1)
	} else {
		writeRandomFile(t, content, 1_500_000, seed)
	}
	torrent, ih := createWithTracker(t, content, announce, "64KiB")
	start(t, dir, "swarm seed "+name, swarmBin, "seed", torrent, "--data", src, "--listen", "127.0.0.1:0", "--log-level", "debug")
	waitTrackerCounts(t, announce, ih, 1, 0, 30*time.Second)
	return torrent, ih
}

// TestTransmissionRemoteDrivesDaemon is the acceptance test of issue 15:
// the real transmission-remote adds a .torrent and a magnet link, lists,
// shows info, stops and starts, verifies, moves, deselects a file, sets
// the speed limits, shows session stats, removes and removes with data.
func TestTransmissionRemoteDrivesDaemon(t *testing.T) {
	need(t, "transmission-remote")
	dir := t.TempDir()
	announce := startSwarmTracker(t)
	fileTorrent, fileHash := seedContent(t, dir, "single.bin", false, announce, 71)
	_, folderHash := seedContent(t, dir, "album", true, announce, 72)
	dl := filepath.Join(dir, "downloads")
	d := startDaemon(t, filepath.Join(dir, "state"), dl, "")

	// -a FILE and -a MAGNET: both complete, byte-identical.
	d.remote(t, "-a", fileTorrent)
	magnet := "magnet:?xt=urn:btih:" + folderHash + "&dn=album&tr=" + announce
	d.remote(t, "-a", magnet)
	d.waitTorrent(t, 1, "complete", 60*time.Second, complete)
	d.waitTorrent(t, 2, "complete", 60*time.Second, complete)
	sameBytes(t, filepath.Join(dir, "src-single.bin", "single.bin"), filepath.Join(dl, "single.bin"))
	sameTree(t, filepath.Join(dir, "src-album", "album"), filepath.Join(dl, "album"))

	list := d.remote(t, "-l")
	for _, want := range []string{"single.bin", "album", "100%"} {
		if !strings.Contains(list, want) {
			t.Errorf("transmission-remote -l lacks %q:\n%s", want, list)
		}
	}
	info := d.remote(t, "-t", "1", "-i")
	for _, want := range []string{"Name: single.bin", "Hash: " + fileHash, "Percent Done: 100%", "Location: " + dl, "Total size: 1.50 MB"} {
		if !strings.Contains(info, want) {
			t.Errorf("transmission-remote -t 1 -i lacks %q:\n%s", want, info)
		}
	}

	// transmission-remote shows a seeding torrent with no peers as Idle.
	if !regexp.MustCompile(`State: (Seeding|Idle)`).MatchString(info) {
		t.Errorf("transmission-remote -t 1 -i: not seeding:\n%s", info)
	}

	// -S stops, -s starts again from the resume record: still 100%.
	d.remote(t, "-t", "1", "-S")
	d.waitTorrent(t, 1, "stopped", 10*time.Second, func(x listedTorrent) bool { return x.Status == 0 })
	if info := d.remote(t, "-t", "1", "-i"); !strings.Contains(info, "State: Finished") && !strings.Contains(info, "State: Stopped") {
		t.Errorf("after -S, -i says:\n%s", info)
	}
	d.remote(t, "-t", "1", "-s")
	d.waitTorrent(t, 1, "seeding again", 20*time.Second, complete)

	// -v checks the data again: still complete.
	d.remote(t, "-t", "1", "-v")
	d.waitTorrent(t, 1, "verified", 30*time.Second, complete)

	// --move moves the data; the torrent seeds from the new folder.
	moved := filepath.Join(dir, "moved")
	d.remote(t, "-t", "1", "--move", moved)
	d.waitTorrent(t, 1, "seeding after the move", 30*time.Second, complete)
	sameBytes(t, filepath.Join(dir, "src-single.bin", "single.bin"), filepath.Join(moved, "single.bin"))
	if _, err := os.Stat(filepath.Join(dl, "single.bin")); err == nil {
		t.Errorf("single.bin still in %s after --move", dl)
	}
	if info := d.remote(t, "-t", "1", "-i"); !strings.Contains(info, "Location: "+moved) {
		t.Errorf("after --move, -i says:\n%s", info)
	}

	// -G 1 deselects the album's second file.
	d.remote(t, "-t", "2", "-G", "1")
	files := d.remote(t, "-t", "2", "-if")
	if !regexp.MustCompile(`(?m)^\s*1: .*\bNo\b.*b\.bin`).MatchString(files) || !regexp.MustCompile(`(?m)^\s*0: .*\bYes\b.*a\.bin`).MatchString(files) {
		t.Errorf("after -G 1, -if says:\n%s", files)
	}

	// -d / -u set the session's limits, -si and -st report.
	d.remote(t, "-d", "100")
	d.remote(t, "-u", "50")
	si := d.remote(t, "-si")
	for _, want := range []string{"Download speed limit: 100 kB/s", "Upload speed limit: 50 kB/s", "RPC version: 17"} {
		if !strings.Contains(si, want) {
			t.Errorf("transmission-remote -si lacks %q:\n%s", want, si)
		}
	}
	if st := d.remote(t, "-st"); !strings.Contains(st, "CURRENT SESSION") {
		t.Errorf("transmission-remote -st:\n%s", st)
	}

	// -r keeps the data; --remove-and-delete deletes it.
	d.remote(t, "-t", "1", "-r")
	d.remote(t, "-t", "2", "--remove-and-delete")
	deadline := time.Now().Add(10 * time.Second)
	for len(d.list(t)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if l := d.list(t); len(l) != 0 {
		t.Errorf("after removing both, the daemon lists %v", l)
	}
	if _, err := os.Stat(filepath.Join(moved, "single.bin")); err != nil {
		t.Errorf("-r deleted the data: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dl, "album")); err == nil {
		t.Errorf("--remove-and-delete left %s", filepath.Join(dl, "album"))
	}
}

// TestDaemonRestartKeepsTorrentsAndProgress: a daemon stopped by SIGTERM
// (exit 0) and one killed by SIGKILL mid-download both come back with every
// torrent, its id and at least the progress it had; the download then
// completes.
func TestDaemonRestartKeepsTorrentsAndProgress(t *testing.T) {
	dir := t.TempDir()
	announce := startSwarmTracker(t)
	src := filepath.Join(dir, "src")
	writeRandomFile(t, filepath.Join(src, "slow.bin"), 6<<20, 81)
	torrent, ih := createWithTracker(t, filepath.Join(src, "slow.bin"), announce, "64KiB")
	start(t, dir, "swarm seed", swarmBin, "seed", torrent, "--data", src, "--listen", "127.0.0.1:0", "--up-rate", "1MiB")
	waitTrackerCounts(t, announce, ih, 1, 0, 30*time.Second)
	state, dl := filepath.Join(dir, "state"), filepath.Join(dir, "dl")

	d := startDaemon(t, state, dl, "")
	run(t, swarmBin, "add", torrent, "--rpc", d.rpc)
	before := d.waitTorrent(t, 1, "a tenth done", 30*time.Second, func(x listedTorrent) bool { return x.PercentDone > 0.1 })

	// SIGTERM: exit 0 promptly.
	termAt := time.Now()
	d.p.cmd.Process.Signal(syscall.SIGTERM)
	if err := d.p.wait(t, 10*time.Second); err != nil {
		t.Fatalf("daemon after SIGTERM: %v, want exit 0", err)
	}
	t.Logf("SIGTERM at %.1f%% done: exit 0 after %v", 100*before.PercentDone, time.Since(termAt).Round(time.Millisecond))
	d = startDaemon(t, state, dl, d.rpc)
	after := d.waitTorrent(t, 1, "back", 20*time.Second, func(x listedTorrent) bool { return x.Status >= 3 })
	if after.Hash != ih || after.PercentDone < before.PercentDone {
		t.Fatalf("after SIGTERM and restart: %+v, before %+v", after, before)
	}
	t.Logf("after the restart: %.1f%% done", 100*after.PercentDone)

	// SIGKILL mid-download: the torrent and its verified data are back.
	before = d.waitTorrent(t, 1, "more done", 30*time.Second, func(x listedTorrent) bool { return x.PercentDone > after.PercentDone })
	d.p.cmd.Process.Kill()
	d.p.wait(t, 10*time.Second)
	d = startDaemon(t, state, dl, d.rpc)
	after = d.waitTorrent(t, 1, "back after SIGKILL", 60*time.Second, func(x listedTorrent) bool { return x.Status >= 3 })
	if after.Hash != ih || after.PercentDone < before.PercentDone {
		t.Fatalf("after SIGKILL and restart: %+v, before %+v", after, before)
	}
	t.Logf("SIGKILL at %.1f%% done; after the restart %.1f%%", 100*before.PercentDone, 100*after.PercentDone)
	d.waitTorrent(t, 1, "complete", 60*time.Second, complete)
	sameBytes(t, filepath.Join(src, "slow.bin"), filepath.Join(dl, "slow.bin"))

	// Killed while seeding: back seeding at once, from the resume record.
	d.p.cmd.Process.Kill()
	d.p.wait(t, 10*time.Second)
	restartAt := time.Now()
	d = startDaemon(t, state, dl, d.rpc)
	d.waitTorrent(t, 1, "seeding after SIGKILL", 10*time.Second, complete)
	t.Logf("killed while seeding: seeding again %v after the restart", time.Since(restartAt).Round(time.Millisecond))
	if !strings.Contains(d.p.output(), "resume record valid") {
		t.Errorf("a complete torrent was hashed again after SIGKILL: no \"resume record valid\" in the log")
	}
}

// TestDaemonFailingTorrentShowsErrorWhileAnotherCompletes: a torrent whose
// folder cannot be written shows an error state with the reason, while
// another completes; --watch adds a .torrent (renamed .added) and renames a
// bad one .invalid.
func TestDaemonFailingTorrentShowsErrorWhileAnotherCompletes(t *testing.T) {
	dir := t.TempDir()
	announce := startSwarmTracker(t)
	good, _ := seedContent(t, dir, "good.bin", false, announce, 91)
	bad, _ := seedContent(t, dir, "bad.bin", false, announce, 92)
	watch := filepath.Join(dir, "watch")
	if err := os.MkdirAll(watch, 0o755); err != nil {
		t.Fatal(err)
	}
	dl := filepath.Join(dir, "dl")
	d := startDaemon(t, filepath.Join(dir, "state"), dl, "", "--watch", watch)

	// The unwritable folder: read-only for a normal user; root writes
	// anywhere, so for root a folder below a regular file.
	locked := filepath.Join(dir, "locked")
	if err := os.MkdirAll(locked, 0o555); err != nil {
		t.Fatal(err)
	}
	os.Chmod(locked, 0o555)
	if os.Geteuid() == 0 {
		if err := os.WriteFile(filepath.Join(dir, "a-file"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		locked = filepath.Join(dir, "a-file", "sub")
	}
	run(t, swarmBin, "add", bad, "-o", locked, "--rpc", d.rpc)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(watch, "good.torrent"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(watch, "junk.torrent"), []byte("not bencode"), 0o644); err != nil {
		t.Fatal(err)
	}
	failed := d.waitTorrent(t, 1, "in error", 30*time.Second, func(x listedTorrent) bool { return x.Error == 3 })
	if failed.Status != 0 || failed.ErrorString == "" {
		t.Errorf("failing torrent: %+v, want stopped with an error string", failed)
	}
	t.Logf("error shown: %s", failed.ErrorString)
	d.waitTorrent(t, 2, "complete", 60*time.Second, complete)
	sameBytes(t, filepath.Join(dir, "src-good.bin", "good.bin"), filepath.Join(dl, "good.bin"))
	// A file that does not parse is marked only once it has been left
	// alone for a few scans (it may be a copy in progress): wait for it.
	for _, name := range []string{"good.torrent.added", "junk.torrent.invalid"} {
		var err error
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if _, err = os.Stat(filepath.Join(watch, name)); err == nil {
				break
			}
		}
		if err != nil {
			t.Errorf("watch folder after 30 s: %v", err)
		}
	}
	if l := run(t, swarmBin, "list", "--rpc", d.rpc); !strings.Contains(l, "Error") {
		t.Errorf("swarm list shows no error:\n%s", l)
	}
}

// TestDaemonRefusesOpenRPCWithoutPassword: --rpc off loopback without a
// password is a usage error (exit 2), and the RPC refuses requests without
// the session id and with bad credentials.
func TestDaemonRefusesOpenRPCWithoutPassword(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(swarmBin, "daemon", "--state", filepath.Join(dir, "s"), "--download-dir", filepath.Join(dir, "d"),
		"--listen", "127.0.0.1:0", "--rpc", "0.0.0.0:0")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "--rpc-password") {
		t.Errorf("swarm daemon --rpc 0.0.0.0:0 without a password: %v\n%s", err, out)
	}

	d := startDaemon(t, filepath.Join(dir, "s"), filepath.Join(dir, "d"), "", "--rpc-user", "me", "--rpc-password", "s3cret")
	tr := need(t, "transmission-remote")
	if out, err := exec.Command(tr, d.rpc, "--auth", "me:wrong", "-l").CombinedOutput(); err == nil || !strings.Contains(string(out), "401") {
		t.Errorf("transmission-remote with a bad password: %v\n%s", err, out)
	}
	if out := run(t, tr, d.rpc, "--auth", "me:s3cret", "-l"); !strings.Contains(out, "Sum:") {
		t.Errorf("transmission-remote with the password:\n%s", out)
	}
	if strings.Contains(d.p.output(), "s3cret") {
		t.Errorf("the daemon logged its RPC password")
	}
}

// TestTransmissionRemoteReannounceAndExit: transmission-remote's
// --reannounce (torrent-reannounce) succeeds, and --exit (session-close)
// stops the daemon as SIGTERM does: exit 0 within 10 s.
func TestTransmissionRemoteReannounceAndExit(t *testing.T) {
	need(t, "transmission-remote")
	dir := t.TempDir()
	announce := startSwarmTracker(t)
	writeRandomFile(t, filepath.Join(dir, "src", "r.bin"), 200_000, 91)
	torrent, _ := createWithTracker(t, filepath.Join(dir, "src", "r.bin"), announce, "64KiB")
	d := startDaemon(t, filepath.Join(dir, "state"), filepath.Join(dir, "dl"), "")
	d.remote(t, "-a", torrent)
	if out := d.remote(t, "-t", "1", "--reannounce"); !strings.Contains(out, "success") {
		t.Errorf("--reannounce: %q, want success", out)
	}
	exitAt := time.Now()
	d.remote(t, "--exit")
	if err := d.p.wait(t, 10*time.Second); err != nil {
		t.Fatalf("daemon after --exit: %v, want exit 0", err)
	}
	t.Logf("--exit: daemon exited 0 after %v", time.Since(exitAt).Round(time.Millisecond))
}
