package server

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpBatch is how many datagrams one recvmmsg takes and one sendmmsg sends.
// A system call costs more than answering an announce (half the CPU time
// went to one recvfrom and one sendto per announce before batching), so
// under load each call moves up to this many; when idle it returns with
// the one datagram there is.
const udpBatch = 32

// batch is the memory of batched I/O on one socket: a buffer and a source
// address per datagram read, a copy of the reply and its destination per
// datagram to send. It is used by one goroutine.
type batch struct {
	rmsgs  [udpBatch]unix.Mmsghdr
	riov   [udpBatch]unix.Iovec
	rnames [udpBatch]unix.RawSockaddrInet6 // big enough for IPv4 too
	bufs   [udpBatch][udpMaxDatagram]byte

	smsgs  [udpBatch]unix.Mmsghdr
	siov   [udpBatch]unix.Iovec
	snames [udpBatch]unix.RawSockaddrInet6
	outs   [udpBatch][]byte
}

// serveUDPConn answers the datagrams of c with w, udpBatch at a time, until
// c is closed.
func serveUDPConn(c *net.UDPConn, w *udpWorker) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("udp tracker: %w", err)
	}
	b := new(batch)
	for i := range udpBatch {
		b.riov[i].Base = &b.bufs[i][0]
		b.rmsgs[i].Hdr.Iov = &b.riov[i]
		b.rmsgs[i].Hdr.SetIovlen(1)
		b.rmsgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.rnames[i]))
		b.smsgs[i].Hdr.Iov = &b.siov[i]
		b.smsgs[i].Hdr.SetIovlen(1)
		b.smsgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.snames[i]))
		b.outs[i] = make([]byte, 0, 1024)
	}
	for {
		n, err := b.read(rc)
		if err != nil {
			return err
		}
		k := 0 // replies to send
		for i := range n {
			from, ok := sockaddrAddrPort(&b.rnames[i], b.rmsgs[i].Hdr.Namelen)
			if !ok {
				continue
			}
			out := w.handle(b.bufs[i][:b.rmsgs[i].Len], from)
			if out == nil {
				continue
			}
			b.outs[k] = append(b.outs[k][:0], out...)
			b.siov[k].Base = &b.outs[k][0]
			b.siov[k].SetLen(len(out))
			b.snames[k] = b.rnames[i]
			b.smsgs[k].Hdr.Namelen = b.rmsgs[i].Hdr.Namelen
			k++
		}
		if err := b.write(rc, k); err != nil {
			return err
		}
	}
}

// read waits for datagrams and reads up to udpBatch of them.
func (b *batch) read(rc syscall.RawConn) (int, error) {
	for i := range udpBatch {
		b.riov[i].SetLen(udpMaxDatagram)
		b.rmsgs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		b.rmsgs[i].Hdr.Flags = 0
	}
	var (
		n     uintptr
		errno unix.Errno
	)
	err := rc.Read(func(fd uintptr) bool {
		n, _, errno = unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.rmsgs[0])), udpBatch, unix.MSG_DONTWAIT, 0, 0)
		return errno != unix.EAGAIN && errno != unix.EINTR
	})
	switch {
	case err != nil:
		return 0, fmt.Errorf("udp tracker read: %w", err)
	case errno == unix.ENOBUFS || errno == unix.ENOMEM || errno == unix.ECONNREFUSED:
		return 0, nil // passing: the kernel short of memory, an ICMP error queued
	case errno != 0:
		return 0, fmt.Errorf("udp tracker read: recvmmsg: %w", errno)
	}
	return int(n), nil
}

// write sends the first k replies. A reply the kernel refuses (an address
// it cannot reach) is dropped, as a lost datagram would be.
func (b *batch) write(rc syscall.RawConn, k int) error {
	for sent := 0; sent < k; {
		var (
			n     uintptr
			errno unix.Errno
		)
		err := rc.Write(func(fd uintptr) bool {
			n, _, errno = unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.smsgs[sent])), uintptr(k-sent), 0, 0, 0)
			return errno != unix.EAGAIN && errno != unix.EINTR
		})
		if err != nil {
			return fmt.Errorf("udp tracker write: %w", err)
		}
		if errno != 0 {
			sent++ // skip the one that failed
			continue
		}
		sent += int(n)
	}
	return nil
}

// sockaddrAddrPort reads a source address filled in by recvmmsg.
func sockaddrAddrPort(sa *unix.RawSockaddrInet6, n uint32) (netip.AddrPort, bool) {
	switch {
	case sa.Family == unix.AF_INET6 && n >= unix.SizeofSockaddrInet6:
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), port), true
	case sa.Family == unix.AF_INET && n >= unix.SizeofSockaddrInet4:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port), true
	}
	return netip.AddrPort{}, false
}
