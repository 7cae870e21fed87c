package storage_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"swarm/metainfo"
	"swarm/piece"
	"swarm/storage"
	"swarm/storage/storagetest"
)

func openFile(t testing.TB, dir string, info *metainfo.Info) storage.Storage {
	t.Helper()
	s, err := storage.NewFile(dir, info)
	if err != nil {
		t.Fatalf("NewFile(%s): %v", dir, err)
	}
	return s
}

func TestFileConformance(t *testing.T) {
	storagetest.Run(t, openFile)
}

const kib = 1 << 10

// nestedTorrent is a multi-file torrent with folders, a pad file and an
// empty file.
func nestedTorrent(t testing.TB) (*metainfo.Info, []byte) {
	t.Helper()
	return storagetest.NewTorrent(t, "top", 32*kib, []storagetest.FileSpec{
		{Path: "a/b/one", Length: 20000},
		{Path: ".pad/12768", Length: 32*kib - 20000, Pad: true},
		{Path: "a/two", Length: 40000},
		{Path: "empty", Length: 0},
		{Path: "three", Length: 5000},
	}, 1)
}

func writeAll(t testing.TB, s storage.Storage, content []byte) {
	t.Helper()
	for off := int64(0); off < int64(len(content)); off += piece.BlockSize {
		end := min(off+piece.BlockSize, int64(len(content)))
		if _, err := s.WriteAt(content[off:end], off); err != nil {
			t.Fatalf("WriteAt(%d): %v", off, err)
		}
	}
}

