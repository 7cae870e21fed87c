package server_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
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

// TestLeanPath: announces and scrapes on connections the client closes are
// answered whole (headers as net/http sends them), and everything else
// (keep-alive, /metrics, unknown paths, long headers, passkey paths) still
// works through net/http.
func TestLeanPath(t *testing.T) {
	log := zerolog.New(zerolog.NewTestWriter(t))
	s, err := server.New(server.Config{Logger: &log, Interval: time.Minute, Hook: passkeyHook{}})
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(runServer(t, s), "http://"), "/announce")
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

// TestLeanReadDeadline: a client that sends half a request and waits is
// dropped after half the read timeout, as net/http drops it.
func TestLeanReadDeadline(t *testing.T) {
	s, err := server.New(server.Config{Interval: time.Minute, ReadTimeout: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(runServer(t, s), "http://"), "/announce")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /good/announce?info_hash=x HTTP/1.1\r\nHost: t\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("half a request: connection still open after 10 s (read %q)", got)
	}
}
