package server_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/tracker"
	"swarm/tracker/server"
)

// rawGet sends req on a new connection to addr and returns the response
// and its body, read until the tracker closes the connection.
func rawGet(t *testing.T, addr, req string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("write %q: %v", req, err)
	}
	all, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read the reply to %q: %v (got %q)", req, err, all)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(all)), nil)
	if err != nil {
		t.Fatalf("reply to %q: %v (%q)", req, err, all)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reply body to %q: %v", req, err)
	}
	return resp, body
}

// otherListener hides a *net.TCPListener, so that Run serves the lean path
// with a goroutine per connection, as on systems other than Linux.
type otherListener struct{ net.Listener }

// TestLeanPath: announces and scrapes on connections the client closes are
// answered whole (headers as net/http sends them), and everything else
// (keep-alive, /metrics, unknown paths, long headers, passkey paths) still
// works through net/http; on raw sockets (Linux) and with a goroutine per
// connection.
func TestLeanPath(t *testing.T) {
	for _, other := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcp", true: "other"}[other], func(t *testing.T) {
			log := zerolog.New(zerolog.NewTestWriter(t))
			s, err := server.New(server.Config{Logger: &log, Interval: time.Minute, Hook: passkeyHook{}})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if other {
				ln = otherListener{ln}
			}
			testLeanPath(t, strings.TrimSuffix(strings.TrimPrefix(runServerOn(t, s, ln), "http://"), "/announce"))
		})
	}
}

func testLeanPath(t *testing.T, addr string) {
	seed, leech := testPeer(ihA, 1, 0), testPeer(ihA, 2, 100)

	resp, body := rawGet(t, addr, "GET /good/announce?"+seed.Query()+" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 200 || !resp.Close || resp.Header.Get("Content-Type") != "text/plain" ||
		resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Date") == "" || resp.ContentLength != int64(len(body)) {
		t.Errorf("lean reply: %s %v, want 200, Connection: close and net/http's headers", resp.Status, resp.Header)
	}
	if _, err := tracker.ParseAnnounceResponse(body); err != nil {
		t.Errorf("lean announce reply %q: %v", body, err)
	}

	resp, body = rawGet(t, addr, "GET /announce?"+leech.Query()+"&passkey=good HTTP/1.0\r\n\r\n")
	ar, err := tracker.ParseAnnounceResponse(body)
	if resp.Proto != "HTTP/1.0" || err != nil || len(ar.Peers) != 1 || ar.Complete != 1 || ar.Incomplete != 1 {
		t.Errorf("HTTP/1.0 passkey announce: %s %+v %v (body %q), want the seed", resp.Proto, ar, err, body)
	}
	if _, body := rawGet(t, addr, "GET /bad/announce?"+leech.Query()+" HTTP/1.0\r\n\r\n"); !bytes.Contains(body, []byte("unknown passkey")) {
		t.Errorf("announce with a wrong passkey = %q, want the Hook's refusal", body)
	}

	_, body = rawGet(t, addr, "GET /good/scrape?info_hash="+string(tracker.AppendEscaped(nil, ihA[:]))+" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	if !bytes.Contains(body, []byte("8:completei1e")) || !bytes.Contains(body, []byte("10:incompletei1e")) {
		t.Errorf("lean scrape = %q, want 1 seed and 1 leecher", body)
	}

	_, body = rawGet(t, addr, "GET /good/announce?info_hash=x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	if !bytes.Contains(body, []byte("14:failure reason")) {
		t.Errorf("lean malformed announce = %q, want a failure reason", body)
	}

	resp, _ = rawGet(t, addr, "GET /nothing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %s, want 404 from net/http", resp.Status)
	}
	long := "GET /good/announce?" + seed.Query() + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Pad: " + strings.Repeat("p", 6000) + "\r\n\r\n"
	if resp, body := rawGet(t, addr, long); resp.StatusCode != 200 || !bytes.Contains(body, []byte("8:interval")) {
		t.Errorf("6 KB of headers: %s %q, want an announce reply from net/http", resp.Status, body)
	}
	huge := "GET /announce HTTP/1.1\r\nHost: t\r\nX-Pad: " + strings.Repeat("p", 40000) + "\r\n\r\n"
	if resp, _ := rawGet(t, addr, huge); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("40 KB of headers: %s, want 431", resp.Status)
	}

	// A keep-alive client sends several requests on one connection.
	reused := 0
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if i.Reused {
			reused++
		}
	}}
	cl := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	defer cl.CloseIdleConnections()
	for _, target := range []string{"/good/announce?" + seed.Query(), "/good/announce?" + leech.Query(), "/metrics"} {
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "http://"+addr+target, nil)
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatalf("keep-alive GET %s: %v", target, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Errorf("keep-alive GET %s: %s %q", target, resp.Status, body)
		}
		if target == "/metrics" && !bytes.Contains(body, []byte("tracker_")) {
			t.Errorf("/metrics lacks the tracker's metrics:\n%s", body)
		}
	}
	if reused != 2 {
		t.Errorf("keep-alive connection reused %d times, want 2", reused)
	}
}

