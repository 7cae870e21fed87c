package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"swarm/internal/atomicfile"
	"swarm/metainfo"
	"swarm/piece"
)

// Resume names a torrent's resume record: a small file holding the info
// hash, the verified pieces and, for each file, its size and modification
// time when the record was saved. If any file has changed since, the record
// is stale and the caller checks the data instead (Check).
//
// The contract, because writing a block changes its file's modification
// time: call Save with the verified pieces only after Flush has returned
// for every write of those pieces, and compare (Load) only at start, before
// anything is written. The session saves the record every few seconds while
// pieces get verified and at shutdown, each time right after Flush. A write
// that lands after Save (a block still in flight, or the next piece) makes
// its file's time differ, so the record is rejected at the next start and
// the data checked: slower, never wrong. Verified pieces are never written
// again, so no write can invalidate them.
type Resume struct {
	// Path is where the record lives, e.g. <dir>/.swarm/<infohash hex>.resume;
	// its folder is created on save.
	Path string
	// InfoHash identifies the torrent the record belongs to.
	InfoHash metainfo.Hash
	// Info is the torrent's info dictionary.
	Info *metainfo.Info
	// Dir is the download folder given to NewFile.
	Dir string
}

// Record format, version 1, big-endian:
//
//	magic "SWRMRSM\x01" (8 bytes, the last one the version)
//	info hash (20 bytes)
//	number of pieces n (uint32), number of files f (uint32, pad files excluded)
//	verified pieces: a bitfield of n bits in wire form, (n+7)/8 bytes
//	f times: size (int64, -1 if absent), modification time (int64, ns since 1970)
//	CRC-32C of everything above (uint32)
const resumeMagic = "SWRMRSM\x01"

