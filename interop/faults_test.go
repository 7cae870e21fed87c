package interop_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Faults a download survives (issue 8): each test runs the swarm binary as
// a user would and checks the download ends byte for byte, with no verified
// piece fetched twice.

// getArgs are the arguments of a swarm get that logs each verified piece.
func getArgs(torrent, out string, extra ...string) []string {
	return append([]string{"get", torrent, "-o", out, "--listen", "127.0.0.1:0", "--log-level", "debug", "--log-format", "json"}, extra...)
}

// pieceLedger counts, across the runs of one download, which run verified
// each piece.
type pieceLedger struct {
	seen  map[int]int
	total int
	again int
}

// add takes one run's output and reports the run's verified pieces.
func (l *pieceLedger) add(t *testing.T, run int, out string) (verified, already int) {
	t.Helper()
	if l.seen == nil {
		l.seen = map[int]int{}
	}
	v, already := verifiedPieces(t, out)
	if already < l.total {
		t.Errorf("run %d found %d pieces verified at start; earlier runs verified %d", run, already, l.total)
	}
	for _, p := range v {
		if r, ok := l.seen[p]; ok {
			t.Errorf("run %d verified piece %d again (first verified in run %d)", run, p, r)
			l.again++
		}
		l.seen[p] = run
	}
	l.total += len(v)
	return len(v), already
}

// TestGetSurvivesTenSIGKILLs kills a download with SIGKILL at ten random
// moments; each restart resumes, no verified piece is verified (so
// downloaded) twice, and the final file is byte-identical.
func TestGetSurvivesTenSIGKILLs(t *testing.T) {
	parent, torrent := content(t, "single") // 161 pieces of 32 KiB
	numPieces := readWithSwarm(t, torrent).Pieces
	port := swarmSeed(t, torrent, parent, "--up-rate", "384KiB")
	out := t.TempDir()
	seed := time.Now().UnixNano()
	r := rand.New(rand.NewPCG(uint64(seed), 8))
	t.Logf("random seed %d", seed)
	var l pieceLedger
	args := getArgs(torrent, out, "--peer", fmt.Sprintf("127.0.0.1:%d", port))
	const kills = 10
	for run := 1; run <= kills+1; run++ {
		get := start(t, "", fmt.Sprintf("swarm get (run %d)", run), swarmBin, args...)
		get.waitFor(t, alreadyRe, 30*time.Second)
		if run <= kills {
			delay := 200*time.Millisecond + time.Duration(r.Int64N(int64(1300*time.Millisecond)))
			time.Sleep(delay)
			if err := get.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			get.wait(t, 10*time.Second)
			v, already := l.add(t, run, get.output())
			t.Logf("run %d: SIGKILL after %v: %d verified at start, %d verified in the run", run, delay.Round(time.Millisecond), already, v)
			continue
		}
		if err := get.wait(t, transferTimeout); err != nil {
			t.Fatalf("final run: %v", err)
		}
		v, already := l.add(t, run, get.output())
		t.Logf("final run: %d verified at start, %d verified in the run", already, v)
		if already+v != numPieces {
			t.Errorf("final run: %d at start + %d downloaded, want the %d pieces", already, v, numPieces)
		}
	}
	t.Logf("%d SIGKILLs: %d pieces verified in all, %d verified twice", kills, l.total, l.again)
	sameTree(t, parent, out)
}

