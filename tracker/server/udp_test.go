package server

import (
	"context"
	"encoding/binary"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"swarm/metainfo"
	"swarm/tracker"
)

// udpTest is a Server with a settable clock and one UDP worker, driven
// datagram by datagram without a socket.
type udpTest struct {
	tb  testing.TB
	s   *Server
	w   *udpWorker
	now time.Time
}

func newUDPTest(tb testing.TB, cfg Config) *udpTest {
	tb.Helper()
	u := &udpTest{tb: tb, now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg.Now = func() time.Time { return u.now }
	cfg.Seed = 7
	if cfg.Logger == nil {
		l := zerolog.New(zerolog.NewTestWriter(tb))
		cfg.Logger = &l
	}
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	u.s, u.w = s, s.newUDPWorker(context.Background())
	return u
}

// send hands b to the worker as a datagram from from and returns a copy of
// the reply, nil for none.
func (u *udpTest) send(b []byte, from string) []byte {
	out := u.w.handle(b, netip.MustParseAddrPort(from))
	if out == nil {
		return nil
	}
	return append([]byte(nil), out...)
}

func udpConnectReq(txID uint32) []byte {
	b := binary.BigEndian.AppendUint64(nil, udpProtocolID)
	b = binary.BigEndian.AppendUint32(b, udpConnect)
	return binary.BigEndian.AppendUint32(b, txID)
}

// connect returns the connection id the tracker gives from.
func (u *udpTest) connect(from string) uint64 {
	u.tb.Helper()
	r := u.send(udpConnectReq(77), from)
	if len(r) != 16 || binary.BigEndian.Uint32(r) != udpConnect || binary.BigEndian.Uint32(r[4:]) != 77 {
		u.tb.Fatalf("connect from %s: reply %x, want a 16-byte connect reply to transaction 77", from, r)
	}
	return binary.BigEndian.Uint64(r[8:])
}

// udpAnn is an announce datagram's fields.
type udpAnn struct {
	connID               uint64
	hash                 metainfo.Hash
	peer                 byte // last byte of the peer id
	downloaded, left, up int64
	event, ip, key       uint32
	numWant              int32
	port                 uint16
	options              []byte
}

func (a udpAnn) bytes() []byte {
	b := binary.BigEndian.AppendUint64(nil, a.connID)
	b = binary.BigEndian.AppendUint32(b, udpAnnounce)
	b = binary.BigEndian.AppendUint32(b, 1234)
	b = append(b, a.hash[:]...)
	id := [20]byte{19: a.peer}
	b = append(b, id[:]...)
	for _, n := range []int64{a.downloaded, a.left, a.up} {
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	for _, n := range []uint32{a.event, a.ip, a.key, uint32(a.numWant)} {
		b = binary.BigEndian.AppendUint32(b, n)
	}
	b = binary.BigEndian.AppendUint16(b, a.port)
	return append(b, a.options...)
}

// udpResult is a parsed reply: an announce's counts and peers, or an error.
type udpResult struct {
	interval, leechers, seeders uint32
	peers                       []netip.AddrPort
	err                         string
}

func (u *udpTest) announce(a udpAnn, from string) udpResult {
	u.tb.Helper()
	if a.connID == 0 {
		a.connID = u.connect(from)
	}
	r := u.send(a.bytes(), from)
	if len(r) < 8 || binary.BigEndian.Uint32(r[4:]) != 1234 {
		u.tb.Fatalf("announce from %s: reply %x, want one to transaction 1234", from, r)
	}
	switch binary.BigEndian.Uint32(r) {
	case udpError:
		return udpResult{err: string(r[8:])}
	case udpAnnounce:
	default:
		u.tb.Fatalf("announce from %s: reply %x", from, r)
	}
	res := udpResult{interval: binary.BigEndian.Uint32(r[8:]), leechers: binary.BigEndian.Uint32(r[12:]), seeders: binary.BigEndian.Uint32(r[16:])}
	size := 6
	if netip.MustParseAddrPort(from).Addr().Unmap().Is6() {
		size = 18
	}
	peers := r[20:]
	if len(peers)%size != 0 {
		u.tb.Fatalf("announce from %s: %d bytes of peers, not a multiple of %d", from, len(peers), size)
	}
	for ; len(peers) > 0; peers = peers[size:] {
		ip, _ := netip.AddrFromSlice(peers[:size-2])
		res.peers = append(res.peers, netip.AddrPortFrom(ip, binary.BigEndian.Uint16(peers[size-2:])))
	}
	return res
}

// counterValue reads a counter.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

var udpHash = metainfo.Hash{0xda, 0x7a}

func TestUDPAnnounceSharesSwarmsWithHTTP(t *testing.T) {
	u := newUDPTest(t, Config{Interval: 90 * time.Second})
	// A seed over HTTP, a leecher over UDP: one swarm.
	req, _ := parseAnnounce("info_hash="+strings.Repeat("%da%7a", 1)+strings.Repeat("%00", 18)+
		"&peer_id=aaaaaaaaaaaaaaaaaaaa&port=7000&uploaded=0&downloaded=0&left=0", netip.MustParseAddr("10.0.0.1"), u.s.parse)
	var rp reply
	if err := u.s.announce(context.Background(), &req, req.Addr.Addr(), &rp); err != nil {
		t.Fatal(err)
	}
	got := u.announce(udpAnn{hash: udpHash, peer: 2, left: 100, event: 2, numWant: -1, port: 7001}, "10.0.0.2:5555")
	if got.err != "" || got.interval != 90 || got.seeders != 1 || got.leechers != 1 {
		t.Fatalf("UDP announce = %+v, want interval 90, 1 seeder, 1 leecher", got)
	}
	if want := netip.MustParseAddrPort("10.0.0.1:7000"); len(got.peers) != 1 || got.peers[0] != want {
		t.Fatalf("UDP announce peers = %v, want [%v]", got.peers, want)
	}
	if n := counterValue(u.s.metrics.byEvent[tracker.EventStarted]); n != 1 {
		t.Errorf("announces_total{event=started} = %v, want 1", n)
	}
}

// TestUDPConnectionIDs: an id is good from the address it was given to, for
// the minute it was made and the next, and a datagram without a good id
// gets no reply at all.
func TestUDPConnectionIDs(t *testing.T) {
	u := newUDPTest(t, Config{})
	const from = "192.0.2.1:6881"
	id := u.connect(from)
	if id == u.connect("192.0.2.2:6881") {
		t.Fatal("two addresses got the same connection id")
	}
	if id != u.connect("192.0.2.1:1") {
		t.Fatal("one address got two connection ids in one minute (the port must not matter)")
	}
	ann := udpAnn{connID: id, hash: udpHash, peer: 1, left: 1, numWant: 10, port: 6881}
	if r := u.announce(ann, from); r.err != "" {
		t.Fatalf("announce with a fresh id: %q", r.err)
	}
	if r := u.send(ann.bytes(), "192.0.2.2:6881"); r != nil {
		t.Fatalf("another address's id: reply %x, want none", r)
	}
	forged := ann
	forged.connID ^= 1
	if r := u.send(forged.bytes(), from); r != nil {
		t.Fatalf("forged id: reply %x, want none", r)
	}
	u.now = u.now.Add(119 * time.Second)
	if r := u.announce(ann, from); r.err != "" {
		t.Fatalf("announce with an id 119 s old: %q", r.err)
	}
	u.now = u.now.Add(time.Second)
	if r := u.send(ann.bytes(), from); r != nil {
		t.Fatalf("id 120 s old: reply %x, want none", r)
	}
	if got := counterValue(u.s.metrics.udpDropped[dropConnID]); got != 3 {
		t.Errorf("udp_dropped_total{reason=connection_id} = %v, want 3", got)
	}
}

func TestUDPDropsDatagramsWithoutReply(t *testing.T) {
	u := newUDPTest(t, Config{})
	const from = "192.0.2.1:6881"
	badProto := udpConnectReq(1)
	badProto[0] ^= 1
	unknown := binary.BigEndian.AppendUint64(nil, u.connect(from))
	unknown = binary.BigEndian.AppendUint32(unknown, 9)
	unknown = binary.BigEndian.AppendUint32(unknown, 1)
	for _, tc := range []struct {
		name string
		b    []byte
		why  udpDrop
	}{
		{"empty", nil, dropShort},
		{"15 bytes", make([]byte, 15), dropShort},
		{"connect without the protocol id", badProto, dropProtocolID},
		{"unknown action", unknown, dropAction},
	} {
		if r := u.send(tc.b, from); r != nil {
			t.Errorf("%s: reply %x, want none", tc.name, r)
		}
		if got := counterValue(u.s.metrics.udpDropped[tc.why]); got == 0 {
			t.Errorf("%s: udp_dropped_total{reason=%s} not counted", tc.name, dropLabels[tc.why])
		}
	}
}

// TestUDPRefusals: a request with a good connection id that the tracker
// refuses gets an error reply with the reason HTTP gives.
func TestUDPRefusals(t *testing.T) {
	const from = "192.0.2.1:6881"
	ok := udpAnn{hash: udpHash, peer: 1, left: 1, numWant: -1, port: 6881}
	with := func(f func(*udpAnn)) udpAnn { a := ok; f(&a); return a }
	for _, tc := range []struct {
		name string
		cfg  Config
		a    udpAnn
		want string
	}{
		{"port 0", Config{}, with(func(a *udpAnn) { a.port = 0 }), "port must be a number from 1 to 65535, got 0"},
		{"unknown event", Config{}, with(func(a *udpAnn) { a.event = 4 }), "unknown event 4"},
		{"negative left", Config{}, with(func(a *udpAnn) { a.left = -1 }), "left is negative: -1"},
		{"short announce", Config{}, udpAnn{}, "announce of 97 bytes is shorter than 98"},
		{"not on the allow list", Config{Allow: &HashList{}}, ok, errNotAllowed.reason},
		{"full", Config{MaxSwarms: 1}, with(func(a *udpAnn) { a.hash = metainfo.Hash{1} }), errFull.reason},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUDPTest(t, tc.cfg)
			if tc.cfg.MaxSwarms == 1 {
				if r := u.announce(ok, "192.0.2.9:1"); r.err != "" {
					t.Fatal(r.err)
				}
			}
			var got string
			if tc.name == "short announce" {
				b := with(func(a *udpAnn) { a.connID = u.connect(from) }).bytes()
				r := u.send(b[:97], from)
				if len(r) < 8 || binary.BigEndian.Uint32(r) != udpError {
					t.Fatalf("reply %x, want an error", r)
				}
				got = string(r[8:])
			} else {
				got = u.announce(tc.a, from).err
			}
			if got != tc.want {
				t.Errorf("error reply %q, want %q", got, tc.want)
			}
		})
	}
}

