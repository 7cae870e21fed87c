package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/tracker/server"
)

// logLines hands each log line (zerolog writes one per Write) to the test.
type logLines chan string

func (l logLines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
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
	logs := make(logLines, 4)
	log := zerolog.New(logs)
	stop := files.ReloadOnSIGHUP(context.Background(), s, &log)
	defer stop()
	// reload sends SIGHUP and returns the log line of the reload.
	reload := func() string {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		select {
		case line := <-logs:
			return line
		case <-time.After(10 * time.Second):
			t.Fatal("no log line within 10 s of SIGHUP")
			return ""
		}
	}
	if got := failure(t, s, "10.0.0.1", testPeer(a, 1, 5)); got != "" {
		t.Fatalf("announce before the reload: %q", got)
	}
	write("deny", a.String()+"\n")
	if line := reload(); !strings.Contains(line, `"denied":1`) || !strings.Contains(line, `"swarms_dropped":1`) {
		t.Errorf("reload log: %s", line)
	}
	if got := failure(t, s, "10.0.0.1", testPeer(a, 1, 5)); !strings.Contains(got, "deny list") {
		t.Errorf("announce of a denied hash after SIGHUP: %q", got)
	}
	write("deny", "junk\n")
	if line := reload(); !strings.Contains(line, "not reloaded") || !strings.Contains(line, "--deny ") {
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
