package storage_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"swarm/storage"
)

// splitAt cuts b at the given lengths (an empty buffer included), the rest
// as a last buffer.
func splitAt(b []byte, lens ...int) [][]byte {
	var out [][]byte
	for _, n := range lens {
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

// A piece written as buffers that straddle file boundaries, a pad file and
// an empty file lands where WriteAt would put it, and pad bytes are dropped.
func TestWriteBuffersAtAcrossFiles(t *testing.T) {
	info, content := nestedTorrent(t)
	written := bytes.Clone(content)
	for _, f := range info.Files {
		if f.Padding {
			for i := f.Offset; i < f.Offset+f.Length; i++ {
				written[i] = 0xa5 // must not reach storage
			}
		}
	}
	dir := t.TempDir()
	s := openFile(t, dir, info)
	bufs := splitAt(written, 1, 19998, 0, 16*kib, 7, 40000)
	n, err := storage.WriteBuffers(s, bufs, 0)
	if err != nil || n != int64(len(content)) {
		t.Fatalf("WriteBuffers of the whole content = %d, %v; want %d, nil", n, err, len(content))
	}
	got := make([]byte, len(content))
	if _, err := s.ReadAt(got, 0); err != nil || !bytes.Equal(got, content) {
		t.Errorf("ReadAt after WriteBuffers: %v, or data differs", err)
	}
	// A second write inside one file, at an offset.
	patch := bytes.Repeat([]byte{7}, 300)
	if _, err := storage.WriteBuffers(s, splitAt(patch, 100, 100), 32*kib+1000); err != nil {
		t.Fatalf("WriteBuffers inside a file: %v", err)
	}
	copy(content[32*kib+1000:], patch) // a/two starts at 32 KiB
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	one, err := os.ReadFile(filepath.Join(dir, "top", "a", "b", "one"))
	if err != nil || !bytes.Equal(one, content[:20000]) {
		t.Errorf("file a/b/one after WriteBuffers: %v, or data differs", err)
	}
	two, err := os.ReadFile(filepath.Join(dir, "top", "a", "two"))
	if err != nil || !bytes.Equal(two, content[32*kib:32*kib+40000]) {
		t.Errorf("file a/two after WriteBuffers: %v, or data differs", err)
	}
}

func TestWriteBuffersAtRefuses(t *testing.T) {
	info, content := nestedTorrent(t)
	dir := t.TempDir()
	s := openFile(t, dir, info)
	if _, err := storage.WriteBuffers(s, splitAt(content, 10), 1); err == nil {
		t.Errorf("WriteBuffers past the end of the content succeeded")
	}
	writeAll(t, s, content)
	s.Close()
	ro, err := storage.NewFileReadOnly(dir, info)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.WriteBuffersAt(splitAt(content[:10], 5), 0); !errors.Is(err, storage.ErrReadOnly) {
		t.Errorf("WriteBuffersAt on read-only storage: %v, want ErrReadOnly", err)
	}
}

// Storage without WriteBuffersAt gets one WriteAt per buffer.
func TestWriteBuffersFallsBackToWriteAt(t *testing.T) {
	m := storage.NewMemory(10)
	if n, err := storage.WriteBuffers(m, splitAt([]byte("abcdefgh"), 3, 0), 1); err != nil || n != 8 {
		t.Fatalf("WriteBuffers to Memory = %d, %v; want 8, nil", n, err)
	}
	if got := string(m.Bytes()); got != "\x00abcdefgh\x00" {
		t.Errorf("Memory holds %q", got)
	}
}
