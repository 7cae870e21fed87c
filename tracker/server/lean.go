package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"swarm/tracker"
)

// The lean path serves an announce or a scrape on a connection the client
// will not reuse (Connection: close, or HTTP/1.0 without keep-alive), as
// real clients announce, without net/http: read the request into one
// buffer, parse only the request line and the headers that decide whether
// the lean path may answer, write the reply in one write and close. With a
// new connection per announce, net/http's per-connection and per-request
// machinery (bufio, header maps, response writer, the half-second linger
// after Connection: close) cost more than the announce itself. Anything
// else, or any doubt, goes to net/http with the bytes already read, so that
// /metrics, keep-alive clients, errors and oddities behave as before.

const (
	// leanBufSize bounds the request line and headers the lean path
	// reads; a longer request goes to net/http, whose MaxHeaderBytes
	// applies.
	leanBufSize = 4 << 10
	// maxLeanConns bounds the connections the lean path reads at once
	// (and so its buffers: 16 MiB); beyond it connections go straight to
	// net/http, as they all did before.
	maxLeanConns = 4096
)

// leanStatus is what parseLean made of the bytes read so far.
type leanStatus int

const (
	leanMore    leanStatus = iota // the headers are not complete yet
	leanServe                     // a request the lean path answers
	leanHandoff                   // anything else: net/http answers
)

// leanRequest is the part of a request the lean path needs.
type leanRequest struct {
	scrape  bool   // /scrape, else /announce
	passkey string // the {passkey} of /{passkey}/announce, with a Hook
	query   string // the raw query, without '?'
	http10  bool   // HTTP/1.0, else HTTP/1.1
}

// target is the request's path and query, for the log.
func (r *leanRequest) target() string {
	t := "/announce?"
	if r.scrape {
		t = "/scrape?"
	}
	if r.passkey != "" {
		t = "/" + r.passkey + t
	}
	return t + r.query
}

// parseLean reads the request at the start of b: a GET of /announce or
// /scrape (or /{passkey}/announce and /{passkey}/scrape with passkeys) that
// asks for the connection to be closed, its headers complete and nothing
// after them. It hands off anything net/http might read differently: other
// methods, paths and versions, escapes in the path, bare LF line ends,
// bodies, Expect, a missing or repeated Host, malformed header lines.
func parseLean(b []byte, passkeys bool) (leanRequest, leanStatus) {
	var req leanRequest
	end := headerEnd(b)
	if end < 0 {
		return req, leanMore
	}
	if end != len(b) {
		return req, leanHandoff // pipelined bytes, or a body
	}
	line, rest, ok := cutLine(b[:end])
	if !ok {
		return req, leanHandoff
	}
	target, ok := bytes.CutPrefix(line, []byte("GET "))
	if !ok {
		return req, leanHandoff
	}
	switch {
	case bytes.HasSuffix(target, []byte(" HTTP/1.1")):
	case bytes.HasSuffix(target, []byte(" HTTP/1.0")):
		req.http10 = true
	default:
		return req, leanHandoff
	}
	target = target[:len(target)-len(" HTTP/1.1")]
	if len(target) == 0 || target[0] != '/' {
		return req, leanHandoff
	}
	for _, c := range target {
		if c <= ' ' || c >= 0x7f || c == '#' {
			return req, leanHandoff
		}
	}
	path, query, _ := bytes.Cut(target, []byte("?"))
	if !leanPath(&req, path, passkeys) {
		return req, leanHandoff
	}
	var hosts int
	var closeConn, keepAlive bool
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return req, leanHandoff
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !isToken(name) || !validValue(value) {
			return req, leanHandoff
		}
		value = bytes.Trim(value, " \t")
		switch {
		case asciiEqualFold(name, "host"):
			hosts++
			if !plainHost(value) {
				return req, leanHandoff // net/http may answer 400
			}
		case asciiEqualFold(name, "connection"):
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				tok = bytes.Trim(tok, " \t")
				closeConn = closeConn || asciiEqualFold(tok, "close")
				keepAlive = keepAlive || asciiEqualFold(tok, "keep-alive")
			}
		case asciiEqualFold(name, "content-length"), asciiEqualFold(name, "transfer-encoding"),
			asciiEqualFold(name, "expect"):
			return req, leanHandoff
		}
	}
	if hosts > 1 || (!req.http10 && hosts == 0) {
		return req, leanHandoff // net/http answers 400
	}
	if req.http10 && keepAlive || !req.http10 && !closeConn {
		return req, leanHandoff // the client may send another request
	}
	req.query = string(query)
	return req, leanServe
}

// leanPath fills req from the path, and reports whether it is one the lean
// path serves. A passkey segment must be plain (unreserved characters, not
// "." or ".."), so that it reads the same as net/http's unescaped,
// cleaned path.
func leanPath(req *leanRequest, path []byte, passkeys bool) bool {
	var last []byte
	if rest, ok := bytes.CutSuffix(path, []byte("/announce")); ok {
		last = rest
	} else if rest, ok := bytes.CutSuffix(path, []byte("/scrape")); ok {
		last, req.scrape = rest, true
	} else {
		return false
	}
	if len(last) == 0 {
		return true
	}
	seg, ok := bytes.CutPrefix(last, []byte("/"))
	if !passkeys || !ok || len(seg) == 0 || string(seg) == "." || string(seg) == ".." {
		return false
	}
	for _, c := range seg {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	req.passkey = string(seg)
	return true
}

// headerEnd is the offset just past the empty line that ends the headers
// (LF LF or LF CR LF), or -1.
func headerEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			return i + 2
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			return i + 3
		}
	}
	return -1
}

