package interop_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGetStopsAtOnceOnAReadOnlyFolder: `swarm get -o DIR` where DIR is a
// read-only file system (EROFS, which binds root too), while a seeder
// offers every piece, exits 1 at once with the error, instead of retrying
// it like a full disk with a rate and an ETA (issue 13). It needs root to
// mount.
func TestGetStopsAtOnceOnAReadOnlyFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root)")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	parent, torrent := content(t, "single")
	port := swarmSeed(t, torrent, parent)
	begin := time.Now()
	// Without the DHT, whose state folder in DIR would fail first: the
	// storage has to.
	get := start(t, "", "swarm get (read-only folder)", swarmBin, getArgs(torrent, dir, "--peer", fmt.Sprintf("127.0.0.1:%d", port), "--dht=false")...)
	err := get.wait(t, transferTimeout)
	took := time.Since(begin)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("swarm get into a read-only folder: %v, want exit status 1", err)
	}
	out := get.output()
	if !strings.Contains(out, "read-only file system") || !strings.Contains(out, "storage failed: torrent stopped") {
		t.Errorf("output does not give the read-only error:\n%s", out)
	}
	if strings.Contains(out, "downloading paused") {
		t.Errorf("the read-only folder was treated as a full disk:\n%s", out)
	}
	t.Logf("exit 1 %v after start (process start and piece check included)", took.Round(time.Millisecond))
}
