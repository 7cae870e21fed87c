package server

import (
	"net"
	"strconv"
)

// AnnounceHost is the HOST:PORT of a listener's address that clients can
// announce to: the loopback address when it listens on every interface,
// since "0.0.0.0" or "::" is not an address to send requests to. A
// tracker prints its announce URLs under it.
func AnnounceHost(a net.Addr) string {
	var (
		ip   net.IP
		port int
	)
	switch ta := a.(type) {
	case *net.TCPAddr:
		ip, port = ta.IP, ta.Port
	case *net.UDPAddr:
		ip, port = ta.IP, ta.Port
	default:
		return a.String()
	}
	if ip.IsUnspecified() {
		// Go listens on both IPv4 and IPv6 for ":PORT" and "[::]:PORT".
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(port))
}
