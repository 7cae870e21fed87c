package storage_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"swarm/piece"
	"swarm/storage"
	"swarm/storage/storagetest"
)

// countingStorage records the offsets read from a File.
type countingStorage struct {
	*storage.File
	mu    sync.Mutex
	reads []int64
}

func (c *countingStorage) ReadAt(p []byte, off int64) (int, error) {
	c.mu.Lock()
	c.reads = append(c.reads, off)
	c.mu.Unlock()
	return c.File.ReadAt(p, off)
}

func TestCheckResumesPartialDownload(t *testing.T) {
	// Three files of 2 pieces each; only the middle one written.
	info, content := storagetest.NewTorrent(t, "partial", 32*kib, []storagetest.FileSpec{
		{Path: "a", Length: 64 * kib},
		{Path: "b", Length: 64 * kib},
		{Path: "c", Length: 64 * kib},
	}, 4)
	dir := t.TempDir()
	f, err := storage.NewFile(dir, info)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(content[64*kib:128*kib], 64*kib); err != nil {
		t.Fatal(err)
	}
	s := &countingStorage{File: f}
	have, err := storage.Check(context.Background(), s, info, 2, nil)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if got := have.String(); got != "001100" {
		t.Errorf("Check = %s, want 001100", got)
	}
	for _, off := range s.reads {
		if off < 64*kib || off >= 128*kib {
			t.Errorf("Check read at %d, in a file that does not exist", off)
		}
	}
	if len(s.reads) != 2 {
		t.Errorf("Check read %d pieces, want 2", len(s.reads))
	}
}

// TestCheckFindsThePiecesOfAShortFile: a file cut short (a copy
// interrupted) still has the pieces it holds whole verified, not none.
func TestCheckFindsThePiecesOfAShortFile(t *testing.T) {
	info, content := storagetest.NewTorrent(t, "short", 32*kib, []storagetest.FileSpec{
		{Path: "a", Length: 64 * kib},
		{Path: "b", Length: 128*kib + 100},
	}, 5)
	dir := t.TempDir()
	f, err := storage.NewFile(dir, info)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(content, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	// b keeps its first 70 KiB: pieces 2 and 3 (b's first 64 KiB) whole,
	// piece 4 cut, pieces 5 and 6 gone.
	if err := os.Truncate(filepath.Join(dir, "short", "b"), 70*kib); err != nil {
		t.Fatal(err)
	}
	have, err := storage.Check(context.Background(), f, info, 2, nil)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if got := have.String(); got != "1111000" {
		t.Errorf("Check = %s, want 1111000", got)
	}
}

func TestCheckStopsWhenCancelled(t *testing.T) {
	info, content := storagetest.NewTorrent(t, "cancel", 16*kib, []storagetest.FileSpec{{Length: 64 * 16 * kib}}, 5)
	s := openFile(t, t.TempDir(), info)
	defer s.Close()
	writeAll(t, s, content)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := storage.Check(ctx, s, info, 1, func(done, total int) {
		calls++
		if done == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || calls != 3 {
		t.Errorf("Check cancelled after 3 pieces: %v after %d pieces, want context.Canceled after 3", err, calls)
	}
}

func TestCheckWholeTorrent(t *testing.T) {
	info, content := nestedTorrent(t)
	s := openFile(t, t.TempDir(), info)
	defer s.Close()
	writeAll(t, s, content)
	have, err := storage.Check(context.Background(), s, info, 0, nil)
	if err != nil || !have.Full() {
		t.Errorf("Check of a complete download = %v, %v; want every piece", have, err)
	}
	want := piece.NewBitfield(info.NumPieces())
	want.SetAll()
	if have.String() != want.String() {
		t.Errorf("Check = %v, want %v", have, want)
	}
}

// probeCounter counts the Missing probes Check makes of a File.
type probeCounter struct {
	*storage.File
	probes int // Check's workers call Missing one at a time here: a single worker
}

func (c *probeCounter) Missing(off, n int64) bool {
	c.probes++
	return c.File.Missing(off, n)
}

// A file that is not there at all costs Check one probe, not one a piece
// (a fresh download of 1 GiB made 4,096 failed stats before).
func TestCheckProbesAnAbsentFileOnce(t *testing.T) {
	info, content := storagetest.NewTorrent(t, "two", 16*kib, []storagetest.FileSpec{
		{Path: "absent", Length: 64 * 16 * kib},
		{Path: "short", Length: 4 * 16 * kib},
	}, 5)
	dir := t.TempDir()
	f, err := storage.NewFile(dir, info)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// "short" holds its first piece only: that piece is still checked.
	if _, err := f.WriteAt(content[64*16*kib:65*16*kib], 64*16*kib); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(dir, "two", "short"), 16*kib); err != nil {
		t.Fatal(err)
	}
	c := &probeCounter{File: f}
	have, err := storage.Check(context.Background(), c, info, 1, nil)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if have.Count() != 1 || !have.Has(64) {
		t.Errorf("Check = %s, want piece 64 only", have)
	}
	if c.probes > 2+4 {
		t.Errorf("Check probed %d times, want one a file and one a piece of the file that is there (6)", c.probes)
	}
}
