package memnet

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
)

// DefaultBufferSize is each direction's buffer of a connection when
// Network.BufferSize is 0: about what Linux gives a loopback socket
// before autotuning. A buffer is allocated as it fills, and never grows
// past its size, so that it adds little to a test's heap figures.
const DefaultBufferSize = 64 << 10

// backlog is how many connections a listener holds before Accept takes
// them; a Dial past it waits, as a full SYN queue makes a dial wait.
const backlog = 128

// firstPort is the first port handed out for port 0, listening or dialling.
const firstPort = 10000

// Network holds listeners by address. The zero Network is ready to use.
type Network struct {
	// BufferSize is the bytes each direction of a connection buffers
	// before a Write blocks; 0 means DefaultBufferSize.
	BufferSize int

	mu        sync.Mutex // guards listeners, nextPort
	listeners map[netip.AddrPort]*Listener
	nextPort  uint16
}

// port returns a port not yet handed out; n.mu is held.
func (n *Network) portLocked() uint16 {
	if n.nextPort == 0 {
		n.nextPort = firstPort
	}
	n.nextPort++
	return n.nextPort - 1
}

// Listen listens on addr ("127.0.0.1:0" for a new port) for network
// "tcp", "tcp4" or "tcp6". Listening on an address in use fails with
// EADDRINUSE, as a socket does.
func (n *Network) Listen(network, addr string) (*Listener, error) {
	ap, err := parse(network, addr)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.listeners == nil {
		n.listeners = map[netip.AddrPort]*Listener{}
	}
	if ap.Port() == 0 {
		ap = netip.AddrPortFrom(ap.Addr(), n.portLocked())
	}
	if _, taken := n.listeners[ap]; taken {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: net.TCPAddrFromAddrPort(ap), Err: syscall.EADDRINUSE}
	}
	l := &Listener{n: n, addr: ap, conns: make(chan *Conn, backlog), done: make(chan struct{})}
	n.listeners[ap] = l
	return l, nil
}

// Dial connects to addr from 127.0.0.1 (or ::1 for an IPv6 addr) on a new
// port. Its signature is that of net.Dialer.DialContext.
func (n *Network) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	ap, err := parse(network, addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	from := netip.IPv6Loopback()
	if ap.Addr().Is4() {
		from = netip.MustParseAddr("127.0.0.1")
	}
	return n.DialFrom(ctx, from, network, addr)
}

// DialFrom is Dial from the local address from, for tests that need peers
// on several IP addresses.
func (n *Network) DialFrom(ctx context.Context, from netip.Addr, network, addr string) (net.Conn, error) {
	ap, err := parse(network, addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	n.mu.Lock()
	l := n.listeners[ap]
	local := netip.AddrPortFrom(from, n.portLocked())
	n.mu.Unlock()
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: network, Source: net.TCPAddrFromAddrPort(local), Addr: net.TCPAddrFromAddrPort(ap), Err: err}
	}
	if l == nil {
		return nil, opErr(syscall.ECONNREFUSED)
	}
	size := n.BufferSize
	if size == 0 {
		size = DefaultBufferSize
	}
	c, s := newPair(local, ap, size)
	select {
	case l.conns <- s:
		return c, nil
	case <-l.done:
		return nil, opErr(syscall.ECONNREFUSED)
	case <-ctx.Done():
		return nil, opErr(ctx.Err())
	}
}

func parse(network, addr string) (netip.AddrPort, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return netip.AddrPort{}, fmt.Errorf("memnet: network %q is not TCP", network)
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("memnet: address %q: %w", addr, err)
	}
	return ap, nil
}

// Listener is a net.Listener on a Network.
type Listener struct {
	n     *Network
	addr  netip.AddrPort
	conns chan *Conn
	once  sync.Once
	done  chan struct{} // closed by Close
}

// Accept waits for a connection, or fails with net.ErrClosed once the
// listener is closed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
	}
}

// Close stops the listener: Accept and later dials fail; connections not
// yet accepted are reset.
func (l *Listener) Close() error {
	first := false
	l.once.Do(func() {
		first = true
		close(l.done)
		l.n.mu.Lock()
		delete(l.n.listeners, l.addr)
		l.n.mu.Unlock()
	})
	if !first {
		return &net.OpError{Op: "close", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
	}
	for {
		select {
		case c := <-l.conns:
			c.Close()
		default:
			return nil
		}
	}
}

// Addr is a *net.TCPAddr, as a TCP listener's is.
func (l *Listener) Addr() net.Addr { return net.TCPAddrFromAddrPort(l.addr) }

// pipe is one direction of a connection: bytes written at one end and not
// yet read at the other.
type pipe struct {
	mu      sync.Mutex    // guards the fields below
	ring    []byte        // the bytes, from start, wrapping around; grows to size
	start   int           // index in ring of the first byte not yet read
	n       int           // bytes in ring not yet read
	size    int           // most bytes the ring holds
	eof     bool          // the writer closed (Close or CloseWrite)
	reset   bool          // the reader closed: writes fail
	changed chan struct{} // closed and replaced whenever the fields above change
}

func newPipe(size int) *pipe { return &pipe{size: size, changed: make(chan struct{})} }

// notifyLocked wakes everyone waiting on p; p.mu is held.
func (p *pipe) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *pipe) closeWrite() {
	p.mu.Lock()
	p.eof = true
	p.notifyLocked()
	p.mu.Unlock()
}

func (p *pipe) closeRead() {
	p.mu.Lock()
	p.reset = true
	p.ring, p.start, p.n = nil, 0, 0
	p.notifyLocked()
	p.mu.Unlock()
}

