package rpc

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Wrong credentials are limited per client address: after maxAuthFailures
// within authWindow an address is answered 429 without its credentials
// being checked until its window ends. Guessing a password over the
// network then runs at 10 a minute per address instead of thousands a
// second, and the log gets a line per address and window, not per guess.
// maxTracked bounds the table; while it is full of live windows, an
// address not in it is refused too (a guesser with thousands of addresses
// must not get past the limit by filling the table).
const (
	maxAuthFailures = 10
	authWindow      = time.Minute
	maxTracked      = 4096
)

// authLimiter counts wrong credentials per client address (an IPv6
// address by its /64, which one host usually has whole).
type authLimiter struct {
	mu  sync.Mutex
	now func() time.Time
	by  map[netip.Prefix]*failWindow
}

type failWindow struct {
	n     int
	start time.Time
}

func clientKey(remoteAddr string) netip.Prefix {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Prefix{}
	}
	a := ap.Addr().Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// blocked says whether the client at remoteAddr is refused now, and for
// how long.
func (l *authLimiter) blocked(remoteAddr string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.by[clientKey(remoteAddr)]
	if w == nil {
		return len(l.by) >= maxTracked && !l.pruneLocked(now), authWindow
	}
	if now.Sub(w.start) >= authWindow {
		return false, 0
	}
	return w.n >= maxAuthFailures, authWindow - now.Sub(w.start)
}

// fail counts one wrong credential of remoteAddr and says whether it is
// the first of its window (the one to log).
func (l *authLimiter) fail(remoteAddr string) (first bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now, k := l.now(), clientKey(remoteAddr)
	w := l.by[k]
	if w == nil || now.Sub(w.start) >= authWindow {
		if w == nil && len(l.by) >= maxTracked && !l.pruneLocked(now) {
			return false
		}
		w = &failWindow{start: now}
		l.by[k] = w
	}
	w.n++
	return w.n == 1
}

// pruneLocked drops ended windows and says whether that made room.
func (l *authLimiter) pruneLocked(now time.Time) bool {
	for k, w := range l.by {
		if now.Sub(w.start) >= authWindow {
			delete(l.by, k)
		}
	}
	return len(l.by) < maxTracked
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(d.Round(time.Second)/time.Second) + 1)
}

// DefaultMaxConns bounds the RPC's open connections (see LimitListener).
const DefaultMaxConns = 256

// LimitListener makes ln accept at most n connections at once; the next
// waits in the kernel's queue until one closes. Without it, anyone who
// can reach the RPC port can open connections until the daemon runs out
// of file descriptors (measured: 21,000 idle keep-alive connections from
// three local scripts took all 20,000, and accept, torrent files and the
// state folder then all fail with EMFILE).
func LimitListener(ln net.Listener, n int) net.Listener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n)}
}

type limitListener struct {
	net.Listener
	sem chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: sync.OnceFunc(func() { <-l.sem })}, nil
}

type limitConn struct {
	net.Conn
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
