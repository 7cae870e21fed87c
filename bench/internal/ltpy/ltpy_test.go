package ltpy_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"swarm/bench/internal/ltpy"
)

// TestWriteScriptCanImportModule runs a script written by WriteScript: it
// must find lt_bench.py beside it (lt_bench.py itself needs no libtorrent).
func TestWriteScriptCanImportModule(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	script := []byte("from lt_bench import loopback\nprint(loopback(6881)['listen_interfaces'])\n")
	path, err := ltpy.WriteScript(t.TempDir(), "s.py", script)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "s.py" {
		t.Errorf("WriteScript path = %q, want …/s.py", path)
	}
	out, err := exec.Command(python, path).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", python, path, err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "127.0.0.1:6881" {
		t.Errorf("listen_interfaces = %q, want 127.0.0.1:6881", got)
	}
}
