package storage_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"swarm/metainfo"
	"swarm/piece"
	"swarm/storage"
)

// savedDownload writes a torrent's content, flushes it and saves a resume
// record for pieces 0 and 2; it returns the record's handle.
func savedDownload(t testing.TB) storage.Resume {
	t.Helper()
	info, content := nestedTorrent(t)
	dir := t.TempDir()
	s := openFile(t, dir, info)
	writeAll(t, s, content)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r := storage.Resume{
		Path:     filepath.Join(dir, ".swarm", "0123.resume"),
		InfoHash: metainfo.Hash{1, 2, 3},
		Info:     info,
		Dir:      dir,
	}
	have := piece.NewBitfield(info.NumPieces())
	have.Set(0)
	have.Set(2)
	if err := r.Save(have); err != nil {
		t.Fatalf("Save: %v", err)
	}
	return r
}

func TestResumeRoundTrip(t *testing.T) {
	r := savedDownload(t)
	have, err := r.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := have.String(); got != "101" {
		t.Errorf("Load = %s, want 101", got)
	}
	// Saving again replaces the record and leaves no temporary file.
	have.Set(1)
	if err := r.Save(have); err != nil {
		t.Fatal(err)
	}
	if again, err := r.Load(); err != nil || again.String() != "111" {
		t.Errorf("Load after second Save = %v, %v; want 111", again, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(r.Path))
	if len(entries) != 1 {
		t.Errorf("record folder holds %d entries, want just the record", len(entries))
	}
}

func TestResumeRejectsStaleRecords(t *testing.T) {
	file := func(r storage.Resume, path string) string {
		return filepath.Join(r.Dir, "top", filepath.FromSlash(path))
	}
	tests := []struct {
		name   string
		change func(t *testing.T, r *storage.Resume)
		want   error  // errors.Is target, or nil to check the message only
		reason string // in the message
	}{
		{"other torrent", func(t *testing.T, r *storage.Resume) { r.InfoHash[0] ^= 1 }, storage.ErrStaleResume, "info hash"},
		{"file touched", func(t *testing.T, r *storage.Resume) {
			p := file(*r, "a/two")
			fi, _ := os.Stat(p)
			if err := os.Chtimes(p, time.Time{}, fi.ModTime().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
		}, storage.ErrStaleResume, "file 1"},
		{"file resized", func(t *testing.T, r *storage.Resume) {
			if err := os.Truncate(file(*r, "three"), 10); err != nil {
				t.Fatal(err)
			}
		}, storage.ErrStaleResume, "file 3"},
		{"file deleted", func(t *testing.T, r *storage.Resume) {
			if err := os.Remove(file(*r, "a/b/one")); err != nil {
				t.Fatal(err)
			}
		}, storage.ErrStaleResume, "file 0"},
		{"file replaced by a link", func(t *testing.T, r *storage.Resume) {
			p := file(*r, "three")
			os.Rename(p, p+".moved")
			if err := os.Symlink(p+".moved", p); err != nil {
				t.Skip(err)
			}
		}, storage.ErrStaleResume, "file 3"},
		{"no record", func(t *testing.T, r *storage.Resume) { os.Remove(r.Path) }, fs.ErrNotExist, "no such file"},
		{"record truncated", func(t *testing.T, r *storage.Resume) {
			if err := os.Truncate(r.Path, 50); err != nil {
				t.Fatal(err)
			}
		}, nil, "need"},
		{"record shorter than its header", func(t *testing.T, r *storage.Resume) {
			if err := os.Truncate(r.Path, 30); err != nil {
				t.Fatal(err)
			}
		}, nil, "header"},
		{"record corrupted", func(t *testing.T, r *storage.Resume) {
			b, _ := os.ReadFile(r.Path)
			b[40] ^= 0x10
			os.WriteFile(r.Path, b, 0o644)
		}, nil, "checksum"},
		{"record too large", func(t *testing.T, r *storage.Resume) {
			os.WriteFile(r.Path, make([]byte, 1<<20), 0o644)
		}, nil, "larger than"},
		{"torrent with other files", func(t *testing.T, r *storage.Resume) {
			info := *r.Info
			info.Files = info.Files[: len(info.Files)-1 : len(info.Files)-1]
			info.Files = append(info.Files, metainfo.File{Path: []string{"three"}, Length: 2500, Offset: info.Files[len(info.Files)-1].Offset})
			info.Files = append(info.Files, metainfo.File{Path: []string{"four"}, Length: 2500, Offset: info.Files[len(info.Files)-1].Offset + 2500})
			r.Info = &info
		}, storage.ErrStaleResume, "4 files, torrent has 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := savedDownload(t)
			tt.change(t, &r)
			have, err := r.Load()
			if have != nil || err == nil {
				t.Fatalf("Load = %v, %v; want an error", have, err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Load error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Load error %q does not say %q", err, tt.reason)
			}
		})
	}
}

func TestResumeSaveRefusesWrongBitfield(t *testing.T) {
	r := savedDownload(t)
	if err := r.Save(piece.NewBitfield(4)); err == nil {
		t.Errorf("Save with a 4-piece bitfield for a 3-piece torrent succeeded")
	}
}
