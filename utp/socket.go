package utp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// acceptBacklog is how many connections that finished their SYN may wait
// for Accept; past it new ones are reset.
const acceptBacklog = 64

// A SYN's source address can be forged, so a connection is handed to
// Accept only once the peer shows it got our STATE: it acknowledges the
// random sequence number that STATE carried. Until then it is half-open:
// a few hundred bytes, no buffers, forgotten after halfOpenTimeout, and
// there are at most maxHalfOpen of them (maxHalfOpenPerIP from one
// address); a new SYN past either cap evicts the oldest.
const (
	maxHalfOpen      = 64
	maxHalfOpenPerIP = 4
	halfOpenTimeout  = 5 * time.Second
)

var errHalfOpen = errors.New("utp: peer never completed the handshake")

type connKey struct {
	addr netip.AddrPort
	id   uint16 // the connection id packets to us carry
}

// Socket carries uTP connections over one UDP socket.
type Socket struct {
	pc     *net.UDPConn
	accept chan *Conn
	done   chan struct{}
	once   sync.Once

	mu    sync.Mutex
	conns map[connKey]*Conn
	half  []*Conn // half-open connections, oldest first

	early atomic.Int64 // bytes all connections hold out of order
}

// Listen opens a UDP socket on addr ("127.0.0.1:6881", ":0") and serves uTP
// on it.
func Listen(addr string) (*Socket, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("utp: resolve %s: %w", addr, err)
	}
	pc, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("utp: listen on %s: %w", addr, err)
	}
	s := &Socket{pc: pc, accept: make(chan *Conn, acceptBacklog), done: make(chan struct{}), conns: map[connKey]*Conn{}}
	go s.readLoop()
	return s, nil
}

// Addr is the UDP address the socket is bound to.
func (s *Socket) Addr() net.Addr { return s.pc.LocalAddr() }

// Close closes the UDP socket and every connection on it.
func (s *Socket) Close() error {
	var err error
	s.once.Do(func() {
		close(s.done)
		err = s.pc.Close()
		s.mu.Lock()
		conns := make([]*Conn, 0, len(s.conns))
		for _, c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		for _, c := range conns {
			c.fail(net.ErrClosed)
		}
	})
	return err
}

// Accept waits for the next incoming connection; it fails with
// net.ErrClosed once the socket is closed.
func (s *Socket) Accept() (net.Conn, error) { return s.AcceptContext(context.Background()) }

// AcceptContext is Accept that also gives up, with net.ErrClosed, when ctx
// ends: a caller can stop accepting and still let its connections finish.
func (s *Socket) AcceptContext(ctx context.Context) (net.Conn, error) {
	select {
	case c := <-s.accept:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, net.ErrClosed
	}
}

// Dial opens a connection to addr; it fails when ctx ends or the SYN goes
// unanswered (about 3 s: three tries).
func (s *Socket) Dial(ctx context.Context, addr netip.AddrPort) (*Conn, error) {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	s.mu.Lock()
	var c *Conn
	for range 100 {
		id := randUint16()
		if _, used := s.conns[connKey{addr, id}]; used {
			continue
		}
		c = newConn(s, addr, id, id+1)
		s.conns[connKey{addr, id}] = c
		break
	}
	s.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("utp: dial %s: no free connection id", addr)
	}
	if err := c.connect(ctx); err != nil {
		c.fail(err)
		return nil, fmt.Errorf("utp: dial %s: %w", addr, err)
	}
	return c, nil
}

func (s *Socket) readLoop() {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := s.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP errors and the like: the socket is still good
		}
		h, payload, err := parse(buf[:n])
		if err != nil {
			continue // not uTP (a DHT query on the same port) or broken
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		s.dispatch(from, h, payload)
	}
}

func (s *Socket) dispatch(from netip.AddrPort, h header, payload []byte) {
	s.mu.Lock()
	c := s.conns[connKey{from, h.connID}]
	if c == nil && h.typ == stSyn {
		// The initiator's SYN carries its receive id; it sends to us with
		// that plus one.
		if dup := s.conns[connKey{from, h.connID + 1}]; dup != nil {
			s.mu.Unlock()
			dup.packet(h, payload)
			return
		}
		select {
		case <-s.done:
			s.mu.Unlock()
			return
		default:
		}
		c = newConn(s, from, h.connID+1, h.connID)
		c.halfOpen = true
		evicted := s.addHalfLocked(c)
		s.conns[connKey{from, c.recvID}] = c
		s.mu.Unlock()
		if evicted != nil {
			evicted.fail(errHalfOpen)
		}
		c.accepted(h)
		return
	}
	s.mu.Unlock()
	if c == nil {
		if h.typ != stReset {
			s.reset(from, h)
		}
		return
	}
	c.packet(h, payload)
}

// reset answers a packet of no connection we know.
func (s *Socket) reset(to netip.AddrPort, h header) {
	id := h.connID
	if h.typ == stSyn {
		id = h.connID // the initiator listens on the SYN's id
	}
	s.send(to, header{typ: stReset, connID: id, ts: nowMicros(), seq: randUint16(), ack: h.seq}, nil)
}

func (s *Socket) send(to netip.AddrPort, h header, payload []byte) {
	b := appendPacket(make([]byte, 0, headerLen+len(h.sack)+2+len(payload)), h, payload)
	s.pc.WriteToUDPAddrPort(b, to) // a lost packet is retransmitted; nothing to do here
}

func (s *Socket) remove(c *Conn) {
	s.mu.Lock()
	if s.conns[connKey{c.raddr, c.recvID}] == c {
		delete(s.conns, connKey{c.raddr, c.recvID})
	}
	s.dropHalfLocked(c)
	s.mu.Unlock()
}

// addHalfLocked records a new half-open connection and takes out of the
// table (and s.conns) the one it evicts, if any, for the caller to fail
// once s.mu is released.
func (s *Socket) addHalfLocked(c *Conn) (evicted *Conn) {
	same := 0
	for _, h := range s.half {
		if h.raddr.Addr() == c.raddr.Addr() {
			if same == 0 {
				evicted = h
			}
			same++
		}
	}
	if same < maxHalfOpenPerIP {
		evicted = nil
		if len(s.half) >= maxHalfOpen {
			evicted = s.half[0]
		}
	}
	if evicted != nil {
		s.dropHalfLocked(evicted)
		if s.conns[connKey{evicted.raddr, evicted.recvID}] == evicted {
			delete(s.conns, connKey{evicted.raddr, evicted.recvID})
		}
	}
	s.half = append(s.half, c)
	return evicted
}

func (s *Socket) dropHalfLocked(c *Conn) {
	for i, h := range s.half {
		if h == c {
			s.half = append(s.half[:i], s.half[i+1:]...)
			return
		}
	}
}

// established moves c out of the half-open table to Accept; false if the
// backlog is full or the socket closed.
func (s *Socket) established(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropHalfLocked(c)
	select {
	case <-s.done:
		return false
	default:
	}
	select {
	case s.accept <- c:
		return true
	default:
		return false
	}
}

func randUint16() uint16 {
	var b [2]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint16(b[:])
}
