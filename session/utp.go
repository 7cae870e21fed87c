package session

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"swarm/peer"
	"swarm/utp"
)

// utpDialTimeout bounds a uTP connect after TCP failed: three SYNs.
// utpRetryTimeout bounds one after a TCP peer hung up before its handshake:
// one SYN, since most such peers have no uTP and each wait holds one of
// the torrent's half-open dial slots (a SYN lost then is tried again at the
// next dial).
const (
	utpDialTimeout  = 4 * time.Second
	utpRetryTimeout = time.Second
)

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
// answer TCP; the caller counts the connection.
func (s *Session) dialUTP(ctx context.Context, addr netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := s.utp.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// connect dials addr and does our side of the handshake for the torrent
// ih, encrypted first with EncryptionRequire. With EncryptionPrefer, a peer
// that hangs up on our plaintext handshake is dialled again for MSE (a peer
// requiring encryption does that). A peer that takes the TCP connection and
// hangs up before it answers is also tried over uTP: libtorrent with
// incoming TCP off (qBittorrent's "uTP only") accepts TCP and closes it at
// once. Such a retry costs a round trip to a peer that closed for another
// reason (it does not have the torrent), and utpRetryTimeout to one
// without uTP.
func (s *Session) connect(ctx context.Context, addr netip.AddrPort, ih [20]byte) (net.Conn, peer.Handshake, error) {
	nc, err := s.dialPeer(ctx, addr)
	if err != nil {
		return nil, peer.Handshake{}, err
	}
	_, overTCP := nc.(*countedTCPConn)
	encrypt := s.cfg.Encryption == EncryptionRequire
	wire, hs, err := s.initiate(ctx, nc, ih, encrypt)
	if err != nil && s.cfg.Encryption == EncryptionPrefer && ctx.Err() == nil && hungUp(err) {
		ec, ehs, eerr := s.connectMSE(ctx, addr, ih)
		if eerr == nil {
			return ec, ehs, nil
		}
		err = fmt.Errorf("%w; then encrypted: %v", err, eerr)
	}
	// A reset counts as a hang-up too: the peer closed while our bytes
	// were on their way (seen with libtorrent's TCP off, about 1 run in 3).
	if err != nil && overTCP && s.utp != nil && ctx.Err() == nil && hungUp(err) {
		if ok, first := s.conns.acquire(false); !ok {
			s.refused(first, addr.String())
			return nil, hs, err
		}
		uc, uerr := s.dialUTP(ctx, addr, utpRetryTimeout)
		if uerr != nil {
			s.releaseConn()
			return nil, hs, fmt.Errorf("%w; then uTP: %v", err, uerr)
		}
		nc = s.counted(uc)
		wire, hs, err = s.initiate(ctx, nc, ih, encrypt)
	}
	if err != nil {
		return nil, hs, err
	}
	return wire, hs, nil
}

// connectMSE dials addr again and does an encrypted handshake on it.
func (s *Session) connectMSE(ctx context.Context, addr netip.AddrPort, ih [20]byte) (net.Conn, peer.Handshake, error) {
	nc, err := s.dialPeer(ctx, addr)
	if err != nil {
		return nil, peer.Handshake{}, err
	}
	return s.initiate(ctx, nc, ih, true)
}

// initiate does our side of the handshake on nc, encrypted (MSE) or not,
// and returns the conn to use from then on; on failure it closes nc.
func (s *Session) initiate(ctx context.Context, nc net.Conn, ih [20]byte, encrypt bool) (net.Conn, peer.Handshake, error) {
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	wire := nc
	var hs peer.Handshake
	var err error
	if encrypt {
		wire, hs, err = s.initiateMSE(nc, ih)
	} else {
		hs, err = peer.Initiate(nc, s.handshake(ih))
		if err != nil {
			err = fmt.Errorf("handshake: %w", err)
		}
	}
	if !stop() { // ctx ended: nc is closed
		return nil, hs, ctx.Err()
	}
	if err != nil {
		nc.Close()
		return nil, hs, err
	}
	return wire, hs, nil
}
