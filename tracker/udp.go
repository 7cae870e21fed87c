package tracker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of the UDP fields of Client.
const (
	// DefaultUDPRetryInterval is the wait for a UDP tracker's reply before the
	// first retransmission. BEP 15 says 15 s, doubling; that leaves a user
	// (and the Announcer's 30 s attempt timeout) with one try.
	DefaultUDPRetryInterval = 2 * time.Second
	// DefaultUDPConnIDLifetime is how long a connection id is reused: one
	// minute (BEP 15).
	DefaultUDPConnIDLifetime = time.Minute
)

// The UDP tracker protocol (BEP 15).
const (
	udpProtocolID = 0x41727101980

	udpActionConnect  = 0
	udpActionAnnounce = 1
	udpActionError    = 3

	udpConnectLen         = 16 // a connect request, and a connect reply
	udpAnnounceLen        = 98 // an announce request without options
	udpAnnounceHeaderLen  = 20 // an announce reply before its peers
	udpErrorHeaderLen     = 8  // an error reply before its message
	udpMaxReplyLen        = 2048
	udpMaxURLDataLen      = 2048
	udpMaxRetransmissions = 8  // 2+4+…+512 s: the context ends it first
	udpMaxStrayReplies    = 64 // ignored datagrams per wait before giving up

	// BEP 41 option types.
	udpOptionEnd     = 0x0
	udpOptionURLData = 0x2
)

// errUDPConnIDExpired ends a wait for a reply to a request that carries a
// connection id which has expired meanwhile; the caller connects again.
var errUDPConnIDExpired = errors.New("connection id expired")

// udpConnID is a connection id and when it stops being valid.
type udpConnID struct {
	id      uint64
	expires time.Time
}

// udpReply is a parsed datagram from a UDP tracker.
type udpReply struct {
	action uint32
	txID   uint32
	connID uint64           // action connect
	resp   AnnounceResponse // action announce
	msg    string           // action error
}

// parseUDPReply decodes a tracker's datagram: a connect, announce or error
// reply (BEP 15). Announce peers are 6-byte entries, or 18-byte ones when
// ipv6 (the tracker was reached over IPv6); entries with port 0 are dropped
// and IPv4-mapped addresses unmapped. Other actions are an error.
func parseUDPReply(b []byte, ipv6 bool) (udpReply, error) {
	if len(b) < 8 {
		return udpReply{}, fmt.Errorf("udp reply of %d bytes is too short", len(b))
	}
	r := udpReply{
		action: binary.BigEndian.Uint32(b[0:4]),
		txID:   binary.BigEndian.Uint32(b[4:8]),
	}
	switch r.action {
	case udpActionConnect:
		if len(b) < udpConnectLen {
			return udpReply{}, fmt.Errorf("udp connect reply of %d bytes is too short", len(b))
		}
		r.connID = binary.BigEndian.Uint64(b[8:16])
	case udpActionAnnounce:
		if len(b) < udpAnnounceHeaderLen {
			return udpReply{}, fmt.Errorf("udp announce reply of %d bytes is too short", len(b))
		}
		r.resp = AnnounceResponse{
			Interval:   seconds(int64(int32(binary.BigEndian.Uint32(b[8:12])))),
			Incomplete: max(-1, int64(int32(binary.BigEndian.Uint32(b[12:16])))),
			Complete:   max(-1, int64(int32(binary.BigEndian.Uint32(b[16:20])))),
		}
		parse := ParseCompactIPv4
		if ipv6 {
			parse = ParseCompactIPv6
		}
		peers, err := parse(b[udpAnnounceHeaderLen:])
		if err != nil {
			return udpReply{}, fmt.Errorf("udp announce reply peers: %w", err)
		}
		r.resp.Peers = appendUsable(nil, peers)
	case udpActionError:
		r.msg = strings.ToValidUTF8(string(b[udpErrorHeaderLen:]), "\uFFFD")
	default:
		return udpReply{}, fmt.Errorf("udp reply with unknown action %d", r.action)
	}
	return r, nil
}