// readLocked moves up to len(b) bytes from the ring to b; p.mu is held.
func (p *pipe) readLocked(b []byte) int {
	n := 0
	for n < len(b) && p.n > 0 {
		k := copy(b[n:], p.ring[p.start:min(len(p.ring), p.start+p.n)])
		n += k
		p.start = (p.start + k) % len(p.ring)
		p.n -= k
	}
	if p.n == 0 {
		p.start = 0
	}
	return n
}

// writeLocked copies as much of b into the ring as fits and returns how
// much; p.mu is held.
func (p *pipe) writeLocked(b []byte) int {
	if want := min(p.size, p.n+len(b)); want > len(p.ring) {
		// Grow: unwrap the bytes into a larger ring.
		count := p.n
		ring := make([]byte, min(p.size, max(want, 2*len(p.ring))))
		p.readLocked(ring[:count])
		p.ring, p.start, p.n = ring, 0, count
	}
	n := 0
	for n < len(b) && p.n < len(p.ring) {
		end := (p.start + p.n) % len(p.ring)
		k := copy(p.ring[end:min(len(p.ring), end+len(p.ring)-p.n)], b[n:])
		n += k
		p.n += k
	}
	return n
}

// Conn is one end of a connection. It implements net.Conn and CloseWrite,
// as *net.TCPConn does.
type Conn struct {
	local, remote netip.AddrPort
	rx, tx        *pipe
	rd, wd        *deadline
	once          sync.Once
	closed        chan struct{}
	wmu           sync.Mutex // one Write at a time, so writes do not interleave
}

func newPair(a, b netip.AddrPort, size int) (*Conn, *Conn) {
	ab, ba := newPipe(size), newPipe(size)
	ca := &Conn{local: a, remote: b, rx: ba, tx: ab, rd: newDeadline(), wd: newDeadline(), closed: make(chan struct{})}
	cb := &Conn{local: b, remote: a, rx: ab, tx: ba, rd: newDeadline(), wd: newDeadline(), closed: make(chan struct{})}
	return ca, cb
}

func (c *Conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// Read reads what the other end wrote; io.EOF once it closed or called
// CloseWrite and everything before is read.
func (c *Conn) Read(b []byte) (int, error) {
	for {
		select {
		case <-c.closed:
			return 0, c.opErr("read", net.ErrClosed)
		default:
		}
		p := c.rx
		p.mu.Lock()
		switch {
		case p.n > 0:
			n := p.readLocked(b)
			p.notifyLocked()
			p.mu.Unlock()
			return n, nil
		case len(b) == 0:
			p.mu.Unlock()
			return 0, nil
		case p.eof:
			p.mu.Unlock()
			return 0, io.EOF
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-c.closed:
		case <-c.rd.wait():
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
	}
}

// Write writes b whole, waiting for room in the buffer; it fails with
// EPIPE once the other end closed, and with a timeout past the write
// deadline (having written n bytes).
func (c *Conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n := 0
	for {
		select {
		case <-c.closed:
			return n, c.opErr("write", net.ErrClosed)
		case <-c.wd.wait():
			return n, c.opErr("write", os.ErrDeadlineExceeded)
		default:
		}
		p := c.tx
		p.mu.Lock()
		if p.reset {
			p.mu.Unlock()
			return n, c.opErr("write", syscall.EPIPE)
		}
		if p.eof {
			p.mu.Unlock()
			return n, c.opErr("write", net.ErrClosed) // after CloseWrite
		}
		if k := p.writeLocked(b[n:]); k > 0 {
			n += k
			p.notifyLocked()
		}
		if n == len(b) {
			p.mu.Unlock()
			return n, nil
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-c.closed:
		case <-c.wd.wait():
		}
	}
}

// Close closes both directions: the other end reads what is buffered and
// then io.EOF, and its writes fail.
func (c *Conn) Close() error {
	first := false
	c.once.Do(func() {
		first = true
		close(c.closed)
		c.tx.closeWrite()
		c.rx.closeRead()
	})
	if !first {
		return c.opErr("close", net.ErrClosed)
	}
	return nil
}

// CloseWrite shuts the sending side: the other end reads io.EOF after what
// was written, and this end can still read.
func (c *Conn) CloseWrite() error {
	c.tx.closeWrite()
	return nil
}

// LocalAddr and RemoteAddr are *net.TCPAddr, as a TCP connection's are.
func (c *Conn) LocalAddr() net.Addr  { return net.TCPAddrFromAddrPort(c.local) }
func (c *Conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.remote) }

func (c *Conn) SetDeadline(t time.Time) error {
	c.rd.set(t)
	c.wd.set(t)
	return nil
}
func (c *Conn) SetReadDeadline(t time.Time) error  { c.rd.set(t); return nil }
func (c *Conn) SetWriteDeadline(t time.Time) error { c.wd.set(t); return nil }

// deadline is a channel closed when the deadline passes, as net.Pipe's
// pipeDeadline is; its timer runs on the bubble's clock under synctest.
type deadline struct {
	mu     sync.Mutex // guards timer, passed
	timer  *time.Timer
	passed chan struct{}
}

func newDeadline() *deadline { return &deadline{passed: make(chan struct{})} }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.passed // the timer fired, or is firing: wait until it closed passed
	}
	d.timer = nil
	closed := isClosed(d.passed)
	if closed && (t.IsZero() || time.Until(t) > 0) {
		d.passed = make(chan struct{})
	}
	switch {
	case t.IsZero():
	case time.Until(t) <= 0:
		if !closed {
			close(d.passed)
		}
	default:
		ch := d.passed
		d.timer = time.AfterFunc(time.Until(t), func() { close(ch) })
	}
}

func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.passed
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
