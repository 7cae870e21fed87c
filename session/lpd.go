package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/netip"
	"sync"
	"time"

	"swarm/lpd"
)

// Local peer discovery (BEP 14): public torrents are announced to the LAN's
// multicast group and peers announced there are dialled, both bounded by
// lpd.Policy. Off for a loopback listener (nobody on the LAN could reach
// it) and never for private torrents (BEP 27).

// lpdTick is how often due announces are sent; the policy spaces each
// torrent's to lpd.Policy.SendEvery.
const lpdTick = time.Minute

// runLPD joins the group and reads announces until ctx ends.
func (s *Session) runLPD(ctx context.Context) {
	la, ok := s.listener.Addr().(*net.TCPAddr)
	if !ok || la.IP.IsLoopback() {
		s.log.Debug().Msg("local peer discovery off: the listener is not on the LAN")
		return
	}
	group := net.UDPAddrFromAddrPort(lpd.Group)
	conn, err := net.ListenMulticastUDP("udp4", nil, group)
	if err != nil {
		s.log.Warn().Err(err).Msg("local peer discovery off: join its multicast group")
		return
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	var cookie [8]byte
	rand.Read(cookie[:])
	s.serveLPD(ctx, conn, group, uint16(la.Port), hex.EncodeToString(cookie[:]))
}

// serveLPD announces to group and reads announces from conn until ctx ends
// or conn fails; tests give it a unicast socket on loopback.
func (s *Session) serveLPD(ctx context.Context, conn *net.UDPConn, group *net.UDPAddr, port uint16, cookie string) {
	l := &lpdState{s: s, conn: conn, group: group, port: port, cookie: cookie, policy: lpd.NewPolicy()}
	s.wg.Go(func() { l.sendLoop(ctx) })
	l.readLoop(ctx)
}

type lpdState struct {
	s      *Session
	conn   *net.UDPConn
	group  *net.UDPAddr
	port   uint16
	cookie string // tells our own announces, looped back by the group, apart

	mu     sync.Mutex // guards policy
	policy *lpd.Policy
}

// readLoop hands the peers of announces for our public torrents to them.
func (l *lpdState) readLoop(ctx context.Context) {
	buf := make([]byte, lpd.MaxDatagram+1)
	for {
		n, src, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() == nil {
				l.s.log.Warn().Err(err).Msg("local peer discovery stopped: read")
			}
			return
		}
		from := src.Addr().Unmap()
		l.mu.Lock()
		ok := l.policy.Accept(from, time.Now())
		l.mu.Unlock()
		if !ok {
			continue
		}
		a, err := lpd.Parse(buf[:n])
		if err != nil || a.Cookie == l.cookie {
			continue
		}
		addr := []netip.AddrPort{netip.AddrPortFrom(from, a.Port)}
		l.s.mu.Lock()
		var ts []*Torrent
		for _, ih := range a.InfoHashes {
			if t := l.s.torrents[ih]; t != nil && t.lanPublic() {
				ts = append(ts, t)
			}
		}
		l.s.mu.Unlock()
		for _, t := range ts {
			// Anyone on the LAN can claim anything: as little trust as pex.
			t.post(ctx, peersFound{addrs: addr, src: srcPEX})
		}
	}
}

// sendLoop announces the public torrents that are due, once a tick.
func (l *lpdState) sendLoop(ctx context.Context) {
	tick := time.NewTicker(lpdTick)
	defer tick.Stop()
	for {
		l.s.mu.Lock()
		var ihs [][20]byte
		for ih, t := range l.s.torrents {
			if t.lanPublic() {
				ihs = append(ihs, ih)
			}
		}
		l.s.mu.Unlock()
		l.mu.Lock()
		due := l.policy.Due(ihs, time.Now())
		l.mu.Unlock()
		if len(due) > 0 {
			msg := lpd.Announce{Port: l.port, InfoHashes: due, Cookie: l.cookie}.Marshal()
			if _, err := l.conn.WriteToUDP(msg, l.group); err != nil {
				l.s.log.Debug().Err(err).Msg("local peer discovery: send announce")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// lanPublic reports a torrent LPD may serve: its info dict known (a magnet
// link's could still turn out private) and not private. Safe from any
// goroutine.
func (t *Torrent) lanPublic() bool {
	m := t.info.Load()
	return m != nil && !m.Info.Private
}
