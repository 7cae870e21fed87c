package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"swarm/internal/progress"
)

// syncBuffer is a bytes.Buffer that a running command writes while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bg is a command running in-process in the background.
type bg struct {
	out, errOut syncBuffer
	cancel      context.CancelFunc
	done        chan struct{}
	err         error // run's result; read after done is closed
}

// startSwarm runs the command line in the background until the test ends
// (its context is then cancelled and the command awaited).
func startSwarm(t *testing.T, args ...string) *bg {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &bg{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.err = run(ctx, args, &b.out, &b.errOut)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-b.done:
		case <-time.After(20 * time.Second):
			t.Errorf("swarm %v did not stop within 20 s of its cancel", args)
		}
		if t.Failed() {
			t.Logf("swarm %s:\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), b.out.String(), b.errOut.String())
		}
	})
	return b
}

// wait waits for the command to end by itself and returns its error.
func (b *bg) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-b.done:
		return b.err
	case <-time.After(timeout):
		t.Fatalf("command did not end within %v", timeout)
		return nil
	}
}

// events parses the --json lines printed so far.
func (b *bg) events(t *testing.T) []progress.Event {
	t.Helper()
	var evs []progress.Event
	sc := bufio.NewScanner(strings.NewReader(b.out.String()))
	for sc.Scan() {
		var ev progress.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("--json line %q: %v", sc.Text(), err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// waitEvent waits until an event of the given kind has been printed.
func (b *bg) waitEvent(t *testing.T, kind string, timeout time.Duration) progress.Event {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, ev := range b.events(t) {
			if ev.Event == kind {
				return ev
			}
		}
		select {
		case <-b.done:
			t.Fatalf("command ended (%v) without a %q event", b.err, kind)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q event within %v", kind, timeout)
		}
	}
}

// makeContent writes files of random bytes (name → size) under
// parent/name and makes a torrent of it with 16 KiB pieces.
func makeContent(t *testing.T, name string, files map[string]int) (parent, torrent string) {
	t.Helper()
	parent = t.TempDir()
	r := rand.New(rand.NewPCG(uint64(len(files)), 7))
	for p, size := range files {
		full := filepath.Join(parent, name, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	torrent = filepath.Join(t.TempDir(), name+".torrent")
	if _, errOut, code := runSwarm(t, "create", filepath.Join(parent, name), "-o", torrent, "--piece-length", "16KiB"); code != 0 {
		t.Fatalf("create: %s", errOut)
	}
	return parent, torrent
}

// startSeed seeds torrent from parent and returns it and its address.
func startSeed(t *testing.T, torrent, parent string, extra ...string) (*bg, string) {
	t.Helper()
	args := append([]string{"seed", torrent, "--data", parent, "--listen", "127.0.0.1:0", "--json", "--log-level", "error"}, extra...)
	s := startSwarm(t, args...)
	return s, s.waitEvent(t, "started", 30*time.Second).Listen
}

func sameFile(t *testing.T, want, got string) {
	t.Helper()
	a, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(got)
	if err != nil {
		t.Errorf("%s: %v", got, err)
		return
	}
	if !bytes.Equal(a, b) {
		t.Errorf("%s differs from %s", got, want)
	}
}

const transferTimeout = time.Minute

func TestGetJSONEventsFromStartToStop(t *testing.T) {
	parent, torrent := makeContent(t, "album", map[string]int{"a.bin": 200000, "b/c.bin": 70000})
	_, addr := startSeed(t, torrent, parent)
	out := t.TempDir()
	g := startSwarm(t, "get", torrent, "-o", out, "--peer", addr, "--listen", "127.0.0.1:0", "--json", "--log-level", "error")
	if err := g.wait(t, transferTimeout); err != nil {
		t.Fatalf("get: %v", err)
	}
	evs := g.events(t)
	var kinds []string
	for _, ev := range evs {
		if ev.Event != "progress" {
			kinds = append(kinds, ev.Event)
		}
	}
	if got := strings.Join(kinds, " "); got != "started completed stopped" {
		t.Errorf("events besides progress: %q, want %q", got, "started completed stopped")
	}
	last := evs[len(evs)-1]
	if last.Reason != "complete" || last.Have != last.Pieces || last.Left != 0 || last.Downloaded < 270000 || last.Percent != 100 {
		t.Errorf("stopped event = %+v, want reason complete with every piece", last)
	}
	sameFile(t, filepath.Join(parent, "album", "a.bin"), filepath.Join(out, "album", "a.bin"))
	sameFile(t, filepath.Join(parent, "album", "b", "c.bin"), filepath.Join(out, "album", "b", "c.bin"))
}

// TestGetReportsPieceFailed corrupts the seed's data after it has checked
// it, so that it uploads bad blocks: the downloader reports the failed
// piece and bans the seed.
func TestGetReportsPieceFailed(t *testing.T) {
	parent, torrent := makeContent(t, "one", map[string]int{"x.bin": 100000})
	_, addr := startSeed(t, torrent, parent)
	bad := bytes.Repeat([]byte{0xAA}, 100000)
	if err := os.WriteFile(filepath.Join(parent, "one", "x.bin"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	g := startSwarm(t, "get", torrent, "-o", t.TempDir(), "--peer", addr, "--listen", "127.0.0.1:0", "--json", "--log-level", "error")
	ev := g.waitEvent(t, "piece_failed", transferTimeout)
	if ev.Failed < 1 || ev.HashFails < ev.Failed || ev.Have != 0 {
		t.Errorf("piece_failed event = %+v, want failed ≥ 1 and nothing verified", ev)
	}
}

func TestGetPlainOutputWhenNotATerminal(t *testing.T) {
	parent, torrent := makeContent(t, "one", map[string]int{"x.bin": 600000})
	_, addr := startSeed(t, torrent, parent)
	// Slow enough for at least one status line (the first comes after a second).
	g := startSwarm(t, "get", torrent, "-o", t.TempDir(), "--peer", addr, "--listen", "127.0.0.1:0", "--down-rate", "256KiB", "--log-level", "error")
	if err := g.wait(t, transferTimeout); err != nil {
		t.Fatalf("get: %v", err)
	}
	out := g.out.String()
	if strings.ContainsAny(out, "\r\033") {
		t.Errorf("plain output has terminal control characters: %q", out)
	}
	for _, re := range []string{
		`(?m)^downloading one \(585\.9 KiB\) into .*; 0 of 37 pieces already verified$`,
		`(?m)^ *\d+\.\d%  [^ ]+ [KM]?i?B/585\.9 KiB  down [^ ]+ [KM]?i?B/s  up 0 B/s  peers 1 \(\d seeds?\)  eta [^ ]+  ratio 0\.00$`,
		`(?m)^complete: 585\.9 KiB in [\d.]+s \(.*/s average\)$`,
		`(?m)^stopped: downloaded 585\.9 KiB \(\d+ bytes\), uploaded 0 B \(0 bytes\), ratio 0\.00, 37 of 37 pieces verified, 0 failed the hash check, after [\d.]+s$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output has no line matching %s:\n%s", re, out)
		}
	}
}

// TestGetOnlyCreatesSelectedFiles downloads one file of five: a file that
// shares a piece with it appears (sparse, holding that piece); the others
// are not created.
func TestGetOnlyCreatesSelectedFiles(t *testing.T) {
	parent, torrent := makeContent(t, "album", map[string]int{
		"a.bin": 100000, "b/c.bin": 50000, "d.bin": 100000, "e.txt": 0, "f.bin": 30000,
	})
	_, addr := startSeed(t, torrent, parent)
	out := t.TempDir()
	g := startSwarm(t, "get", torrent, "-o", out, "--only", "a.bin", "--peer", addr, "--listen", "127.0.0.1:0", "--json", "--log-level", "error")
	if err := g.wait(t, transferTimeout); err != nil {
		t.Fatalf("get --only: %v", err)
	}
	sameFile(t, filepath.Join(parent, "album", "a.bin"), filepath.Join(out, "album", "a.bin"))
	// Pieces 0-6 hold a.bin (0-100000); piece 6 ends at 114688, in b/c.bin.
	if fi, err := os.Stat(filepath.Join(out, "album", "b", "c.bin")); err != nil || fi.Size() != 50000 {
		t.Errorf("b/c.bin shares a piece with a.bin: want it present, sparse, got %v, %v", fi, err)
	}
	for _, name := range []string{"d.bin", "e.txt", "f.bin"} {
		if _, err := os.Lstat(filepath.Join(out, "album", name)); !os.IsNotExist(err) {
			t.Errorf("%s was not selected but exists (%v)", name, err)
		}
	}
	last := g.events(t)
	if ev := last[len(last)-1]; ev.Reason != "complete" || ev.Have != 7 || ev.Wanted != 7*16384 {
		t.Errorf("stopped event = %+v, want complete with the 7 pieces of a.bin", ev)
	}
}

// TestGetStopsSeedingAtRatio: a downloader with --seed-ratio 1 uploads the
// whole content to a second downloader, then stops by itself.
func TestGetStopsSeedingAtRatio(t *testing.T) {
	parent, torrent := makeContent(t, "one", map[string]int{"x.bin": 300000})
	_, addr := startSeed(t, torrent, parent)
	g1 := startSwarm(t, "get", torrent, "-o", t.TempDir(), "--peer", addr, "--listen", "127.0.0.1:0", "--seed-ratio", "1", "--json", "--log-level", "error")
	g1addr := g1.waitEvent(t, "started", transferTimeout).Listen
	g1.waitEvent(t, "completed", transferTimeout)
	// The second downloader knows only the first.
	g2 := startSwarm(t, "get", torrent, "-o", t.TempDir(), "--peer", g1addr, "--listen", "127.0.0.1:0", "-q")
	if err := g2.wait(t, transferTimeout); err != nil {
		t.Fatalf("second get: %v", err)
	}
	if err := g1.wait(t, transferTimeout); err != nil {
		t.Fatalf("first get: %v", err)
	}
	evs := g1.events(t)
	if last := evs[len(evs)-1]; last.Event != "stopped" || last.Reason != "seed-ratio" || last.Ratio < 1 || last.Uploaded < 300000 {
		t.Errorf("last event = %+v, want stopped for seed-ratio with ratio ≥ 1", last)
	}
}

func TestGetStopsSeedingAfterSeedTime(t *testing.T) {
	parent, torrent := makeContent(t, "one", map[string]int{"x.bin": 50000})
	_, addr := startSeed(t, torrent, parent)
	g := startSwarm(t, "get", torrent, "-o", t.TempDir(), "--peer", addr, "--listen", "127.0.0.1:0", "--seed-time", "1s", "--log-level", "error")
	if err := g.wait(t, transferTimeout); err != nil {
		t.Fatalf("get --seed-time: %v", err)
	}
	if out := g.out.String(); !strings.Contains(out, "seeding; press Ctrl-C to stop") || !strings.Contains(out, "seed-time reached: stopping") {
		t.Errorf("output does not show seeding stopped by --seed-time:\n%s", out)
	}
}

func TestGetFromURL(t *testing.T) {
	parent, torrent := makeContent(t, "one", map[string]int{"x.bin": 50000})
	data, err := os.ReadFile(torrent)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/one.torrent" {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	_, addr := startSeed(t, torrent, parent)
	out := t.TempDir()
	g := startSwarm(t, "get", srv.URL+"/one.torrent", "-o", out, "--peer", addr, "--listen", "127.0.0.1:0", "-q")
	if err := g.wait(t, transferTimeout); err != nil {
		t.Fatalf("get URL: %v", err)
	}
	sameFile(t, filepath.Join(parent, "one", "x.bin"), filepath.Join(out, "one", "x.bin"))
	if _, errOut, code := runSwarm(t, "get", srv.URL+"/missing.torrent", "-o", t.TempDir()); code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("get of a missing URL: exit %d, %q; want 1 and the HTTP status", code, errOut)
	}
}

func TestTransferUsageErrors(t *testing.T) {
	torrent := filepath.Join("..", "..", "testdata", "mktorrent-multi.torrent")
	tests := []struct {
		args []string
		err  string
	}{
		{[]string{"get", torrent, "-q", "--json"}, "exclude each other"},
		{[]string{"get", torrent, "--seed-ratio", "0"}, "want more than 0"},
		{[]string{"seed", torrent, "--seed-time", "-1m"}, "want more than 0"},
		{[]string{"get", torrent, "--only", "nothing-like-this"}, "selects no file"},
		{[]string{"get", torrent, "--only", "[x"}, "syntax error in pattern"},
		{[]string{"get", "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567", "--dht=false"}, "nowhere to find peers"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[2:], " "), func(t *testing.T) {
			_, errOut, code := runSwarm(t, append(tt.args, "-o", t.TempDir(), "--listen", "127.0.0.1:0")...)
			if code != 2 || !strings.Contains(errOut, tt.err) {
				t.Errorf("swarm %v: exit %d, stderr %q; want 2 and %q", tt.args, code, errOut, tt.err)
			}
		})
	}
}