// TestUDPNumWantCapped: a UDP reply holds at most udpMaxPeers peers,
// whatever MaxNumWant allows, so that it stays one small datagram.
func TestUDPNumWantCapped(t *testing.T) {
	u := newUDPTest(t, Config{MaxNumWant: 1000})
	for i := range 250 {
		u.announce(udpAnn{hash: udpHash, peer: byte(i), left: 1, port: uint16(1000 + i)}, "[2001:db8::1]:1")
	}
	got := u.announce(udpAnn{hash: udpHash, peer: 1, left: 1, numWant: 1000, port: 9}, "[2001:db8::2]:1")
	if len(got.peers) != udpMaxPeers {
		t.Errorf("numwant 1000 with MaxNumWant 1000: %d peers, want %d", len(got.peers), udpMaxPeers)
	}
}

func TestUDPRateLimit(t *testing.T) {
	u := newUDPTest(t, Config{IPRate: 1, IPBurst: 2})
	a := udpAnn{hash: udpHash, peer: 1, left: 1, numWant: -1, port: 6881}
	var got []string
	for range 3 {
		got = append(got, u.announce(a, "192.0.2.1:6881").err)
	}
	if want := []string{"", "", errIPRate.reason}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("three announces at once with a burst of 2: errors %q, want %q", got, want)
	}
}

