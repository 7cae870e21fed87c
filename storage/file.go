package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"swarm/metainfo"
)

// MaxOpenFiles is how many file handles a File keeps open at most.
const MaxOpenFiles = 64

// File stores a torrent's content in the files the torrent names, below a
// download folder. Files are created on first write, at full length but
// sparse; pad files are never created. It is safe for concurrent use.
type File struct {
	dir     string
	root    *os.Root // the download folder; every open goes through it
	length  int64
	files   []diskFile
	maxOpen int
	// readOnly: every file is opened O_RDONLY and writes fail with
	// ErrReadOnly, so nothing below dir is created or changed.
	readOnly bool

	mu sync.Mutex // guards the fields below; never held across I/O
	// handles caches open files by index into files, at most maxOpen.
	handles map[int]*handle
	// unsynced lists files closed while dirty; Flush reopens and syncs them.
	unsynced map[int]bool
	tick     uint64       // LRU clock for handles
	wrote    bool         // some write happened: Flush creates zero-length files
	skip     map[int]bool // files not wanted: Flush creates none of them
	closed   bool
}

// handle is an open file shared by concurrent readers and writers.
type handle struct {
	f        *os.File
	idx      int
	writable bool
	refs     int    // calls using f now; f is closed at 0 once evicted
	evicted  bool   // out of the cache; close when refs drops to 0
	dirty    bool   // written since its last sync
	used     uint64 // tick of the last acquire
}

// NewFile returns storage for the torrent info below dir, creating dir if
// needed but no file: files appear as blocks are written. A single-file
// torrent is stored as dir/Name, a multi-file one under dir/Name/. The
// caller must Close it.
func NewFile(dir string, info *metainfo.Info) (*File, error) {
	files, err := layout(info)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, ioError("create folder", dir, err)
	}
	return openFile(dir, info, files, false)
}

// NewFileReadOnly returns storage for the torrent info in dir that only
// reads: it creates nothing (dir must exist), opens every file read-only
// and refuses writes with ErrReadOnly. Seeding uses it, so that data which
// turns out not to be the torrent's (a wrong folder) is never touched.
func NewFileReadOnly(dir string, info *metainfo.Info) (*File, error) {
	files, err := layout(info)
	if err != nil {
		return nil, err
	}
	return openFile(dir, info, files, true)
}

// openFile opens the folder dir, which must exist, as the root of a File
// holding files.
func openFile(dir string, info *metainfo.Info, files []diskFile, readOnly bool) (*File, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, ioError("open folder", dir, err)
	}
	return &File{
		dir:      dir,
		root:     root,
		length:   info.Length,
		files:    files,
		maxOpen:  MaxOpenFiles,
		readOnly: readOnly,
		handles:  make(map[int]*handle),
		unsynced: make(map[int]bool),
		skip:     make(map[int]bool),
	}, nil
}

// Skip marks file i (an index into the torrent's file list) as not wanted.
// A file is created only by a write that reaches it, so a skipped file
// appears only if the caller writes a piece it shares with a wanted file;
// Skip also keeps Flush from creating it when it is empty.
func (s *File) Skip(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skip[i] = true
}

