package server

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestPeerListMatchesModel runs random adds, removes and seeder changes on a
// peerList and checks it against a plain map after every step. With 12
// addresses the list keeps crossing the size at which it builds and drops its
// index.
func TestPeerListMatchesModel(t *testing.T) {
	for _, addrs := range []int{12, 200} {
		t.Run(fmt.Sprint(addrs, " addresses"), func(t *testing.T) { testPeerListModel(t, addrs) })
	}
}

func testPeerListModel(t *testing.T, addrs int) {
	rng := rand.New(rand.NewPCG(7, uint64(addrs)))
	var l peerList[addr4]
	model := map[addr4]bool{} // address -> seeder
	key := func(n int) addr4 { return addr4{byte(n), 0, 0, 1, 0, 1} }
	for step := range 20000 {
		k := key(rng.IntN(addrs))
		i, found := l.find(k)
		if _, inModel := model[k]; found != inModel {
			t.Fatalf("step %d: find(%v) = %v, model says %v", step, k, found, inModel)
		}
		switch op := rng.IntN(3); {
		case !found && op < 2:
			seeder := rng.IntN(2) == 0
			l.add(peer[addr4]{addr: k}, seeder)
			model[k] = seeder
		case found && op == 0:
			l.remove(i)
			delete(model, k)
		case found:
			seeder := rng.IntN(2) == 0
			j := l.setSeeder(i, seeder)
			if l.peers[j].addr != k {
				t.Fatalf("step %d: setSeeder returned slot %d holding %v, want %v", step, j, l.peers[j].addr, k)
			}
			model[k] = seeder
		}
		checkPeerList(t, step, &l, model)
	}
}

func checkPeerList(t *testing.T, step int, l *peerList[addr4], model map[addr4]bool) {
	t.Helper()
	if len(l.peers) != len(model) {
		t.Fatalf("step %d: %d peers, model has %d", step, len(l.peers), len(model))
	}
	if l.index != nil && len(l.index) != len(model) || l.index == nil && len(model) > indexAbove {
		t.Fatalf("step %d: index of %d entries (nil %v), model has %d", step, len(l.index), l.index == nil, len(model))
	}
	seeders := 0
	for _, s := range model {
		if s {
			seeders++
		}
	}
	if l.seeders != seeders {
		t.Fatalf("step %d: %d seeders, model has %d", step, l.seeders, seeders)
	}
	for i, p := range l.peers {
		if j, ok := l.find(p.addr); !ok || j != i {
			t.Fatalf("step %d: find(%v) = %d, %v; peer is in slot %d", step, p.addr, j, ok, i)
		}
		if model[p.addr] != (i < l.seeders) {
			t.Fatalf("step %d: %v in slot %d (seeders %d), model seeder %v", step, p.addr, i, l.seeders, model[p.addr])
		}
	}
}
