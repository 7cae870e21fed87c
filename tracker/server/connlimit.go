package server

import (
	"net"
	"net/netip"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// connLimit counts the tracker's open HTTP connections, per client address
// (an IPv6 client is its /64, as for the rate limit) and in all, from
// accept to close, on every path: the raw loops' table, net/http's
// keep-alive connections, the goroutine-per-connection lean path. A
// connection over either cap is closed as soon as it is accepted, before
// a byte is read. Without it one address could hold as many idle
// keep-alive connections (about 18 KB each in net/http) as the file
// descriptor limit allows. A trusted proxy's address has no cap of its
// own (it carries many clients); its connections count in the total.
type connLimit struct {
	perIP, total int // caps; 0 means none
	trusted      func(netip.Addr) bool
	refused      [2]prometheus.Counter // by refusePerIP, refuseTotal

	mu   sync.Mutex // guards open and n
	open map[ipKey]int
	n    int
}

const (
	refusePerIP = iota
	refuseTotal
)

func newConnLimit(perIP, total int, trusted func(netip.Addr) bool) *connLimit {
	return &connLimit{perIP: max(perIP, 0), total: max(total, 0), trusted: trusted, open: map[ipKey]int{}}
}

// connKey is ip cut to the address limiter's prefix.
func connKey(ip netip.Addr) ipKey {
	ip = ip.Unmap()
	bits := addrBits6
	if ip.Is4() {
		bits = addrBits4
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return ipKey{} // not an IP address: all such count as one
	}
	return ipKey(p.Addr().As16())
}

// acquire counts a new connection from ip and reports whether it is within
// the caps; if not, it is not counted and the caller closes it.
func (l *connLimit) acquire(ip netip.Addr) bool {
	k := connKey(ip)
	capped := l.perIP > 0 && !l.trusted(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total > 0 && l.n >= l.total {
		l.refused[refuseTotal].Inc()
		return false
	}
	if capped && l.open[k] >= l.perIP {
		l.refused[refusePerIP].Inc()
		return false
	}
	if capped {
		l.open[k]++
	}
	l.n++
	return true
}

// release uncounts a connection from ip that acquire let in. A trusted
// proxy's are counted in the total only (as acquire does): counted per
// address too, they filled the cap of the proxy's IPv6 /64 for the other
// addresses in it.
func (l *connLimit) release(ip netip.Addr) {
	k := connKey(ip)
	capped := l.perIP > 0 && !l.trusted(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case !capped:
	case l.open[k] <= 1:
		delete(l.open, k) // the map holds only addresses with connections
	default:
		l.open[k]--
	}
	l.n--
}

// count is the number of open connections.
func (l *connLimit) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// countedConn is a connection acquire let in; closing it releases it
// (once, however often it is closed).
type countedConn struct {
	net.Conn
	release func()
}

// counted wraps c, a connection from ip that acquire let in.
func (l *connLimit) counted(c net.Conn, ip netip.Addr) net.Conn {
	return &countedConn{Conn: c, release: sync.OnceFunc(func() { l.release(ip) })}
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// CloseWrite lets net/http half-close the connection before it closes it,
// as it does on a bare *net.TCPConn.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// PerAddressListener makes ln close at once, unread, a connection from an
// address (an IPv6 client's /64) that has perIP open already. For a
// listener other than the tracker's own (the admin API), whose global
// bound one address could otherwise fill alone.
func PerAddressListener(ln net.Listener, perIP int) net.Listener {
	l := newConnLimit(perIP, 0, func(netip.Addr) bool { return false })
	for i := range l.refused {
		l.refused[i] = prometheus.NewCounter(prometheus.CounterOpts{Name: "refused"}) // not exported
	}
	return &perAddressListener{Listener: ln, l: l}
}

type perAddressListener struct {
	net.Listener
	l *connLimit
}

func (p *perAddressListener) Accept() (net.Conn, error) {
	for {
		c, err := p.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := connIP(c)
		if p.l.acquire(ip) {
			return p.l.counted(c, ip), nil
		}
		c.Close()
	}
}
