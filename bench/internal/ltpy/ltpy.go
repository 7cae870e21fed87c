package ltpy

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"swarm/bench/internal/proc"
)

// module is lt_bench.py. A script finds it next to itself when a benchmark
// runs it from its work folder, and in this folder when run from the
// repository.
//
//go:embed lt_bench.py
var module []byte

// Check returns an error if python does not exist or cannot import
// libtorrent. ctx bounds the python it runs.
func Check(ctx context.Context, python string) error {
	if _, err := os.Stat(python); err != nil {
		return fmt.Errorf("%s: %v (install python3-libtorrent: scripts/install-deps.sh)", python, err)
	}
	if out, err := exec.CommandContext(ctx, python, "-c", "import libtorrent").CombinedOutput(); err != nil {
		return fmt.Errorf("%s has no libtorrent module (scripts/install-deps.sh installs python3-libtorrent): %v\n%s", python, err, out)
	}
	return nil
}

// WriteScript writes script as dir/name, executable, and lt_bench.py beside
// it, and returns the script's path.
func WriteScript(dir, name string, script []byte) (string, error) {
	if err := os.WriteFile(filepath.Join(dir, "lt_bench.py"), module, 0o644); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, script, 0o755); err != nil {
		return "", err
	}
	return path, nil
}

// WaitReady waits up to timeout for the first line of p's stdout, lines,
// and returns nil if it is the scripts' {"ready": true}; otherwise the
// error says what came instead, with the tail of p's stderr.
func WaitReady(p *proc.Proc, lines <-chan string, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case line, ok := <-lines:
		if !ok {
			return fmt.Errorf("exited before it was ready: %s", p.Stderr())
		}
		var ready struct {
			Ready bool
			Error string
		}
		if err := json.Unmarshal([]byte(line), &ready); err != nil || !ready.Ready {
			return fmt.Errorf("not ready: %s %s", line, p.Stderr())
		}
		return nil
	case <-t.C:
		return fmt.Errorf("not ready after %v", timeout)
	}
}
