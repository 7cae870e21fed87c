package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// bstr bencodes a string.
func bstr(s string) string { return fmt.Sprintf("%d:%s", len(s), s) }

// hostileTorrent bencodes a torrent of one 1000-byte piece named name, with
// the given file paths (a multi-file torrent) or none (a single file).
func hostileTorrent(name string, paths ...[]string) []byte {
	var info strings.Builder
	info.WriteString("d")
	if len(paths) > 0 {
		info.WriteString("5:filesl")
		for i, p := range paths {
			length := 1000 / len(paths)
			if i == 0 {
				length += 1000 % len(paths)
			}
			info.WriteString(fmt.Sprintf("d6:lengthi%de4:pathl", length))
			for _, c := range p {
				info.WriteString(bstr(c))
			}
			info.WriteString("ee")
		}
		info.WriteString("e")
	} else {
		info.WriteString("6:lengthi1000e")
	}
	info.WriteString("4:name" + bstr(name) + "12:piece lengthi16384e6:pieces20:" + strings.Repeat("x", 20) + "e")
	return []byte("d8:announce" + bstr("http://127.0.0.1:1/announce") + "4:info" + info.String() + "e")
}

// listTree returns every path below root, relative, with a trailing / for
// folders and -> target for links.
func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			rel += " -> " + target
		case d.IsDir():
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	return out
}

// TestGetWritesNothingOutsideItsFolder: torrents whose names or paths
// climb out of the download folder (every variant of .., absolute paths,
// drive letters, NUL, separators inside a component) are refused by swarm
// get before anything is created, and a symbolic link already in the
// download folder pointing outside is not followed. In every case no file
// appears outside the download folder (issue 8).
func TestGetWritesNothingOutsideItsFolder(t *testing.T) {
	abs := filepath.Join(t.TempDir(), "absolute-target")
	tests := []struct {
		name  string
		tname string
		paths [][]string
	}{
		{"name ..", "..", nil},
		{"name ../escape", "../escape", nil},
		{"name ..\\escape", `..\escape`, nil},
		{"name absolute", abs, nil},
		{"name drive letter", "C:escape", nil},
		{"name drive letter and backslash", `C:\escape`, nil},
		{"name with NUL", "esc\x00ape", nil},
		{"name empty", "", nil},
		{"name .", ".", nil},
		{"path ..", "t", [][]string{{"..", "escape"}}},
		{"path ../..", "t", [][]string{{"..", "..", "escape"}}},
		{"path a/../..", "t", [][]string{{"a", "..", "..", "escape"}}},
		{"path component with a/../..", "t", [][]string{{"a/../../escape"}}},
		{"path absolute", "t", [][]string{{abs}}},
		{"path drive letter", "t", [][]string{{"C:", "escape"}}},
		{"path with NUL", "t", [][]string{{"esc\x00ape"}}},
		{"path with backslashes", "t", [][]string{{`..\..\escape`}}},
		{"path empty component", "t", [][]string{{"", "escape"}}},
		{"path empty", "t", [][]string{{}}},
		{"second file escapes", "t", [][]string{{"ok"}, {"..", "escape"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dl := filepath.Join(root, "downloads", "here")
			if err := os.MkdirAll(dl, 0o755); err != nil {
				t.Fatal(err)
			}
			torrent := filepath.Join(root, "hostile.torrent")
			if err := os.WriteFile(torrent, hostileTorrent(tt.tname, tt.paths...), 0o644); err != nil {
				t.Fatal(err)
			}
			before := listTree(t, root)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var out, errOut bytes.Buffer
			err := run(ctx, []string{"get", torrent, "-o", dl, "--listen", "127.0.0.1:0", "--peer", "127.0.0.1:1"}, &out, &errOut)
			if err == nil || ctx.Err() != nil {
				t.Fatalf("swarm get of a torrent named %q with paths %q: %v (ctx %v), want it refused", tt.tname, tt.paths, err, ctx.Err())
			}
			if after := listTree(t, root); !slices.Equal(after, before) {
				t.Errorf("files changed: %q, were %q", after, before)
			}
			if _, err := os.Lstat(abs); err == nil {
				t.Errorf("%s was created", abs)
			}
			t.Logf("refused: %v", err)
		})
	}
}

// TestGetDoesNotFollowSymlinksOutOfItsFolder: a link left in the download
// folder where the torrent's folder or file goes, pointing outside, is
// not written through, even with a seed offering all the data.
func TestGetDoesNotFollowSymlinksOutOfItsFolder(t *testing.T) {
	parent, torrent := makeContent(t, "album", map[string]int{"one.bin": 40000, "sub/two.bin": 30000})
	_, addr := startSeed(t, torrent, parent)
	for _, link := range []string{"album", "album/sub", "album/one.bin"} {
		t.Run(link, func(t *testing.T) {
			root := t.TempDir()
			dl, outside := filepath.Join(root, "dl"), filepath.Join(root, "outside")
			for _, d := range []string{dl, outside, filepath.Join(dl, "album")} {
				if d == filepath.Join(dl, "album") && link == "album" {
					continue
				}
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(outside, "victim"), []byte("precious"), 0o644); err != nil {
				t.Fatal(err)
			}
			target := outside
			if strings.HasSuffix(link, ".bin") {
				target = filepath.Join(outside, "victim")
			}
			if err := os.Symlink(target, filepath.Join(dl, link)); err != nil {
				t.Skipf("cannot make symlinks here: %v", err)
			}
			before := listTree(t, outside)
			// A refused link stops get at once with the error; the 3 s
			// bound only ends a get that kept going.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			var out, errOut bytes.Buffer
			err := run(ctx, []string{"get", torrent, "-o", dl, "--listen", "127.0.0.1:0", "--peer", addr, "--log-level", "error"}, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), "symbolic link") {
				t.Fatalf("swarm get through a link at %s: %v, want an error saying a symbolic link was refused\n%s%s", link, err, out.String(), errOut.String())
			}
			if after := listTree(t, outside); !slices.Equal(after, before) {
				t.Errorf("outside folder changed: %q, was %q", after, before)
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "victim")); string(b) != "precious" {
				t.Errorf("victim file now holds %q", b)
			}
			t.Logf("refused: %v", err)
		})
	}
}
