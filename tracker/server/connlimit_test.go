package server_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"swarm/tracker/server"
)

// connTest is a tracker run on 127.0.0.1 for the connection caps.
type connTest struct {
	t    *testing.T
	s    *server.Server
	addr string
}

func newConnTest(t *testing.T, cfg server.Config, other bool) *connTest {
	cfg.Interval = time.Minute
	s, _ := newTestServer(t, cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if other {
		ln = otherListener{ln}
	}
	runServerOn(t, s, ln)
	return &connTest{t: t, s: s, addr: ln.Addr().String()}
}

func (ct *connTest) dial() net.Conn {
	ct.t.Helper()
	c, err := net.Dial("tcp", ct.addr)
	if err != nil {
		ct.t.Fatal(err)
	}
	ct.t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// keepAlive opens a connection, announces on it without asking for it to
// be closed, reads the reply and returns the connection, left open.
func (ct *connTest) keepAlive() net.Conn {
	ct.t.Helper()
	c := ct.dial()
	if _, err := io.WriteString(c, "GET /announce?"+testPeer(ihA, 1, 0).Query()+" HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
		ct.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		ct.t.Fatalf("keep-alive announce: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Contains(body, []byte("8:interval")) {
		ct.t.Fatalf("keep-alive announce: %q, %v", body, err)
	}
	return c
}

// served reports whether an announce on a new connection is answered;
// false when the tracker closes the connection without a reply.
func (ct *connTest) served() bool {
	ct.t.Helper()
	c := ct.dial()
	defer c.Close()
	// The write may fail if the tracker has closed the connection already.
	_, _ = io.WriteString(c, "GET /announce?"+testPeer(ihA, 2, 0).Query()+" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	got, _ := io.ReadAll(c) // a reset is a refusal too
	return bytes.HasPrefix(got, []byte("HTTP/1.1 200"))
}

// metric is the value of the /metrics line that starts with name.
func (ct *connTest) metric(name string) string {
	ct.t.Helper()
	for line := range strings.SplitSeq(string(get(ct.t, ct.s.Handler(), "10.0.0.1:1", "/metrics")), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

// waitOpen waits (2 s at most) until the tracker counts n open connections.
func (ct *connTest) waitOpen(n string) {
	ct.t.Helper()
	for i := 0; i < 200 && ct.metric("swarm_tracker_http_connections") != n; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if got := ct.metric("swarm_tracker_http_connections"); got != n {
		ct.t.Fatalf("swarm_tracker_http_connections %s, want %s", got, n)
	}
}

// TestConnCapPerAddress: an address holding Config.MaxConnsPerIP
// connections (keep-alive ones net/http keeps, and one whose request is
// still arriving, which the raw loops hold) gets its next connection
// closed unanswered, counted in /metrics; once one of its connections
// closes it is served again. On raw sockets and with a goroutine per
// connection.
func TestConnCapPerAddress(t *testing.T) {
	for _, other := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcp", true: "other"}[other], func(t *testing.T) {
			ct := newConnTest(t, server.Config{MaxConnsPerIP: 3}, other)
			a, _ := ct.keepAlive(), ct.keepAlive()
			slow := ct.dial()
			if _, err := io.WriteString(slow, "GET /announce?"); err != nil {
				t.Fatal(err)
			}
			ct.waitOpen("3")
			if ct.served() {
				t.Fatal("a fourth connection from one address was answered, cap 3")
			}
			if got := ct.metric(`swarm_tracker_connections_refused_total{reason="per_ip"}`); got != "1" {
				t.Errorf("connections_refused_total{per_ip} = %q, want 1", got)
			}
			a.Close()
			ct.waitOpen("2")
			if !ct.served() {
				t.Error("no answer once the address was under its cap again")
			}
			ct.waitOpen("2")
		})
	}
}

// TestConnCapTrustedProxy: a trusted proxy's address has no cap of its
// own, but its connections count in Config.MaxConns.
func TestConnCapTrustedProxy(t *testing.T) {
	ct := newConnTest(t, server.Config{MaxConnsPerIP: 1, MaxConns: 3,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, false)
	ct.keepAlive()
	ct.keepAlive()
	ct.keepAlive()
	ct.waitOpen("3")
	if ct.served() {
		t.Fatal("a fourth connection was answered, MaxConns 3")
	}
	if got := ct.metric(`swarm_tracker_connections_refused_total{reason="total"}`); got != "1" {
		t.Errorf("connections_refused_total{total} = %q, want 1", got)
	}
	if got := ct.metric(`swarm_tracker_connections_refused_total{reason="per_ip"}`); got != "0" {
		t.Errorf("connections_refused_total{per_ip} = %q, want 0 for a trusted proxy", got)
	}
}

// TestConnCountReturnsToZero: connections that end in odd states (closed
// at once, halfway through a request, reset, after a request too long for
// the lean path, after a malformed one, idle past the read timeout, a
// keep-alive one closed inside its second request) all leave the count,
// so an address is not locked out by connections it no longer has. On raw
// sockets and with a goroutine per connection.
func TestConnCountReturnsToZero(t *testing.T) {
	for _, other := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcp", true: "other"}[other], func(t *testing.T) {
			ct := newConnTest(t, server.Config{MaxConnsPerIP: 64, ReadTimeout: 400 * time.Millisecond}, other)
			long := "GET /announce?" + testPeer(ihA, 3, 0).Query() + "&x=" + strings.Repeat("a", 6000) + " HTTP/1.1\r\nHost: t\r\n\r\n"
			for range 3 {
				ct.dial().Close()
				c := ct.dial()
				_, _ = io.WriteString(c, "GET /announce?info_hash=")
				c.Close()
				c = ct.dial()
				_, _ = io.WriteString(c, "GET /ann")
				_ = c.(*net.TCPConn).SetLinger(0)
				c.Close() // a reset
				c = ct.dial()
				_, _ = io.WriteString(c, long[:5000])
				time.Sleep(20 * time.Millisecond)
				c.Close() // handed to net/http, then gone
				c = ct.dial()
				_, _ = io.WriteString(c, "BREW /pot HTCPCP/1.0\r\n\r\n")
				_, _ = io.ReadAll(c)
				c.Close()
				_, _ = io.WriteString(ct.dial(), "GET /announce?") // left to time out
				c = ct.keepAlive()
				_, _ = io.WriteString(c, "GET /announce?info")
				c.Close()
			}
			ct.waitOpen("0")
			if !ct.served() {
				t.Error("no answer after the odd connections")
			}
		})
	}
}
