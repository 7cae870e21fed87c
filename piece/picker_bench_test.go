package piece_test

import (
	"math/rand/v2"
	"testing"

	"swarm/piece"
)

const (
	benchPieces = 4096 // 1 GiB in 256 KiB pieces
	benchBlocks = 16
	benchPeers  = 50
)

// benchSwarm returns a picker for 1 GiB with 50 peers, 5 of them seeds and
// the rest holding a random half of the pieces.
func benchSwarm(b *testing.B, r *rand.Rand) *piece.Picker[int] {
	b.Helper()
	pk := newPicker(b, benchPieces, benchBlocks, piece.Config{Rand: rand.New(rand.NewPCG(r.Uint64(), 1))})
	for k := range benchPeers {
		if k < 5 {
			pk.PeerHasAll(k)
			continue
		}
		bf := piece.NewBitfield(benchPieces)
		for p := range benchPieces {
			if r.IntN(2) == 0 {
				bf.Set(p)
			}
		}
		if err := pk.PeerBitfield(k, bf); err != nil {
			b.Fatal(err)
		}
	}
	return pk
}

// BenchmarkPick measures one Pick of up to 8 blocks.
func BenchmarkPick(b *testing.B) {
	b.Run("download", func(b *testing.B) {
		// A whole download, over and over: each op picks 8 blocks for the
		// next peer and receives them, verifying completed pieces.
		r := rand.New(rand.NewPCG(1, 1))
		pk := benchSwarm(b, r)
		k := 0
		b.ReportAllocs()
		for b.Loop() {
			k = (k + 1) % benchPeers
			for _, blk := range pk.Pick(k, 8) {
				rc, err := pk.Received(k, blk)
				if err != nil {
					b.Fatal(err)
				}
				if rc.Complete {
					if err := pk.Verified(int(blk.Piece)); err != nil {
						b.Fatal(err)
					}
				}
			}
			if pk.Complete() {
				b.StopTimer()
				pk = benchSwarm(b, r)
				b.StartTimer()
			}
		}
	})
	b.Run("download-priorities", func(b *testing.B) {
		// As download, with an eighth of the pieces high and an eighth
		// low priority: Pick scans tier by tier.
		r := rand.New(rand.NewPCG(1, 1))
		setup := func() *piece.Picker[int] {
			pk := benchSwarm(b, r)
			for p := range benchPieces {
				switch p % 8 {
				case 0:
					pk.SetPriority(p, piece.PriorityHigh)
				case 1:
					pk.SetPriority(p, piece.PriorityLow)
				}
			}
			return pk
		}
		pk := setup()
		k := 0
		b.ReportAllocs()
		for b.Loop() {
			k = (k + 1) % benchPeers
			for _, blk := range pk.Pick(k, 8) {
				rc, err := pk.Received(k, blk)
				if err != nil {
					b.Fatal(err)
				}
				if rc.Complete {
					if err := pk.Verified(int(blk.Piece)); err != nil {
						b.Fatal(err)
					}
				}
			}
			if pk.Complete() {
				b.StopTimer()
				pk = setup()
				b.StartTimer()
			}
		}
	})
	b.Run("full-scan", func(b *testing.B) {
		// The worst case: the peer's only piece is already requested from
		// someone else, so Pick walks every candidate and finds nothing.
		r := rand.New(rand.NewPCG(2, 2))
		pk := benchSwarm(b, r)
		const lonely = 1000
		for p := range benchPieces {
			pk.SetWanted(p, p == 7)
		}
		if got := pk.Pick(0, benchBlocks); len(got) != benchBlocks {
			b.Fatalf("setting up: Pick(0) = %v, want all of piece 7", got)
		}
		for p := range benchPieces {
			pk.SetWanted(p, true)
		}
		if err := pk.PeerHave(lonely, 7); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if got := pk.Pick(lonely, 8); got != nil {
				b.Fatalf("Pick = %v, want nothing", got)
			}
		}
	})
}
