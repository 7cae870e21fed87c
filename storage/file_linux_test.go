package storage_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"swarm/storage/storagetest"
)

func TestFilesAreSparse(t *testing.T) {
	const size = 64 << 20
	info, content := storagetest.NewTorrent(t, "big.bin", 256<<10, []storagetest.FileSpec{{Length: size}}, 1)
	dir := t.TempDir()
	s := openFile(t, dir, info)
	if _, err := s.WriteAt(content[size-16384:], size-16384); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	allocated := fi.Sys().(*syscall.Stat_t).Blocks * 512
	if fi.Size() != size || allocated > 1<<20 {
		t.Errorf("after one 16 KiB write: size %d, %d bytes allocated; want %d and well under 1 MiB", fi.Size(), allocated, size)
	}
}
