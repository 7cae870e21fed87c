package utp

import (
	"context"
	"errors"
	"io"
	"math/bits"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
)

const (
	// maxPayload keeps a packet (header, a SACK, payload) within 1400
	// bytes, under the usual 1500-byte path MTU with room for tunnels.
	maxPayload = 1400 - headerLen - 6
	// recvWindow is how many bytes we buffer for the reader, in order or
	// not; it is the window we advertise.
	recvWindow = 1 << 20
	// sendBufSize is how many bytes Write takes beyond what is in flight
	// before it blocks, as a TCP send buffer does: a writer that counts
	// what it wrote as sent (a peer's request queue) must not wait on
	// the network for every byte.
	sendBufSize = 1 << 20
	// LEDBAT (RFC 6817, BEP 29): aim for 100 ms of queueing delay, grow
	// the window by at most 3000 bytes a round trip.
	target        = 100_000 // µs
	maxGainPerRTT = 3000
	minWindow     = maxPayload
	maxWindow     = 4 << 20
	initWindow    = 4 * maxPayload
	minRTO        = 500 * time.Millisecond
	initRTO       = time.Second
	maxSynTries   = 3
	maxDataTries  = 8
	// reorderLimit is how far past the next expected packet we keep
	// packets that came early.
	reorderLimit = recvWindow / maxPayload
	// maxEarlyTotal caps what all connections of a socket hold out of
	// order together, so many connections can't each fill recvWindow.
	maxEarlyTotal = 16 << 20
	// closeLinger bounds how long a closed connection keeps trying to
	// deliver what was written and its FIN.
	closeLinger = 20 * time.Second
	// maxSackLen is the longest SACK mask we read: 1024 packets, more
	// than maxWindow holds.
	maxSackLen = 128
)

var (
	errReset   = errors.New("utp: connection reset by peer")
	errTimeout = errors.New("utp: peer stopped answering")
)

type outPacket struct {
	typ        uint8
	seq        uint16
	payload    []byte
	sent       time.Time
	tries      int
	inFlight   bool // counted in Conn.inflight
	sacked     bool // the peer holds it (selective ack): not to be sent again
	fastResent bool
}

type early struct {
	typ     uint8
	payload []byte
}

// Conn is one uTP connection: a net.Conn.
type Conn struct {
	s              *Socket
	raddr          netip.AddrPort
	recvID, sendID uint16
	writeMu        sync.Mutex // one Write at a time, so writes don't interleave

	mu       sync.Mutex
	wake     chan struct{} // closed and replaced on every change a waiter may care about
	syn      bool          // our SYN is unanswered
	halfOpen bool          // we answered the peer's SYN; it has not yet shown it got our answer
	err      error         // the connection is dead
	closed   bool          // Close was called
	finSent  bool
	seq, ack uint16 // next seq we send; last seq received in order
	replyTS  uint32 // tsDiff for our next packet

	// sending
	sendBuf   []byte       // written, not yet in a packet
	unacked   []*outPacket // in seq order
	inflight  int          // payload bytes sent and not acknowledged
	cwnd      float64      // LEDBAT's window, bytes
	peerWnd   int
	lastMaxed time.Time // when inflight last reached the window
	dupAcks   int
	baseCur   uint32 // least delay seen this minute and the one before: the base delay
	basePrev  uint32
	baseSince time.Time
	rtt, rttv time.Duration
	rto       time.Duration
	timer     *time.Timer

	// receiving
	readBuf    []byte
	early      map[uint16]early
	earlyBytes int
	eof        bool // the peer's FIN came in order
	advertised int  // window in our last packet

	readDeadline, writeDeadline time.Time
}

func newConn(s *Socket, raddr netip.AddrPort, recvID, sendID uint16) *Conn {
	c := &Conn{s: s, raddr: raddr, recvID: recvID, sendID: sendID, wake: make(chan struct{}),
		cwnd: initWindow, peerWnd: recvWindow, rto: initRTO}
	c.timer = time.AfterFunc(time.Hour, c.onTimeout)
	c.timer.Stop()
	return c
}

// connect sends the SYN and waits for the answer; the caller fails c on error.
func (c *Conn) connect(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syn = true
	c.seq = 1
	c.queue(stSyn, nil)
	for c.syn && c.err == nil {
		if err := c.waitLocked(time.Time{}, ctx.Done()); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return c.err
}

// accepted answers the peer's SYN.
func (c *Conn) accepted(h header) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq = randUint16()
	c.ack = h.seq
	c.replyTS = nowMicros() - h.ts
	c.peerWnd = int(h.wnd)
	c.sendState()
	c.timer.Reset(halfOpenTimeout)
}

