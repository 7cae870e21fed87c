package server

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePort sets SO_REUSEPORT on a socket before it binds, so that several
// sockets of this process share one UDP port (ListenUDP).
func reusePort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// deferAccept sets TCP_DEFER_ACCEPT on a listening socket: the kernel hands
// over a connection once its first bytes have come (or after a second and
// a retransmitted SYN-ACK), so the first read of a request finds it instead
// of waiting in the poller, one system call and one wake-up less on every
// connection of a client that opens one per announce.
func deferAccept(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