// TestUDPFamilies: a client gets peers of its own address family, in the
// size BEP 15 gives it (6 bytes over IPv4, 18 over IPv6); an IPv4 client on
// a dual-stack socket (mapped address) counts as IPv4.
func TestUDPFamilies(t *testing.T) {
	withRedis(t, func(t *testing.T, redis string) { testUDPFamilies(t, Config{Redis: redis}) })
}

func testUDPFamilies(t *testing.T, cfg Config) {
	u := newUDPTest(t, cfg)
	for i, from := range []string{"10.0.0.1:1", "[::ffff:10.0.0.2]:1", "[2001:db8::1]:1", "[2001:db8::2]:1"} {
		u.announce(udpAnn{hash: udpHash, peer: byte(i), left: 1, numWant: 0, port: uint16(7000 + i)}, from)
	}
	got := u.announce(udpAnn{hash: udpHash, peer: 9, left: 1, numWant: 50, port: 7009}, "[2001:db8::9]:1")
	want := []netip.AddrPort{netip.MustParseAddrPort("[2001:db8::1]:7002"), netip.MustParseAddrPort("[2001:db8::2]:7003")}
	if len(got.peers) != 2 || !(got.peers[0] == want[0] && got.peers[1] == want[1] || got.peers[0] == want[1] && got.peers[1] == want[0]) {
		t.Errorf("IPv6 client got %v, want %v in any order", got.peers, want)
	}
	if got.leechers != 5 {
		t.Errorf("leechers = %d, want 5 (both families)", got.leechers)
	}
	got = u.announce(udpAnn{hash: udpHash, peer: 8, left: 1, numWant: 50, port: 7008}, "10.0.0.8:1")
	if len(got.peers) != 2 || !got.peers[0].Addr().Is4() || !got.peers[1].Addr().Is4() {
		t.Errorf("IPv4 client got %v, want the 2 IPv4 peers", got.peers)
	}
}