// header fills in what every packet we send carries.
func (c *Conn) header(typ uint8, seq uint16) header {
	wnd := max(recvWindow-len(c.readBuf)-c.earlyBytes, 0)
	c.advertised = wnd
	id := c.sendID
	if typ == stSyn {
		id = c.recvID
	}
	return header{typ: typ, connID: id, ts: nowMicros(), tsDiff: c.replyTS, wnd: uint32(wnd), seq: seq, ack: c.ack}
}

func (c *Conn) sendState() {
	h := c.header(stState, c.seq)
	if len(c.early) > 0 {
		h.sack = c.sackMask()
	}
	c.s.send(c.raddr, h, nil)
}

// sackMask has bit i set when seq ack+2+i came early.
func (c *Conn) sackMask() []byte {
	m := make([]byte, 4)
	for i := range 32 {
		if _, ok := c.early[c.ack+2+uint16(i)]; ok {
			m[i/8] |= 1 << (i % 8)
		}
	}
	return m
}

// queue sends a new packet and keeps it until it is acknowledged.
func (c *Conn) queue(typ uint8, payload []byte) {
	p := &outPacket{typ: typ, seq: c.seq, payload: payload}
	c.seq++
	c.unacked = append(c.unacked, p)
	c.transmit(p)
}

func (c *Conn) transmit(p *outPacket) {
	p.tries++
	p.sent = time.Now()
	if !p.inFlight {
		p.inFlight = true
		c.inflight += len(p.payload)
	}
	c.s.send(c.raddr, c.header(p.typ, p.seq), p.payload)
	if c.unacked[0] == p { // the timer runs for the oldest packet
		c.timer.Reset(c.rto)
	}
}

func (c *Conn) window() int { return min(int(c.cwnd), c.peerWnd) }

// packet handles one packet from the peer.
func (c *Conn) packet(h header, payload []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	if h.typ == stReset {
		// A RESET names (ack) the packet of ours it answers, as libutp and
		// libtorrent send it: one whose ack is not among our recent
		// numbers is blind and ignored (RFC 5961 does so for TCP).
		lo := c.seq
		if len(c.unacked) > 0 {
			lo = c.unacked[0].seq
		}
		if seqLess(h.ack, lo-16) || seqLess(c.seq, h.ack) {
			return
		}
		c.failLocked(errReset)
		return
	}
	if h.typ == stSyn { // the peer did not get our STATE
		c.sendState()
		return
	}
	if c.halfOpen {
		// Its first packet acknowledges the sequence number of our STATE
		// (libutp: one less): only who got that STATE knows it.
		if h.ack != c.seq-1 && h.ack != c.seq {
			return
		}
		c.halfOpen = false
		c.timer.Stop()
		if !c.s.established(c) {
			c.s.send(c.raddr, c.header(stReset, c.seq), nil)
			c.failLocked(net.ErrClosed)
			return
		}
	}
	c.replyTS = nowMicros() - h.ts
	c.peerWnd = int(h.wnd)
	if c.syn {
		if h.typ != stState {
			return
		}
		c.syn = false
		c.ack = h.seq - 1
		// Acknowledge the STATE, as TCP's third packet does: the acceptor
		// hands us to its Accept only on a packet that proves we got it,
		// and the application may not have anything to write yet.
		c.sendState()
	}
	c.acked(h)
	if h.typ == stData || h.typ == stFin {
		c.received(h, payload)
	}
	c.pump()
	c.broadcast()
}

// acked drops what the peer acknowledged and runs LEDBAT on it.
func (c *Conn) acked(h header) {
	now := time.Now()
	bytes := 0
	n := 0
	for _, p := range c.unacked {
		if seqLess(h.ack, p.seq) {
			break
		}
		n++
		if p.inFlight {
			c.inflight -= len(p.payload)
		}
		bytes += len(p.payload)
		if p.tries == 1 {
			c.sampleRTT(now.Sub(p.sent))
		}
	}
	c.unacked = c.unacked[n:]
	if n == 0 && h.typ == stState && len(c.unacked) > 0 && h.ack == c.unacked[0].seq-1 {
		c.dupAcks++
	} else if n > 0 {
		c.dupAcks = 0
	}
	// Packets the peer holds out of order: one pass over what is unacked.
	// A mask longer than any window we use is ignored, not walked.
	sacked := 0
	if len(h.sack) <= maxSackLen {
		for _, b := range h.sack {
			sacked += bits.OnesCount8(b)
		}
		for _, p := range c.unacked {
			i := int(p.seq - (h.ack + 2))
			if i >= len(h.sack)*8 || h.sack[i/8]&(1<<(i%8)) == 0 || p.sacked {
				continue
			}
			p.sacked = true
			if p.inFlight {
				p.inFlight = false
				c.inflight -= len(p.payload)
			}
			bytes += len(p.payload)
		}
	}
	if len(c.unacked) > 0 && (c.dupAcks >= 3 || sacked >= 3) && !c.unacked[0].fastResent {
		// Fast retransmit: the first packet is lost, later ones got through.
		p := c.unacked[0]
		p.fastResent = true
		c.cwnd = max(c.cwnd/2, minWindow)
		c.transmit(p)
	}
	if bytes > 0 {
		c.ledbat(bytes, h.tsDiff)
	}
	if n > 0 {
		if len(c.unacked) == 0 {
			c.timer.Stop()
		} else {
			c.timer.Reset(c.rto)
		}
	}
	if c.closed && c.finSent && len(c.unacked) == 0 {
		c.failLocked(net.ErrClosed) // our FIN is acknowledged: done
	}
}

