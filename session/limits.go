package session

import (
	"errors"
	"net"
	"net/netip"
	"sync"

	"swarm/metainfo"
	"swarm/storage"
)

// Limits on the session's peer sockets (issue 13: a full descriptor table
// used to stop the listener for good).
const (
	// maxHandshakes is the most incoming connections still in their
	// handshake at once; more are closed as soon as they are accepted, as
	// rain refuses past its MaxPeerAccept. An honest handshake takes a
	// round trip, so even a hundred new peers a second keep only a few in
	// flight; 32 leaves room for the burst that follows an announce while
	// silent connections, each held up to peer.HandshakeTimeout (10 s),
	// can hold at most 32 descriptors.
	maxHandshakes = 32
	// maxHandshakesPerIP is the most of those from one IP: an honest peer
	// handshakes once at a time, a few more leave room for several behind
	// one NAT, and silent connections from one IP hold 4 of the 32 slots
	// rather than all of them (issue 13's slowloris).
	maxHandshakesPerIP = 4
	// maxPeersPerIP is the most connections one IP has with one torrent,
	// incoming and outgoing. libtorrent allows 1; 2 lets two users behind
	// one NAT (a household, a carrier-grade NAT) both trade with us, while
	// peers squatting from one IP hold 2 of MaxPeers slots, not all
	// (issue 13). A peer's second connection to itself (a simultaneous
	// open) is settled by peer id before this cap is counted.
	maxPeersPerIP = 2
	// fdReserve is the descriptors kept back from peers for everything
	// else the process holds: standard streams, the runtime's poller, the
	// listener, the DHT socket, tracker announces (HTTP and UDP), log
	// files and the .torrent being read. Each torrent adds its own share
	// (torrentReserve).
	fdReserve = 32
	// minConns is the floor of the budget, so that a tiny descriptor limit
	// still leaves a few peers (with a warning) rather than none.
	minConns = 8
)

// errTooManyConns is why a dial is not attempted: the session's peer
// sockets are at their limit.
var errTooManyConns = errors.New("too many open peer connections")

// torrentReserve is the descriptors a torrent needs besides its peers: its
// storage keeps up to storage.MaxOpenFiles files open plus its folder, a
// resume record is written through a temporary file, and one announce at a
// time needs a socket.
// A magnet link's torrent (info nil) reserves the most any torrent needs.
func torrentReserve(info *metainfo.Info) int {
	if info == nil {
		return storage.MaxOpenFiles + 4
	}
	return min(len(info.Files), storage.MaxOpenFiles) + 4
}

// connLimits counts the session's peer sockets: incoming ones from Accept
// until they close, outgoing ones from the dial until they close. Close
// of a counted conn gives its slot back, whoever closes it.
type connLimits struct {
	mu          sync.Mutex         // guards the fields below
	open        int                // counted sockets open: handshaking, dialing or connected
	handshaking int                // incoming sockets still in their handshake
	byIP        map[netip.Addr]int // of those, how many from each capped IP
	max         int                // most open at once
	refusing    bool               // a refusal happened since open was last below max
}

