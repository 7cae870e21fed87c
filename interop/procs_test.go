package interop_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a process a test started; it is killed when the test ends.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer // stdout and stderr, for failure messages
	done chan struct{}
	err  error
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// output returns what the process printed so far.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// start runs a command in the background; t.Cleanup kills it (by its own
// PID) and logs its output if the test failed.
func start(t testing.TB, dir, name string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(name, args...), done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.SysProcAttr = dieWithTest()
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
		if t.Failed() {
			t.Logf("%s %s output:\n%s", filepath.Base(name), strings.Join(args, " "), tail(p.output(), 4000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// wait waits for the process to exit within d and returns its error.
func (p *proc) wait(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		t.Fatalf("%s did not finish within %v; output:\n%s", p.cmd.Path, d, tail(p.output(), 4000))
		return nil
	}
}

// waitOutput waits until the process has printed s.
func (p *proc) waitOutput(t testing.TB, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if strings.Contains(p.output(), s) {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before printing %q: %v\n%s", p.cmd.Path, s, p.err, tail(p.output(), 4000))
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not print %q within %v:\n%s", p.cmd.Path, s, d, tail(p.output(), 4000))
}

// dieWithTest makes a child get SIGKILL if the test binary dies without
// running its cleanups (a -timeout panic), so no process outlives the test.
func dieWithTest() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitListening waits until something accepts connections on port.
func waitListening(t testing.TB, port int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens on port %d after %v", port, d)
}

// treeDigest hashes every regular file under root by relative path, so two
// trees compare equal exactly when they hold the same files and bytes.
// Folders named .swarm (resume records) and aria2 control files are left out.
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
	a, b := treeDigest(t, want), treeDigest(t, got)
	if len(a) == 0 {
		t.Fatalf("no files under %s", want)
	}
	for name, h := range a {
		if g, ok := b[name]; !ok {
			t.Errorf("%s missing from the download", name)
		} else if g != h {
			t.Errorf("%s differs from the original", name)
		}
	}
	for name := range b {
		if _, ok := a[name]; !ok {
			t.Errorf("download has an extra file %s", name)
		}
	}
}

// startOpentracker runs opentracker on a free port for the given info
// hashes and returns its announce URL.
func startOpentracker(t testing.TB, infoHashes ...string) string {
	t.Helper()
	bin := need(t, "opentracker")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "whitelist.txt"), []byte(strings.Join(infoHashes, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	// opentracker chroots to -d first, so the whitelist path is relative to it.
	start(t, dir, bin, "-i", "127.0.0.1", "-p", fmt.Sprint(port), "-w", "whitelist.txt", "-d", dir, "-A", "127.0.0.1")
	waitListening(t, port, 10*time.Second)
	return fmt.Sprintf("http://127.0.0.1:%d/announce", port)
}

// aria2Args are the flags that keep aria2c on loopback (INTEROP.md).
func aria2Args(port int, dir string) []string {
	return []string{"--interface=127.0.0.1", fmt.Sprintf("--listen-port=%d", port), "--enable-dht=false",
		"--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--disable-ipv6=true",
		"--dir=" + dir, "--console-log-level=warn", "--summary-interval=0", "--file-allocation=none"}
}

// readLines returns the lines of s that start with prefix.
func readLines(s, prefix string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// waitSeeders polls a tracker's scrape until it counts at least one seeder
// of infoHash (hex), so a leecher started next finds it on its first announce.
func waitSeeders(t testing.TB, announceURL, infoHash string, d time.Duration) {
	t.Helper()
	raw, err := hex.DecodeString(infoHash)
	if err != nil {
		t.Fatal(err)
	}
	u := strings.Replace(announceURL, "/announce", "/scrape", 1) + "?info_hash=" + url.QueryEscape(string(raw))
	re := regexp.MustCompile(`8:completei([1-9][0-9]*)e`)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		resp, err := http.Get(u)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			if re.Match(body) {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no seeder of %s registered at %s within %v", infoHash, announceURL, d)
}