// ReadAt reads len(p) bytes at content offset off.
func (s *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("storage: read at negative offset %d", off)
	}
	if off >= s.length {
		return 0, io.EOF
	}
	want := min(int64(len(p)), s.length-off)
	n := 0
	err := s.span(off, want, func(i int, foff, pos, k int64) error {
		d := &s.files[i]
		buf := p[pos : pos+k]
		if d.pad {
			clear(buf)
			n += len(buf)
			return nil
		}
		h, err := s.acquire(i, false)
		if err != nil {
			return err
		}
		got, err := h.f.ReadAt(buf, foff)
		s.release(h, false)
		n += got
		if err == io.EOF {
			return fmt.Errorf("storage: %s is shorter than its %d bytes: %w", s.path(i), d.length, io.ErrUnexpectedEOF)
		}
		if err != nil {
			return ioError("read", s.path(i), err)
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	if int64(n) < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt writes p at content offset off. Bytes that fall in pad files are
// dropped. A full disk fails with an error wrapping ErrDiskFull.
func (s *File) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off > s.length || int64(len(p)) > s.length-off {
		return 0, fmt.Errorf("storage: write of %d bytes at %d outside the %d-byte content", len(p), off, s.length)
	}
	if s.readOnly {
		return 0, fmt.Errorf("storage: write of %d bytes at %d into %s: %w", len(p), off, s.dir, ErrReadOnly)
	}
	n := 0
	err := s.span(off, int64(len(p)), func(i int, foff, pos, k int64) error {
		buf := p[pos : pos+k]
		if s.files[i].pad {
			n += len(buf)
			return nil
		}
		h, err := s.acquire(i, true)
		if err != nil {
			return err
		}
		put, err := h.f.WriteAt(buf, foff)
		s.release(h, put > 0)
		n += put
		if err != nil {
			return ioError("write", s.path(i), err)
		}
		return nil
	})
	return n, err
}

// span calls fn for each file i overlapping the n bytes at content offset
// off, with the offset foff within the file of the k bytes that start pos
// bytes into the range.
func (s *File) span(off, n int64, fn func(i int, foff, pos, k int64) error) error {
	// First file whose end is past off; zero-length files are skipped.
	i := sort.Search(len(s.files), func(i int) bool { return s.files[i].off+s.files[i].length > off })
	for pos := int64(0); pos < n && i < len(s.files); i++ {
		d := &s.files[i]
		if d.length == 0 {
			continue
		}
		foff := off + pos - d.off
		k := min(d.length-foff, n-pos)
		if err := fn(i, foff, pos, k); err != nil {
			return err
		}
		pos += k
	}
	return nil
}

// Missing reports whether a file the range [off, off+n) touches does not
// exist as a regular file reached without links, or ends before the part of
// the range it holds: a file cut short (a copy interrupted, another client
// that does not preallocate) still has its first pieces checked.
// It implements Prober.
func (s *File) Missing(off, n int64) bool {
	missing := false
	if off < 0 || n <= 0 || off >= s.length {
		return false
	}
	s.span(off, min(n, s.length-off), func(i int, foff, _, k int64) error {
		d := &s.files[i]
		if d.pad {
			return nil
		}
		fi, err := lstatChain(s.root, s.dir, d.comps)
		if err != nil || fi.Size() < foff+k {
			missing = true
			return io.EOF // stop
		}
		return nil
	})
	return missing
}

// Flush syncs every file written since the last Flush to disk and creates
// zero-length files once something has been written.
func (s *File) Flush() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("storage: flush %s: %w", s.dir, os.ErrClosed)
	}
	var dirty []*handle
	for _, h := range s.handles {
		if h.dirty {
			h.dirty = false
			h.refs++
			dirty = append(dirty, h)
		}
	}
	unsynced := s.unsynced
	s.unsynced = make(map[int]bool)
	wrote := s.wrote
	var create []int // zero-length files to create
	if wrote {
		for i, d := range s.files {
			if d.length == 0 && !d.pad && !s.skip[i] {
				create = append(create, i)
			}
		}
	}
	s.mu.Unlock()

	var errs []error
	for _, h := range dirty {
		if err := h.f.Sync(); err != nil {
			errs = append(errs, ioError("sync", s.path(h.idx), err))
		}
		s.release(h, false)
	}
	for i := range unsynced {
		if err := s.syncClosed(i); err != nil {
			errs = append(errs, err)
		}
	}
	for _, i := range create {
		if err := s.createEmpty(i); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// syncClosed syncs file i, written through a handle since closed: fsync
// through a new descriptor flushes the file's data all the same.
func (s *File) syncClosed(i int) error {
	f, _, err := s.open(i, false)
	if err != nil {
		return err
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return ioError("sync", s.path(i), err)
	}
	return nil
}

func (s *File) createEmpty(i int) error {
	if _, err := lstatChain(s.root, s.dir, s.files[i].comps); err == nil {
		return nil
	}
	f, _, err := s.open(i, true)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return ioError("close", s.path(i), err)
	}
	return nil
}

// Close flushes and closes every file. Calls in flight finish first on
// handles they hold; later calls fail with os.ErrClosed.
func (s *File) Close() error {
	err := s.Flush()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var toClose []*os.File
	for i, h := range s.handles {
		delete(s.handles, i)
		h.evicted = true
		if h.refs == 0 {
			toClose = append(toClose, h.f)
		}
	}
	s.mu.Unlock()
	for _, f := range toClose {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = ioError("close", f.Name(), cerr)
		}
	}
	if cerr := s.root.Close(); cerr != nil && err == nil {
		err = ioError("close", s.dir, cerr)
	}
	return err
}

// acquire returns an open handle on file i, writable if write, opening
// (and for a write creating) the file if needed. The caller must release it.
func (s *File) acquire(i int, write bool) (*handle, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("storage: %s: %w", s.path(i), os.ErrClosed)
	}
	if h := s.handles[i]; h != nil && (h.writable || !write) {
		h.refs++
		s.tick++
		h.used = s.tick
		s.mu.Unlock()
		return h, nil
	}
	s.mu.Unlock()

	f, writable, err := s.open(i, write)
	if err != nil {
		return nil, err
	}

	var toClose []*os.File
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		f.Close()
		return nil, fmt.Errorf("storage: %s: %w", s.path(i), os.ErrClosed)
	}
	h := s.handles[i]
	if h != nil && (h.writable || !write) {
		toClose = append(toClose, f) // another call opened it meanwhile
	} else {
		if h != nil {
			toClose = append(toClose, s.evictLocked(h)...) // read-only; replace
		}
		h = &handle{f: f, idx: i, writable: writable}
		s.handles[i] = h
		for len(s.handles) > s.maxOpen {
			toClose = append(toClose, s.evictLocked(s.victimLocked(h))...)
		}
	}
	h.refs++
	s.tick++
	h.used = s.tick
	s.mu.Unlock()
	for _, f := range toClose {
		f.Close()
	}
	return h, nil
}

