package daemon

import (
	"fmt"
	"os"
	"path/filepath"
)

// StateDir returns dir made absolute, or by default $XDG_DATA_HOME/swarm
// (when set to an absolute path), else ~/.local/share/swarm.
func StateDir(dir string) (string, error) {
	return defaultDir(dir, "XDG_DATA_HOME", ".local/share", "swarm")
}

// DownloadDir returns dir made absolute, or by default ~/Downloads.
func DownloadDir(dir string) (string, error) {
	return defaultDir(dir, "", "Downloads", "")
}

// defaultDir returns dir, or $env/sub (when env is set), or ~/home/sub.
func defaultDir(dir, env, home, sub string) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	if v := os.Getenv(env); env != "" && v != "" && filepath.IsAbs(v) {
		return filepath.Join(v, sub), nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home folder for the default: give the folder with a flag (%v)", err)
	}
	return filepath.Join(h, home, sub), nil
}
