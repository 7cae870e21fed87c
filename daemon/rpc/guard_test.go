package rpc_test

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/daemon/rpc"
)

// TestWrongPasswordsAreLimitedPerAddress: before, every wrong password got
// a 401 and a log line, as fast as a client could send them; now the 11th
// within a minute from one address gets 429 whatever it sends, other
// addresses are not affected, and the address is let in again after the
// minute. Requests without credentials (a browser's first) do not count.
func TestWrongPasswordsAreLimitedPerAddress(t *testing.T) {
	var logs bytes.Buffer
	log := zerolog.New(&logs)
	s, err := rpc.New(rpc.Config{Backend: &fakeBackend{}, User: "me", Password: "pw", Logger: &log})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_000_000, 0)
	rpc.SetClock(s, func() time.Time { return now })
	ask := func(addr, user, pass string) int {
		r := httptest.NewRequest(http.MethodPost, "/transmission/rpc", strings.NewReader(`{"method":"session-get"}`))
		r.RemoteAddr = addr
		if user != "" {
			r.SetBasicAuth(user, pass)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w.Code
	}
	for range 20 {
		if code := ask("10.0.0.1:5000", "", ""); code != http.StatusUnauthorized {
			t.Fatalf("no credentials: %d, want 401", code)
		}
	}
	codes := map[int]int{}
	for i := range 1000 {
		codes[ask("10.0.0.1:5000", "me", "guess"+string(rune('a'+i%26)))]++
	}
	if codes[http.StatusUnauthorized] != 10 || codes[http.StatusTooManyRequests] != 990 {
		t.Errorf("1000 wrong passwords from one address: %v, want 10 × 401 and 990 × 429", codes)
	}
	if code := ask("10.0.0.1:5001", "me", "pw"); code != http.StatusTooManyRequests {
		t.Errorf("the right password from a blocked address: %d, want 429", code)
	}
	if code := ask("10.0.0.2:5000", "me", "pw"); code != http.StatusConflict {
		t.Errorf("the right password from another address: %d, want 409 (the handshake)", code)
	}
	if code := ask("[2001:db8::1]:5000", "me", "x"); code != http.StatusUnauthorized {
		t.Errorf("IPv6 guess: %d", code)
	}
	if n := strings.Count(logs.String(), "\n"); n != 2 {
		t.Errorf("%d log lines for 1001 wrong passwords from two addresses, want 2:\n%s", n, logs.String())
	}
	now = now.Add(61 * time.Second)
	if code := ask("10.0.0.1:5000", "me", "pw"); code != http.StatusConflict {
		t.Errorf("the right password a minute later: %d, want 409 (the handshake)", code)
	}
}

// TestLimitListenerBoundsConnections: the listener hands out no more than
// its bound of connections at once, and one more after one closes.
func TestLimitListenerBoundsConnections(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := rpc.LimitListener(inner, 3)
	defer ln.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	var dialed []net.Conn
	for range 5 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		dialed = append(dialed, c)
	}
	var got []net.Conn
	for len(got) < 3 {
		select {
		case c := <-accepted:
			got = append(got, c)
		case <-time.After(10 * time.Second):
			t.Fatalf("accepted %d of 5 connections within 10 s, want 3", len(got))
		}
	}
	select {
	case <-accepted:
		t.Fatal("a 4th connection accepted while 3 are open")
	case <-time.After(200 * time.Millisecond):
	}
	got[0].Close()
	got[0].Close() // a second Close must not free a second slot
	select {
	case c := <-accepted:
		got = append(got, c)
	case <-time.After(10 * time.Second):
		t.Fatal("no connection accepted after one closed")
	}
	select {
	case <-accepted:
		t.Fatal("a 5th connection accepted: a double Close freed two slots")
	case <-time.After(200 * time.Millisecond):
	}
	for _, c := range got[1:] {
		c.Close()
	}
}

// TestLargeArgumentsOnlyForTorrentAdd: 9 MB of "ids" is refused with an
// error result before it is decoded (46 MB of them took the daemon from
// 18 MB to 1.6 GB of RSS). torrent-add keeps the whole body's limit for
// its metainfo (TestBadRequestsGetErrorResults).
func TestLargeArgumentsOnlyForTorrentAdd(t *testing.T) {
	ts, fb := newServer(t, rpc.Config{})
	sid := handshake(t, ts.URL, nil)
	ids := strings.Repeat("1,", 9<<19) + "1"
	code, _, out := post(t, ts.URL, sid, `{"method":"torrent-stop","arguments":{"ids":[`+ids+`]}}`, nil)
	if res, _ := out["result"].(string); code != 200 || !strings.Contains(res, "more than") {
		t.Errorf("9 MB of ids: %d %q, want 200 and an error result", code, res)
	}
	fb.mu.Lock()
	calls := len(fb.calls)
	fb.mu.Unlock()
	if calls != 0 {
		t.Errorf("the backend was called %d times", calls)
	}
}
