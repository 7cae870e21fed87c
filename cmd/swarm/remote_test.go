package main

import (
	"net"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestListTableFitsEightyColumns: every line of swarm list fits 80 columns,
// long names are cut, errors are named below the table.
func TestListTableFitsEightyColumns(t *testing.T) {
	out := listTable([]listed{
		{ID: 1, Name: "a", PercentDone: 0.999, Size: 1 << 40, Down: 999, Up: 123456789, Ratio: 12.5, Status: 4},
		{ID: 9999, Name: strings.Repeat("long name ", 10), PercentDone: 1, Size: 5 << 30, Ratio: -1, Status: 6},
		{ID: 3, Name: "broken", Status: 0, Error: 3, ErrorString: "open /x: permission denied"},
	})
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("want a header, 3 rows and an error line:\n%s", out)
	}
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > 80 {
			t.Errorf("%d columns: %q", n, l)
		}
	}
	for i, want := range []string{"Status", "99%", "100%", "Error", "3: open /x: permission denied"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d lacks %q: %q", i, want, lines[i])
		}
	}
	if !strings.Contains(lines[2], "…") || !strings.Contains(lines[1], "1.0T") {
		t.Errorf("long name not cut, or size not short:\n%s", out)
	}
}

// TestClientCommandsSayWhenNoDaemonAnswers: each client command, with no
// daemon at --rpc, exits 1 naming the address and how to start one; bad
// ids are usage errors.
func TestClientCommandsSayWhenNoDaemonAnswers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	for _, args := range [][]string{
		{"list"}, {"pause", "1"}, {"resume", "all"}, {"verify", "2"}, {"remove", "3", "--delete-data"},
		{"add", "magnet:?xt=urn:btih:" + strings.Repeat("ab", 20)},
	} {
		_, errOut, code := runSwarm(t, append(args, "--rpc", addr)...)
		if code != 1 || !strings.Contains(errOut, "no swarm daemon at "+addr) || !strings.Contains(errOut, "start one with 'swarm daemon'") {
			t.Errorf("swarm %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
		}
	}
	if _, _, code := runSwarm(t, "pause", "x1", "--rpc", addr); code != 2 {
		t.Errorf("swarm pause x1: exit %d, want 2", code)
	}
}