const (
	resumeHeader = len(resumeMagic) + 20 + 4 + 4
	resumeStamp  = 16
	resumeCRC    = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// stamp is a file's size and modification time; size -1 means absent.
type stamp struct {
	size, mtime int64
}

// record is a decoded resume record.
type record struct {
	hash   metainfo.Hash
	have   *piece.Bitfield
	stamps []stamp
}

// resumeSize returns the size in bytes of a record for n pieces and f files.
func resumeSize(n, f uint32) int64 {
	return int64(resumeHeader) + (int64(n)+7)/8 + int64(f)*resumeStamp + resumeCRC
}

func encodeResume(r *record) []byte {
	have := r.have.Bytes()
	b := make([]byte, 0, resumeSize(uint32(r.have.Len()), uint32(len(r.stamps))))
	b = append(b, resumeMagic...)
	b = append(b, r.hash[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(r.have.Len()))
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.stamps)))
	b = append(b, have...)
	for _, s := range r.stamps {
		b = binary.BigEndian.AppendUint64(b, uint64(s.size))
		b = binary.BigEndian.AppendUint64(b, uint64(s.mtime))
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeResume parses a record. It allocates no more than len(data) and
// names the offset of what it rejects.
func decodeResume(data []byte) (*record, error) {
	if len(data) < resumeHeader+resumeCRC {
		return nil, fmt.Errorf("resume record: %d bytes, shorter than the %d-byte header", len(data), resumeHeader+resumeCRC)
	}
	if string(data[:len(resumeMagic)]) != resumeMagic {
		if string(data[:len(resumeMagic)-1]) == resumeMagic[:len(resumeMagic)-1] {
			return nil, fmt.Errorf("resume record: version %d at byte 7, want %d", data[7], resumeMagic[7])
		}
		return nil, errors.New("resume record: bad magic at byte 0")
	}
	r := &record{}
	copy(r.hash[:], data[8:28])
	n := binary.BigEndian.Uint32(data[28:])
	f := binary.BigEndian.Uint32(data[32:])
	if size := resumeSize(n, f); int64(len(data)) != size {
		return nil, fmt.Errorf("resume record: %d bytes, but %d pieces and %d files at byte 28 need %d", len(data), n, f, size)
	}
	body, sum := data[:len(data)-resumeCRC], binary.BigEndian.Uint32(data[len(data)-resumeCRC:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, fmt.Errorf("resume record: checksum %08x at byte %d, content sums to %08x", sum, len(body), got)
	}
	at := resumeHeader
	nb := int((int64(n) + 7) / 8)
	have, err := piece.FromBytes(data[at:at+nb], int(n))
	if err != nil {
		return nil, fmt.Errorf("resume record at byte %d: %w", at, err)
	}
	r.have = have
	at += nb
	r.stamps = make([]stamp, f)
	for i := range r.stamps {
		s := stamp{int64(binary.BigEndian.Uint64(data[at:])), int64(binary.BigEndian.Uint64(data[at+8:]))}
		if s.size < -1 {
			return nil, fmt.Errorf("resume record: file %d size %d at byte %d", i, s.size, at)
		}
		r.stamps[i] = s
		at += resumeStamp
	}
	return r, nil
}

// Save writes the record for the verified pieces have, atomically: to a
// temporary file that is synced, then renamed over Path, then the folder
// synced. See Resume for when to call it.
func (r Resume) Save(have *piece.Bitfield) error {
	if have.Len() != r.Info.NumPieces() {
		return fmt.Errorf("storage: save resume %s: bitfield of %d pieces for %d", r.Path, have.Len(), r.Info.NumPieces())
	}
	stamps, err := r.stamps()
	if err != nil {
		return fmt.Errorf("storage: save resume %s: %w", r.Path, err)
	}
	data := encodeResume(&record{hash: r.InfoHash, have: have, stamps: stamps})
	return writeAtomic(r.Path, data)
}

// ErrStaleResume means a resume record does not describe the data on disk
// (another torrent, or files changed since it was saved): check instead.
var ErrStaleResume = errors.New("resume record is stale")

// Load reads the record and returns its verified pieces if it belongs to
// InfoHash and every file still has the size and modification time it
// recorded. Otherwise it returns an error: wrapping fs.ErrNotExist if there
// is no record, ErrStaleResume if it no longer applies, or saying what is
// wrong with it. In every error case the caller falls back to Check.
func (r Resume) Load() (*piece.Bitfield, error) {
	files, err := layout(r.Info)
	if err != nil {
		return nil, err
	}
	nfiles := 0
	for _, d := range files {
		if !d.pad {
			nfiles++
		}
	}
	data, err := readLimited(r.Path, resumeSize(uint32(r.Info.NumPieces()), uint32(nfiles)))
	if err != nil {
		return nil, err
	}
	rec, err := decodeResume(data)
	if err != nil {
		return nil, fmt.Errorf("storage: load %s: %w", r.Path, err)
	}
	want, err := r.stamps()
	if err != nil {
		return nil, fmt.Errorf("storage: load %s: %w", r.Path, err)
	}
	if err := rec.matches(r.InfoHash, r.Info.NumPieces(), want); err != nil {
		return nil, fmt.Errorf("storage: load %s: %w", r.Path, err)
	}
	return rec.have, nil
}

// matches checks a record against a torrent and its files' current stamps.
func (rec *record) matches(hash metainfo.Hash, n int, stamps []stamp) error {
	switch {
	case rec.hash != hash:
		return fmt.Errorf("%w: info hash %v, want %v", ErrStaleResume, rec.hash, hash)
	case rec.have.Len() != n:
		return fmt.Errorf("%w: %d pieces, torrent has %d", ErrStaleResume, rec.have.Len(), n)
	case len(rec.stamps) != len(stamps):
		return fmt.Errorf("%w: %d files, torrent has %d", ErrStaleResume, len(rec.stamps), len(stamps))
	}
	for i, s := range stamps {
		if rec.stamps[i] != s {
			return fmt.Errorf("%w: file %d was size %d time %d, is %d %d", ErrStaleResume, i, rec.stamps[i].size, rec.stamps[i].mtime, s.size, s.mtime)
		}
	}
	return nil
}

// stamps returns the size and modification time of each non-pad file, in
// order, looked up without following links (a link counts as absent).
func (r Resume) stamps() ([]stamp, error) {
	files, err := layout(r.Info)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(r.Dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, ioError("open folder", r.Dir, err)
	}
	if root != nil {
		defer root.Close()
	}
	var out []stamp
	for _, d := range files {
		if d.pad {
			continue
		}
		s := stamp{size: -1}
		if root != nil {
			fi, err := lstatChain(root, r.Dir, d.comps)
			switch {
			case err == nil:
				s = stamp{fi.Size(), fi.ModTime().UnixNano()}
			case errors.Is(err, fs.ErrNotExist), errors.Is(err, ErrSymlink):
			default:
				return nil, err
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// readLimited reads the file at path, refusing one larger than limit.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("storage: load %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("storage: load %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("storage: load %s: larger than the %d bytes a record for this torrent has", path, limit)
	}
	return data, nil
}

// writeAtomic replaces the file at path with data, durably, creating its
// folder.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ioError("create folder", dir, err)
	}
	if err := atomicfile.Write(path, data, 0o600, true); err != nil {
		return ioError("save", "resume record", err)
	}
	return nil
}
