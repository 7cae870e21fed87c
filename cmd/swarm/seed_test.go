package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSeedNeverWritesToItsDataFolder: `swarm seed T.torrent --data DIR`
// where DIR holds a file of the torrent's name but other content, while a
// seeder offers the real data through --peer, leaves that file
// byte-identical with its modification time, creates nothing in DIR, and
// says what it found: with no piece matching it exits 1 with a hint; with
// some matching it seeds those (issue 13: it used to download into DIR,
// overwriting the file).
func TestSeedNeverWritesToItsDataFolder(t *testing.T) {
	parent, torrent := makeContent(t, "album", map[string]int{"a.bin": 160 << 10}) // 10 pieces of 16 KiB
	_, addr := startSeed(t, torrent, parent)
	real, err := os.ReadFile(filepath.Join(parent, "album", "a.bin"))
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Repeat([]byte("someone else's file "), len(real)/20+1)[:len(real)]
	half := slices.Concat(real[:5<<14], other[5<<14:]) // pieces 0-4 match
	for _, tc := range []struct {
		name    string
		content []byte
		exit    int
		want    string
	}{
		{"no piece matches", other, 1, "0 of 10 pieces match in "},
		{"half the pieces match", half, 0, "warning: 5 pieces are missing or damaged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "album", "a.bin")
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Hour).Truncate(time.Second)
			if err := os.Chtimes(file, old, old); err != nil {
				t.Fatal(err)
			}
			treeBefore := listTree(t, dir)
			// A seed that did download would have the seeder's data within
			// a second on loopback: give it 4.
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
			defer cancel()
			var out, errOut bytes.Buffer
			start := time.Now()
			err := run(ctx, []string{"seed", torrent, "--data", dir, "--peer", addr, "--listen", "127.0.0.1:0", "--dht=false", "--log-level", "error"}, &out, &errOut)
			took := time.Since(start)
			if code := exitCode(err); code != tc.exit {
				t.Errorf("exit status %d (%v), want %d", code, err, tc.exit)
			}
			if got := out.String() + errOut.String(); err == nil && !strings.Contains(got, tc.want) || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("seed said %v\n%s\nwant %q", err, got, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), "is --data the folder that holds album?") {
				t.Errorf("error %q gives no hint about --data", err)
			}
			data, _ := os.ReadFile(file)
			fi, serr := os.Stat(file)
			if serr != nil || !bytes.Equal(data, tc.content) || !fi.ModTime().Equal(old) {
				t.Errorf("seed changed %s: same bytes %v, mtime %v (was %v)", file, bytes.Equal(data, tc.content), fi.ModTime(), old)
			}
			if after := listTree(t, dir); !slices.Equal(after, treeBefore) {
				t.Errorf("seed changed its data folder: %q, was %q", after, treeBefore)
			}
			t.Logf("%s: exit %d after %v: %v", tc.name, exitCode(err), took.Round(time.Millisecond), err)
		})
	}
}

// TestSeedTakesATorrentByAnotherName: x.torrent.added (what the daemon's
// watch folder leaves) is seeded as the torrent it is, with --data; it
// used to be taken for content ("--data is for seeding a .torrent"), or,
// without --data, made into a torrent of the .torrent file itself.
func TestSeedTakesATorrentByAnotherName(t *testing.T) {
	parent, torrent := makeContent(t, "album", map[string]int{"a.bin": 64 << 10})
	raw, err := os.ReadFile(torrent)
	if err != nil {
		t.Fatal(err)
	}
	added := filepath.Join(t.TempDir(), "album.torrent.added")
	if err := os.WriteFile(added, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err = run(ctx, []string{"seed", added, "--data", parent, "--listen", "127.0.0.1:0", "--dht=false", "--log-level", "error"}, &out, &errOut)
	if code := exitCode(err); code != 0 || !strings.Contains(out.String(), "seeding album (") {
		t.Errorf("seed %s: exit %d (%v)\nstdout %q\nstderr %q", added, code, err, out.String(), errOut.String())
	}
}

// seed --super-seed says it is super-seeding: its peers see it claim no
// pieces, which otherwise looks like a broken seed.
func TestSeedSaysItSuperSeeds(t *testing.T) {
	parent, torrent := makeContent(t, "album", map[string]int{"a.bin": 64 << 10})
	for _, super := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		args := []string{"seed", torrent, "--data", parent, "--listen", "127.0.0.1:0", "--dht=false", "--log-level", "error"}
		if super {
			args = append(args, "--super-seed")
		}
		var out, errOut bytes.Buffer
		err := run(ctx, args, &out, &errOut)
		cancel()
		if code := exitCode(err); code != 0 || strings.Contains(out.String(), "super-seeding (BEP 16)") != super {
			t.Errorf("seed --super-seed=%v: exit %d (%v), want super-seeding said %v\nstdout %q\nstderr %q", super, code, err, super, out.String(), errOut.String())
		}
	}
}
