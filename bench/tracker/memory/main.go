// Command memory measures the heap the tracker registry takes per tracked
// peer: it announces --swarms x --peers peers straight into the server's
// handler (no network) and compares runtime.MemStats before and after, with a
// GC on both sides. It prints one JSON line.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"

	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "memory:", err)
		os.Exit(1)
	}
}

// discard is a ResponseWriter that checks the status and drops the body.
type discard struct {
	h    http.Header
	body []byte
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(b []byte) (int, error) { d.body = append(d.body[:0], b...); return len(b), nil }

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func run(args []string) error {
	fs := pflag.NewFlagSet("memory", pflag.ContinueOnError)
	swarms := fs.Int("swarms", 10000, "number of swarms")
	peers := fs.Int("peers", 100, "peers per swarm")
	ipv6Every := fs.Int("ipv6-every", 0, "make every Nth peer an IPv6 peer (0: none)")
	redisURL := fs.String("redis", "", "measure the Redis store at this URL instead (redis://HOST:PORT/DB, best a fresh redis-server): its used_memory per peer")
	workers := fs.Int("workers", 32, "announces in flight with --redis")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *redisURL != "" {
		return runRedis(*redisURL, *swarms, *peers, *ipv6Every, *workers)
	}
	s, err := server.New(server.Config{})
	if err != nil {
		return err
	}
	h := s.Handler()
	before := heap()
	start := time.Now()
	w := &discard{h: http.Header{}}
	var buf []byte
	n := 0
	for sw := range *swarms {
		for p := range *peers {
			if err := announceOne(h, w, &buf, sw, p, n, *ipv6Every); err != nil {
				return err
			}
			n++
		}
	}
	el := time.Since(start)
	after := heap()
	runtime.KeepAlive(s)
	out, _ := json.Marshal(map[string]any{
		"bench":             "tracker_memory",
		"swarms":            *swarms,
		"peers_per_swarm":   *peers,
		"peers":             n,
		"ipv6_every":        *ipv6Every,
		"heap_bytes":        after - before,
		"bytes_per_peer":    float64(after-before) / float64(n),
		"announces_per_s":   float64(n) / el.Seconds(),
		"target_bytes_peer": 150,
	})
	fmt.Println(string(out))
	return nil
}

// announceOne announces peer p of swarm sw, the n-th peer in all, to h.
func announceOne(h http.Handler, w *discard, bufp *[]byte, sw, p, n, ipv6Every int) error {
	var ih metainfo.Hash
	for i := range ih {
		ih[i] = 0x5b
	}
	ih[1], ih[2], ih[3], ih[4], ih[5] = 0, byte(sw>>24), byte(sw>>16), byte(sw>>8), byte(sw)
	var id [20]byte
	copy(id[:], fmt.Sprintf("-BENCH-%07d%06d", sw, p))
	left := int64(1 << 20)
	if p%5 == 0 {
		left = 0
	}
	req := tracker.AnnounceRequest{InfoHash: ih, PeerID: id, Port: uint16(10000 + p), Left: left, Compact: true, NumWant: 1}
	// Spread peers over many IPs so that ports repeat across swarms only.
	ip := netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
	if ipv6Every > 0 && n%ipv6Every == 0 {
		ip = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: byte(n >> 24), 13: byte(n >> 16), 14: byte(n >> 8), 15: byte(n)})
	}
	*bufp = req.AppendQuery((*bufp)[:0])
	r := &http.Request{
		Method:     http.MethodGet,
		URL:        &url.URL{Path: "/announce", RawQuery: string(*bufp)},
		Header:     http.Header{},
		RemoteAddr: netip.AddrPortFrom(ip, 1).String(),
	}
	r = r.WithContext(context.Background())
	h.ServeHTTP(w, r)
	if len(w.body) > 1 && string(w.body[:3]) == "d14" {
		return fmt.Errorf("announce failed: %s", w.body)
	}
	return nil
}

// runRedis announces the peers into a server over the Redis at url, from
// workers goroutines (each announce is a round trip), and prints Redis's
// used_memory per peer.
func runRedis(url string, swarms, peers, ipv6Every, workers int) error {
	s, err := server.New(server.Config{Redis: url, MaxSwarms: -1})
	if err != nil {
		return err
	}
	defer s.Close()
	opt, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	c := redis.NewClient(opt)
	defer c.Close()
	used := func() (int64, error) {
		info, err := c.Info(context.Background(), "memory").Result()
		if err != nil {
			return 0, fmt.Errorf("redis INFO memory: %w", err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
				return strconv.ParseInt(v, 10, 64)
			}
		}
		return 0, fmt.Errorf("redis INFO memory: no used_memory")
	}
	before, err := used()
	if err != nil {
		return err
	}
	h := s.Handler()
	start := time.Now()
	var g errgroup.Group
	for wk := range workers {
		g.Go(func() error {
			w := &discard{h: http.Header{}}
			var buf []byte
			for sw := wk; sw < swarms; sw += workers {
				for p := range peers {
					if err := announceOne(h, w, &buf, sw, p, sw*peers+p, ipv6Every); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	el := time.Since(start)
	after, err := used()
	if err != nil {
		return err
	}
	n := swarms * peers
	out, _ := json.Marshal(map[string]any{
		"bench":               "tracker_memory_redis",
		"swarms":              swarms,
		"peers_per_swarm":     peers,
		"peers":               n,
		"ipv6_every":          ipv6Every,
		"redis_used_bytes":    after - before,
		"bytes_per_peer":      float64(after-before) / float64(n),
		"announces_per_s":     float64(n) / el.Seconds(),
		"announces_in_flight": workers,
	})
	fmt.Println(string(out))
	return nil
}
