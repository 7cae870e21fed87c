package storage

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// maxIOV is the most buffers one pwritev takes (IOV_MAX on Linux).
const maxIOV = 1024

// writeBuffers writes iov at offset off of f with pwritev, going on after
// short writes. It may change iov.
func writeBuffers(f *os.File, iov [][]byte, off int64) (int64, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int64
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for len(iov) > 0 {
			m, err := unix.Pwritev(int(fd), iov[:min(len(iov), maxIOV)], off+n)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				werr = err
				return true
			}
			if m == 0 {
				werr = io.ErrShortWrite
				return true
			}
			n += int64(m)
			for m > 0 { // drop what was written
				k := min(m, len(iov[0]))
				if iov[0] = iov[0][k:]; len(iov[0]) == 0 {
					iov = iov[1:]
				}
				m -= k
			}
			for len(iov) > 0 && len(iov[0]) == 0 {
				iov = iov[1:]
			}
		}
		return true
	})
	if err == nil {
		err = werr
	}
	return n, err
}