func (c *Conn) sampleRTT(d time.Duration) {
	if c.rtt == 0 {
		c.rtt, c.rttv = d, d/2
	} else {
		delta := c.rtt - d
		if delta < 0 {
			delta = -delta
		}
		c.rttv += (delta - c.rttv) / 4
		c.rtt += (d - c.rtt) / 8
	}
	c.rto = max(c.rtt+4*c.rttv, minRTO)
}

// ledbat moves the window by how far the queueing delay our packets met
// (the peer's tsDiff over the least one seen) is from the target.
func (c *Conn) ledbat(bytes int, delay uint32) {
	now := time.Now()
	if delay != 0 {
		if now.Sub(c.baseSince) > time.Minute {
			c.basePrev, c.baseCur, c.baseSince = c.baseCur, delay, now
		}
		c.baseCur = min(c.baseCur, delay)
	}
	base := c.baseCur
	if c.basePrev != 0 {
		base = min(base, c.basePrev)
	}
	queued := int64(0)
	if delay != 0 && delay-base < 1<<31 {
		queued = int64(delay - base)
	}
	offTarget := float64(target-queued) / target
	windowFactor := float64(min(bytes, int(c.cwnd))) / float64(max(int(c.cwnd), bytes))
	gain := maxGainPerRTT * offTarget * windowFactor
	if gain > 0 && now.Sub(c.lastMaxed) > time.Second {
		gain = 0 // the window was not what held us back: don't grow it
	}
	c.cwnd = min(max(c.cwnd+gain, minWindow), maxWindow)
}

// received takes a DATA or FIN packet.
func (c *Conn) received(h header, payload []byte) {
	next := c.ack + 1
	switch {
	case h.seq == next:
		c.deliver(h.typ, payload)
		for {
			e, ok := c.early[c.ack+1]
			if !ok {
				break
			}
			delete(c.early, c.ack+1)
			c.earlyBytes -= len(e.payload)
			c.s.early.Add(-int64(len(e.payload)))
			c.deliver(e.typ, e.payload)
		}
	case seqLess(next, h.seq) && h.seq-next < reorderLimit && !c.eof && !c.closed:
		_, dup := c.early[h.seq]
		if !dup && c.earlyBytes+len(payload) <= recvWindow && c.s.early.Add(int64(len(payload))) <= maxEarlyTotal {
			if c.early == nil {
				c.early = map[uint16]early{}
			}
			c.early[h.seq] = early{h.typ, append([]byte(nil), payload...)}
			c.earlyBytes += len(payload)
		} else if !dup {
			c.s.early.Add(-int64(len(payload)))
		}
	}
	c.sendState()
}

func (c *Conn) deliver(typ uint8, payload []byte) {
	c.ack++
	if c.eof {
		return
	}
	if typ == stFin {
		c.eof = true
		return
	}
	if !c.closed {
		c.readBuf = append(c.readBuf, payload...)
	}
}

// pump sends, as the window allows, what a timeout left unsent, then
// what was written; then the FIN once Close was called and all is sent.
func (c *Conn) pump() {
	for _, p := range c.unacked {
		if p.inFlight || p.sacked {
			continue
		}
		if c.inflight > 0 && c.inflight+len(p.payload) > c.window() {
			c.lastMaxed = time.Now()
			return
		}
		c.transmit(p)
	}
	for len(c.sendBuf) > 0 {
		size := min(maxPayload, len(c.sendBuf))
		if c.inflight > 0 && c.inflight+size > c.window() {
			c.lastMaxed = time.Now()
			return
		}
		c.queue(stData, append([]byte(nil), c.sendBuf[:size]...))
		c.sendBuf = c.sendBuf[size:]
	}
	c.sendBuf = nil
	if c.closed && !c.finSent && c.err == nil {
		c.finSent = true
		c.queue(stFin, nil)
		// A FIN takes no sequence number of its own for what follows: our
		// STATEs after it carry its number, as libtorrent and libutp
		// expect (libtorrent drops packets numbered past a FIN).
		c.seq--
	}
}

