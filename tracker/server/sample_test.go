package server_test

import (
	"fmt"
	"slices"
	"testing"

	"swarm/metainfo"
	"swarm/tracker/server"
)

// chiSquare returns the statistic of observed counts against equal expected
// counts.
func chiSquare(counts map[string]int, categories, total int) float64 {
	exp := float64(total) / float64(categories)
	var x float64
	for _, c := range counts {
		d := float64(c) - exp
		x += d * d / exp
	}
	// Categories never seen count too.
	x += float64(categories-len(counts)) * exp
	return x
}

// Critical values of the chi-square distribution at p = 0.001 by degrees of
// freedom: a uniform sampler fails one run in a thousand, and the fixed seed
// makes the run the same every time.
var chiSquare999 = map[int]float64{11: 31.26, 19: 43.82, 34: 65.25}

// TestSamplesAreUniform checks that the peers in a reply are a uniformly
// random subset: each peer equally often, and each subset equally often.
func TestSamplesAreUniform(t *testing.T) {
	tests := []struct {
		name     string
		leechers int // other leechers, half of them IPv6
		seeders  int // other seeders
		asker    int64
		numWant  int
		subsets  bool // count whole subsets rather than single peers
	}{
		{name: "leecher, peers", leechers: 14, seeders: 6, asker: 1, numWant: 5},
		{name: "leecher, subsets", leechers: 4, seeders: 2, asker: 1, numWant: 3, subsets: true},
		{name: "seeder, peers", leechers: 12, seeders: 8, asker: 0, numWant: 4},
		{name: "seeder, subsets", leechers: 7, seeders: 3, asker: 0, numWant: 4, subsets: true},
	}
	const rounds = 20000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, server.Config{Seed: 12345})
			h := s.Handler()
			ih := metainfo.Hash{0x5a}
			n := 1
			for i := range tt.leechers + tt.seeders {
				left := int64(0)
				if i < tt.leechers {
					left = 10
				}
				ip := "10.0.0.1"
				if i%2 == 1 {
					ip = "2001:db8::1"
				}
				announce(t, h, ip, testPeer(ih, n, left), "&numwant=0")
				n++
			}
			asker := testPeer(ih, 0, tt.asker)
			asker.Downloaded = 1 // a known seed when left=0
			announce(t, h, "10.0.0.1", asker, "&numwant=0")
			population := tt.leechers + tt.seeders
			if tt.asker == 0 {
				population = tt.leechers
			}
			counts := map[string]int{}
			for range rounds {
				resp := announce(t, h, "10.0.0.1", asker, fmt.Sprintf("&numwant=%d", tt.numWant))
				if len(resp.Peers) != tt.numWant {
					t.Fatalf("got %d peers, want %d", len(resp.Peers), tt.numWant)
				}
				var ports []int
				for _, p := range resp.Peers {
					if p.Port() == asker.Port {
						t.Fatal("asker was sent itself")
					}
					if tt.asker == 0 && int(p.Port())-10000 > tt.leechers {
						t.Fatalf("seeder was sent seeder %v", p)
					}
					ports = append(ports, int(p.Port()))
				}
				slices.Sort(ports)
				if len(slices.Compact(slices.Clone(ports))) != len(ports) {
					t.Fatalf("duplicate peers in %v", resp.Peers)
				}
				if tt.subsets {
					counts[fmt.Sprint(ports)]++
				} else {
					for _, p := range ports {
						counts[fmt.Sprint(p)]++
					}
				}
			}
			categories, total := population, rounds*tt.numWant
			if tt.subsets {
				categories, total = binomial(population, tt.numWant), rounds
			}
			if len(counts) > categories {
				t.Fatalf("%d categories seen, only %d exist", len(counts), categories)
			}
			crit, ok := chiSquare999[categories-1]
			if !ok {
				t.Fatalf("no critical value for %d degrees of freedom", categories-1)
			}
			x := chiSquare(counts, categories, total)
			t.Logf("chi-square %.2f with %d degrees of freedom (critical %.2f)", x, categories-1, crit)
			if x > crit {
				t.Errorf("chi-square %.2f > %.2f: replies are not uniform: %v", x, crit, counts)
			}
		})
	}
}

func binomial(n, k int) int {
	r := 1
	for i := range k {
		r = r * (n - i) / (i + 1)
	}
	return r
}
