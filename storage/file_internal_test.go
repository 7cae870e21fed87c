package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"syscall"
	"testing"

	"swarm/metainfo"
)

// manyFiles returns a torrent of n files of 1000 bytes each.
func manyFiles(n int) *metainfo.Info {
	info := &metainfo.Info{Name: "many", PieceLength: 16 << 10, MultiFile: true}
	for i := range n {
		info.Files = append(info.Files, metainfo.File{Path: []string{fmt.Sprintf("f%03d", i)}, Length: 1000, Offset: info.Length})
		info.Length += 1000
	}
	info.Pieces = make([]metainfo.Hash, (info.Length+info.PieceLength-1)/info.PieceLength)
	return info
}

func TestHandleCacheIsBoundedAndFlushSyncsEvictedFiles(t *testing.T) {
	info := manyFiles(40)
	s, err := NewFile(t.TempDir(), info)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.maxOpen = 4
	content := bytes.Repeat([]byte("0123456789"), int(info.Length)/10)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for off := int64(w * 500); off < info.Length; off += 2000 {
				if _, err := s.WriteAt(content[off:off+500], off); err != nil {
					t.Errorf("WriteAt(%d): %v", off, err)
				}
			}
		})
	}
	wg.Wait()
	s.mu.Lock()
	open, unsynced := len(s.handles), len(s.unsynced)
	s.mu.Unlock()
	if open > 4 || unsynced < 36 {
		t.Errorf("after writing 40 files: %d handles open, %d files closed unsynced; want at most 4, at least 36", open, unsynced)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	dirty := 0
	for _, h := range s.handles {
		if h.dirty {
			dirty++
		}
	}
	unsynced = len(s.unsynced)
	s.mu.Unlock()
	if dirty != 0 || unsynced != 0 {
		t.Errorf("after Flush: %d dirty handles, %d unsynced files; want none", dirty, unsynced)
	}
	got := make([]byte, len(content))
	if _, err := s.ReadAt(got, 0); err != nil || !bytes.Equal(got, content) {
		t.Errorf("ReadAt after eviction: %v (or wrong data)", err)
	}
}

func TestFullDiskIsErrDiskFull(t *testing.T) {
	tests := []struct {
		name string
		err  error
		full bool
	}{
		{"ENOSPC", syscall.ENOSPC, true},
		{"EDQUOT", syscall.EDQUOT, true},
		{"wrapped ENOSPC", &fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}, true},
		{"EIO", syscall.EIO, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ioError("write", "/dl/x", tt.err)
			if errors.Is(err, ErrDiskFull) != tt.full || !errors.Is(err, tt.err) {
				t.Errorf("ioError(%v) = %v: Is(ErrDiskFull) = %v, want %v, and must wrap the cause", tt.err, err, errors.Is(err, ErrDiskFull), tt.full)
			}
		})
	}
}
