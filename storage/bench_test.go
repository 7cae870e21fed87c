package storage_test

import (
	"testing"

	"swarm/piece"
	"swarm/storage/storagetest"
)

// BenchmarkFile writes and reads 16 KiB blocks of a 64 MiB torrent of 8
// files, in piece order, through the page cache (no Flush in the loop).
func BenchmarkFile(b *testing.B) {
	var specs []storagetest.FileSpec
	for i := range 8 {
		specs = append(specs, storagetest.FileSpec{Path: "d/f" + string(rune('0'+i)), Length: 8<<20 + 1000})
	}
	info, content := storagetest.NewTorrent(b, "bench", 256<<10, specs, 1)
	nblocks := info.Length / piece.BlockSize
	s := openFile(b, b.TempDir(), info)
	defer s.Close()
	for _, mode := range []string{"write", "read"} {
		b.Run(mode, func(b *testing.B) {
			buf := make([]byte, piece.BlockSize)
			b.SetBytes(piece.BlockSize)
			i := int64(0)
			for b.Loop() {
				off := (i % nblocks) * piece.BlockSize
				i++
				var err error
				if mode == "write" {
					_, err = s.WriteAt(content[off:off+piece.BlockSize], off)
				} else {
					_, err = s.ReadAt(buf, off)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