// tree lists the files below dir as "path size" lines (folders end in /).
func tree(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch fi, _ := d.Info(); {
		case d.Type()&fs.ModeSymlink != 0:
			out = append(out, rel+" -> link")
		case d.IsDir():
			out = append(out, rel+"/")
		default:
			out = append(out, fmt.Sprintf("%s %d", rel, fi.Size()))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFileLayout(t *testing.T) {
	single, singleContent := storagetest.NewTorrent(t, "film.mkv", 32*kib, []storagetest.FileSpec{{Length: 70000}}, 2)
	nested, nestedContent := nestedTorrent(t)
	tests := []struct {
		name    string
		info    *metainfo.Info
		content []byte
		want    []string
	}{
		{"single-file torrent is dir/Name", single, singleContent, []string{"film.mkv 70000"}},
		{
			"multi-file torrent is dir/Name/path, without pad files",
			nested, nestedContent,
			[]string{"top/", "top/a/", "top/a/b/", "top/a/b/one 20000", "top/a/two 40000", "top/empty 0", "top/three 5000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openFile(t, dir, tt.info)
			if got := tree(t, dir); len(got) != 0 {
				t.Errorf("after NewFile: %v, want no files yet", got)
			}
			writeAll(t, s, tt.content)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := tree(t, dir); !slices.Equal(got, tt.want) {
				t.Errorf("files = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFilesAreCreatedLazilyAtFullLength(t *testing.T) {
	info, content := storagetest.NewTorrent(t, "lazy", 32*kib, []storagetest.FileSpec{
		{Path: "first", Length: 100000},
		{Path: "second", Length: 100000},
	}, 3)
	dir := t.TempDir()
	s, err := storage.NewFile(dir, info)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	buf := make([]byte, 1000)
	if _, err := s.ReadAt(buf, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadAt before any write: %v, want fs.ErrNotExist", err)
	}
	if got := tree(t, dir); len(got) != 0 {
		t.Errorf("a read created %v", got)
	}
	// One block at the end of the second file.
	if _, err := s.WriteAt(content[190000:200000], 190000); err != nil {
		t.Fatal(err)
	}
	if got, want := tree(t, dir), []string{"lazy/", "lazy/second 100000"}; !slices.Equal(got, want) {
		t.Errorf("after one write: %q, want %q", got, want)
	}
	if !s.Missing(0, 1000) || s.Missing(150000, 1000) {
		t.Errorf("Missing(first file) = %v, Missing(second file) = %v; want true, false", s.Missing(0, 1000), s.Missing(150000, 1000))
	}
}

func TestZeroLengthFilesCreatedOnFlush(t *testing.T) {
	info, content := nestedTorrent(t)
	dir := t.TempDir()
	s := openFile(t, dir, info)
	defer s.Close()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dir); len(got) != 0 {
		t.Errorf("Flush before any write created %v", got)
	}
	if _, err := s.WriteAt(content[:100], 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "top", "empty")); err != nil || fi.Size() != 0 {
		t.Errorf("empty file after a write and Flush: %v, %v", fi, err)
	}
}

func TestSkippedFilesAreNotCreated(t *testing.T) {
	info, content := storagetest.NewTorrent(t, "top", 32*kib, []storagetest.FileSpec{
		{Path: "wanted", Length: 40000},
		{Path: "empty", Length: 0},
		{Path: "empty too", Length: 0},
		{Path: "unwanted", Length: 100000},
	}, 5)
	dir := t.TempDir()
	s, err := storage.NewFile(dir, info)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Skip(1) // "empty"
	s.Skip(3) // "unwanted"
	// Piece 0 lies in "wanted" alone; piece 1 spans "wanted" and
	// "unwanted", so writing it creates "unwanted" at its full length.
	writeAll(t, s, content[:32*kib])
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := tree(t, dir), []string{"top/", "top/empty too 0", "top/wanted 40000"}; !slices.Equal(got, want) {
		t.Errorf("after writing piece 0: %q, want %q", got, want)
	}
	writeAll(t, s, content[:64*kib])
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := tree(t, dir), []string{"top/", "top/empty too 0", "top/unwanted 100000", "top/wanted 40000"}; !slices.Equal(got, want) {
		t.Errorf("after writing the shared piece 1: %q, want %q", got, want)
	}
}

func TestFileRefusesSymlinks(t *testing.T) {
	multi, content := nestedTorrent(t)
	single, singleContent := storagetest.NewTorrent(t, "film.mkv", 32*kib, []storagetest.FileSpec{{Length: 70000}}, 2)
	tests := []struct {
		name    string
		info    *metainfo.Info
		content []byte
		link    string // below the download folder, pointing outside
		target  string // below the outside folder
	}{
		{"torrent folder", multi, content, "top", "."},
		{"intermediate folder", multi, content, "top/a", "."},
		{"deeper folder", multi, content, "top/a/b", "."},
		{"file", multi, content, "top/a/b/one", "victim"},
		{"single file", single, singleContent, "film.mkv", "victim"},
		{"dangling link to where a file would go", single, singleContent, "film.mkv", "new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, outside := t.TempDir(), t.TempDir()
			if err := os.WriteFile(filepath.Join(outside, "victim"), []byte("precious"), 0o644); err != nil {
				t.Fatal(err)
			}
			before := tree(t, outside)
			link := filepath.Join(dir, filepath.FromSlash(tt.link))
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(outside, tt.target), link); err != nil {
				t.Skipf("cannot create symlinks here: %v", err)
			}
			s := openFile(t, dir, tt.info)
			defer s.Close()
			_, err := s.WriteAt(tt.content, 0)
			if !errors.Is(err, storage.ErrSymlink) || !strings.Contains(err.Error(), link) {
				t.Errorf("WriteAt through %s: %v, want ErrSymlink naming %s", tt.link, err, link)
			}
			if _, err := s.ReadAt(make([]byte, 10), 0); !errors.Is(err, storage.ErrSymlink) {
				t.Errorf("ReadAt through %s: %v, want ErrSymlink", tt.link, err)
			}
			if err := s.Flush(); err != nil && !errors.Is(err, storage.ErrSymlink) {
				t.Errorf("Flush: %v", err)
			}
			if after := tree(t, outside); !slices.Equal(after, before) {
				t.Errorf("outside folder changed: %q, was %q", after, before)
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "victim")); string(b) != "precious" {
				t.Errorf("victim file now holds %q", b)
			}
		})
	}
}

func TestNewFileRefusesUnsafePaths(t *testing.T) {
	tests := []struct {
		name string
		edit func(info *metainfo.Info)
	}{
		{"dot-dot name", func(info *metainfo.Info) { info.Name = ".." }},
		{"empty name", func(info *metainfo.Info) { info.Name = "" }},
		{"name with separator", func(info *metainfo.Info) { info.Name = "a/b" }},
		{"dot-dot component", func(info *metainfo.Info) { info.Files[0].Path = []string{"..", "x"} }},
		{"absolute component", func(info *metainfo.Info) { info.Files[0].Path = []string{"/etc/passwd"} }},
		{"backslash", func(info *metainfo.Info) { info.Files[0].Path = []string{`..\x`} }},
		{"drive letter", func(info *metainfo.Info) { info.Files[0].Path = []string{"C:x"} }},
		{"NUL", func(info *metainfo.Info) { info.Files[0].Path = []string{"a\x00b"} }},
		{"dot", func(info *metainfo.Info) { info.Files[0].Path = []string{"."} }},
		{"empty path", func(info *metainfo.Info) { info.Files[0].Path = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, _ := nestedTorrent(t)
			tt.edit(info)
			dir := t.TempDir()
			if s, err := storage.NewFile(dir, info); !errors.Is(err, storage.ErrUnsafePath) {
				if s != nil {
					s.Close()
				}
				t.Errorf("NewFile = %v, want ErrUnsafePath", err)
			}
		})
	}
}

func TestNewFileRefusesInconsistentInfo(t *testing.T) {
	info, _ := nestedTorrent(t)
	info.Files[2].Offset++
	if _, err := storage.NewFile(t.TempDir(), info); err == nil {
		t.Errorf("NewFile with a gap between files succeeded")
	}
}

func TestReadOnlyFilesCanBeSeeded(t *testing.T) {
	info, content := nestedTorrent(t)
	dir := t.TempDir()
	s := openFile(t, dir, info)
	writeAll(t, s, content)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			os.Chmod(p, 0o444)
		}
		return err
	})
	s = openFile(t, dir, info)
	defer s.Close()
	got := make([]byte, len(content))
	if _, err := s.ReadAt(got, 0); err != nil || !bytes.Equal(got, content) {
		t.Errorf("ReadAt of read-only files: %v (or wrong data)", err)
	}
}

