package interop_test

// Tests of swarm's command line used as a person would: on a terminal, with
// output to a file, interrupted and restarted, and the README's commands.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// statusRe matches a status line of seed and get.
var statusRe = regexp.MustCompile(`\d+\.\d%  \S+ [KMG]?i?B/\S+ [KMG]?i?B  down \S+ [KMG]?i?B/s  up \S+ [KMG]?i?B/s  peers \d+ \(\d+ seeds?\)(  eta \S+)?  ratio \d+\.\d\d`)

// TestGetOnATerminalRedrawsOneLine runs swarm get under a pseudo-terminal
// and reads what a person would see: a status line redrawn in place as the
// download advances, log lines above it, and the summary at the end.
func TestGetOnATerminalRedrawsOneLine(t *testing.T) {
	parent, torrent := content(t, "single")
	port := swarmSeed(t, torrent, parent, "--up-rate", "2MiB") // about 3 s
	cmd := exec.Command(swarmBin, "get", torrent, "-o", t.TempDir(), "--peer", fmt.Sprintf("127.0.0.1:%d", port), "--listen", "127.0.0.1:0")
	cmd.SysProcAttr = dieWithTest()
	cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty = true, true
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 150})
	if err != nil {
		t.Fatalf("start under a pty: %v", err)
	}
	defer tty.Close()
	t.Cleanup(func() { cmd.Process.Kill() })
	screen := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(tty) // ends with EIO once the process has exited
		screen <- string(b)
	}()
	var out string
	select {
	case out = <-screen:
	case <-time.After(transferTimeout):
		cmd.Process.Kill()
		t.Fatalf("swarm get under a pty did not finish; screen so far unknown")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("swarm get under a pty: %v\n%q", err, out)
	}
	// Frames: each redraw starts with CR and erase-line.
	var frames []string
	for _, f := range strings.Split(out, "\r\033[K")[1:] {
		if i := strings.IndexAny(f, "\r\n"); i >= 0 {
			f = f[:i] // the frame ends where the next output begins
		}
		if statusRe.MatchString(f) {
			frames = append(frames, f)
		}
	}
	if len(frames) < 2 {
		t.Fatalf("want at least two status frames, got %d:\n%q", len(frames), out)
	}
	pct := func(f string) float64 {
		m := regexp.MustCompile(`(\d+\.\d)%`).FindStringSubmatch(f)
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	distinct := map[string]bool{}
	for i, f := range frames {
		distinct[f] = true
		if !strings.HasPrefix(f, "[") {
			t.Errorf("frame %q has no progress bar on a 150-column terminal", f)
		}
		if len(f) >= 150 {
			t.Errorf("frame of %d columns on a 150-column terminal would wrap: %q", len(f), f)
		}
		if i > 0 && pct(f) < pct(frames[i-1]) {
			t.Errorf("progress went back from %q to %q", frames[i-1], f)
		}
	}
	if len(distinct) < 2 {
		t.Errorf("the status line never changed: %q", frames)
	}
	if last := frames[len(frames)-1]; pct(last) != 100 {
		t.Errorf("last frame %q, want 100%%", last)
	}
	// The summary follows the final frame, on lines of its own.
	tail := out[strings.LastIndex(out, "\r\033[K"):]
	if !regexp.MustCompile(`(?s)^\r\033\[K\[#+\] 100\.0%[^\r\n]*\r?\ncomplete: 5\.0 MiB in [\d.]+s.*\nstopped: downloaded 5\.0 MiB \(\d+ bytes\)`).MatchString(tail) {
		t.Errorf("no summary after the last frame:\n%q", tail)
	}
	// Log lines (console format on a terminal) never share a line with
	// the status: each starts after an erase or at a line start.
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "INF"); i >= 0 {
			before := line[:i]
			if j := strings.LastIndex(before, "\033[K"); j >= 0 {
				before = before[j+3:]
			}
			if strings.Contains(before, "%") {
				t.Errorf("a log line shares the status line: %q", line)
			}
		}
	}
}

