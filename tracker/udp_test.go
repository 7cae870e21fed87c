package tracker_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"swarm/tracker"
)

// fakeUDPTracker answers on 127.0.0.1:0 with what handle returns for each
// datagram (n counts datagrams from 0); it records every datagram.
type fakeUDPTracker struct {
	conn *net.UDPConn
	port int

	mu   sync.Mutex // guards reqs
	reqs [][]byte
}

func startFakeUDPTracker(t testing.TB, handle func(n int, pkt []byte) [][]byte) *fakeUDPTracker {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeUDPTracker{conn: conn, port: conn.LocalAddr().(*net.UDPAddr).Port}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for n := 0; n < 1000; n++ {
			m, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return // closed by the cleanup
			}
			pkt := bytes.Clone(buf[:m])
			f.mu.Lock()
			f.reqs = append(f.reqs, pkt)
			f.mu.Unlock()
			for _, r := range handle(n, pkt) {
				conn.WriteToUDPAddrPort(r, from)
			}
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return f
}

func (f *fakeUDPTracker) url(path string) string {
	return fmt.Sprintf("udp://127.0.0.1:%d%s", f.port, path)
}

// requests returns the datagrams received with the given action.
func (f *fakeUDPTracker) requests(action uint32) [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]byte
	for _, p := range f.reqs {
		if len(p) >= 16 && binary.BigEndian.Uint32(p[8:12]) == action {
			out = append(out, p)
		}
	}
	return out
}

const (
	testProtocolID = 0x41727101980
	testConnID     = 0x1122334455667788
)

func txID(pkt []byte) uint32 { return binary.BigEndian.Uint32(pkt[12:16]) }

func connectReply(tx uint32, id uint64) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0)
	b = binary.BigEndian.AppendUint32(b, tx)
	return binary.BigEndian.AppendUint64(b, id)
}

func announceReply(tx uint32, interval, leechers, seeders int32, peers ...netip.AddrPort) []byte {
	b := binary.BigEndian.AppendUint32(nil, 1)
	b = binary.BigEndian.AppendUint32(b, tx)
	b = binary.BigEndian.AppendUint32(b, uint32(interval))
	b = binary.BigEndian.AppendUint32(b, uint32(leechers))
	b = binary.BigEndian.AppendUint32(b, uint32(seeders))
	for _, p := range peers {
		b = tracker.AppendCompact(b, p)
	}
	return b
}

func errorReply(tx uint32, msg string) []byte {
	b := binary.BigEndian.AppendUint32(nil, 3)
	b = binary.BigEndian.AppendUint32(b, tx)
	return append(b, msg...)
}

// answer is a well-behaved tracker: it hands out testConnID and replies to
// announces with one peer.
func answer(_ int, pkt []byte) [][]byte {
	if len(pkt) < 16 {
		return nil
	}
	switch binary.BigEndian.Uint32(pkt[8:12]) {
	case 0:
		return [][]byte{connectReply(txID(pkt), testConnID)}
	case 1:
		return [][]byte{announceReply(txID(pkt), 1800, 1, 2, netip.MustParseAddrPort("127.0.0.1:6881"))}
	}
	return nil
}

