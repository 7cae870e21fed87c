package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On Linux the lean path runs on raw non-blocking sockets: one loop per
// core, each with its own epoll instance over the listener, accepts, reads
// at once (the request has usually arrived with the connection), answers
// in one write and closes, all in the loop. With a new connection per
// announce, what net/http and even the goroutine-per-connection lean path
// pay per connection (a goroutine, a poller registration and removal, a
// deadline timer, TCP_NODELAY, and a system call that hands its thread's P
// to another thread whenever it takes longer than sysmon's 20 µs tick)
// costs more than the announce. The loops make their non-blocking calls
// with RawSyscall, so the P stays; only epoll_wait blocks. A connection
// whose request has not fully arrived waits in the loop's bounded table,
// registered in its epoll, until half the read timeout; anything the lean
// path does not serve goes to net/http through net.FileConn.

// rawSweep is how often a loop with connections waiting checks their
// deadlines.
const rawSweep = 50 * time.Millisecond

// accept serves ln until stop is done: on raw sockets for a TCP listener,
// else as acceptLean. ctx is the requests' context; conns counts the
// connections being served off the loops.
func (s *Server) accept(stop, ctx context.Context, ln net.Listener, h *handoff, conns *sync.WaitGroup) error {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return s.acceptLean(ctx, ln, h, conns)
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return fmt.Errorf("tracker listener: %w", err)
	}
	lfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) { lfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil || derr != nil {
		return fmt.Errorf("tracker listener: dup: %w", errors.Join(err, derr))
	}
	defer unix.Close(lfd)
	// The loops own the socket through lfd from now on; closing ln takes
	// it out of Go's poller, which would otherwise wake for every new
	// connection.
	ln.Close()
	return s.acceptRaw(stop, ctx, lfd, h, conns)
}

// rawLoop is one loop's state; only its goroutine uses it.
type rawLoop struct {
	s       *Server
	ctx     context.Context
	h       *handoff
	conns   *sync.WaitGroup // serves that may block (Hook, Redis), off the loop
	slow    chan struct{}   // bounds them, with every loop
	ep      int             // the loop's epoll instance until run takes it
	lfd     int             // the listener, shared by the loops
	wake    int             // eventfd: readable once the loops must stop
	pending map[int]*rawConn
	max     int // bounds pending
	free    []*rawConn
	sc      scratch
	sa      unix.RawSockaddrAny
	delay   time.Duration // accept back-off
	sweep   time.Time     // when pending's deadlines are next checked
	events  [64]unix.EpollEvent
}

// rawConn is an accepted connection whose request is being read.
type rawConn struct {
	buf        [leanBufSize]byte
	n          int
	remote     netip.Addr
	deadline   time.Time
	registered bool // in the loop's epoll
}

// acceptRaw runs one rawLoop per core on the listening socket lfd until
// stop is done or a loop fails.
func (s *Server) acceptRaw(stop, ctx context.Context, lfd int, h *handoff, conns *sync.WaitGroup) error {
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("tracker eventfd: %w", err)
	}
	defer unix.Close(wake)
	n := runtime.GOMAXPROCS(0)
	slow := make(chan struct{}, s.maxLean)
	var loops []*rawLoop
	defer func() {
		for _, l := range loops {
			if l.ep >= 0 { // run did not start
				unix.Close(l.ep)
			}
		}
	}()
	for range n {
		ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return fmt.Errorf("tracker epoll: %w", err)
		}
		// Non-blocking, so that os.NewFile puts it in Go's poller (run).
		if err := unix.SetNonblock(ep, true); err != nil {
			unix.Close(ep)
			return fmt.Errorf("tracker epoll: %w", err)
		}
		l := &rawLoop{s: s, ctx: ctx, h: h, conns: conns, slow: slow, ep: ep, lfd: lfd, wake: wake,
			pending: make(map[int]*rawConn), max: max(s.maxLean/n, 1)}
		loops = append(loops, l)
		// EPOLLEXCLUSIVE: a new connection wakes one loop, not all.
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, lfd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(lfd)}); err != nil {
			return fmt.Errorf("tracker epoll: listener: %w", err)
		}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}); err != nil {
			return fmt.Errorf("tracker epoll: eventfd: %w", err)
		}
	}
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for _, l := range loops {
		wg.Go(func() { errs <- l.run() })
	}
	select {
	case <-stop.Done():
	case err = <-errs:
	}
	one := [8]byte{1}
	if _, werr := unix.Write(wake, one[:]); werr != nil {
		err = errors.Join(err, fmt.Errorf("tracker: stopping the loops: %w", werr))
	}
	wg.Wait()
	return err
}