func TestUDPScrape(t *testing.T) {
	withRedis(t, func(t *testing.T, redis string) { testUDPScrape(t, Config{MaxScrapeHashes: 3, Redis: redis}) })
}

func testUDPScrape(t *testing.T, cfg Config) {
	u := newUDPTest(t, cfg)
	const from = "192.0.2.1:6881"
	u.announce(udpAnn{hash: udpHash, peer: 1, left: 0, port: 1}, from)
	u.announce(udpAnn{hash: udpHash, peer: 2, left: 5, port: 2}, from)
	scrape := func(hashes ...metainfo.Hash) []byte {
		b := binary.BigEndian.AppendUint64(nil, u.connect(from))
		b = binary.BigEndian.AppendUint32(b, udpScrape)
		b = binary.BigEndian.AppendUint32(b, 99)
		for _, h := range hashes {
			b = append(b, h[:]...)
		}
		return u.send(b, from)
	}
	r := scrape(udpHash, metainfo.Hash{1}, udpHash)
	want := []uint32{udpScrape, 99, 1, 0, 1, 0, 0, 0, 1, 0, 1}
	if len(r) != 4*len(want) {
		t.Fatalf("scrape reply %x, want %d bytes", r, 4*len(want))
	}
	for i, w := range want {
		if got := binary.BigEndian.Uint32(r[4*i:]); got != w {
			t.Fatalf("scrape reply word %d = %d, want %d (reply %x)", i, got, w, r)
		}
	}
	for _, tc := range []struct {
		hashes []metainfo.Hash
		want   string
	}{
		{nil, "missing info_hash (full scrapes are not served)"},
		{make([]metainfo.Hash, 4), "more than 3 info_hash parameters"},
	} {
		r := scrape(tc.hashes...)
		if len(r) < 8 || binary.BigEndian.Uint32(r) != udpError || string(r[8:]) != tc.want {
			t.Errorf("scrape of %d hashes: reply %q, want error %q", len(tc.hashes), r, tc.want)
		}
	}
}

