package storagetest

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"swarm/metainfo"
	"swarm/piece"
	"swarm/storage"
)

// OpenFunc opens the storage of torrent info in folder dir. Opening the
// same dir again must show what was written and flushed before Close.
type OpenFunc func(t testing.TB, dir string, info *metainfo.Info) storage.Storage

// FileSpec describes one file of a test torrent.
type FileSpec struct {
	Path   string // slash-separated below the torrent folder; "" for a single-file torrent
	Length int64
	Pad    bool // a BEP 47 pad file
}

// NewTorrent returns the info of a torrent named name with the given files
// and piece length, and its content: pseudo-random bytes from seed, zeros in
// pad files. The piece hashes match the content. A single FileSpec with an
// empty Path makes a single-file torrent.
func NewTorrent(t testing.TB, name string, pieceLen int64, files []FileSpec, seed uint64) (*metainfo.Info, []byte) {
	t.Helper()
	info := &metainfo.Info{Name: name, PieceLength: pieceLen}
	info.MultiFile = len(files) != 1 || files[0].Path != ""
	for _, f := range files {
		mf := metainfo.File{Length: f.Length, Offset: info.Length, Padding: f.Pad}
		if info.MultiFile {
			mf.Path = strings.Split(f.Path, "/")
		} else {
			mf.Path = []string{name}
		}
		info.Files = append(info.Files, mf)
		info.Length += f.Length
	}
	content := make([]byte, info.Length)
	r := rand.New(rand.NewPCG(seed, 0))
	for _, f := range info.Files {
		if !f.Padding {
			for i := f.Offset; i < f.Offset+f.Length; i++ {
				content[i] = byte(r.Uint32())
			}
		}
	}
	for off := int64(0); off < info.Length; off += pieceLen {
		info.Pieces = append(info.Pieces, sha1.Sum(content[off:min(off+pieceLen, info.Length)]))
	}
	return info, content
}

