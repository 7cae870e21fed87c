package daemon_test

import (
	"path/filepath"
	"testing"

	"swarm/daemon"
)

// TestDefaultDirs: a folder given is made absolute; otherwise the state
// goes under an absolute $XDG_DATA_HOME, else ~/.local/share, and
// downloads into ~/Downloads.
func TestDefaultDirs(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_DATA_HOME", "relative/ignored")
	check := func(f func(string) (string, error), dir, want string) {
		t.Helper()
		if got, err := f(dir); err != nil || got != want {
			t.Errorf("(%q) = %q, %v; want %q", dir, got, err, want)
		}
	}
	abs, _ := filepath.Abs("x")
	check(daemon.StateDir, "x", abs)
	check(daemon.StateDir, "", filepath.Join(home, ".local/share/swarm"))
	check(daemon.DownloadDir, "", filepath.Join(home, "Downloads"))
	t.Setenv("XDG_DATA_HOME", "/data")
	check(daemon.StateDir, "", "/data/swarm")
	check(daemon.DownloadDir, "", filepath.Join(home, "Downloads"))
}
