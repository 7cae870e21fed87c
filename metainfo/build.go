package metainfo

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"golang.org/x/sync/errgroup"
)

// Piece length bounds and the default for torrents swarm makes.
const (
	DefaultPieceLength = 256 << 10
	MinPieceLength     = 16 << 10
	MaxBuildPieceLen   = 64 << 20
	// autoTargetPieces is the piece count AutoPieceLength aims below:
	// libtorrent aims at a 40 KiB pieces string (2048 hashes) and mktorrent's
	// table lands between 1024 and 2048 pieces for content up to 4 GiB.
	autoTargetPieces = 2048
	autoMaxPieceLen  = 16 << 20
)

// AutoPieceLength picks a power-of-two piece length for total bytes: the
// smallest from 16 KiB that keeps the piece count at or below 2048, capped
// at 16 MiB. For 1 GiB that is 512 KiB, as libtorrent and mktorrent choose.
func AutoPieceLength(total int64) int64 {
	pl := int64(MinPieceLength)
	for pl < autoMaxPieceLen && (total+pl-1)/pl > autoTargetPieces {
		pl *= 2
	}
	return pl
}

// PieceLengthAuto in BuildConfig.PieceLength chooses the piece length from
// the content's size (AutoPieceLength).
const PieceLengthAuto = -1

// CheckPieceLength reports whether pl is a piece length swarm builds with:
// a power of two from 16 KiB to 64 MiB.
func CheckPieceLength(pl int64) error {
	if pl < MinPieceLength || pl > MaxBuildPieceLen || pl&(pl-1) != 0 {
		return fmt.Errorf("piece length %d: want a power of two from 16 KiB to 64 MiB", pl)
	}
	return nil
}

// BuildConfig describes a torrent to make from files on disk.
type BuildConfig struct {
	// Path is the file or folder to share. A folder becomes a multi-file
	// torrent named after it; its files are taken in sorted path order.
	Path string
	// PieceLength in bytes; 0 means DefaultPieceLength (256 KiB), and
	// PieceLengthAuto the AutoPieceLength of the content's size.
	PieceLength int64
	// Tiers are the trackers (BEP 12); the first URL is also "announce".
	Tiers [][]string
	// WebSeeds are BEP 19 url-list entries.
	WebSeeds []string
	// Private sets the BEP 27 flag.
	Private bool
	// Source is an optional "source" tag (changes the info hash).
	Source       string
	Comment      string
	CreatedBy    string
	CreationDate time.Time // zero means none is written
	// Workers is the number of hashing goroutines; 0 means one per CPU.
	Workers int
	// Progress, if set, is called after each piece with the bytes hashed so
	// far and the total. Calls come from hashing goroutines, one at a time.
	Progress func(done, total int64)
}

// Build walks cfg.Path, hashes its content in parallel and returns the
// torrent. Symlinks and special files are refused, not followed.
func Build(ctx context.Context, cfg BuildConfig) (*MetaInfo, error) {
	pl := cfg.PieceLength
	if pl == 0 {
		pl = DefaultPieceLength
	}
	if err := CheckPieceLength(pl); err != nil && pl != PieceLengthAuto {
		return nil, err
	}
	name, files, multi, err := scanFiles(cfg.Path)
	if err != nil {
		return nil, err
	}
	var total int64
	for i := range files {
		files[i].Offset = total
		total += files[i].Length
	}
	if total == 0 {
		return nil, fmt.Errorf("%s: nothing to share (0 bytes)", cfg.Path)
	}
	if pl == PieceLengthAuto {
		pl = AutoPieceLength(total)
	}
	hashes, err := hashFiles(ctx, files, total, pl, cfg.Workers, cfg.Progress)
	if err != nil {
		return nil, err
	}
	infoBytes, err := encodeInfo(name, files, multi, pl, hashes, cfg)
	if err != nil {
		return nil, err
	}
	m := &MetaInfo{
		URLList:      cfg.WebSeeds,
		Comment:      cfg.Comment,
		CreatedBy:    cfg.CreatedBy,
		CreationDate: cfg.CreationDate.Truncate(time.Second),
		InfoBytes:    infoBytes,
	}
	for _, tier := range cfg.Tiers {
		if len(tier) > 0 {
			m.AnnounceList = append(m.AnnounceList, tier)
		}
	}
	if len(m.AnnounceList) > 0 {
		m.Announce = m.AnnounceList[0][0]
		if len(m.AnnounceList) == 1 && len(m.AnnounceList[0]) == 1 {
			m.AnnounceList = nil // one tracker: "announce" alone, as mktorrent writes
		}
	}
	// Round-trip through the parser so a built torrent obeys every rule a
	// read one does (file names included).
	enc, err := m.Encode()
	if err != nil {
		return nil, err
	}
	out, err := Parse(enc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Path, err)
	}
	return out, nil
}

// diskFile is one file to hash: its torrent File and where it lives.
type diskFile struct {
	File
	osPath string
}