// Run checks the storage opened by open against the storage contract.
func Run(t *testing.T, open OpenFunc) {
	const kib = 1 << 10
	nested := []FileSpec{
		{Path: "a.txt", Length: 1},
		{Path: "d1/b.bin", Length: 16*kib + 1},
		{Path: "d1/d2/c.bin", Length: 40000},
		{Path: "d1/d2/d3/e", Length: 7},
		{Path: "z", Length: 50001}, // last piece shorter than the rest
	}
	t.Run("SingleFile", func(t *testing.T) {
		info, content := NewTorrent(t, "single.bin", 32*kib, []FileSpec{{Length: 3*32*kib + 5000}}, 1)
		roundTrip(t, open, info, content, content)
	})
	t.Run("NestedFilesAcrossBoundaries", func(t *testing.T) {
		info, content := NewTorrent(t, "nested", 32*kib, nested, 2)
		roundTrip(t, open, info, content, content)
	})
	t.Run("ZeroLengthFiles", func(t *testing.T) {
		info, content := NewTorrent(t, "zeros", 16*kib, []FileSpec{
			{Path: "empty0", Length: 0},
			{Path: "x", Length: 20000},
			{Path: "d/empty1", Length: 0},
			{Path: "y", Length: 30000},
			{Path: "empty2", Length: 0},
		}, 3)
		roundTrip(t, open, info, content, content)
	})
	t.Run("PadFiles", func(t *testing.T) {
		info, content := NewTorrent(t, "padded", 32*kib, []FileSpec{
			{Path: "x", Length: 20000},
			{Path: ".pad/12768", Length: 32*kib - 20000, Pad: true},
			{Path: "y", Length: 40000},
			{Path: ".pad/25536", Length: 64*kib - 40000, Pad: true},
			{Path: "z", Length: 100},
		}, 4)
		// Write garbage where the pad files are: it must be dropped.
		written := bytes.Clone(content)
		for _, f := range info.Files {
			if f.Padding {
				for i := f.Offset; i < f.Offset+f.Length; i++ {
					written[i] = 0xa5
				}
			}
		}
		roundTrip(t, open, info, written, content)
	})
	t.Run("UnwrittenRanges", func(t *testing.T) {
		info, content := NewTorrent(t, "sparse", 32*kib, []FileSpec{{Path: "a", Length: 40000}, {Path: "b", Length: 40000}}, 5)
		s := open(t, t.TempDir(), info)
		defer closeStorage(t, s)
		mustWrite(t, s, content[:16*kib], 0)
		got := dirty(10000)
		if n, err := s.ReadAt(got, 20000); n != len(got) || err != nil {
			t.Fatalf("ReadAt(unwritten range of a written file) = %d, %v; want %d, nil", n, err, len(got))
		}
		if !bytes.Equal(got, make([]byte, len(got))) {
			t.Errorf("unwritten range of a written file does not read as zeros")
		}
		if _, err := s.ReadAt(got, 45000); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadAt(range of a file never written) error = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("EndOfContent", func(t *testing.T) {
		info, content := NewTorrent(t, "end", 16*kib, nested, 6)
		s := open(t, t.TempDir(), info)
		defer closeStorage(t, s)
		writeBlocks(t, s, info, content, 1)
		end := info.Length
		got := make([]byte, 20)
		if n, err := s.ReadAt(got, end-10); n != 10 || err != io.EOF || !bytes.Equal(got[:10], content[end-10:]) {
			t.Errorf("ReadAt(20 bytes, 10 before the end) = %d, %v; want 10, io.EOF and the last 10 bytes", n, err)
		}
		if n, err := s.ReadAt(got, end); n != 0 || err != io.EOF {
			t.Errorf("ReadAt(at the end) = %d, %v; want 0, io.EOF", n, err)
		}
		if n, err := s.WriteAt(make([]byte, 20), end-10); err == nil || n != 0 {
			t.Errorf("WriteAt(across the end) = %d, %v; want 0 and an error", n, err)
		}
		if _, err := s.WriteAt(got, -1); err == nil {
			t.Errorf("WriteAt(negative offset) succeeded")
		}
		if _, err := s.ReadAt(got, -1); err == nil {
			t.Errorf("ReadAt(negative offset) succeeded")
		}
		readBack(t, s, info, content)
	})
	t.Run("ConcurrentBlocks", func(t *testing.T) {
		info, content := NewTorrent(t, "concurrent", 32*kib, append(nested, FileSpec{Path: "big", Length: 300 * kib}), 7)
		s := open(t, t.TempDir(), info)
		defer closeStorage(t, s)
		g := piece.GeometryOf(info)
		var blocks []piece.Block
		for p := range g.NumPieces() {
			blocks = append(blocks, g.Blocks(p)...)
		}
		const workers = 8
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				buf := make([]byte, piece.BlockSize)
				for i := w; i < len(blocks); i += workers {
					b := blocks[i]
					off := g.Offset(b)
					if _, err := s.WriteAt(content[off:off+int64(b.Length)], off); err != nil {
						t.Errorf("WriteAt(%v): %v", b, err)
						return
					}
					if _, err := s.ReadAt(buf[:b.Length], off); err != nil || !bytes.Equal(buf[:b.Length], content[off:off+int64(b.Length)]) {
						t.Errorf("ReadAt(%v) right after writing it: %v, or wrong data", b, err)
						return
					}
				}
			})
		}
		wg.Wait()
		readBack(t, s, info, content)
	})
	t.Run("Check", func(t *testing.T) {
		info, content := NewTorrent(t, "check", 16*kib, nested, 8)
		s := open(t, t.TempDir(), info)
		defer closeStorage(t, s)
		// Write every piece but the last two; corrupt piece 1. The last
		// file ("z") is then partly written, c.bin and others whole.
		g := piece.GeometryOf(info)
		n := g.NumPieces()
		for p := range n - 2 {
			data := bytes.Clone(content[g.PieceOffset(p) : g.PieceOffset(p)+g.PieceLen(p)])
			if p == 1 {
				data[100] ^= 0xff
			}
			mustWrite(t, s, data, g.PieceOffset(p))
		}
		var calls, last int
		have, err := storage.Check(context.Background(), s, info, 3, func(done, total int) {
			calls++
			if done != last+1 || total != n {
				t.Errorf("progress(%d, %d) after %d, want (%d, %d)", done, total, last, last+1, n)
			}
			last = done
		})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		want := piece.NewBitfield(n)
		for p := range n - 2 {
			if p != 1 {
				want.Set(p)
			}
		}
		if have.String() != want.String() {
			t.Errorf("Check = %v, want %v", have, want)
		}
		if calls != n {
			t.Errorf("progress called %d times, want %d", calls, n)
		}
	})
}