// passkeyHook records the passkeys it sees and refuses any but "good".
type passkeyHook struct {
	mu   sync.Mutex
	seen []string
}

func (h *passkeyHook) BeforeAnnounce(_ context.Context, req *AnnounceRequest) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen = append(h.seen, req.Passkey)
	if req.Passkey != "good" {
		return ClientError("unknown passkey")
	}
	return nil
}

func (h *passkeyHook) BeforeScrape(context.Context, *ScrapeRequest) error {
	return ClientError("no scrapes")
}

// TestUDPPasskeyFromURLData: with a Hook, the passkey comes from the BEP 41
// URL data, in either form HTTP takes.
func TestUDPPasskeyFromURLData(t *testing.T) {
	hook := &passkeyHook{}
	u := newUDPTest(t, Config{Hook: hook})
	opt := func(parts ...string) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, udpOptURLData, byte(len(p)))
			b = append(b, p...)
		}
		return append(b, udpOptNOP, udpOptEnd, udpOptURLData, 3, 'x', 'y', 'z')
	}
	for _, tc := range []struct {
		name    string
		options []byte
		passkey string
		err     string
	}{
		{"path", opt("/good/announce"), "good", ""},
		{"split over two options", opt("/go", "od/announce"), "good", ""},
		{"query", opt("/announce?x=1&pass%6bey=good"), "good", ""},
		{"other passkey", opt("/bad/announce"), "bad", "unknown passkey"},
		{"none", nil, "", "unknown passkey"},
		{"cut short", []byte{udpOptURLData, 200, '/'}, "", "unknown passkey"},
	} {
		a := udpAnn{hash: udpHash, peer: 1, left: 1, port: 1, options: tc.options}
		got := u.announce(a, "192.0.2.1:1").err
		hook.mu.Lock()
		seen := hook.seen[len(hook.seen)-1]
		hook.mu.Unlock()
		if got != tc.err || seen != tc.passkey {
			t.Errorf("%s: hook saw passkey %q, reply error %q; want %q, %q", tc.name, seen, got, tc.passkey, tc.err)
		}
	}
}

// TestUDPHoldsNothingPerClient: connecting and announcing allocate nothing
// once the worker's buffers have grown, so no state is kept per client (the
// registry's swarm entry aside, which an announce to a known swarm by a
// known peer does not add either).
func TestUDPHoldsNothingPerClient(t *testing.T) {
	u := newUDPTest(t, Config{})
	from := netip.MustParseAddrPort("192.0.2.1:6881")
	a := udpAnn{hash: udpHash, peer: 1, left: 1, numWant: 50, port: 6881, connID: u.connect(from.String())}
	for i := range 60 {
		u.announce(udpAnn{hash: udpHash, peer: byte(i), left: 1, port: uint16(100 + i)}, "10.0.0.1:1")
	}
	conn, ann := udpConnectReq(5), a.bytes()
	n := 0
	allocs := testing.AllocsPerRun(1000, func() {
		// A new client address each time, as a flood of strangers.
		n++
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(n >> 8), byte(n)}), 1)
		if u.w.handle(conn, src) == nil || u.w.handle(ann, from) == nil {
			t.Fatal("no reply")
		}
	})
	if allocs != 0 {
		t.Errorf("a connect and an announce allocate %v times, want 0", allocs)
	}
}
