package dht_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"swarm/dht"
)

// fakeClock is a Config.Now that tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// rawClient speaks KRPC by hand from its own UDP socket, to see exactly
// what a node answers.
type rawClient struct {
	conn *net.UDPConn
	id   dht.ID
}

func newRawClient(t testing.TB) *rawClient {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{conn: c, id: dht.RandomID()}
}

func (c *rawClient) addr() netip.AddrPort { return c.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (c *rawClient) send(t testing.TB, to netip.AddrPort, m dht.Msg) {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.conn.WriteToUDPAddrPort(b, to); err != nil {
		t.Fatal(err)
	}
}

// recv returns the next response or error, or false after the timeout.
// Queries from the node (it pings those who query it) are left unanswered.
func (c *rawClient) recv(t testing.TB, timeout time.Duration) (dht.Msg, bool) {
	t.Helper()
	buf := make([]byte, 2048)
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	for {
		n, _, err := c.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return dht.Msg{}, false
		}
		m, err := dht.ParseMsg(buf[:n])
		if err != nil {
			t.Fatalf("node sent a bad message %q: %v", buf[:n], err)
		}
		if m.Y != "q" {
			return m, true
		}
	}
}

func (c *rawClient) query(t testing.TB, to netip.AddrPort, q string, a dht.Args) dht.Msg {
	t.Helper()
	a.ID = string(c.id[:])
	c.send(t, to, dht.Msg{T: "tx", Y: "q", Q: q, A: &a})
	m, ok := c.recv(t, 5*time.Second)
	if !ok {
		t.Fatalf("no answer to %s within 5 s", q)
	}
	return m
}

func TestAnnounceNeedsAFreshToken(t *testing.T) {
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	n := startNode(t, dht.Config{Now: clock.Now, TokenPeriod: 5 * time.Minute})
	c := newRawClient(t)
	ih := dht.RandomID()
	r := c.query(t, n.Addr(), "get_peers", dht.Args{InfoHash: string(ih[:])})
	if r.Y != "r" || r.R.Token == "" {
		t.Fatalf("get_peers answer %+v has no token", r)
	}
	tok := r.R.Token
	announce := func(tok string) dht.Msg {
		return c.query(t, n.Addr(), "announce_peer", dht.Args{InfoHash: string(ih[:]), Port: 7000, Token: tok})
	}
	if m := announce("not-a-token"); m.Y != "e" || m.E.Code != 203 {
		t.Errorf("announce with a made-up token = %+v, want error 203", m)
	}
	clock.Advance(7 * time.Minute) // one rotation: still valid
	if m := announce(tok); m.Y != "r" {
		t.Fatalf("announce with a token one rotation old = %+v, want accepted", m)
	}
	r = c.query(t, n.Addr(), "get_peers", dht.Args{InfoHash: string(ih[:])})
	want := string([]byte{127, 0, 0, 1, 7000 >> 8, 7000 & 0xff})
	if !slices.Contains(r.R.Values, want) {
		t.Errorf("get_peers values %q, want the announced peer", r.R.Values)
	}
	clock.Advance(5 * time.Minute) // two rotations: stale
	if m := announce(tok); m.Y != "e" || m.E.Code != 203 {
		t.Errorf("announce with a token two rotations old = %+v, want error 203", m)
	}
}