func scanFiles(root string) (name string, files []diskFile, multi bool, err error) {
	root = filepath.Clean(root)
	st, err := os.Lstat(root)
	if err != nil {
		return "", nil, false, err
	}
	name = filepath.Base(root)
	if name == "/" || name == "." || name == ".." {
		abs, err := filepath.Abs(root)
		if err != nil {
			return "", nil, false, err
		}
		name = filepath.Base(abs)
	}
	switch {
	case st.Mode().IsRegular():
		return name, []diskFile{{File: File{Path: []string{name}, Length: st.Size()}, osPath: root}}, false, nil
	case !st.IsDir():
		return "", nil, false, refuse(root, st.Mode())
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return refuse(p, d.Type())
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		path := strings.Split(filepath.ToSlash(rel), "/")
		files = append(files, diskFile{File: File{Path: path, Length: info.Size()}, osPath: p})
		return nil
	})
	if err != nil {
		return "", nil, false, err
	}
	if len(files) == 0 {
		return "", nil, false, fmt.Errorf("%s: folder has no files", root)
	}
	// Sort by the joined path as mktorrent does (byte order), so the same
	// folder gives the same torrent whatever the walk order.
	sort.Slice(files, func(i, j int) bool {
		return files[i].DisplayPath() < files[j].DisplayPath()
	})
	return name, files, true, nil
}

func refuse(p string, mode fs.FileMode) error {
	if mode&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symlink: swarm does not follow links; copy the file or give its target", p)
	}
	return fmt.Errorf("%s is not a regular file (%v): only files and folders can be shared", p, mode.Type())
}

// hashFiles computes the SHA-1 of every piece of the concatenated files.
// Workers take pieces from a shared counter, so a slow disk region does not
// hold up the others.
func hashFiles(ctx context.Context, files []diskFile, total, pl int64, workers int, progress func(done, total int64)) ([]Hash, error) {
	n := int((total + pl - 1) / pl)
	hashes := make([]Hash, n)
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	workers = min(workers, n)
	var next atomic.Int64
	var done int64
	var mu sync.Mutex // serializes progress calls and guards done
	g, ctx := errgroup.WithContext(ctx)
	for range workers {
		g.Go(func() error {
			r := pieceReader{files: files}
			defer r.close()
			buf := make([]byte, pl)
			for {
				p := int(next.Add(1) - 1)
				if p >= n {
					return nil
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				off := int64(p) * pl
				b := buf[:min(pl, total-off)]
				if err := r.readAt(b, off); err != nil {
					return err
				}
				hashes[p] = sha1.Sum(b)
				if progress != nil {
					mu.Lock()
					done += int64(len(b))
					progress(done, total)
					mu.Unlock()
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return hashes, nil
}

// pieceReader reads byte ranges that may span files, keeping the last file
// open because consecutive pieces mostly fall in the same file.
type pieceReader struct {
	files []diskFile
	open  *os.File
	idx   int
}

func (r *pieceReader) readAt(b []byte, off int64) error {
	// First file that ends after off.
	i := sort.Search(len(r.files), func(i int) bool {
		return r.files[i].Offset+r.files[i].Length > off
	})
	for len(b) > 0 {
		if i >= len(r.files) {
			return errors.New("content shorter than expected: a file shrank while hashing")
		}
		f := r.files[i]
		if f.Length == 0 || off >= f.Offset+f.Length {
			i++
			continue
		}
		fh, err := r.file(i)
		if err != nil {
			return err
		}
		n := min(int64(len(b)), f.Offset+f.Length-off)
		if _, err := fh.ReadAt(b[:n], off-f.Offset); err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("%s: file shrank while hashing", f.osPath)
			}
			return err
		}
		b, off = b[n:], off+n
		i++
	}
	return nil
}

func (r *pieceReader) file(i int) (*os.File, error) {
	if r.open != nil && r.idx == i {
		return r.open, nil
	}
	r.close()
	fh, err := os.Open(r.files[i].osPath)
	if err != nil {
		return nil, err
	}
	r.open, r.idx = fh, i
	return fh, nil
}

func (r *pieceReader) close() {
	if r.open != nil {
		r.open.Close()
		r.open = nil
	}
}

// buildInfo is the info dictionary swarm writes: only BEP 3/27 keys plus
// source, so a single file hashes exactly as mktorrent's torrent does.
type buildInfo struct {
	Files       []buildFile `bencode:"files,omitempty"`
	Length      int64       `bencode:"length,omitempty"`
	Name        string      `bencode:"name"`
	PieceLength int64       `bencode:"piece length"`
	Pieces      []byte      `bencode:"pieces"`
	Private     int64       `bencode:"private,omitempty"`
	Source      string      `bencode:"source,omitempty"`
}

type buildFile struct {
	Length int64    `bencode:"length"`
	Path   []string `bencode:"path"`
}

func encodeInfo(name string, files []diskFile, multi bool, pl int64, hashes []Hash, cfg BuildConfig) ([]byte, error) {
	bi := buildInfo{Name: name, PieceLength: pl, Source: cfg.Source}
	if cfg.Private {
		bi.Private = 1
	}
	bi.Pieces = make([]byte, 0, 20*len(hashes))
	for _, h := range hashes {
		bi.Pieces = append(bi.Pieces, h[:]...)
	}
	if multi {
		for _, f := range files {
			bi.Files = append(bi.Files, buildFile{Length: f.Length, Path: f.Path})
		}
	} else {
		bi.Length = files[0].Length
	}
	b, err := bencode.Marshal(bi)
	if err != nil {
		return nil, fmt.Errorf("encode info: %w", err)
	}
	return b, nil
}