// run serves until the eventfd is readable; it closes the connections it
// still holds. It waits for its epoll instance in Go's poller, not in
// epoll_wait: a goroutine blocked in a system call holds an OS thread, and
// sysmon, seeing a P in a system call, takes it back and never slows its
// 20 µs tick (a sixth of the CPU under load).
func (l *rawLoop) run() error {
	defer func() {
		for fd, c := range l.pending {
			l.drop(fd, c)
		}
		l.s.leanWaiting.Add(-int64(len(l.pending)))
	}()
	// Not f.Fd(), which would make f blocking and take it out of the poller.
	epfd := l.ep
	f := os.NewFile(uintptr(epfd), "tracker epoll")
	l.ep = -1 // f closes it
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("tracker epoll: %w", err)
	}
	var (
		n     int
		werr  error
		armed time.Time // the read deadline of f: the next sweep
	)
	wait := func(uintptr) bool {
		r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_WAIT, uintptr(epfd), uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), 0, 0, 0)
		n, werr = int(r), nil
		switch e {
		case 0:
			return n > 0
		case unix.EINTR:
			n = 0 // look again before waiting
		default:
			n, werr = 0, e
		}
		return true
	}
	for {
		err := rc.Read(wait)
		if err == nil {
			err = werr
		}
		expired := errors.Is(err, os.ErrDeadlineExceeded)
		if err != nil && !expired {
			return fmt.Errorf("tracker epoll wait: %w", err)
		}
		for _, ev := range l.events[:n] {
			switch fd := int(ev.Fd); fd {
			case l.wake:
				return nil
			case l.lfd:
				if err := l.acceptAll(epfd); err != nil {
					return err
				}
			default:
				c := l.pending[fd]
				if c == nil {
					_ = unix.EpollCtl(epfd, unix.EPOLL_CTL_DEL, fd, nil)
					continue
				}
				if !l.step(epfd, fd, c) {
					delete(l.pending, fd)
					l.s.leanWaiting.Add(-1)
				}
			}
		}
		n = 0
		var next time.Time // no deadline while nothing waits
		if len(l.pending) > 0 {
			now := time.Now()
			if now.After(l.sweep) {
				l.sweep = now.Add(rawSweep)
				l.expire(epfd, now)
			}
			next = l.sweep
		}
		if expired || !next.Equal(armed) {
			if err := f.SetReadDeadline(next); err != nil {
				return fmt.Errorf("tracker epoll deadline: %w", err)
			}
			armed = next
		}
	}
}

// expire gives up the connections whose request has not arrived by their
// deadline. Each is read once more first: a loop that comes late (a
// starved process, or more ready connections than one epoll batch) finds
// requests that arrived in time still unread, and closing a socket with
// unread data resets it. At load 30 to 60, `swarm lab --peers 256` saw
// 262 announces reset this way (issue 20).
func (l *rawLoop) expire(ep int, now time.Time) {
	for fd, c := range l.pending {
		if !now.After(c.deadline) {
			continue
		}
		delete(l.pending, fd)
		l.s.leanWaiting.Add(-1)
		if l.step(ep, fd, c) {
			l.drop(fd, c) // the client was too slow
		}
	}
}

// acceptAll accepts up to a batch of connections and serves them, then
// lets the loop read the connections waiting. It fails only for errors
// that retrying will not cure.
func (l *rawLoop) acceptAll(ep int) error {
	for range len(l.events) {
		salen := uint32(unsafe.Sizeof(l.sa))
		r, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(l.lfd), uintptr(unsafe.Pointer(&l.sa)), uintptr(unsafe.Pointer(&salen)),
			unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		switch e {
		case 0:
		case unix.EAGAIN:
			l.delay = 0
			return nil
		case unix.EINTR, unix.ECONNABORTED:
			continue
		case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
			// Out of file descriptors and the like: back off and retry,
			// as net/http does, rather than spin or stop serving.
			l.delay = min(max(2*l.delay, 5*time.Millisecond), time.Second)
			l.s.log.Warn().Err(e).Dur("retry_in", l.delay).Msg("tracker accept")
			time.Sleep(l.delay)
			return nil
		default:
			return fmt.Errorf("accept: %w", e)
		}
		l.delay = 0
		fd := int(r)
		remote := sockaddrIP(&l.sa)
		if !l.s.conns.acquire(remote) {
			rawClose(fd) // over Config.MaxConnsPerIP or MaxConns
			continue
		}
		c := l.get()
		c.remote = remote
		if !l.step(ep, fd, c) {
			continue
		}
		if len(l.pending) >= l.max {
			l.handoff(ep, fd, c)
			continue
		}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}); err != nil {
			l.s.log.Warn().Err(err).Msg("tracker epoll: connection")
			l.drop(fd, c)
			continue
		}
		c.registered = true
		c.deadline = time.Now().Add(l.s.cfg.ReadTimeout / 2)
		l.pending[fd] = c
		l.s.leanWaiting.Add(1)
	}
	return nil
}

