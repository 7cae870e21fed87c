package storage

import (
	"fmt"
	"io"
)

// A BuffersWriter is a Storage that writes several buffers in one system
// call per file they touch (pwritev on Linux), rather than one WriteAt
// each: the session writes a verified piece, 16 or more blocks, this way.
type BuffersWriter interface {
	// WriteBuffersAt writes bufs one after another from content offset
	// off, as WriteAt of their concatenation would, without joining them.
	// It returns the bytes written.
	WriteBuffersAt(bufs [][]byte, off int64) (int64, error)
}

// WriteBuffers writes bufs one after another from offset off of w: with
// WriteBuffersAt when w is a BuffersWriter, with one WriteAt each if not.
func WriteBuffers(w io.WriterAt, bufs [][]byte, off int64) (int64, error) {
	if bw, ok := w.(BuffersWriter); ok {
		return bw.WriteBuffersAt(bufs, off)
	}
	var n int64
	for _, b := range bufs {
		k, err := w.WriteAt(b, off+n)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// WriteBuffersAt writes bufs one after another at content offset off, one
// system call per file they touch. Bytes that fall in pad files are
// dropped. A full disk fails with an error wrapping ErrDiskFull. It
// implements BuffersWriter.
func (s *File) WriteBuffersAt(bufs [][]byte, off int64) (int64, error) {
	var total int64
	for _, b := range bufs {
		total += int64(len(b))
	}
	if off < 0 || off > s.length || total > s.length-off {
		return 0, fmt.Errorf("storage: write of %d bytes at %d outside the %d-byte content", total, off, s.length)
	}
	if s.readOnly {
		return 0, fmt.Errorf("storage: write of %d bytes at %d into %s: %w", total, off, s.dir, ErrReadOnly)
	}
	var n int64
	iov := make([][]byte, 0, len(bufs)+1) // a file's share of bufs; +1: one cut at each end
	next, at := 0, 0                      // the first byte not yet handed out: bufs[next][at]
	err := s.span(off, total, func(i int, foff, _, k int64) error {
		// The k bytes of bufs that go to file i, as sub-slices.
		iov = iov[:0]
		for left := k; left > 0; {
			b := bufs[next][at:]
			take := min(int64(len(b)), left)
			iov = append(iov, b[:take])
			left -= take
			if at += int(take); at == len(bufs[next]) {
				next, at = next+1, 0
			}
		}
		if s.files[i].pad {
			n += k
			return nil
		}
		h, err := s.acquire(i, true)
		if err != nil {
			return err
		}
		put, err := writeBuffers(h.f, iov, foff)
		s.release(h, put > 0)
		n += put
		if err != nil {
			return ioError("write", s.path(i), err)
		}
		return nil
	})
	return n, err
}
