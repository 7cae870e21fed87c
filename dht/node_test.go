package dht_test

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/dht"
)

// startNode runs a node on 127.0.0.1 until the test ends.
func startNode(t testing.TB, cfg dht.Config) *dht.Node {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		l := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
		cfg.Logger = &l
	}
	if cfg.QueryTimeout == 0 {
		cfg.QueryTimeout = 500 * time.Millisecond
	}
	n, err := dht.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return within 10 s of cancel")
		}
	})
	return n
}

// network starts size nodes; each joins through a random earlier one once
// that one has joined, as a network grows.
func network(t testing.TB, size int) []*dht.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes := []*dht.Node{startNode(t, dht.Config{})}
	for len(nodes) < size {
		n := startNode(t, dht.Config{})
		join(t, ctx, n, nodes[rand.IntN(len(nodes))])
		nodes = append(nodes, n)
	}
	return nodes
}

// join makes n join the DHT through via. A loaded machine can delay an
// answer past the timeout, so it tries three times.
func join(t testing.TB, ctx context.Context, n, via *dht.Node) {
	t.Helper()
	var err error
	for range 3 {
		if _, err = n.Ping(ctx, via.Addr()); err == nil {
			if err = n.Bootstrap(ctx); err == nil {
				return
			}
		}
	}
	t.Fatalf("join through %v: %v", via.Addr(), err)
}

func trueClosest(nodes []*dht.Node, target dht.ID, k int) []dht.ID {
	var ids []dht.ID
	for _, n := range nodes {
		ids = append(ids, n.ID())
	}
	slices.SortFunc(ids, func(a, b dht.ID) int {
		if dht.Closer(target, a, b) {
			return -1
		}
		return 1
	})
	return ids[:k]
}

func TestLookupFindsTrueClosestIn64Nodes(t *testing.T) {
	nodes := network(t, 64)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exact, hops := 0, 0
	const lookups = 40
	for i := range lookups {
		target := dht.RandomID()
		from := nodes[i%len(nodes)]
		l, err := from.FindNode(ctx, target)
		if err != nil {
			t.Fatalf("FindNode from node %d: %v", i, err)
		}
		want := trueClosest(nodes, target, dht.K)
		var got []dht.ID
		for _, ni := range l.Closest {
			got = append(got, ni.ID)
		}
		// The origin never lists itself.
		want = slices.DeleteFunc(want, func(id dht.ID) bool { return id == from.ID() })
		if len(got) > len(want) {
			got = got[:len(want)]
		}
		if slices.Equal(got, want) {
			exact++
		}
		if got[0] != want[0] {
			t.Errorf("lookup %d of %v: nearest found %v, want %v", i, target, got[0], want[0])
		}
		hops += l.Hops
	}
	t.Logf("%d/%d lookups found exactly the %d closest; mean hops %.2f", exact, lookups, dht.K, float64(hops)/lookups)
	if exact < lookups*9/10 {
		t.Errorf("only %d of %d lookups found the true %d closest", exact, lookups, dht.K)
	}
}

func TestAnnounceThenGetPeers(t *testing.T) {
	nodes := network(t, 24)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ih := dht.RandomID()
	if _, err := nodes[3].Announce(ctx, ih, 6881); err != nil {
		t.Fatalf("Announce: %v", err)
	}
	peers, err := nodes[17].GetPeers(ctx, ih)
	if err != nil {
		t.Fatalf("GetPeers: %v", err)
	}
	want := netip.MustParseAddrPort("127.0.0.1:6881")
	if !slices.Contains(peers, want) {
		t.Errorf("GetPeers = %v, want it to contain %v", peers, want)
	}
	// implied_port: port 0 announces the DHT node's own port.
	if _, err := nodes[5].Announce(ctx, ih, 0); err != nil {
		t.Fatalf("Announce with implied port: %v", err)
	}
	peers, _ = nodes[9].GetPeers(ctx, ih)
	if !slices.Contains(peers, nodes[5].Addr()) {
		t.Errorf("GetPeers = %v, want it to contain %v (implied port)", peers, nodes[5].Addr())
	}
}

func TestRunLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	var nodes []*dht.Node
	var wg sync.WaitGroup
	for i := range 6 {
		cfg := dht.Config{Addr: "127.0.0.1:0", QueryTimeout: 200 * time.Millisecond}
		if i > 0 {
			cfg.Bootstrap = []string{nodes[0].Addr().String()}
		}
		n, err := dht.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
		wg.Go(func() { n.Run(ctx) })
	}
	lctx, lcancel := context.WithTimeout(ctx, 10*time.Second)
	nodes[5].Announce(lctx, dht.RandomID(), 1234)
	lcancel()
	cancel()
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Run returned, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