func udpTestRequest() tracker.AnnounceRequest {
	var req tracker.AnnounceRequest
	for i := range req.InfoHash {
		req.InfoHash[i] = byte(i + 1)
	}
	copy(req.PeerID[:], "-SW0001-abcdefghijkl")
	req.Port = 6881
	req.Downloaded, req.Left, req.Uploaded = 1000, 2000, 3000
	req.Event = tracker.EventStarted
	req.NumWant = 50
	req.Key = "deadbeef"
	return req
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// urlData reads the BEP 41 options after an announce request's 98 bytes:
// URLData chunks are joined; parsing ends at EndOfOptions.
func urlData(t testing.TB, opts []byte) string {
	t.Helper()
	var s []byte
	for len(opts) > 0 {
		switch opts[0] {
		case 0:
			if len(opts) != 1 {
				t.Errorf("%d bytes after EndOfOptions", len(opts)-1)
			}
			return string(s)
		case 1:
			opts = opts[1:]
		case 2:
			if len(opts) < 2 || len(opts) < 2+int(opts[1]) {
				t.Fatalf("truncated URLData option % x", opts)
			}
			n := 2 + int(opts[1])
			s = append(s, opts[2:n]...)
			opts = opts[n:]
		default:
			t.Fatalf("unknown option %d", opts[0])
		}
	}
	t.Errorf("options not ended by EndOfOptions")
	return string(s)
}

func TestUDPAnnounceExchange(t *testing.T) {
	f := startFakeUDPTracker(t, func(_ int, pkt []byte) [][]byte {
		if binary.BigEndian.Uint32(pkt[8:12]) == 0 {
			return [][]byte{connectReply(txID(pkt), testConnID)}
		}
		return [][]byte{announceReply(txID(pkt), 1800, 3, 5,
			netip.MustParseAddrPort("127.0.0.1:6881"),
			netip.MustParseAddrPort("10.0.0.2:0"), // port 0: dropped
			netip.MustParseAddrPort("1.2.3.4:80"))}
	})
	c := &tracker.Client{}
	req := udpTestRequest()
	resp, err := c.Announce(testCtx(t), f.url("/announce"), req)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:6881"), netip.MustParseAddrPort("1.2.3.4:80")}
	if fmt.Sprint(resp.Peers) != fmt.Sprint(want) {
		t.Errorf("peers = %v, want %v", resp.Peers, want)
	}
	if resp.Interval != 1800*time.Second || resp.Incomplete != 3 || resp.Complete != 5 || resp.MinInterval != 0 {
		t.Errorf("reply = %+v, want interval 30m, 3 leechers, 5 seeders", resp)
	}

	connects := f.requests(0)
	if len(connects) != 1 {
		t.Fatalf("%d connect requests, want 1", len(connects))
	}
	cr := connects[0]
	if len(cr) != 16 || binary.BigEndian.Uint64(cr[0:8]) != testProtocolID {
		t.Errorf("connect request = % x, want 16 bytes starting with the protocol id", cr)
	}
	announces := f.requests(1)
	if len(announces) != 1 {
		t.Fatalf("%d announce requests, want 1", len(announces))
	}
	a := announces[0]
	if len(a) < 98 {
		t.Fatalf("announce request of %d bytes", len(a))
	}
	be := binary.BigEndian
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"connection_id", be.Uint64(a[0:8]), testConnID},
		{"action", uint64(be.Uint32(a[8:12])), 1},
		{"downloaded", be.Uint64(a[56:64]), 1000},
		{"left", be.Uint64(a[64:72]), 2000},
		{"uploaded", be.Uint64(a[72:80]), 3000},
		{"event", uint64(be.Uint32(a[80:84])), 2},
		{"ip", uint64(be.Uint32(a[84:88])), 0},
		{"key", uint64(be.Uint32(a[88:92])), 0xdeadbeef},
		{"num_want", uint64(be.Uint32(a[92:96])), 50},
		{"port", uint64(be.Uint16(a[96:98])), 6881},
	} {
		if c.got != c.want {
			t.Errorf("announce %s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if txID(a) == txID(cr) {
		t.Errorf("connect and announce share transaction id %#x", txID(a))
	}
	if !bytes.Equal(a[16:36], req.InfoHash[:]) || !bytes.Equal(a[36:56], req.PeerID[:]) {
		t.Errorf("announce info_hash/peer_id = % x / % x", a[16:36], a[36:56])
	}
	if got := urlData(t, a[98:]); got != "/announce" {
		t.Errorf("URLData = %q, want /announce", got)
	}
}

func TestUDPAnnounceEventsAndDefaults(t *testing.T) {
	f := startFakeUDPTracker(t, answer)
	c := &tracker.Client{}
	for i, ev := range []tracker.Event{tracker.EventNone, tracker.EventCompleted, tracker.EventStarted, tracker.EventStopped} {
		req := tracker.AnnounceRequest{Event: ev, Port: 1}
		if _, err := c.Announce(testCtx(t), f.url(""), req); err != nil {
			t.Fatal(err)
		}
		a := f.requests(1)[i]
		if got := binary.BigEndian.Uint32(a[80:84]); got != uint32(i) {
			t.Errorf("event %v sent as %d, want %d", ev, got, i)
		}
		if got := int32(binary.BigEndian.Uint32(a[92:96])); got != -1 {
			t.Errorf("num_want = %d, want -1 (default)", got)
		}
		if len(a) != 98 {
			t.Errorf("announce without path has %d bytes, want 98 (no options)", len(a))
		}
	}
}

func TestUDPConnIDReusedWithinLifetime(t *testing.T) {
	f := startFakeUDPTracker(t, answer)
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	c := &tracker.Client{Now: func() time.Time { return time.Unix(0, now.Load()) }}
	announce := func() {
		t.Helper()
		if _, err := c.Announce(testCtx(t), f.url("/announce"), udpTestRequest()); err != nil {
			t.Fatal(err)
		}
	}
	announce()
	now.Add(int64(59 * time.Second))
	announce()
	if n := len(f.requests(0)); n != 1 {
		t.Errorf("%d connects for two announces within a minute, want 1", n)
	}
	now.Add(int64(2 * time.Second))
	announce()
	if n := len(f.requests(0)); n != 2 {
		t.Errorf("%d connects after the id expired, want 2", n)
	}
	if n := len(f.requests(1)); n != 3 {
		t.Errorf("%d announces, want 3", n)
	}
}

func TestUDPStaleConnIDReconnects(t *testing.T) {
	var ids atomic.Uint64
	f := startFakeUDPTracker(t, func(_ int, pkt []byte) [][]byte {
		if binary.BigEndian.Uint32(pkt[8:12]) == 0 {
			return [][]byte{connectReply(txID(pkt), ids.Add(1))}
		}
		// Only the latest id is valid, as after a tracker restart.
		if binary.BigEndian.Uint64(pkt[0:8]) != ids.Load() {
			return [][]byte{errorReply(txID(pkt), "bad connection id")}
		}
		return answer(0, pkt)
	})
	c := &tracker.Client{}
	if _, err := c.Announce(testCtx(t), f.url("/announce"), udpTestRequest()); err != nil {
		t.Fatal(err)
	}
	ids.Add(1) // the tracker forgets the id it gave
	if _, err := c.Announce(testCtx(t), f.url("/announce"), udpTestRequest()); err != nil {
		t.Fatalf("announce with a stale id: %v", err)
	}
	if n := len(f.requests(0)); n != 2 {
		t.Errorf("%d connects, want 2 (the second after the error)", n)
	}
}

func TestUDPSilenceToCachedConnIDReconnects(t *testing.T) {
	var ids atomic.Uint64
	f := startFakeUDPTracker(t, func(_ int, pkt []byte) [][]byte {
		if binary.BigEndian.Uint32(pkt[8:12]) == 0 {
			return [][]byte{connectReply(txID(pkt), ids.Add(1))}
		}
		if binary.BigEndian.Uint64(pkt[0:8]) != ids.Load() {
			return nil // as opentracker does with an unknown id
		}
		return answer(0, pkt)
	})
	c := &tracker.Client{UDPRetryInterval: 20 * time.Millisecond}
	if _, err := c.Announce(testCtx(t), f.url("/announce"), udpTestRequest()); err != nil {
		t.Fatal(err)
	}
	ids.Add(1) // the tracker restarted
	if _, err := c.Announce(testCtx(t), f.url("/announce"), udpTestRequest()); err != nil {
		t.Fatalf("announce with a stale id the tracker ignores: %v", err)
	}
	if n, m := len(f.requests(0)), len(f.requests(1)); n != 2 || m != 3 {
		t.Errorf("%d connects and %d announces, want 2 and 3 (one unanswered)", n, m)
	}
}

func TestUDPRetransmitsAfterLoss(t *testing.T) {
	f := startFakeUDPTracker(t, func(n int, pkt []byte) [][]byte {
		if n == 0 || n == 2 { // drop the first connect and the first announce
			return nil
		}
		return answer(n, pkt)
	})
	c := &tracker.Client{UDPRetryInterval: 20 * time.Millisecond}
	resp, err := c.Announce(testCtx(t), f.url("/announce"), udpTestRequest())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Peers) != 1 {
		t.Errorf("peers = %v, want one", resp.Peers)
	}
	connects, announces := f.requests(0), f.requests(1)
	if len(connects) != 2 || len(announces) != 2 {
		t.Fatalf("%d connects and %d announces, want 2 and 2", len(connects), len(announces))
	}
	if !bytes.Equal(connects[0], connects[1]) || !bytes.Equal(announces[0], announces[1]) {
		t.Errorf("a retransmission differs from the request")
	}
}