func (c *Conn) onTimeout() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.halfOpen {
		c.failLocked(errHalfOpen)
		return
	}
	if c.err != nil || len(c.unacked) == 0 {
		return
	}
	p := c.unacked[0]
	limit := maxDataTries
	if p.typ == stSyn {
		limit = maxSynTries
	}
	if p.tries >= limit {
		c.failLocked(errTimeout)
		return
	}
	// Everything in flight is presumed lost: send again from the start
	// with the least window (LEDBAT on a timeout).
	c.cwnd = minWindow
	c.rto = min(2*c.rto, 30*time.Second)
	for _, q := range c.unacked {
		if q.inFlight {
			q.inFlight = false
			c.inflight -= len(q.payload)
		}
	}
	c.transmit(p)
	c.broadcast()
}

func (c *Conn) broadcast() {
	close(c.wake)
	c.wake = make(chan struct{})
}

// waitLocked waits, with c.mu held, for a change, the deadline or done.
func (c *Conn) waitLocked(deadline time.Time, done <-chan struct{}) error {
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	wake := c.wake
	c.mu.Unlock()
	select {
	case <-wake:
	case <-timeout:
	case <-done:
	}
	c.mu.Lock()
	return nil
}

func (c *Conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failLocked(err)
}

// dropEarly frees what came out of order: nobody will read it.
func (c *Conn) dropEarly() {
	c.s.early.Add(-int64(c.earlyBytes))
	c.early, c.earlyBytes = nil, 0
}

func (c *Conn) failLocked(err error) {
	if c.err != nil {
		return
	}
	c.err = err
	c.timer.Stop()
	c.dropEarly()
	c.s.remove(c)
	c.broadcast()
}

// Read reads what the peer sent, in order.
func (c *Conn) Read(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		switch {
		case c.closed:
			return 0, net.ErrClosed
		case len(c.readBuf) > 0:
			n := copy(b, c.readBuf)
			c.readBuf = c.readBuf[n:]
			if len(c.readBuf) == 0 {
				c.readBuf = nil
			}
			if c.advertised < recvWindow/2 && recvWindow-len(c.readBuf)-c.earlyBytes >= recvWindow/2 {
				c.sendState() // the window opened again: tell the peer
			}
			return n, nil
		case c.eof:
			return 0, io.EOF
		case c.err == errReset:
			return 0, syscall.ECONNRESET
		case c.err != nil:
			return 0, c.err
		}
		if err := c.waitLocked(c.readDeadline, nil); err != nil {
			return 0, err
		}
	}
}

// Write sends b, blocking while the window is full.
func (c *Conn) Write(b []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for n < len(b) {
		switch {
		case c.closed:
			return n, net.ErrClosed
		case c.err == errReset:
			return n, syscall.ECONNRESET
		case c.err != nil:
			return n, c.err
		}
		if room := sendBufSize - len(c.sendBuf); room > 0 {
			k := min(room, len(b)-n)
			c.sendBuf = append(c.sendBuf, b[n:n+k]...)
			n += k
			c.pump()
			continue
		}
		if err := c.waitLocked(c.writeDeadline, nil); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Close sends a FIN after what was written; it does not wait for that to
// be acknowledged.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	c.closed = true
	c.readBuf = nil
	c.dropEarly()
	if c.err != nil {
		return nil
	}
	// Give up on the peer's acknowledgements after closeLinger.
	time.AfterFunc(closeLinger, func() { c.fail(errTimeout) })
	if c.syn {
		// The peer never answered: nothing to finish.
		c.s.send(c.raddr, c.header(stReset, c.seq), nil)
		c.failLocked(net.ErrClosed)
		return nil
	}
	c.pump() // the FIN goes after what is still buffered
	c.broadcast()
	return nil
}

// LocalAddr is the UDP socket's address.
func (c *Conn) LocalAddr() net.Addr { return c.s.Addr() }

// RemoteAddr is the peer's UDP address.
func (c *Conn) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(c.raddr) }

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readDeadline, c.writeDeadline = t, t
	c.broadcast()
	return nil
}

// SetReadDeadline bounds Read.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readDeadline = t
	c.broadcast()
	return nil
}

// SetWriteDeadline bounds Write.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeDeadline = t
	c.broadcast()
	return nil
}

var epoch = time.Now()

// nowMicros is the clock our timestamps use; only differences matter.
func nowMicros() uint32 { return uint32(time.Since(epoch).Microseconds()) }