// TestGetSurvivesSeederKilledAndBack: the only seeder is killed with
// SIGKILL mid-download and started again on the same port; the download
// picks up again and completes, fetching no verified piece twice.
func TestGetSurvivesSeederKilledAndBack(t *testing.T) {
	parent, torrent := content(t, "single")
	port := freePort(t)
	seedArgs := []string{"seed", torrent, "--data", parent, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--log-format", "console", "--up-rate", "512KiB"}
	seed := start(t, "", "swarm seed", swarmBin, seedArgs...)
	waitListening(t, port, 30*time.Second)
	out := t.TempDir()
	get := start(t, "", "swarm get", swarmBin, getArgs(torrent, out, "--peer", fmt.Sprintf("127.0.0.1:%d", port))...)
	get.waitFor(t, regexp.MustCompile(`(?s)("message":"piece verified".*){20}`), transferTimeout)
	if err := seed.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	seed.wait(t, 10*time.Second)
	before, _ := verifiedPieces(t, get.output())
	time.Sleep(3 * time.Second) // the download goes on trying the dead seeder
	stalled, _ := verifiedPieces(t, get.output())
	start(t, "", "swarm seed (again)", swarmBin, seedArgs...)
	waitListening(t, port, 30*time.Second)
	back := time.Now()
	if err := get.wait(t, transferTimeout); err != nil {
		t.Fatalf("swarm get after the seeder came back: %v", err)
	}
	var l pieceLedger
	v, _ := l.add(t, 1, get.output())
	t.Logf("%d pieces verified before the kill, %d while the seeder was down (3 s), %d in all; completed %v after the seeder came back",
		len(before), len(stalled)-len(before), v, time.Since(back).Round(100*time.Millisecond))
	sameTree(t, parent, out)
}

// TestGetTradesWhileTrackerIsDown: the torrent's only tracker is down when
// the download starts; swarm get keeps trading with the peer it was given,
// retries the tracker with backoff (15 s first), announces once the tracker
// is up, and completes.
func TestGetTradesWhileTrackerIsDown(t *testing.T) {
	tport := freePort(t) // nothing listens here yet
	announce := fmt.Sprintf("http://127.0.0.1:%d/announce", tport)
	parent, torrent := content(t, "single", announce)
	ih := infoHash(t, torrent)
	port := swarmSeed(t, torrent, parent, "--up-rate", "192KiB") // about 27 s for 5 MiB
	out := t.TempDir()
	get := start(t, "", "swarm get", swarmBin, getArgs(torrent, out, "--peer", fmt.Sprintf("127.0.0.1:%d", port))...)
	get.waitFor(t, regexp.MustCompile(`tracker unreachable`), 30*time.Second)
	get.waitFor(t, regexp.MustCompile(`(?s)("message":"piece verified".*){5}`), 30*time.Second)
	down, _ := verifiedPieces(t, get.output())
	trackerUp := time.Now()
	start(t, t.TempDir(), "swarm tracker", swarmBin, "tracker", "--listen", fmt.Sprintf("127.0.0.1:%d", tport),
		"--interval", trackerTestInterval, "--min-interval", trackerTestMinInterval)
	waitListening(t, tport, 10*time.Second)
	// The seeder and the download each announce on their next retry.
	waitTrackerCounts(t, announce, ih, 0, 1, 40*time.Second)
	t.Logf("%d pieces verified while the tracker was down; the download announced %v after the tracker came up",
		len(down), time.Since(trackerUp).Round(100*time.Millisecond))
	if err := get.wait(t, transferTimeout); err != nil {
		t.Fatalf("swarm get: %v", err)
	}
	if n := strings.Count(get.output(), "tracker unreachable"); n > 5 {
		t.Errorf("%d failed announces logged in %v: the retries do not back off", n, time.Since(trackerUp))
	}
	sameTree(t, parent, out)
}

// TestGetPausesOnFullDiskAndResumes downloads into a tmpfs too small for
// the content: swarm get reports the full disk naming the file and keeps
// what it verified. When the tmpfs is enlarged a little, it resumes by
// itself (no restart) and fills it again; after SIGINT and enlarging the
// tmpfs for good, running it again completes without fetching a verified
// piece twice. It needs root to mount.
func TestGetPausesOnFullDiskAndResumes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root)")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	parent, torrent := content(t, "single") // 5 MiB
	port := swarmSeed(t, torrent, parent)
	args := getArgs(torrent, dir, "--peer", fmt.Sprintf("127.0.0.1:%d", port))
	get := start(t, "", "swarm get (disk full)", swarmBin, args...)
	full := regexp.MustCompile(`"error":"([^"]*no space left on device[^"]*)"[^\n]*"message":"storage failed: downloading paused"`)
	m := get.waitFor(t, full, transferTimeout)
	if file := filepath.Join(dir, "single"); !strings.Contains(m[1], file) {
		t.Errorf("the error %q does not name the file %s", m[1], file)
	}
	time.Sleep(2 * time.Second) // it stays up, paused
	select {
	case <-get.done:
		t.Fatalf("swarm get exited on a full disk: %v", get.err)
	default:
	}
	if out, err := exec.Command("mount", "-o", "remount,size=3m", dir).CombinedOutput(); err != nil {
		t.Fatalf("enlarge the tmpfs: %v: %s", err, out)
	}
	freed := time.Now()
	get.waitFor(t, regexp.MustCompile(`storage retried: downloading resumed`), 30*time.Second)
	resumed := time.Since(freed)
	// 1 MiB more fills too: paused again, with a longer wait.
	deadline := time.Now().Add(30 * time.Second)
	for len(full.FindAllString(get.output(), -1)) < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(full.FindAllString(get.output(), -1)); n < 2 {
		t.Fatalf("after resuming into 1 MiB more space: %d full-disk pauses logged, want 2", n)
	}
	get.cmd.Process.Signal(os.Interrupt)
	err := get.wait(t, 30*time.Second)
	var l pieceLedger
	v, _ := l.add(t, 1, get.output())
	t.Logf("full disk: %q; resumed by itself %v after 1 MiB was freed; %d pieces verified in all; exit after SIGINT: %v", m[1], resumed.Round(100*time.Millisecond), v, err)
	if v == 0 {
		t.Fatal("no piece verified before the disk filled")
	}

	if out, err := exec.Command("mount", "-o", "remount,size=16m", dir).CombinedOutput(); err != nil {
		t.Fatalf("enlarge the tmpfs: %v: %s", err, out)
	}
	again := start(t, "", "swarm get (space freed)", swarmBin, args...)
	if err := again.wait(t, transferTimeout); err != nil {
		t.Fatalf("swarm get after space was freed: %v", err)
	}
	v2, already := l.add(t, 2, again.output())
	t.Logf("after space was freed: %d pieces verified at start, %d downloaded, %d verified twice", already, v2, l.again)
	sameTree(t, parent, dir)
}
