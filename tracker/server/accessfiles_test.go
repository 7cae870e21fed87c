package server_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/tracker/server"
)

// syncBuffer is a log sink the reload goroutine writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAccessFilesLoadAndReloadOnSIGHUP: Load reads the files, naming the
// list and file in its errors; on SIGHUP the lists are read again and put
// in force, and a file that no longer parses leaves them as they were.
func TestAccessFilesLoadAndReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := hashN(1), hashN(2)
	files := server.AccessFiles{Deny: write("deny", "# none yet\n")}
	if _, _, err := (server.AccessFiles{Allow: filepath.Join(dir, "missing")}).Load(); err == nil || !strings.HasPrefix(err.Error(), "--allow: open ") {
		t.Errorf("Load of a missing allow file: %v", err)
	}
	bad := write("bad", "not a hash\n")
	if _, _, err := (server.AccessFiles{Deny: bad}).Load(); err == nil || err.Error() != "--deny "+bad+": line 1: "+mustErr(t, "not a hash") {
		t.Errorf("Load of a bad deny file: %v", err)
	}
	allow, deny, err := files.Load()
	if err != nil || allow != nil || deny.Len() != 0 {
		t.Fatalf("Load = %v, %v, %v; want no allow list, an empty deny list", allow, deny, err)
	}

	s, _ := newTestServer(t, server.Config{Deny: deny})
	var logs syncBuffer
	log := zerolog.New(&logs)
	stop := files.ReloadOnSIGHUP(context.Background(), s, &log)
	defer stop()
	// waitLog sends SIGHUP and waits (bounded) for the n-th log line.
	waitLog := func(n int) string {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for range 500 {
			if lines := strings.Split(strings.TrimSpace(logs.String()), "\n"); len(lines) >= n && lines[0] != "" {
				return lines[n-1]
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("no log line %d after SIGHUP: %q", n, logs.String())
		return ""
	}
	if got := failure(t, s, "10.0.0.1", testPeer(a, 1, 5)); got != "" {
		t.Fatalf("announce before the reload: %q", got)
	}
	write("deny", a.String()+"\n")
	if line := waitLog(1); !strings.Contains(line, `"denied":1`) || !strings.Contains(line, `"swarms_dropped":1`) {
		t.Errorf("reload log: %s", line)
	}
	if got := failure(t, s, "10.0.0.1", testPeer(a, 1, 5)); !strings.Contains(got, "deny list") {
		t.Errorf("announce of a denied hash after SIGHUP: %q", got)
	}
	write("deny", "junk\n")
	if line := waitLog(2); !strings.Contains(line, "not reloaded") || !strings.Contains(line, "--deny ") {
		t.Errorf("failed reload log: %s", line)
	}
	if got := failure(t, s, "10.0.0.1", testPeer(a, 1, 5)); !strings.Contains(got, "deny list") {
		t.Errorf("after a failed reload the old deny list should stay: %q", got)
	}
	if got := failure(t, s, "10.0.0.1", testPeer(b, 1, 5)); got != "" {
		t.Errorf("announce of a hash on no list: %q", got)
	}
}

// mustErr is the error ParseHashList gives for line.
func mustErr(t *testing.T, line string) string {
	t.Helper()
	_, err := server.ParseHashList(strings.NewReader(line))
	if err == nil {
		t.Fatalf("ParseHashList(%q) took it", line)
	}
	return strings.TrimPrefix(err.Error(), "line 1: ")
}
