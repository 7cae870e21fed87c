package main

import (
	"strings"
	"testing"
)

// TestDemoSharesTheFileAndSummarises runs the README's first command, small:
// every leecher must end with the file and the summary must say how.
func TestDemoSharesTheFileAndSummarises(t *testing.T) {
	out, errOut, code := runSwarm(t, "demo", "--peers", "3", "--size", "2MiB", "--upload", "1MiB/s", "--seed-upload", "2MiB/s")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"A tracker, a seed and 3 leechers on 127.0.0.1",
		"All 3 leechers hold the file, byte for byte",
		"from the seed and",
		"(the P2P bound)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Not a terminal: plain progress lines, no cursor movement.
	if strings.Contains(out, "\x1b[") {
		t.Errorf("escape sequences in output to a non-terminal:\n%q", out)
	}
}

func TestDemoRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "--peers", "0"},
		{"demo", "--size", "0"},
		{"demo", "--upload", "fast"},
		{"demo", "extra"},
	} {
		if _, _, code := runSwarm(t, args...); code != 2 {
			t.Errorf("swarm %v: exit %d, want 2", args, code)
		}
	}
}