// cutLine splits off the first CRLF-terminated line; ok is false for a bare
// LF or a CR inside the line.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' || bytes.IndexByte(b[:i-1], '\r') >= 0 {
		return nil, nil, false
	}
	return b[:i-1], b[i+1:], true
}

// isToken reports whether b is a non-empty RFC 9110 token, as a header name
// must be.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte(`"(),/:;<=>?@[\]{}`), c) >= 0 {
			return false
		}
	}
	return true
}

// plainHost reports whether a Host value has only bytes of a host name, an
// IP address and a port: a subset of those net/http accepts.
func plainHost(b []byte) bool {
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || bytes.IndexByte([]byte("-._~:[]%"), c) >= 0) {
			return false
		}
	}
	return true
}

// validValue reports whether a header value has no control bytes but tab,
// as net/http requires.
func validValue(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// asciiEqualFold reports whether b equals the lower-case ASCII s, ignoring
// case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// handoff is the listener net/http serves: the connections the lean path
// passes on, with the bytes it has already read.
type handoff struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoff(addr net.Addr) *handoff {
	return &handoff{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoff) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

func (h *handoff) Addr() net.Addr { return h.addr }

// pass gives c to net/http, which reads read first; it closes c if net/http
// has stopped.
func (h *handoff) pass(c net.Conn, read []byte) {
	if len(read) > 0 {
		c = &prefixConn{Conn: c, read: read}
	}
	select {
	case h.conns <- c:
	case <-h.done:
		c.Close()
	}
}

// prefixConn is a connection whose first bytes were already read.
type prefixConn struct {
	net.Conn
	read []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.read) > 0 {
		n := copy(p, c.read)
		c.read = c.read[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite lets net/http half-close the connection before it closes it,
// as it does on a bare *net.TCPConn.
func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// acceptLean accepts connections on ln until it is closed and serves each
// on the lean path in a goroutine, or hands it to h when s.maxLean are
// being read: the lean path where raw sockets are not (lean_linux.go).
// conns counts the lean connections under way.
func (s *Server) acceptLean(ctx context.Context, ln net.Listener, h *handoff, conns *sync.WaitGroup) error {
	slots := make(chan struct{}, s.maxLean)
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: back off and retry,
			// as net/http does, rather than spin or stop serving.
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn().Err(err).Dur("retry_in", delay).Msg("tracker accept")
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		delay = 0
		ip := connIP(c)
		if !s.conns.acquire(ip) {
			c.Close() // over Config.MaxConnsPerIP or MaxConns
			continue
		}
		c = s.conns.counted(c, ip)
		select {
		case slots <- struct{}{}:
		default:
			go h.pass(c, nil)
			continue
		}
		conns.Go(func() {
			defer func() { <-slots }()
			s.serveLean(ctx, c, h)
		})
	}
}

// leanBufs holds the lean path's read buffers.
var leanBufs = sync.Pool{New: func() any { return new([leanBufSize]byte) }}

// serveLean reads one request from c within half the read timeout, as
// net/http bounds headers, and answers it, or hands c to net/http.
func (s *Server) serveLean(ctx context.Context, c net.Conn, h *handoff) {
	buf := leanBufs.Get().(*[leanBufSize]byte)
	defer leanBufs.Put(buf)
	_ = c.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout / 2))
	var (
		n   int
		req leanRequest
		st  = leanMore
	)
	for st == leanMore {
		if n == len(buf) {
			st = leanHandoff // longer than the lean path reads
			break
		}
		m, err := c.Read(buf[n:])
		n += m
		if m > 0 {
			req, st = parseLean(buf[:n], s.parse.passkeys)
		}
		if err != nil && st == leanMore {
			c.Close() // the client hung up or was too slow
			return
		}
	}
	if st != leanHandoff && s.trustedProxy(connIP(c)) {
		st = leanHandoff // the client is named in headers only net/http reads
	}
	if st == leanHandoff {
		_ = c.SetReadDeadline(time.Time{})
		h.pass(c, bytes.Clone(buf[:n]))
		return
	}
	defer c.Close()
	sc := s.bufs.Get().(*scratch)
	defer s.bufs.Put(sc)
	b := s.leanReply(ctx, sc, &req, connIP(c))
	_ = c.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	// A failed write means the client hung up: nothing to do.
	_, _ = c.Write(b)
}

// leanReply answers req from a client at remote: the whole HTTP reply, in
// sc.head.
func (s *Server) leanReply(ctx context.Context, sc *scratch, req *leanRequest, remote netip.Addr) (reply []byte) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error().Interface("panic", v).Bytes("stack", debug.Stack()).Str("path", tracker.MaskURL(req.target())).
				Msg("tracker handler panicked")
			s.metrics.failures.WithLabelValues("internal").Inc()
			sc.head = appendLeanReply(sc.head[:0], req.http10, appendFailure(nil, genericReason))
			reply = sc.head
		}
	}()
	if req.scrape {
		sc.out = s.scrapeReply(ctx, sc.out[:0], req.query, remote, req.passkey)
	} else {
		sc.out = s.announceReply(ctx, sc, req.query, remote, req.passkey)
	}
	sc.head = appendLeanReply(sc.head[:0], req.http10, sc.out)
	return sc.head
}

// appendLeanReply appends a 200 reply with body, with the headers net/http
// would send.
func appendLeanReply(b []byte, http10 bool, body []byte) []byte {
	if http10 {
		b = append(b, "HTTP/1.0 200 OK\r\n"...)
	} else {
		b = append(b, "HTTP/1.1 200 OK\r\n"...)
	}
	b = append(b, "Cache-Control: no-store\r\nConnection: close\r\nContent-Type: text/plain\r\nDate: "...)
	b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

// connIP is the IP of c's peer as remoteIP reads it from net/http's
// RemoteAddr: an IPv4 address in 4 bytes.
func connIP(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}