// appendUDPAnnounce appends an announce request (BEP 15) to dst, followed by
// urlData as BEP 41 URLData options and an EndOfOptions when urlData is not
// empty.
func appendUDPAnnounce(dst []byte, connID uint64, txID uint32, req AnnounceRequest, urlData string) []byte {
	dst = binary.BigEndian.AppendUint64(dst, connID)
	dst = binary.BigEndian.AppendUint32(dst, udpActionAnnounce)
	dst = binary.BigEndian.AppendUint32(dst, txID)
	dst = append(dst, req.InfoHash[:]...)
	dst = append(dst, req.PeerID[:]...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(max(0, req.Downloaded)))
	dst = binary.BigEndian.AppendUint64(dst, uint64(max(0, req.Left)))
	dst = binary.BigEndian.AppendUint64(dst, uint64(max(0, req.Uploaded)))
	dst = binary.BigEndian.AppendUint32(dst, udpEvent(req.Event))
	dst = binary.BigEndian.AppendUint32(dst, 0) // IP: the sender's
	dst = binary.BigEndian.AppendUint32(dst, udpKey(req.Key))
	numWant := int32(-1) // the tracker's default
	if req.NumWant > 0 {
		numWant = int32(min(req.NumWant, math.MaxInt32))
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(numWant))
	dst = binary.BigEndian.AppendUint16(dst, req.Port)
	if urlData == "" {
		return dst
	}
	for len(urlData) > 0 {
		n := min(len(urlData), 255)
		dst = append(dst, udpOptionURLData, byte(n))
		dst = append(dst, urlData[:n]...)
		urlData = urlData[n:]
	}
	return append(dst, udpOptionEnd)
}

// udpEvent maps an event to its BEP 15 number, which differs from the order
// of the Event constants.
func udpEvent(e Event) uint32 {
	switch e {
	case EventCompleted:
		return 1
	case EventStarted:
		return 2
	case EventStopped:
		return 3
	}
	return 0
}

// udpKey turns the request's key into BEP 15's 32-bit key: a key of up to 8
// hex digits (what session sends) is that number, any other string its
// FNV-1a hash, so that the same key always gives the same number.
func udpKey(key string) uint32 {
	if key == "" {
		return 0
	}
	if len(key) <= 8 {
		if n, err := strconv.ParseUint(key, 16, 32); err == nil {
			return uint32(n)
		}
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return h.Sum32()
}

// udpTracker is a parsed udp:// announce URL.
type udpTracker struct {
	host, port string
	// urlData is the path and query, sent in the BEP 41 URLData option.
	urlData string
}

func parseUDPURL(announceURL string) (udpTracker, error) {
	u, err := url.Parse(announceURL)
	if err != nil {
		return udpTracker{}, fmt.Errorf("announce url %q: %w", MaskURL(announceURL), StripURL(err))
	}
	if u.Scheme != "udp" {
		return udpTracker{}, fmt.Errorf("announce url %q: scheme %q is not udp", MaskURL(announceURL), u.Scheme)
	}
	t := udpTracker{host: u.Hostname(), port: u.Port()}
	if t.host == "" || t.port == "" {
		return udpTracker{}, fmt.Errorf("announce url %q: want udp://host:port", MaskURL(announceURL))
	}
	if p, err := strconv.ParseUint(t.port, 10, 16); err != nil || p == 0 {
		return udpTracker{}, fmt.Errorf("announce url %q: bad port %q", MaskURL(announceURL), t.port)
	}
	t.urlData = u.EscapedPath()
	if u.RawQuery != "" || u.ForceQuery {
		t.urlData += "?" + u.RawQuery
	}
	if len(t.urlData) > udpMaxURLDataLen {
		return udpTracker{}, fmt.Errorf("announce url %q: path and query longer than %d bytes", MaskURL(announceURL), udpMaxURLDataLen)
	}
	return t, nil
}

// resolveUDP returns the tracker's address, preferring IPv4 when the name has
// both.
func (c *Client) resolveUDP(ctx context.Context, t udpTracker) (netip.AddrPort, error) {
	port, _ := strconv.ParseUint(t.port, 10, 16) // checked by parseUDPURL
	if addr, err := netip.ParseAddr(t.host); err == nil {
		return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
	}
	r := c.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", t.host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("resolve %s: %w", t.host, err)
	}
	var best netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is4() {
			best = a
			break
		}
		if !best.IsValid() {
			best = a
		}
	}
	if !best.IsValid() {
		return netip.AddrPort{}, fmt.Errorf("resolve %s: no address", t.host)
	}
	return netip.AddrPortFrom(best.WithZone(""), uint16(port)), nil
}

