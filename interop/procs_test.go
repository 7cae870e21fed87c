package interop_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
)

// proc is a process a test started. Its combined output is kept and shown
// when the test fails; Cleanup interrupts it, then kills it.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan struct{}
	err  error // Wait's result; read only after done is closed
}

type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// output returns what the process printed so far.
func (p *proc) output() string { return p.out.String() }

// start runs bin in dir (the package folder if dir is ""), named name in
// messages. When the test ends, Cleanup stops this process only (by its
// *exec.Cmd): SIGINT, then SIGKILL after 5 s; if the test failed it logs
// the output.
func start(t testing.TB, dir, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.SysProcAttr = dieWithTest()
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Signal(os.Interrupt)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				p.cmd.Process.Kill()
				select {
				case <-p.done:
				case <-time.After(10 * time.Second):
					t.Errorf("%s (pid %d) did not exit after SIGKILL", name, p.cmd.Process.Pid)
				}
			}
		}
		if t.Failed() {
			out := squeeze(p.output())
			const keep = 32 << 10
			if len(out) > keep {
				out = "[...]\n" + out[len(out)-keep:]
			}
			t.Logf("--- %s %s:\n%s", name, strings.Join(p.cmd.Args[1:], " "), out)
		}
	})
	return p
}

// squeeze makes a progress display readable in a log: carriage returns
// become line breaks and a run of identical lines becomes one, with a count.
func squeeze(out string) string {
	var b strings.Builder
	lines := strings.FieldsFunc(out, func(r rune) bool { return r == '\r' || r == '\n' })
	for i := 0; i < len(lines); {
		j := i + 1
		for j < len(lines) && lines[j] == lines[i] {
			j++
		}
		b.WriteString(strings.TrimRight(lines[i], " "))
		if j-i > 1 {
			fmt.Fprintf(&b, "  [x%d]", j-i)
		}
		b.WriteByte('\n')
		i = j
	}
	return b.String()
}

// dieWithTest makes a child get SIGKILL if the test binary dies without
// running its cleanups (a -timeout panic), so no process outlives the test.
func dieWithTest() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// waitFor waits until the process prints something matching re and
// returns the submatches.
func (p *proc) waitFor(t testing.TB, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if m := re.FindStringSubmatch(p.output()); m != nil {
			return m
		}
		select {
		case <-p.done:
			if m := re.FindStringSubmatch(p.output()); m != nil {
				return m
			}
			t.Fatalf("%s exited (%v) before printing %q", p.name, p.err, re)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s printed no %q within %v", p.name, re, timeout)
		}
	}
}

// wait waits for the process to exit and returns Wait's error.
func (p *proc) wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("%s did not finish within %v", p.name, timeout)
		return nil
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago,
// for tools that cannot be told to pick one.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitListening waits until something accepts connections on port of
// 127.0.0.1.
func waitListening(t testing.TB, port int, timeout time.Duration) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after %v: %v", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// treeDigest hashes every regular file under root (a folder or a file) by
// relative path, so two trees compare equal exactly when they hold the same
// files and bytes. Folders named .swarm (resume records) and aria2 control
// files are left out.
func treeDigest(t testing.TB, root string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".swarm" {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() || strings.HasSuffix(p, ".aria2") {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = [32]byte(h.Sum(nil))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameTree fails the test unless got holds exactly want's files and bytes.
func sameTree(t testing.TB, want, got string) {
	t.Helper()
	compareTrees(t, want, got, true)
}

// sameBytes fails the test unless every file under want (a file or a
// folder) is in got with the same bytes; got may hold more.
func sameBytes(t testing.TB, want, got string) {
	t.Helper()
	compareTrees(t, want, got, false)
}

func compareTrees(t testing.TB, want, got string, exact bool) {
	t.Helper()
	a, b := treeDigest(t, want), treeDigest(t, got)
	if len(a) == 0 {
		t.Fatalf("no files under %s", want)
	}
	for name, h := range a {
		if g, ok := b[name]; !ok {
			t.Errorf("%s missing from the download", filepath.Join(got, name))
		} else if g != h {
			t.Errorf("%s differs from the original", filepath.Join(got, name))
		}
	}
	if !exact {
		return
	}
	for name := range b {
		if _, ok := a[name]; !ok {
			t.Errorf("download has an extra file %s", name)
		}
	}
}

// startOpentracker runs opentracker on port (a free one if 0) for the given
// info hashes and returns its announce URL.
func startOpentracker(t testing.TB, port int, infoHashes ...string) string {
	t.Helper()
	bin := need(t, "opentracker")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "whitelist.txt"), []byte(strings.Join(infoHashes, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if port == 0 {
		port = freePort(t)
	}
	// opentracker chroots to -d first, so the whitelist path is relative to it.
	start(t, dir, "opentracker", bin, "-i", "127.0.0.1", "-p", fmt.Sprint(port), "-w", "whitelist.txt", "-d", dir, "-A", "127.0.0.1")
	waitListening(t, port, 10*time.Second)
	return fmt.Sprintf("http://127.0.0.1:%d/announce", port)
}

// aria2Args are the flags that keep aria2c on loopback (INTEROP.md).
func aria2Args(port int, dir string) []string {
	return []string{"--interface=127.0.0.1", fmt.Sprintf("--listen-port=%d", port), "--enable-dht=false",
		"--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--disable-ipv6=true",
		"--dir=" + dir, "--console-log-level=warn", "--summary-interval=0", "--file-allocation=none"}
}

// scrapeCounts asks a tracker (its announce URL given) how many seeders and
// leechers it knows for the hex info hash.
func scrapeCounts(announce, ih string) (complete, incomplete int, err error) {
	i := strings.LastIndex(announce, "/announce")
	if i < 0 {
		return 0, 0, fmt.Errorf("%s: not an announce URL", announce)
	}
	raw, err := hex.DecodeString(ih)
	if err != nil {
		return 0, 0, err
	}
	// Every byte percent-encoded: url.QueryEscape would turn 0x20 into '+',
	// which trackers (swarm's among them) rightly read as '+'.
	u := announce[:i] + "/scrape" + announce[i+len("/announce"):]
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&" // a private tracker's /announce?passkey=...
	}
	u += sep + "info_hash=" + percentEncode(raw)
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, 0, err
	}
	var r struct {
		Files map[string]struct {
			Complete   int `bencode:"complete"`
			Incomplete int `bencode:"incomplete"`
		} `bencode:"files"`
	}
	if err := bencode.Unmarshal(body, &r); err != nil {
		return 0, 0, fmt.Errorf("scrape %s: %v: %q", u, err, body)
	}
	f := r.Files[string(raw)]
	return f.Complete, f.Incomplete, nil
}

// percentEncode writes every byte of b as %XX, the safe form for binary
// query values such as info_hash and peer_id.
func percentEncode(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		fmt.Fprintf(&sb, "%%%02X", c)
	}
	return sb.String()
}

// waitTrackerCounts polls the tracker's scrape until it counts at least the
// given seeders and leechers for ih (hex), so that a peer started next finds
// them on its first announce.
func waitTrackerCounts(t testing.TB, announce, ih string, seeders, leechers int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, i, err := scrapeCounts(announce, ih)
		if err == nil && c >= seeders && i >= leechers {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the tracker counts %d seeders and %d leechers (err %v); want at least %d and %d",
				timeout, c, i, err, seeders, leechers)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