// acquireIP takes one of ip's handshake slots (maxHandshakesPerIP); false
// if it has none left. An invalid ip (one exempt from per-IP caps) always
// gets one. A taken slot is given back by handshakeDone.
func (l *connLimits) acquireIP(ip netip.Addr) bool {
	if !ip.IsValid() {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byIP[ip] >= maxHandshakesPerIP {
		return false
	}
	if l.byIP == nil {
		l.byIP = map[netip.Addr]int{}
	}
	l.byIP[ip]++
	return true
}

// releaseIP gives back a handshake slot of ip taken by acquireIP.
func (l *connLimits) releaseIP(ip netip.Addr) {
	if !ip.IsValid() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byIP[ip]--; l.byIP[ip] <= 0 {
		delete(l.byIP, ip)
	}
}

// acquire takes a slot for a new socket, and for an incoming one a
// handshake slot too; false if either limit is reached. The caller logs
// once per burst when first is true.
func (l *connLimits) acquire(incoming bool) (ok, first bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.max || (incoming && l.handshaking >= maxHandshakes) {
		first = !l.refusing
		l.refusing = true
		return false, first
	}
	l.open++
	if incoming {
		l.handshaking++
	}
	return true, false
}

// handshakeDone ends an incoming socket's handshake (passed or failed);
// it reports whether the session had been refusing peers and now has room
// again.
func (l *connLimits) handshakeDone() (recovered bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.handshaking--
	return l.recoveredLocked()
}

// release gives back a socket's slot, reporting as handshakeDone does.
func (l *connLimits) release() (recovered bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	return l.recoveredLocked()
}

func (l *connLimits) recoveredLocked() bool {
	if l.refusing && l.open < l.max && l.handshaking < maxHandshakes {
		l.refusing = false
		return true
	}
	return false
}

// room reports whether a new outgoing connection may be tried.
func (l *connLimits) room() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open < l.max
}

// setMax changes the budget (a torrent was added).
func (l *connLimits) setMax(n int) {
	l.mu.Lock()
	l.max = n
	l.mu.Unlock()
}

// counted wraps c so that closing it releases its slot once, through
// s.releaseConn. A *net.TCPConn is embedded as itself so that net.Buffers
// still reaches its writev path.
func (s *Session) counted(c net.Conn) net.Conn {
	if tc, ok := c.(*net.TCPConn); ok {
		return &countedTCPConn{TCPConn: tc, release: s.releaseConn}
	}
	return &countedConn{Conn: c, release: s.releaseConn}
}

type countedTCPConn struct {
	*net.TCPConn
	once    sync.Once
	release func()
}

// RawTCP tells peer.NewConn that reads of c are its socket's own, so
// blocks may be read from the socket with readv.
func (c *countedTCPConn) RawTCP() *net.TCPConn { return c.TCPConn }

func (c *countedTCPConn) Close() error {
	err := c.TCPConn.Close()
	c.once.Do(c.release)
	return err
}

type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

func (s *Session) releaseConn() { s.logRecovered(s.conns.release()) }

// cappedIP returns the IP of addr (unmapped) if the per-IP caps apply to
// it, or the zero Addr if they do not: loopback addresses are exempt unless
// Config.CapLoopback is set.
func (s *Session) cappedIP(addr netip.AddrPort) netip.Addr {
	ip := addr.Addr().Unmap()
	if ip.IsLoopback() && !s.cfg.CapLoopback {
		return netip.Addr{}
	}
	return ip
}

func (s *Session) logRecovered(recovered bool) {
	if recovered {
		s.log.Info().Msg("peer connections below the limit again: accepting new peers")
	}
}

// refused logs the first refusal of a burst at Warn, the rest at Debug.
func (s *Session) refused(first bool, what string) {
	if first {
		s.conns.mu.Lock()
		open, max, hs := s.conns.open, s.conns.max, s.conns.handshaking
		s.conns.mu.Unlock()
		e := s.log.Warn().Int("open", open).Int("max", max).Int("handshaking", hs)
		if open < max {
			// The connection cap is not reached: the handshake cap is.
			e.Msg("too many peer connections: too many handshakes at once, refusing new peers until some finish")
			return
		}
		e.Msg("too many peer connections: refusing new peers until some close")
		return
	}
	s.log.Debug().Str("peer", what).Msg("refused: too many peer connections")
}

// connBudget is the most peer sockets for a descriptor limit of fds with
// torrents needing reserve descriptors of their own, capped by maxConns
// when that is set; fds 0 means unknown (no cap from descriptors).
func connBudget(fds, reserve, maxConns int) int {
	n := maxConns
	if fds > 0 {
		byFDs := max(fds-fdReserve-reserve, minConns)
		if n == 0 || byFDs < n {
			n = byFDs
		}
	}
	if n == 0 {
		n = int(^uint(0) >> 1)
	}
	return n
}