func TestUDPErrorReplyIsFailure(t *testing.T) {
	f := startFakeUDPTracker(t, func(_ int, pkt []byte) [][]byte {
		if binary.BigEndian.Uint32(pkt[8:12]) == 0 {
			return [][]byte{connectReply(txID(pkt), testConnID)}
		}
		return [][]byte{errorReply(txID(pkt), "Requested download is not authorized")}
	})
	c := &tracker.Client{}
	_, err := c.Announce(testCtx(t), f.url("/announce"), udpTestRequest())
	var fe *tracker.FailureError
	if !errors.As(err, &fe) || fe.Reason != "Requested download is not authorized" {
		t.Fatalf("Announce = %v, want a FailureError with the tracker's message", err)
	}
	if n := len(f.requests(1)); n != 1 {
		t.Errorf("%d announces, want 1: an error to a fresh id is final", n)
	}
	// The id is still cached: the next announce retries it, then
	// reconnects once on the error.
	if _, err := c.Announce(testCtx(t), f.url("/announce"), udpTestRequest()); !errors.As(err, &fe) {
		t.Fatalf("second Announce = %v, want a FailureError", err)
	}
	if n, m := len(f.requests(0)), len(f.requests(1)); n != 2 || m != 3 {
		t.Errorf("%d connects and %d announces, want 2 and 3", n, m)
	}
}