// roundTrip writes written block by block in random order, reads back want
// (block by block, across boundaries, whole), then reopens and reads again.
func roundTrip(t testing.TB, open OpenFunc, info *metainfo.Info, written, want []byte) {
	t.Helper()
	dir := t.TempDir()
	s := open(t, dir, info)
	writeBlocks(t, s, info, written, uint64(len(written)))
	readBack(t, s, info, want)
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	closeStorage(t, s)
	s = open(t, dir, info)
	defer closeStorage(t, s)
	readBack(t, s, info, want)
}

// writeBlocks writes content in 16 KiB blocks, in an order shuffled by seed.
func writeBlocks(t testing.TB, s storage.Storage, info *metainfo.Info, content []byte, seed uint64) {
	t.Helper()
	g := piece.GeometryOf(info)
	var blocks []piece.Block
	for p := range g.NumPieces() {
		blocks = append(blocks, g.Blocks(p)...)
	}
	rand.New(rand.NewPCG(seed, 1)).Shuffle(len(blocks), func(i, j int) { blocks[i], blocks[j] = blocks[j], blocks[i] })
	for _, b := range blocks {
		off := g.Offset(b)
		mustWrite(t, s, content[off:off+int64(b.Length)], off)
	}
}

// readBack checks that s holds want: per block, at odd offsets and lengths
// that straddle file boundaries, and whole.
func readBack(t testing.TB, s storage.Storage, info *metainfo.Info, want []byte) {
	t.Helper()
	g := piece.GeometryOf(info)
	for p := range g.NumPieces() {
		for _, b := range g.Blocks(p) {
			off := g.Offset(b)
			checkRead(t, s, off, want[off:off+int64(b.Length)])
		}
	}
	for _, f := range info.Files {
		for _, off := range []int64{f.Offset - 3, f.Offset + f.Length - 2} {
			if off >= 0 && off+7 <= info.Length {
				checkRead(t, s, off, want[off:off+7])
			}
		}
	}
	checkRead(t, s, 0, want)
}

func checkRead(t testing.TB, s storage.Storage, off int64, want []byte) {
	t.Helper()
	got := dirty(len(want))
	n, err := s.ReadAt(got, off)
	if n != len(want) || err != nil {
		t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; want %d, nil", len(want), off, n, err, len(want))
	}
	if !bytes.Equal(got, want) {
		i := 0
		for got[i] == want[i] {
			i++
		}
		t.Fatalf("ReadAt(%d bytes at %d): byte %d is %#02x, want %#02x", len(want), off, off+int64(i), got[i], want[i])
	}
}

// dirty returns a buffer of n bytes that are not zero, so that a read
// that leaves bytes alone shows.
func dirty(n int) []byte { return bytes.Repeat([]byte{0x5a}, n) }

func mustWrite(t testing.TB, s storage.Storage, data []byte, off int64) {
	t.Helper()
	if n, err := s.WriteAt(data, off); n != len(data) || err != nil {
		t.Fatalf("WriteAt(%d bytes at %d) = %d, %v", len(data), off, n, err)
	}
}

func closeStorage(t testing.TB, s storage.Storage) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
