package peer

import (
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// socketReader is the vectorReader of a plain TCP connection on Linux;
// n counts the bytes it reads.
type socketReader struct {
	rc  syscall.RawConn
	n   *atomic.Int64
	iov []syscall.Iovec
}

// newVectorReader returns a vectorReader for nc if nc is a TCP connection
// or says its reads are one's (RawTCP), nil otherwise: any other wrapper
// (an MSE stream, bytes put back after a sniff) must be read through.
func newVectorReader(nc net.Conn, n *atomic.Int64) vectorReader {
	tc, ok := nc.(*net.TCPConn)
	if r, raw := nc.(interface{ RawTCP() *net.TCPConn }); raw {
		tc, ok = r.RawTCP(), true
	}
	if !ok || tc == nil {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return &socketReader{rc: rc, n: n}
}

func (s *socketReader) readv(bufs [][]byte) (int, error) {
	s.iov = s.iov[:0]
	for _, b := range bufs {
		if len(b) > 0 {
			v := syscall.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			s.iov = append(s.iov, v)
		}
	}
	if len(s.iov) == 0 {
		return 0, nil
	}
	var n uintptr
	var errno syscall.Errno
	err := s.rc.Read(func(fd uintptr) bool {
		for {
			n, _, errno = syscall.Syscall(syscall.SYS_READV, fd, uintptr(unsafe.Pointer(&s.iov[0])), uintptr(len(s.iov)))
			if errno != syscall.EINTR {
				return errno != syscall.EAGAIN // false: wait until readable
			}
		}
	})
	clear(s.iov) // drop the pointers to the buffers
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, os.NewSyscallError("readv", errno)
	case n == 0:
		return 0, io.EOF
	}
	s.n.Add(int64(n))
	return int(n), nil
}