func TestUDPIgnoresStrayReplies(t *testing.T) {
	f := startFakeUDPTracker(t, func(n int, pkt []byte) [][]byte {
		tx := txID(pkt)
		otherAction := announceReply(tx, 1, 1, 1)
		if binary.BigEndian.Uint32(pkt[8:12]) == 1 {
			otherAction = connectReply(tx, 1)
		}
		stray := [][]byte{
			{1, 2, 3},                             // too short
			connectReply(tx+1, 1),                 // another transaction
			otherAction,                           // the transaction, another action
			announceReply(tx^0xffffffff, 9, 9, 9), // another transaction
		}
		return append(stray, answer(n, pkt)...)
	})
	c := &tracker.Client{UDPRetryInterval: time.Minute} // no retransmission needed
	resp, err := c.Announce(testCtx(t), f.url("/announce"), udpTestRequest())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Interval != 1800*time.Second || len(resp.Peers) != 1 {
		t.Errorf("reply = %+v, want the matching one", resp)
	}
}

func TestUDPURLDataCarriesPathAndQuery(t *testing.T) {
	long := strings.Repeat("0123456789abcdef", 40) // 640 bytes: three chunks
	for _, path := range []string{
		"/announce?passkey=0123456789abcdef0123456789abcdef",
		"/a%20b/announce?passkey=x&y=%2F",
		"/announce?passkey=" + long,
	} {
		t.Run(path[:min(len(path), 30)], func(t *testing.T) {
			f := startFakeUDPTracker(t, answer)
			c := &tracker.Client{}
			if _, err := c.Announce(testCtx(t), f.url(path)+"#fragment", udpTestRequest()); err != nil {
				t.Fatal(err)
			}
			a := f.requests(1)[0]
			if got := urlData(t, a[98:]); got != path {
				t.Errorf("URLData = %q, want %q", got, path)
			}
			for opts := a[98:]; len(opts) > 1; opts = opts[2+int(opts[1]):] {
				if opts[0] == 2 && opts[1] == 0 {
					t.Errorf("empty URLData chunk")
				}
			}
		})
	}
}

func TestUDPCancelEndsPromptly(t *testing.T) {
	f := startFakeUDPTracker(t, func(int, []byte) [][]byte { return nil }) // never answers
	c := &tracker.Client{}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Announce(ctx, f.url("/announce"), udpTestRequest())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Announce = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Announce returned %v after it was cancelled", d)
	}

	ctx, cancel = context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = c.Announce(ctx, f.url("/announce"), udpTestRequest())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Announce = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Announce returned %v after its deadline", d)
	}
}

func TestUDPBadURLs(t *testing.T) {
	for _, u := range []string{
		"udp://127.0.0.1/announce", // no port
		"udp://:6969/announce",     // no host
		"udp://127.0.0.1:0/announce",
		"udp://127.0.0.1:70000/announce",
		"udp://127.0.0.1:6969/" + strings.Repeat("x", 3000),
	} {
		if _, err := (&tracker.Client{}).Announce(testCtx(t), u, udpTestRequest()); err == nil {
			t.Errorf("Announce(%q) succeeded, want an error", u)
		}
	}
}
