package metainfo_test

import (
	"crypto/sha1"
	"os"
	"path/filepath"
	"testing"

	"swarm/metainfo"
)

// BenchmarkBuild hashes a 64 MiB file through Build (256 KiB pieces, one
// worker); BenchmarkSHA1 is raw crypto/sha1 over the same piece size, the
// ceiling Build can reach per core.
func BenchmarkBuild(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "data.bin")
	data := make([]byte, 64<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := metainfo.Build(b.Context(), metainfo.BuildConfig{Path: path, Workers: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSHA1(b *testing.B) {
	piece := make([]byte, 256<<10)
	b.SetBytes(int64(len(piece)))
	for b.Loop() {
		sha1.Sum(piece)
	}
}