// announceUDP sends req to a udp:// tracker (BEP 15, with BEP 41's URLData).
func (c *Client) announceUDP(ctx context.Context, announceURL string, req AnnounceRequest) (AnnounceResponse, error) {
	resp, err := c.announceUDPOnce(ctx, announceURL, req)
	if err != nil {
		if fe := (*FailureError)(nil); errors.As(err, &fe) {
			fe.Reason = MaskEchoed(announceURL, fe.Reason)
		}
		return AnnounceResponse{}, fmt.Errorf("announce to %s: %w", MaskURL(announceURL), err)
	}
	return resp, nil
}

func (c *Client) announceUDPOnce(ctx context.Context, announceURL string, req AnnounceRequest) (AnnounceResponse, error) {
	t, err := parseUDPURL(announceURL)
	if err != nil {
		return AnnounceResponse{}, err
	}
	addr, err := c.resolveUDP(ctx, t)
	if err != nil {
		return AnnounceResponse{}, err
	}
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return AnnounceResponse{}, err
	}
	defer conn.Close()
	// Reads ignore ctx: a deadline in the past wakes a blocked read.
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	x := &udpExchange{c: c, conn: conn, addr: addr, buf: make([]byte, udpMaxReplyLen+1)}

	// A cached id may be stale (the tracker restarted, or its lifetime is
	// shorter): an error reply to it, or silence until the first
	// retransmission is due (opentracker drops requests with an unknown id),
	// is answered by connecting again. An id that expires while the tracker
	// stays silent is renewed too.
	for round := 0; round < 4; round++ {
		id, cached, err := x.connID(ctx)
		if err != nil {
			return AnnounceResponse{}, err
		}
		pkt := appendUDPAnnounce(make([]byte, 0, udpAnnounceLen+len(t.urlData)+16), id.id, rand.Uint32(), req, t.urlData)
		r, err := x.roundTrip(ctx, pkt, udpActionAnnounce, id.expires, cached)
		if errors.Is(err, errUDPConnIDExpired) {
			c.forgetConnID(addr, id.id)
			continue
		}
		if err != nil {
			return AnnounceResponse{}, err
		}
		if r.action == udpActionError {
			if cached {
				c.forgetConnID(addr, id.id)
				continue
			}
			return AnnounceResponse{}, &FailureError{Reason: r.msg}
		}
		return r.resp, nil
	}
	return AnnounceResponse{}, errors.New("connection id keeps expiring")
}

// udpExchange is one announce attempt's socket, connected to the tracker.
type udpExchange struct {
	c    *Client
	conn *net.UDPConn
	addr netip.AddrPort
	buf  []byte // udpMaxReplyLen+1 bytes: a longer datagram shows as truncated
}

// connID returns a cached connection id for the tracker, or connects to get
// one; cached says which.
func (x *udpExchange) connID(ctx context.Context) (id udpConnID, cached bool, err error) {
	if id, ok := x.c.cachedConnID(x.addr); ok {
		return id, true, nil
	}
	pkt := make([]byte, 0, udpConnectLen)
	pkt = binary.BigEndian.AppendUint64(pkt, udpProtocolID)
	pkt = binary.BigEndian.AppendUint32(pkt, udpActionConnect)
	pkt = binary.BigEndian.AppendUint32(pkt, rand.Uint32())
	start := x.c.now()
	r, err := x.roundTrip(ctx, pkt, udpActionConnect, time.Time{}, false)
	if err != nil {
		return udpConnID{}, false, fmt.Errorf("connect: %w", err)
	}
	if r.action == udpActionError {
		return udpConnID{}, false, fmt.Errorf("connect: %w", &FailureError{Reason: r.msg})
	}
	// The lifetime counts from the request: the tracker's clock started
	// before the reply arrived.
	id = udpConnID{id: r.connID, expires: start.Add(x.c.udpConnIDLifetime())}
	x.c.storeConnID(x.addr, id)
	return id, false, nil
}