func TestNodeAnswersQueries(t *testing.T) {
	n := startNode(t, dht.Config{})
	c := newRawClient(t)
	if m := c.query(t, n.Addr(), "ping", dht.Args{}); m.Y != "r" || m.R.ID != string(func() []byte { id := n.ID(); return id[:] }()) {
		t.Errorf("ping answer %+v, want our id", m)
	}
	if m := c.query(t, n.Addr(), "find_node", dht.Args{}); m.Y != "e" || m.E.Code != 203 {
		t.Errorf("find_node without target = %+v, want error 203", m)
	}
	if m := c.query(t, n.Addr(), "sample_infohashes", dht.Args{}); m.Y != "e" || m.E.Code != 204 {
		t.Errorf("unknown method = %+v, want error 204", m)
	}
	target := dht.RandomID()
	m := c.query(t, n.Addr(), "find_node", dht.Args{Target: string(target[:])})
	if m.Y != "r" || len(m.R.Nodes)%26 != 0 {
		t.Errorf("find_node = %+v", m)
	}
	// Garbage and oversized datagrams get no answer and are counted.
	before := n.Stats().BadPackets
	c.conn.WriteToUDPAddrPort([]byte("garbage"), n.Addr())
	c.conn.WriteToUDPAddrPort([]byte("d1:t2:aa1:y1:q1:v1600:"+strings.Repeat("v", 1600)+"e"), n.Addr())
	if _, ok := c.recv(t, 200*time.Millisecond); ok {
		t.Error("node answered garbage")
	}
	c.query(t, n.Addr(), "ping", dht.Args{}) // still serving
	if got := n.Stats().BadPackets - before; got != 2 {
		t.Errorf("BadPackets grew by %d, want 2", got)
	}
}

func TestRepliesPerSourceAreLimited(t *testing.T) {
	n := startNode(t, dht.Config{ReplyRate: 0.001, ReplyBurst: 5})
	c := newRawClient(t)
	for range 30 {
		c.send(t, n.Addr(), dht.Msg{T: "tx", Y: "q", Q: "ping", A: &dht.Args{ID: string(c.id[:])}})
	}
	got := 0
	for {
		if _, ok := c.recv(t, 300*time.Millisecond); !ok {
			break
		}
		got++
	}
	if got != 5 {
		t.Errorf("%d answers to 30 pings with a burst of 5, want 5", got)
	}
	if s := n.Stats(); s.Limited != 25 {
		t.Errorf("Stats().Limited = %d, want 25", s.Limited)
	}
	// Another source is served.
	other := newRawClient(t)
	other.query(t, n.Addr(), "ping", dht.Args{})
}

func TestStateSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes := network(t, 12)
	path := filepath.Join(t.TempDir(), "dht.json")

	n, err := dht.New(dht.Config{Addr: "127.0.0.1:0", StatePath: path, QueryTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Run(runCtx) }()
	join(t, ctx, n, nodes[0])
	want := n.Stats().Nodes
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no state file after Run: %v", err)
	}

	again, err := dht.New(dht.Config{Addr: "127.0.0.1:0", StatePath: path, QueryTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.ID() != n.ID() {
		t.Errorf("reloaded id %v, want %v", again.ID(), n.ID())
	}
	if got := again.Stats().Nodes; got != want || got == 0 {
		t.Errorf("reloaded table holds %d nodes, want %d", got, want)
	}
	// With no bootstrap nodes given, the saved table is enough to look up.
	runCtx2, stop2 := context.WithCancel(ctx)
	done2 := make(chan error, 1)
	go func() { done2 <- again.Run(runCtx2) }()
	defer func() { stop2(); <-done2 }()
	target := nodes[7].ID()
	l, err := again.FindNode(ctx, target)
	if err != nil || len(l.Closest) == 0 || l.Closest[0].ID != target {
		t.Errorf("FindNode after restart = %+v, %v; want %v first", l.Closest, err, target)
	}

	// A corrupt state file is an error, not a silent fresh start.
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte("{not json"), 0o644)
	if _, err := dht.New(dht.Config{Addr: "127.0.0.1:0", StatePath: bad}); err == nil {
		t.Error("New accepted a corrupt state file")
	}
}

func TestConfigRejectsNegativeLimits(t *testing.T) {
	if _, err := dht.New(dht.Config{Addr: "127.0.0.1:0", MaxPeersPerHash: -1}); err == nil {
		t.Error("New accepted MaxPeersPerHash = -1")
	}
}