func TestOperationsAfterCloseFail(t *testing.T) {
	info, content := nestedTorrent(t)
	s := openFile(t, t.TempDir(), info)
	writeAll(t, s, content)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteAt(content[:10], 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("WriteAt after Close: %v, want os.ErrClosed", err)
	}
	if _, err := s.ReadAt(make([]byte, 10), 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("ReadAt after Close: %v, want os.ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestReadOnlyFileNeverWrites: storage opened for seeding reads what is
// there, refuses every write, creates nothing (not even its folder) and
// leaves a file of the same name but other content byte-identical, with its
// modification time (issue 13: `seed --data WRONGDIR` overwrote such a file).
func TestReadOnlyFileNeverWrites(t *testing.T) {
	info, content := nestedTorrent(t)
	dir := t.TempDir()
	s := openFile(t, dir, info)
	writeAll(t, s, content)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Someone else's file where the torrent's third file goes.
	other := filepath.Join(dir, "top", "three")
	mine := bytes.Repeat([]byte("not the torrent's data "), 300)
	if err := os.WriteFile(other, mine, 0o644); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(other)
	if err != nil {
		t.Fatal(err)
	}
	treeBefore := tree(t, dir)

	ro, err := storage.NewFileReadOnly(dir, info)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 20000)
	if _, err := ro.ReadAt(got, 0); err != nil || !bytes.Equal(got, content[:20000]) {
		t.Errorf("ReadAt of the first file: %v (or wrong data)", err)
	}
	off := info.Length - 5000 // "three"
	if _, err := ro.WriteAt(content[off:], off); !errors.Is(err, storage.ErrReadOnly) {
		t.Errorf("WriteAt into read-only storage: %v, want ErrReadOnly", err)
	}
	if err := ro.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	after, err := os.Stat(other)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(other); !bytes.Equal(data, mine) || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the other file changed: mtime %v → %v", before.ModTime(), after.ModTime())
	}
	if got := tree(t, dir); !slices.Equal(got, treeBefore) {
		t.Errorf("tree after read-only use = %q, want %q", got, treeBefore)
	}

	missing := filepath.Join(dir, "nowhere")
	if _, err := storage.NewFileReadOnly(missing, info); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("NewFileReadOnly(missing folder): %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("NewFileReadOnly created its missing folder")
	}
}

// A file with the BEP 47 attribute x is created executable; others are not.
func TestExecutableAttributeSetsMode(t *testing.T) {
	info, content := storagetest.NewTorrent(t, "modes", 32*kib, []storagetest.FileSpec{
		{Path: "run.sh", Length: 1000},
		{Path: "data", Length: 1000},
	}, 4)
	info.Files[0].Executable = true
	dir := t.TempDir()
	s := openFile(t, dir, info)
	defer s.Close()
	writeAll(t, s, content)
	for i, want := range []fs.FileMode{0o100, 0} {
		fi, err := os.Stat(filepath.Join(dir, "modes", info.Files[i].DisplayPath()))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm() & 0o100; got != want {
			t.Errorf("%s: mode %v, want owner-execute %v", info.Files[i].DisplayPath(), fi.Mode(), want != 0)
		}
	}
}