// roundTrip sends pkt (whose bytes 12:16 are its transaction id) and waits
// for the reply with that transaction id and action want or error,
// retransmitting after the retry interval, doubled each time. Datagrams from
// elsewhere, too short to read, with another transaction id or another
// action are ignored. A matching reply that does not parse is an error. When
// expires is not zero and passes before a retransmission, or when sendOnce and
// a retransmission is due, it returns errUDPConnIDExpired.
func (x *udpExchange) roundTrip(ctx context.Context, pkt []byte, want uint32, expires time.Time, sendOnce bool) (udpReply, error) {
	txID := binary.BigEndian.Uint32(pkt[12:16])
	wait := x.c.udpRetryInterval()
	for i := range udpMaxRetransmissions + 1 {
		if err := ctx.Err(); err != nil {
			return udpReply{}, context.Cause(ctx)
		}
		if !expires.IsZero() && !x.c.now().Before(expires) || sendOnce && i > 0 {
			return udpReply{}, errUDPConnIDExpired
		}
		if _, err := x.conn.Write(pkt); err != nil {
			return udpReply{}, err
		}
		r, ok, err := x.await(ctx, txID, want, time.Now().Add(wait))
		if ok || err != nil {
			return r, err
		}
		wait *= 2
	}
	return udpReply{}, fmt.Errorf("no reply after %d retransmissions", udpMaxRetransmissions)
}

// await reads datagrams until the matching reply, the deadline or ctx's end.
// ok is false when the deadline passed: time to retransmit.
func (x *udpExchange) await(ctx context.Context, txID, want uint32, deadline time.Time) (r udpReply, ok bool, err error) {
	if err := x.conn.SetReadDeadline(deadline); err != nil {
		return udpReply{}, false, err
	}
	if ctx.Err() != nil { // AfterFunc may have run before the line above
		return udpReply{}, false, context.Cause(ctx)
	}
	for range udpMaxStrayReplies {
		n, from, err := x.conn.ReadFromUDPAddrPort(x.buf)
		if err != nil {
			if ctx.Err() != nil {
				return udpReply{}, false, context.Cause(ctx)
			}
			if ne, isNet := err.(net.Error); isNet && ne.Timeout() {
				return udpReply{}, false, nil
			}
			return udpReply{}, false, err
		}
		// The socket is connected, so the kernel already drops other
		// senders; check anyway.
		if from.Addr().Unmap() != x.addr.Addr() || from.Port() != x.addr.Port() || n < 8 {
			continue
		}
		b := x.buf[:n]
		action, id := binary.BigEndian.Uint32(b[0:4]), binary.BigEndian.Uint32(b[4:8])
		if id != txID || (action != want && action != udpActionError) {
			continue
		}
		if n > udpMaxReplyLen {
			return udpReply{}, false, fmt.Errorf("reply longer than %d bytes", udpMaxReplyLen)
		}
		r, err := parseUDPReply(b, x.addr.Addr().Is6())
		if err != nil {
			return udpReply{}, false, err
		}
		return r, true, nil
	}
	return udpReply{}, false, fmt.Errorf("%d stray datagrams while waiting for a reply", udpMaxStrayReplies)
}

func (c *Client) cachedConnID(addr netip.AddrPort) (udpConnID, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.connIDs[addr]
	if !ok || !c.now().Before(id.expires) {
		return udpConnID{}, false
	}
	return id, true
}

// storeConnID caches id for addr, and drops expired ids so that the cache
// holds no more than the trackers of the last minute.
func (c *Client) storeConnID(addr netip.AddrPort, id udpConnID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for a, old := range c.connIDs {
		if !now.Before(old.expires) {
			delete(c.connIDs, a)
		}
	}
	if c.connIDs == nil {
		c.connIDs = make(map[netip.AddrPort]udpConnID)
	}
	c.connIDs[addr] = id
}

// forgetConnID drops addr's cached id if it is still id (another announce
// may have replaced it meanwhile).
func (c *Client) forgetConnID(addr netip.AddrPort, id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.connIDs[addr]; ok && old.id == id {
		delete(c.connIDs, addr)
	}
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) udpRetryInterval() time.Duration {
	if c.UDPRetryInterval > 0 {
		return c.UDPRetryInterval
	}
	return DefaultUDPRetryInterval
}

func (c *Client) udpConnIDLifetime() time.Duration {
	if c.UDPConnIDLifetime > 0 {
		return c.UDPConnIDLifetime
	}
	return DefaultUDPConnIDLifetime
}

// isUDPURL reports whether announceURL has the udp scheme.
func isUDPURL(announceURL string) bool {
	return len(announceURL) >= 6 && strings.EqualFold(announceURL[:6], "udp://")
}
