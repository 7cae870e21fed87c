package interop_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// swarmBin is the swarm binary built once for all tests.
var swarmBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "swarm-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	swarmBin = filepath.Join(dir, "swarm")
	build := exec.Command("go", "build", "-o", swarmBin, "swarm/cmd/swarm")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build swarm:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// need returns the path of a real tool, or skips the test when it is absent
// (fails instead when SWARM_INTEROP=1, as in CI).
func need(t testing.TB, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err == nil && tool == "/usr/bin/python3" {
		if exec.Command(p, "-c", "import libtorrent").Run() != nil {
			err = fmt.Errorf("python3 has no libtorrent module")
		}
	}
	if err != nil {
		if os.Getenv("SWARM_INTEROP") == "1" {
			t.Fatalf("%s is required (SWARM_INTEROP=1): %v", tool, err)
		}
		t.Skipf("%s not installed: %v", tool, err)
	}
	return p
}

// run runs a command and returns its stdout, failing the test on error.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// swarmInfo is the part of `swarm info --json` the tests compare.
type swarmInfo struct {
	Name        string `json:"name"`
	InfoHash    string `json:"info_hash"`
	Length      int64  `json:"length"`
	PieceLength int64  `json:"piece_length"`
	Pieces      int    `json:"pieces"`
	Private     bool   `json:"private"`
	Files       []struct {
		Path    string `json:"path"`
		Length  int64  `json:"length"`
		Padding bool   `json:"padding"`
	} `json:"files"`
}

func readWithSwarm(t testing.TB, torrent string) swarmInfo {
	t.Helper()
	var si swarmInfo
	out := run(t, swarmBin, "info", "--json", torrent)
	if err := json.Unmarshal([]byte(out), &si); err != nil {
		t.Fatalf("swarm info --json %s: %v\n%s", torrent, err, out)
	}
	return si
}

// writeContent makes a folder of files with random content: nested folders,
// a zero-length file, and sizes that leave the last piece short.
func writeContent(t testing.TB, dir string, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	files := map[string]int{
		"readme.txt":          1234,
		"empty":               0,
		"disc 1/01 intro.bin": 300001,
		"disc 1/02 song.bin":  70000,
		"disc 2/deep/x.bin":   150000,
		"zz.bin":              16385,
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names) // the same seed gives the same bytes every time
	for _, name := range names {
		size := files[name]
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