// TestLeanReadDeadline: clients that send half a request and wait do not
// hold up another client, and are dropped once half the read timeout has
// passed, as net/http drops them.
func TestLeanReadDeadline(t *testing.T) {
	const readTimeout = 3 * time.Second
	s, err := server.New(server.Config{Interval: time.Minute, ReadTimeout: readTimeout})
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(runServer(t, s), "http://"), "/announce")
	const slow = 20
	start := time.Now()
	closed := make(chan time.Time, slow) // when each slow client saw its connection closed; zero if not within 10 s
	for range slow {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET /announce?info_hash=x HTTP/1.1\r\nHost: t\r\n"); err != nil {
			t.Fatal(err)
		}
		go func() {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err := io.ReadAll(c)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				closed <- time.Time{}
				return
			}
			closed <- time.Now()
		}()
	}
	_, body := rawGet(t, addr, "GET /announce?"+testPeer(ihA, 1, 0).Query()+" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	answered := time.Now()
	if _, err := tracker.ParseAnnounceResponse(body); err != nil {
		t.Errorf("announce beside %d slow clients: %q: %v", slow, body, err)
	}
	for range slow {
		at := <-closed
		switch {
		case at.IsZero():
			t.Fatal("half a request: connection still open after 10 s")
		case at.Before(answered):
			t.Errorf("a slow client was dropped (after %v) before the other client was answered (after %v)", at.Sub(start), answered.Sub(start))
		case at.Sub(start) < readTimeout/2:
			t.Errorf("a slow client was dropped after %v, before half the read timeout", at.Sub(start))
		}
	}
}

// TestLeanPathTrustedProxy: a request that comes through a trusted proxy
// closes its connection like any other (nginx sends Connection: close), so
// the lean path must hand it to net/http, which reads X-Forwarded-For:
// the peer is recorded at the address the proxy names, not the proxy's.
func TestLeanPathTrustedProxy(t *testing.T) {
	for _, other := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcp", true: "other"}[other], func(t *testing.T) {
			log := zerolog.New(zerolog.NewTestWriter(t))
			s, err := server.New(server.Config{Logger: &log, Interval: time.Minute,
				TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if other {
				ln = otherListener{ln}
			}
			addr := strings.TrimSuffix(strings.TrimPrefix(runServerOn(t, s, ln), "http://"), "/announce")
			seed, leech := testPeer(ihA, 1, 0), testPeer(ihA, 2, 100)
			rawGet(t, addr, "GET /announce?"+seed.Query()+" HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Forwarded-For: 198.51.100.7\r\n\r\n")
			_, body := rawGet(t, addr, "GET /announce?"+leech.Query()+" HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Forwarded-For: 198.51.100.8\r\n\r\n")
			ar, err := tracker.ParseAnnounceResponse(body)
			if err != nil || len(ar.Peers) != 1 || ar.Peers[0].Addr() != netip.MustParseAddr("198.51.100.7") {
				t.Errorf("leecher's reply %+v (%v), want the seed at 198.51.100.7 as the proxy named it", ar, err)
			}
		})
	}
}
