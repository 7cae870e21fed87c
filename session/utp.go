package session

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"swarm/utp"
)

// utpDialTimeout bounds a uTP connect after TCP failed: three SYNs.
const utpDialTimeout = 4 * time.Second

// listenPeers opens the TCP listener on addr and, unless noUTP, a uTP socket
// (BEP 29) on UDP at the same host and port, as libtorrent and qBittorrent
// expect: they learn one port and try uTP there first. With port 0 the
// kernel picks the TCP port; if that UDP port is taken another is tried.
func listenPeers(addr string, noUTP bool) (net.Listener, *utp.Socket, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	tries := 1
	if port == "0" {
		tries = 10
	}
	for i := 1; ; i++ {
		ln, err := net.Listen("tcp", addr)
		if err != nil || noUTP {
			return ln, nil, err
		}
		p := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		us, err := utp.Listen(net.JoinHostPort(host, p))
		if err == nil {
			return ln, us, nil
		}
		ln.Close()
		if i == tries {
			return nil, nil, fmt.Errorf("listen for uTP on UDP port %s: %w (--utp=false turns uTP off)", p, err)
		}
	}
}

// utpListener is the uTP socket as the accept loop sees it: Accept gives up
// when ctx ends, without closing the socket the connections still use.
type utpListener struct {
	ctx context.Context
	*utp.Socket
}

func (l utpListener) Accept() (net.Conn, error) { return l.AcceptContext(l.ctx) }

// dialUTP connects to addr over uTP, for a peer that refused or did not
// answer TCP.
func (s *Session) dialUTP(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, utpDialTimeout)
	defer cancel()
	c, err := s.utp.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return c, nil
}
