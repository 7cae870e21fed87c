package interop_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestCreateMatchesMktorrent: for the same single file and piece length,
// swarm create and mktorrent -l give the same info hash.
func TestCreateMatchesMktorrent(t *testing.T) {
	mk := need(t, "mktorrent")
	dir := t.TempDir()
	file := filepath.Join(dir, "data.bin")
	writeContent(t, dir, 7)
	if err := os.Rename(filepath.Join(dir, "disc 1", "01 intro.bin"), file); err != nil {
		t.Fatal(err)
	}
	for _, exp := range []int{15, 16, 18, 20} {
		t.Run(fmt.Sprintf("piece 2^%d", exp), func(t *testing.T) {
			ours := filepath.Join(dir, fmt.Sprintf("swarm-%d.torrent", exp))
			theirs := filepath.Join(dir, fmt.Sprintf("mktorrent-%d.torrent", exp))
			run(t, swarmBin, "create", file, "-o", ours, "--piece-length", fmt.Sprint(1<<exp), "-t", "http://127.0.0.1:1/announce")
			run(t, mk, "-l", fmt.Sprint(exp), "-a", "http://127.0.0.1:1/announce", "-o", theirs, file)
			a, b := readWithSwarm(t, ours), readWithSwarm(t, theirs)
			if a.InfoHash != b.InfoHash {
				t.Errorf("swarm create info hash %s, mktorrent %s", a.InfoHash, b.InfoHash)
			}
		})
	}
}

// transmissionShow returns the info hash transmission-show reports.
func transmissionShow(t testing.TB, torrent string) string {
	t.Helper()
	out := run(t, need(t, "transmission-show"), torrent)
	m := regexp.MustCompile(`(?m)^\s*Hash: ([0-9a-f]{40})$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("transmission-show printed no hash:\n%s", out)
	}
	return m[1]
}

type ltInfo struct {
	InfoHash    string `json:"info_hash"`
	Name        string `json:"name"`
	Pieces      int    `json:"pieces"`
	PieceLength int64  `json:"piece_length"`
	Files       []struct {
		Path string `json:"path"`
		Size int64  `json:"size"`
		Pad  bool   `json:"pad"`
	} `json:"files"`
}

func libtorrentInfo(t testing.TB, torrent string) ltInfo {
	t.Helper()
	py := need(t, "/usr/bin/python3")
	var li ltInfo
	out := run(t, py, filepath.Join("testdata", "lt_info.py"), torrent)
	if err := json.Unmarshal([]byte(out), &li); err != nil {
		t.Fatalf("lt_info.py: %v\n%s", err, out)
	}
	return li
}

// fileList renders files as sorted "path=size" lines; libtorrent paths carry
// the torrent's folder name in front, swarm's do not.
func ltFiles(li ltInfo) string {
	var s []string
	for _, f := range li.Files {
		if !f.Pad {
			s = append(s, fmt.Sprintf("%s=%d", strings.TrimPrefix(f.Path, li.Name+"/"), f.Size))
		}
	}
	sort.Strings(s)
	return strings.Join(s, "\n")
}

func swarmFiles(si swarmInfo) string {
	var s []string
	for _, f := range si.Files {
		if !f.Padding {
			s = append(s, fmt.Sprintf("%s=%d", f.Path, f.Length))
		}
	}
	sort.Strings(s)
	return strings.Join(s, "\n")
}

// TestReadTorrentsFromRealTools: torrents made by mktorrent,
// transmission-create and libtorrent (v1 and hybrid) read with the info hash
// and files that transmission-show and libtorrent report.
func TestReadTorrentsFromRealTools(t *testing.T) {
	dir := t.TempDir()
	content := filepath.Join(dir, "album")
	writeContent(t, content, 11)
	makers := []struct {
		name         string
		tool         string
		make         func(out string)
		transmission bool // transmission-show 3.00 cannot read hybrid torrents
	}{
		{"mktorrent", "mktorrent", func(out string) {
			run(t, "mktorrent", "-l", "15", "-a", "http://127.0.0.1:1/announce", "-o", out, content)
		}, true},
		{"transmission-create", "transmission-create", func(out string) {
			run(t, "transmission-create", "-s", "16", "-t", "http://127.0.0.1:1/announce", "-o", out, content)
		}, true},
		{"libtorrent v1", "/usr/bin/python3", func(out string) {
			run(t, "/usr/bin/python3", filepath.Join("testdata", "lt_create.py"), content, out, "16384", "v1")
		}, true},
		{"libtorrent hybrid", "/usr/bin/python3", func(out string) {
			run(t, "/usr/bin/python3", filepath.Join("testdata", "lt_create.py"), content, out, "32768", "hybrid")
		}, false},
		{"swarm", swarmBin, func(out string) {
			run(t, swarmBin, "create", content, "-o", out, "--piece-length", "16KiB")
		}, true},
	}
	for _, mk := range makers {
		t.Run(mk.name, func(t *testing.T) {
			need(t, mk.tool)
			out := filepath.Join(t.TempDir(), "x.torrent")
			mk.make(out)
			si := readWithSwarm(t, out)
			li := libtorrentInfo(t, out)
			if si.InfoHash != li.InfoHash {
				t.Errorf("info hash: swarm %s, libtorrent %s", si.InfoHash, li.InfoHash)
			}
			if si.Name != li.Name || si.Pieces != li.Pieces || si.PieceLength != li.PieceLength {
				t.Errorf("swarm reads %s, %d x %d; libtorrent %s, %d x %d", si.Name, si.Pieces, si.PieceLength, li.Name, li.Pieces, li.PieceLength)
			}
			if a, b := swarmFiles(si), ltFiles(li); a != b {
				t.Errorf("files: swarm\n%s\nlibtorrent\n%s", a, b)
			}
			if want := "disc 1/01 intro.bin=300001"; !strings.Contains(swarmFiles(si), want) {
				t.Errorf("files lack %q:\n%s", want, swarmFiles(si))
			}
			if mk.transmission {
				if h := transmissionShow(t, out); h != si.InfoHash {
					t.Errorf("info hash: swarm %s, transmission-show %s", si.InfoHash, h)
				}
			}
		})
	}
}
