//go:build !linux

package server

import (
	"errors"
	"syscall"
)

// reusePort fails where SO_REUSEPORT is not known to spread datagrams over
// sockets: ListenUDP with n > 1 is for Linux.
func reusePort(network, address string, c syscall.RawConn) error {
	return errors.New("several udp sockets on one port need linux (SO_REUSEPORT)")
}