// release ends a use of h; wrote marks it dirty for the next Flush.
func (s *File) release(h *handle, wrote bool) {
	s.mu.Lock()
	h.refs--
	if wrote {
		h.dirty = true
		s.wrote = true
	}
	var f *os.File
	if h.evicted && h.refs == 0 {
		if h.dirty {
			s.unsynced[h.idx] = true
		}
		f = h.f
	}
	s.mu.Unlock()
	if f != nil {
		f.Close()
	}
}

// victimLocked picks the least recently used handle other than keep,
// preferring one nobody is using.
func (s *File) victimLocked(keep *handle) *handle {
	var best, busy *handle
	for _, h := range s.handles {
		if h == keep {
			continue
		}
		if h.refs == 0 && (best == nil || h.used < best.used) {
			best = h
		}
		if busy == nil || h.used < busy.used {
			busy = h
		}
	}
	if best != nil {
		return best
	}
	return busy
}

// evictLocked removes h from the cache and returns its file if it can be
// closed now (by the caller, after unlocking); otherwise its last user
// closes it.
func (s *File) evictLocked(h *handle) []*os.File {
	delete(s.handles, h.idx)
	h.evicted = true
	if h.refs > 0 {
		return nil
	}
	if h.dirty {
		s.unsynced[h.idx] = true
	}
	return []*os.File{h.f}
}

// open opens file i through the root after refusing symbolic links on its
// path. For a write it creates the file and its folders and extends it to
// full length (sparse). A read of a file that does not exist fails with an
// error wrapping fs.ErrNotExist. writable tells how the file was opened:
// a read opens read-write when it can, so that seeding read-only files
// works and a later write needs no reopen.
func (s *File) open(i int, write bool) (f *os.File, writable bool, err error) {
	if write && s.readOnly {
		return nil, false, fmt.Errorf("storage: open %s for writing: %w", s.path(i), ErrReadOnly)
	}
	d := &s.files[i]
	before, err := lstatChain(s.root, s.dir, d.comps)
	switch {
	case err == nil:
	case !write || !errors.Is(err, fs.ErrNotExist):
		return nil, false, err
	default:
		if len(d.comps) > 1 {
			parent := filepath.Join(d.comps[:len(d.comps)-1]...)
			if err := s.root.MkdirAll(parent, 0o755); err != nil {
				return nil, false, ioError("create folder", filepath.Join(s.dir, parent), err)
			}
			// MkdirAll follows links that stay inside the root: check again.
			if err := s.checkFolders(d.comps); err != nil {
				return nil, false, err
			}
		}
	}

	flag := os.O_RDWR
	if write {
		flag |= os.O_CREATE
	}
	if s.readOnly {
		flag = os.O_RDONLY
	}
	mode := fs.FileMode(0o644)
	if d.exec {
		mode = 0o755 // BEP 47 attribute x
	}
	f, err = s.root.OpenFile(d.rel, flag, mode)
	writable = err == nil && !s.readOnly
	if err != nil && !write && !s.readOnly && !errors.Is(err, fs.ErrNotExist) {
		f, err = s.root.OpenFile(d.rel, os.O_RDONLY, 0) // read-only file or file system
	}
	if err != nil {
		return nil, false, ioError("open", s.path(i), err)
	}
	// The root follows links that stay inside it; make sure what we opened
	// is the regular file, not a link, that is at the path now.
	fi, err := f.Stat()
	if err == nil {
		var after fs.FileInfo
		after, err = lstatChain(s.root, s.dir, d.comps)
		if err == nil && (!os.SameFile(fi, after) || (before != nil && !os.SameFile(fi, before))) {
			err = fmt.Errorf("storage: %s changed while being opened", s.path(i))
		}
	}
	if err == nil && write && fi.Size() < d.length {
		if terr := f.Truncate(d.length); terr != nil {
			err = ioError("extend", s.path(i), terr)
		}
	}
	if err != nil {
		f.Close()
		return nil, false, err
	}
	return f, writable, nil
}

// checkFolders refuses links among the folders of a path.
func (s *File) checkFolders(comps []string) error {
	for j := 1; j < len(comps); j++ {
		rel := filepath.Join(comps[:j]...)
		fi, err := s.root.Lstat(rel)
		if err != nil {
			return ioError("stat", filepath.Join(s.dir, rel), err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("storage: %s: %w: refusing to follow it", filepath.Join(s.dir, rel), ErrSymlink)
		}
		if !fi.IsDir() {
			return fmt.Errorf("storage: %s: not a folder", filepath.Join(s.dir, rel))
		}
	}
	return nil
}

// path returns file i's path for messages.
func (s *File) path(i int) string {
	if s.files[i].pad {
		return fmt.Sprintf("pad file %d", i)
	}
	return filepath.Join(s.dir, s.files[i].rel)
}
