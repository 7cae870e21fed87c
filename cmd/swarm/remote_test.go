package main

import (
	"net"
	"strings"
	"testing"
)

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
