package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"swarm/metainfo"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// runSwarm runs the command line in-process and returns stdout, stderr and
// the exit status main would give.
func runSwarm(t testing.TB, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), exitCode(err)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/swarm -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestHelpMatchesGolden(t *testing.T) {
	out, _, code := runSwarm(t, "--help")
	if code != 0 {
		t.Errorf("swarm --help exit %d, want 0", code)
	}
	golden(t, "help.golden", out)
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			out, _, code := runSwarm(t, c.name, "--help")
			if code != 0 {
				t.Errorf("swarm %s --help exit %d, want 0", c.name, code)
			}
			if !strings.Contains(out, "Examples:") {
				t.Errorf("swarm %s --help has no examples", c.name)
			}
			golden(t, "help-"+c.name+".golden", out)
			// swarm help NAME says the same.
			if out2, _, _ := runSwarm(t, "help", c.name); out2 != out {
				t.Errorf("swarm help %s differs from swarm %s --help", c.name, c.name)
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no command", nil, 2, "Usage"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"unknown flag", []string{"info", "--frob"}, 2, "unknown flag"},
		{"missing argument", []string{"info"}, 2, "want exactly one"},
		{"bad piece length", []string{"create", ".", "--piece-length", "1000"}, 2, "power of two"},
		{"bad log level", []string{"info", "x.torrent", "--log-level", "loud"}, 2, "log-level"},
		{"missing file", []string{"info", "does-not-exist.torrent"}, 1, "no such file"},
		{"not a torrent", []string{"info", "main.go"}, 1, "not a dictionary"},
		{"bad magnet", []string{"info", "magnet:?xt=urn:btih:xyz"}, 1, "want 40 hex"},
		{"version", []string{"--version"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runSwarm(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.err) {
				t.Errorf("swarm %v: exit %d, stderr %q; want exit %d, stderr containing %q", tt.args, code, errOut, tt.code, tt.err)
			}
		})
	}
}

func TestInfoMatchesGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "*.torrent"))
	if len(files) == 0 {
		t.Fatal("no fixtures in testdata/")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".torrent")
		t.Run(name, func(t *testing.T) {
			out, errOut, code := runSwarm(t, "info", f)
			if code != 0 {
				t.Fatalf("swarm info %s: exit %d: %s", f, code, errOut)
			}
			golden(t, "info-"+name+".golden", out)
			js, _, code := runSwarm(t, "info", "--json", f)
			var j metainfo.Summary
			if code != 0 || json.Unmarshal([]byte(js), &j) != nil || !strings.Contains(out, j.InfoHash) {
				t.Errorf("swarm info --json %s: exit %d, output %q does not match the text form", f, code, js)
			}
		})
	}
}

func TestCreateThenInfo(t *testing.T) {
	dir := t.TempDir()
	content := filepath.Join(dir, "album")
	if err := os.MkdirAll(filepath.Join(content, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, size := range map[string]int{"a.bin": 300000, "sub/b.bin": 5} {
		if err := os.WriteFile(filepath.Join(content, name), bytes.Repeat([]byte{7}, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "album.torrent")
	stdout, stderr, code := runSwarm(t, "create", content, "-o", out, "-t", "http://a/announce,http://b/announce",
		"-t", "http://c/announce", "--private", "--comment", "hello", "--web-seed", "http://ws/", "--piece-length", "auto")
	if code != 0 {
		t.Fatalf("create: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, noMagnet) || strings.Contains(stdout, "magnet:?") { // private
		t.Errorf("create output of a private torrent: %s, want %q and no magnet link", stdout, noMagnet)
	}
	js, stderr, code := runSwarm(t, "info", "--json", out)
	if code != 0 {
		t.Fatalf("info: exit %d: %s", code, stderr)
	}
	var j metainfo.Summary
	if err := json.Unmarshal([]byte(js), &j); err != nil {
		t.Fatal(err)
	}
	if j.Name != "album" || !j.Private || j.Comment != "hello" || len(j.Trackers) != 2 || len(j.Trackers[0]) != 2 ||
		len(j.WebSeeds) != 1 || len(j.Files) != 2 || j.Length != 300005 || j.PieceLength != 16<<10 {
		t.Errorf("info of the created torrent = %+v", j)
	}
	// A second create to the same file is refused without --force.
	if _, stderr, code := runSwarm(t, "create", content, "-o", out); code != 1 || !strings.Contains(stderr, "already exists") {
		t.Errorf("create over an existing file: exit %d, %q", code, stderr)
	}
	if _, stderr, code := runSwarm(t, "create", content, "-o", out, "--force"); code != 0 {
		t.Errorf("create --force: exit %d, %q", code, stderr)
	}
}
