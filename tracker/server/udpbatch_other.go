//go:build !linux

package server

import (
	"fmt"
	"net"
)

// serveUDPConn answers the datagrams of c with w, one system call each way
// per datagram (Linux batches them), until c is closed.
func serveUDPConn(c *net.UDPConn, w *udpWorker) error {
	buf := make([]byte, udpMaxDatagram)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return fmt.Errorf("udp tracker read: %w", err)
		}
		if out := w.handle(buf[:n], from); out != nil {
			// A failed send is a lost datagram; the client asks again.
			_, _ = c.WriteToUDPAddrPort(out, from)
		}
	}
}
