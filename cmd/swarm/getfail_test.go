package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGetStopsAtOnceOnAStorageErrorThatWaitingWillNotCure: a write error
// other than a full disk (a file where the torrent's folder goes, a folder
// where its file goes, a folder without write permission) stops `get` at
// once with the error and exit status 1, while a seeder keeps offering the
// data (issue 13: permission denied was retried forever, like a full disk,
// with an invented rate and ETA). The cases that need file modes are
// skipped as root, which ignores them.
func TestGetStopsAtOnceOnAStorageErrorThatWaitingWillNotCure(t *testing.T) {
	parent, torrent := makeContent(t, "album", map[string]int{"a.bin": 100000, "b.bin": 60000})
	_, addr := startSeed(t, torrent, parent)
	for _, tc := range []struct {
		name     string
		prepare  func(t *testing.T, dir string)
		want     string
		needUser bool
	}{
		{"a file where the torrent's folder goes", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "album"), []byte("mine"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "not a folder", false},
		{"a folder where a file goes", func(t *testing.T, dir string) {
			if err := os.MkdirAll(filepath.Join(dir, "album", "a.bin"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file", false},
		{"a folder without write permission", func(t *testing.T, dir string) {
			if err := os.Chmod(dir, 0o555); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(dir, 0o755) })
		}, "permission denied", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needUser && os.Geteuid() == 0 {
				t.Skip("root ignores file modes")
			}
			dir := t.TempDir()
			tc.prepare(t, dir)
			// A bound for the test only: a get that retried would run on
			// until this 20 s deadline, and its error then was the retry's.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out, errOut bytes.Buffer
			start := time.Now()
			err := run(ctx, []string{"get", torrent, "-o", dir, "--peer", addr, "--listen", "127.0.0.1:0", "--dht=false", "--log-level", "error"}, &out, &errOut)
			took := time.Since(start)
			if ctx.Err() != nil {
				t.Fatalf("get still running after 20 s (%v):\n%s%s", err, out.String(), errOut.String())
			}
			if code := exitCode(err); code != 1 || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("get: exit %d, %v; want 1 and an error saying %q\n%s%s", code, err, tc.want, out.String(), errOut.String())
			}
			if strings.Contains(errOut.String(), "retry") {
				t.Errorf("get says it retries a storage error that waiting will not cure:\n%s", errOut.String())
			}
			t.Logf("%s: exit 1 after %v: %v\n%s%s", tc.name, took.Round(time.Millisecond), err, out.String(), errOut.String())
		})
	}
}
