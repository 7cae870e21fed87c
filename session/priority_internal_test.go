package session

import (
	"testing"

	"swarm/metainfo"
	"swarm/piece"
)

// A piece takes the highest priority of the files it holds bytes of; pad
// files and empty files do not count, and nil priorities make all normal.
func TestApplyPrioritiesSharedPiecesTakeTheHighest(t *testing.T) {
	// 4 pieces of 100 bytes: a = 0-149 (pieces 0, 1), empty e, pad 150-199
	// (piece 1), b = 200-249 (piece 2), c = 250-399 (pieces 2, 3).
	info := &metainfo.Info{PieceLength: 100, Length: 400, Pieces: make([]metainfo.Hash, 4), Files: []metainfo.File{
		{Path: []string{"a"}, Length: 150, Offset: 0},
		{Path: []string{"e"}, Length: 0, Offset: 150},
		{Path: []string{".pad"}, Length: 50, Offset: 150, Padding: true},
		{Path: []string{"b"}, Length: 50, Offset: 200},
		{Path: []string{"c"}, Length: 150, Offset: 250},
	}}
	pk, err := piece.NewPicker[*peerConn](piece.Config{Geometry: piece.Geometry{PieceLength: 100, Length: 400}})
	if err != nil {
		t.Fatal(err)
	}
	check := func(prios []int, want ...piece.Priority) {
		t.Helper()
		if err := applyPriorities(pk, info, prios); err != nil {
			t.Fatalf("applyPriorities(%v): %v", prios, err)
		}
		for p, w := range want {
			if got := pk.Priority(p); got != w {
				t.Errorf("applyPriorities(%v): piece %d has priority %d, want %d", prios, p, got, w)
			}
		}
	}
	check([]int{-1, 1, 1, 0, -1}, -1, -1, 0, -1)
	check([]int{0, 0, 0, -1, 1}, 0, 0, 1, 1)
	check(nil, 0, 0, 0, 0)
	if err := applyPriorities(pk, info, []int{1}); err == nil {
		t.Error("applyPriorities with 1 priority for 5 files succeeded")
	}
}
