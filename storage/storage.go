package storage

import (
	"errors"
	"fmt"
	"io"
	"syscall"
)

// Storage holds a torrent's content, addressed by offset into the content
// (piece p starts at p × piece length). Implementations are safe for
// concurrent use; storagetest.Run checks the contract.
//
// ReadAt of a range never written returns zeros if the files it touches
// exist, and an error satisfying errors.Is(err, fs.ErrNotExist) if one does
// not. Pad files (BEP 47) always read as zeros and ignore writes. Reads past
// the end of the content return io.EOF; writes past it fail.
type Storage interface {
	io.ReaderAt
	io.WriterAt
	// Flush makes every write that has returned durable (fsync). Resume
	// records are saved only after it.
	Flush() error
	// Close flushes and releases the storage; other calls then fail.
	Close() error
}

// A Prober is a Storage that can tell, without reading, that a range of
// the content cannot hold the data: Check skips such pieces.
type Prober interface {
	// Missing reports whether some file the range [off, off+n) touches is
	// absent or shorter than the torrent says.
	Missing(off, n int64) bool
}

// Errors callers branch on, with errors.Is.
var (
	// ErrDiskFull means a write failed because the disk or the user's quota
	// is full (ENOSPC, EDQUOT): pause and tell the user; nothing is lost.
	ErrDiskFull = errors.New("disk full")
	// ErrSymlink means a path of the torrent runs through a symbolic link
	// in the download folder, which storage refuses to follow.
	ErrSymlink = errors.New("symbolic link in download folder")
	// ErrUnsafePath means the torrent names a path that could escape the
	// download folder.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrReadOnly means a write reached storage opened read-only (for
	// seeding: NewFileReadOnly).
	ErrReadOnly = errors.New("storage opened read-only")
)

// ioError wraps err from op on path, marking a full disk with ErrDiskFull.
func ioError(op, path string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("storage: %s %s: %w: %w", op, path, ErrDiskFull, err)
	}
	return fmt.Errorf("storage: %s %s: %w", op, path, err)
}
