package main

import (
	"bytes"
	"context"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"swarm/daemon"
	"swarm/daemon/rpc"
	"swarm/session"
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

// TestIDCommandsNameWhatTheyDidAndRefuseUnknownIDs: add starts the torrent
// even when the daemon starts added torrents paused; pause, resume, verify
// and remove name each torrent they acted on; an id or hash the daemon
// does not have exits 1 naming it, and nothing is done (the RPC itself
// answers "success" for unknown ids, as Transmission does).
func TestIDCommandsNameWhatTheyDidAndRefuseUnknownIDs(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "a.bin"), bytes.Repeat([]byte("swarm"), 10000), 0o644); err != nil {
		t.Fatal(err)
	}
	torrent := filepath.Join(dir, "a.torrent")
	if _, errOut, code := runSwarm(t, "create", filepath.Join(src, "a.bin"), "-o", torrent); code != 0 {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	log := zerolog.Nop()
	d, err := daemon.New(daemon.Config{StateDir: filepath.Join(dir, "state"), DownloadDir: src, Logger: &log,
		Session: session.Config{ListenAddr: "127.0.0.1:0", NoUTP: true}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer d.Wait()
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv, err := rpc.New(rpc.Config{Backend: d})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")
	// transmission-remote --start-paused made new torrents start paused;
	// swarm add without --paused sends "paused": false, which wins, as in
	// Transmission.
	if err := d.SetSettings(func(s *daemon.Settings) { s.StartAddedTorrents = false }); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := runSwarm(t, "add", torrent, "--rpc", addr); code != 0 || !strings.HasPrefix(out, "added: id 1, a.bin") {
		t.Fatalf("add: exit %d, %q %q", code, out, errOut)
	}
	if vs, _, err := d.Torrents([]int{1}, false); err != nil || vs[0].Status == daemon.StatusStopped {
		t.Errorf("swarm add without --paused left the torrent stopped (%v)", err)
	}
	for _, c := range []struct{ args, out string }{
		{"pause 1", "paused: id 1, a.bin\n"},
		{"resume all", "resumed: id 1, a.bin\n"},
		{"verify 1", "verifying: id 1, a.bin\n"},
	} {
		out, errOut, code := runSwarm(t, append(strings.Fields(c.args), "--rpc", addr)...)
		if code != 0 || out != c.out {
			t.Errorf("swarm %s: exit %d, stdout %q, stderr %q; want %q", c.args, code, out, errOut, c.out)
		}
	}
	out, errOut, code := runSwarm(t, "remove", "1", "7", "--rpc", addr)
	if code != 1 || out != "" || !strings.Contains(errOut, "no torrent 7 in the daemon") {
		t.Errorf("remove 1 7: exit %d, stdout %q, stderr %q; want exit 1 naming 7", code, out, errOut)
	}
	if _, _, err := d.Torrents([]int{1}, false); err != nil {
		t.Errorf("torrent 1 was removed by a command that named an unknown id too: %v", err)
	}
	if out, _, code := runSwarm(t, "remove", "1", "--rpc", addr); code != 0 || out != "removed: id 1, a.bin\n" {
		t.Errorf("remove 1: exit %d, stdout %q", code, out)
	}
}