// TestGetToAFilePrintsPlainLines runs swarm get with stdout to a file: no
// control characters, a status line every 5 s, and the summary.
func TestGetToAFilePrintsPlainLines(t *testing.T) {
	parent, torrent := content(t, "single")
	port := swarmSeed(t, torrent, parent, "--up-rate", "768KiB") // about 7 s
	outFile := filepath.Join(t.TempDir(), "get.log")
	f, err := os.Create(outFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(swarmBin, "get", torrent, "-o", t.TempDir(), "--peer", fmt.Sprintf("127.0.0.1:%d", port), "--listen", "127.0.0.1:0")
	cmd.SysProcAttr = dieWithTest()
	cmd.Stdout = f
	if err := cmd.Run(); err != nil {
		t.Fatalf("swarm get > file: %v", err)
	}
	f.Close()
	data, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	out := string(data)
	if strings.ContainsAny(out, "\r\033") {
		t.Errorf("output to a file has terminal control characters:\n%q", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	status := 0
	for _, l := range lines {
		if statusRe.MatchString(l) {
			status++
		}
	}
	if status < 1 || !strings.HasPrefix(lines[0], "downloading single (5.0 MiB)") ||
		!strings.HasPrefix(lines[len(lines)-2], "complete: 5.0 MiB") || !strings.HasPrefix(lines[len(lines)-1], "stopped: downloaded 5.0 MiB") {
		t.Errorf("want a start line, status lines and the summary, got:\n%s", out)
	}
	t.Logf("%d plain status lines", status)
}

// verifiedPieces returns the pieces a run logged as verified (debug logs in
// JSON) and the number it found verified at start.
func verifiedPieces(t *testing.T, out string) (verified []int, already int) {
	t.Helper()
	m := alreadyRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no start line in:\n%s", out)
	}
	already, _ = strconv.Atoi(m[1])
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			Message string `json:"message"`
			Piece   *int   `json:"piece"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Message == "piece verified" && ev.Piece != nil {
			verified = append(verified, *ev.Piece)
		}
	}
	return verified, already
}

// TestInterruptedGetNeverFetchesAVerifiedPieceAgain stops a download with
// SIGINT, then with SIGKILL, then lets it finish, and checks piece by piece
// that no piece verified in one run is downloaded again in a later one. It
// also times the clean exit after SIGINT.
func TestInterruptedGetNeverFetchesAVerifiedPieceAgain(t *testing.T) {
	parent, torrent := content(t, "single") // 161 pieces of 32 KiB
	numPieces := readWithSwarm(t, torrent).Pieces
	port := swarmSeed(t, torrent, parent, "--up-rate", "768KiB")
	out := t.TempDir()
	args := []string{"get", torrent, "-o", out, "--peer", fmt.Sprintf("127.0.0.1:%d", port), "--listen", "127.0.0.1:0",
		"--log-level", "debug", "--log-format", "json"}
	seen := map[int]int{} // piece → run that verified it
	total := 0
	for run, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL, 0} {
		get := start(t, "", fmt.Sprintf("swarm get (run %d)", run+1), swarmBin, args...)
		if sig != 0 {
			// Interrupt once a few more pieces have arrived.
			get.waitFor(t, regexp.MustCompile(`(?s)("message":"piece verified".*){8}`), transferTimeout)
			sent := time.Now()
			if err := get.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := get.wait(t, 30*time.Second)
			if sig == syscall.SIGINT {
				if code := exitCode(err); code != 130 {
					t.Fatalf("run %d: exit after SIGINT: %v, want status 130 (interrupted before completion)", run+1, err)
				}
				t.Logf("run %d: exited 130 %v after SIGINT", run+1, time.Since(sent).Round(time.Millisecond))
				if !strings.Contains(get.output(), "interrupted before the download completed") {
					t.Errorf("run %d: no hint to run the command again", run+1)
				}
			}
		} else if err := get.wait(t, transferTimeout); err != nil {
			t.Fatalf("run %d: %v", run+1, err)
		}
		verified, already := verifiedPieces(t, get.output())
		if already < total {
			t.Errorf("run %d found %d pieces verified at start; earlier runs verified %d", run+1, already, total)
		}
		again := 0
		for _, p := range verified {
			if r, ok := seen[p]; ok {
				t.Errorf("run %d verified piece %d again (first verified in run %d)", run+1, p, r+1)
				again++
			}
			seen[p] = run
		}
		t.Logf("run %d: %d pieces verified at start, %d downloaded and verified, %d fetched again", run+1, already, len(verified), again)
		total += len(verified)
		if sig == 0 && already+len(verified) != numPieces {
			t.Errorf("final run: %d at start + %d downloaded = %d, want exactly the %d pieces", already, len(verified), already+len(verified), numPieces)
		}
	}
	sameTree(t, parent, out)
}

// blackholeTracker accepts HTTP connections and never answers, so that
// the announce of event stopped takes its whole time limit.
func blackholeTracker(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return "http://" + ln.Addr().String() + "/announce"
}

// TestCtrlCTwiceExitsAtOnce: with a tracker that never answers, the first
// SIGINT's clean shutdown waits for the stopped announce (up to 5 s); a
// second SIGINT ends the process at once.
func TestCtrlCTwiceExitsAtOnce(t *testing.T) {
	_, torrent := content(t, "single")
	tracker := blackholeTracker(t)
	// A download that cannot progress (no peers) and a tracker that hangs.
	for _, twice := range []bool{false, true} {
		get := start(t, "", "swarm get", swarmBin, "get", torrent, "-o", t.TempDir(), "--listen", "127.0.0.1:0", "-t", tracker)
		get.waitFor(t, regexp.MustCompile(`0 of \d+ pieces already verified`), 30*time.Second)
		time.Sleep(500 * time.Millisecond) // let the started announce go out
		sent := time.Now()
		get.cmd.Process.Signal(os.Interrupt)
		get.waitFor(t, regexp.MustCompile(`stopping: `), 10*time.Second)
		if twice {
			time.Sleep(200 * time.Millisecond)
			select {
			case <-get.done:
				t.Fatalf("exited before the second SIGINT; the test needs a slow shutdown:\n%s", get.output())
			default:
			}
			second := time.Now()
			get.cmd.Process.Signal(os.Interrupt)
			err := get.wait(t, 3*time.Second)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 130 || !strings.Contains(get.output(), "interrupted again") {
				t.Errorf("after a second SIGINT: %v, want exit status 130 and a message\n%s", err, get.output())
			}
			t.Logf("second SIGINT: exited %v later", time.Since(second).Round(time.Millisecond))
			continue
		}
		if err := get.wait(t, 15*time.Second); exitCode(err) != 130 {
			t.Errorf("after SIGINT: %v, want exit status 130 (interrupted before completion)", err)
		}
		t.Logf("one SIGINT with a tracker that never answers: exited 130 after %v", time.Since(sent).Round(time.Millisecond))
	}
}

// readmeBlocks returns the lines of each ```sh block of the README.
func readmeBlocks(t *testing.T) [][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks [][]string
	var cur []string
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case !in && strings.HasPrefix(line, "```sh"):
			in, cur = true, nil
		case in && strings.HasPrefix(line, "```"):
			in = false
			blocks = append(blocks, cur)
		case in:
			cur = append(cur, line)
		}
	}
	return blocks
}

var commentRe = regexp.MustCompile(`\s+#.*$`)

// shellWords splits a simple command line: words separated by spaces,
// single-quoted words kept whole, a trailing comment and & dropped.
func shellWords(line string) (words []string, background bool) {
	line = strings.TrimSpace(commentRe.ReplaceAllString(line, ""))
	if strings.HasSuffix(line, "&") {
		line, background = strings.TrimSpace(strings.TrimSuffix(line, "&")), true
	}
	for line != "" {
		if line[0] == '\'' {
			end := strings.IndexByte(line[1:], '\'') + 1
			words = append(words, line[1:end])
			line = strings.TrimSpace(line[end+1:])
			continue
		}
		end := strings.IndexByte(line, ' ')
		if end < 0 {
			end = len(line)
		}
		words = append(words, line[:end])
		line = strings.TrimSpace(line[end:])
	}
	return words, background
}

// TestReadmeCommandsParse checks every ./swarm command in the README: its
// subcommand and flags exist and their values parse (the command is run
// with --help appended, which stops after parsing).
func TestReadmeCommandsParse(t *testing.T) {
	n := 0
	for _, block := range readmeBlocks(t) {
		for _, line := range block {
			words, _ := shellWords(line)
			if len(words) < 2 || words[0] != "./swarm" {
				continue
			}
			n++
			cmd := exec.Command(swarmBin, append(words[1:], "--help")...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("README line %q: %v\n%s", strings.TrimSpace(line), err, out)
			}
		}
	}
	if n < 10 {
		t.Errorf("found %d ./swarm commands in the README, want the guide's", n)
	}
}

// TestReadmeRoundTrip runs the README's first block, the round trip on one
// machine, line by line in an empty folder with HOME there, as a person
// pasting it would. Two changes keep the test on loopback and off fixed
// ports: the tracker's port 6969 becomes a free one, and seed and get get
// --listen 127.0.0.1:0. The build line uses the binary the tests built.
func TestReadmeRoundTrip(t *testing.T) {
	block := readmeBlocks(t)[1] // [0] is the set-up block at the top
	if !strings.Contains(strings.Join(block, "\n"), "./swarm get album.torrent") {
		t.Fatalf("the README's second sh block is not the round trip:\n%s", strings.Join(block, "\n"))
	}
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	if err := os.Symlink(swarmBin, filepath.Join(dir, "swarm")); err != nil {
		t.Fatal(err)
	}
	portN := freePort(t)
	port := fmt.Sprint(portN)
	var jobs []*proc
	for _, line := range block {
		line = commentRe.ReplaceAllString(line, "")
		words, background := shellWords(line)
		switch {
		case len(words) == 0:
			continue
		case words[0] == "go" && words[1] == "build":
			continue // built once for all tests
		case words[0] == "kill":
			// kill %1 %2: stop the background jobs, which must exit 0.
			for _, j := range jobs {
				j.cmd.Process.Signal(os.Interrupt)
				if err := j.wait(t, 15*time.Second); err != nil {
					t.Errorf("%s after SIGINT: %v", j.name, err)
				}
			}
			continue
		}
		line = strings.TrimSpace(strings.ReplaceAll(line, "127.0.0.1:6969", "127.0.0.1:"+port))
		line = strings.TrimSpace(strings.TrimSuffix(line, "&"))
		if words[0] == "./swarm" && (words[1] == "seed" || words[1] == "get") {
			line += " --listen 127.0.0.1:0"
		}
		if background {
			j := start(t, dir, line, "bash", "-c", "exec "+line)
			jobs = append(jobs, j)
			if words[1] == "tracker" {
				waitListening(t, portN, 10*time.Second)
			}
			continue
		}
		p := start(t, dir, line, "bash", "-c", line)
		if err := p.wait(t, transferTimeout); err != nil {
			t.Fatalf("README line %q: %v\n%s", line, err, p.output())
		}
	}
	sameTree(t, filepath.Join(dir, "album"), filepath.Join(dir, "Downloads", "album"))
}