// step reads what fd has and answers, hands off or closes it, or reports
// that the request is not complete yet (true). Unless it returns true, c
// is no longer the caller's.
func (l *rawLoop) step(ep, fd int, c *rawConn) bool {
	for {
		if c.n == len(c.buf) {
			l.handoff(ep, fd, c) // longer than the lean path reads
			return false
		}
		m, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&c.buf[c.n])), uintptr(len(c.buf)-c.n))
		switch {
		case e == unix.EAGAIN:
			return true
		case e == unix.EINTR:
			continue
		case e != 0 || m == 0:
			l.drop(fd, c) // the client hung up
			return false
		}
		c.n += int(m)
		req, st := parseLean(c.buf[:c.n], l.s.parse.passkeys)
		switch st {
		case leanMore:
			continue
		case leanHandoff:
			l.handoff(ep, fd, c)
		default:
			if l.s.trustedProxy(c.remote) {
				l.handoff(ep, fd, c) // the client is named in headers only net/http reads
				return false
			}
			l.serve(ep, fd, c, &req)
		}
		return false
	}
}

// serve answers req on fd and closes it: in the loop with the in-memory
// store, else (a Hook or Redis may block) in a goroutine of its own.
func (l *rawLoop) serve(ep, fd int, c *rawConn, req *leanRequest) {
	s := l.s
	if s.mem != nil && s.cfg.Hook == nil {
		writeClose(fd, s.leanReply(l.ctx, &l.sc, req, c.remote), s.cfg.WriteTimeout, l.conns)
		// Released now even if the end of a large reply is still being
		// written off the loop (within WriteTimeout).
		s.conns.release(c.remote)
		l.put(c)
		return
	}
	select {
	case l.slow <- struct{}{}:
	default:
		l.handoff(ep, fd, c) // as many as s.maxLean under way: net/http's turn
		return
	}
	if c.registered {
		_ = unix.EpollCtl(ep, unix.EPOLL_CTL_DEL, fd, nil)
	}
	r, remote := *req, c.remote
	l.put(c)
	l.conns.Go(func() {
		defer func() { <-l.slow }()
		sc := s.bufs.Get().(*scratch)
		defer s.bufs.Put(sc)
		writeClose(fd, s.leanReply(l.ctx, sc, &r, remote), s.cfg.WriteTimeout, l.conns)
		s.conns.release(remote)
	})
}

// writeClose writes b to the non-blocking fd and closes it. The reply
// nearly always fits in the new socket's send buffer; if not, the rest is
// written through Go's poller, within timeout, counted in conns.
func writeClose(fd int, b []byte, timeout time.Duration, conns *sync.WaitGroup) {
	for len(b) > 0 {
		m, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if e == unix.EINTR {
			continue
		}
		if e == unix.EAGAIN {
			rest := bytes.Clone(b)
			c, err := fileConn(fd)
			if err != nil {
				return // fileConn closed fd
			}
			conns.Go(func() {
				defer c.Close()
				_ = c.SetWriteDeadline(time.Now().Add(timeout))
				// A failed write means the client hung up: nothing to do.
				_, _ = c.Write(rest)
			})
			return
		}
		if e != 0 {
			break // the client hung up
		}
		b = b[m:]
	}
	rawClose(fd)
}

// handoff gives fd to net/http with the bytes read.
func (l *rawLoop) handoff(ep, fd int, c *rawConn) {
	if c.registered {
		// fileConn duplicates fd: the loop's epoll would keep it.
		_ = unix.EpollCtl(ep, unix.EPOLL_CTL_DEL, fd, nil)
	}
	read, remote := bytes.Clone(c.buf[:c.n]), c.remote
	l.put(c)
	conn, err := fileConn(fd)
	if err != nil {
		l.s.conns.release(remote)
		l.s.log.Warn().Err(err).Msg("tracker: handing a connection to net/http")
		return
	}
	go l.h.pass(l.s.conns.counted(conn, remote), read)
}

// drop closes fd, which also takes it out of the epoll.
func (l *rawLoop) drop(fd int, c *rawConn) {
	rawClose(fd)
	l.s.conns.release(c.remote)
	l.put(c)
}

func (l *rawLoop) get() *rawConn {
	if n := len(l.free); n > 0 {
		c := l.free[n-1]
		l.free = l.free[:n-1]
		return c
	}
	return new(rawConn)
}

// put keeps c for the next connection: a few, as most connections are
// served the moment they are accepted, not the thousands that may wait
// (4 KiB each).
func (l *rawLoop) put(c *rawConn) {
	c.n, c.registered = 0, false
	if len(l.free) < 64 {
		l.free = append(l.free, c)
	}
}

func rawClose(fd int) {
	// Nothing to do if it fails: the descriptor is gone either way.
	_, _, _ = unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}

// fileConn makes fd a net.Conn; fd itself is closed either way.
func fileConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "tracker connection")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("file conn: %w", err)
	}
	return c, nil
}

// sockaddrIP is the IP address in sa, as connIP reads it: an IPv4 address
// (mapped or not) in 4 bytes.
func sockaddrIP(sa *unix.RawSockaddrAny) netip.Addr {
	switch sa.Addr.Family {
	case unix.AF_INET:
		return netip.AddrFrom4((*unix.RawSockaddrInet4)(unsafe.Pointer(sa)).Addr)
	case unix.AF_INET6:
		return netip.AddrFrom16((*unix.RawSockaddrInet6)(unsafe.Pointer(sa)).Addr).Unmap()
	}
	return netip.Addr{}
}
