package piece_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"swarm/piece"
)

// peer keys used in the tests
const (
	A = iota + 1
	B
	C
	D
)

// newPicker returns a picker over pieces of blocksPerPiece blocks each,
// with a fixed random seed.
func newPicker(t testing.TB, pieces, blocksPerPiece int, cfg piece.Config) *piece.Picker[int] {
	t.Helper()
	cfg.Geometry = piece.Geometry{
		PieceLength: int64(blocksPerPiece) * piece.BlockSize,
		Length:      int64(pieces*blocksPerPiece) * piece.BlockSize,
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(1, 2))
	}
	pk, err := piece.NewPicker[int](cfg)
	if err != nil {
		t.Fatalf("NewPicker: %v", err)
	}
	return pk
}

// bits parses a bitfield written as "0110...", piece 0 first.
func bits(t testing.TB, s string) *piece.Bitfield {
	t.Helper()
	bf := piece.NewBitfield(len(s))
	for i, c := range s {
		if c == '1' {
			bf.Set(i)
		}
	}
	return bf
}

func setBitfield(t testing.TB, pk *piece.Picker[int], k int, s string) {
	t.Helper()
	if err := pk.PeerBitfield(k, bits(t, s)); err != nil {
		t.Fatalf("PeerBitfield(%d, %s): %v", k, s, err)
	}
}

// receive delivers b from k and fails the test if the picker refuses it.
func receive(t testing.TB, pk *piece.Picker[int], k int, b piece.Block) piece.Receipt[int] {
	t.Helper()
	r, err := pk.Received(k, b)
	if err != nil {
		t.Fatalf("Received(%d, %v): %v", k, b, err)
	}
	return r
}

func pieces(bs []piece.Block) []int {
	var ps []int
	for _, b := range bs {
		if len(ps) == 0 || ps[len(ps)-1] != int(b.Piece) {
			ps = append(ps, int(b.Piece))
		}
	}
	return ps
}

func TestPickRarestFirst(t *testing.T) {
	tests := []struct {
		name    string
		peers   map[int]string // bitfields of other peers
		picker  string         // bitfield of the peer we pick for (D)
		have    []int
		unwant  []int
		started []int // pieces A has already been asked for
		n       int
		want    []int // pieces of the picked blocks, in order
	}{
		{
			name:   "rarest piece first",
			peers:  map[int]string{A: "11110", B: "01110", C: "00110"},
			picker: "11111",
			n:      1,
			want:   []int{4},
		},
		{
			name:   "then the next rarest",
			peers:  map[int]string{A: "11110", B: "01110", C: "00110"},
			picker: "11111",
			n:      3,
			want:   []int{4, 0, 1},
		},
		{
			name:   "only pieces the peer has",
			peers:  map[int]string{A: "11110", B: "01110", C: "00110"},
			picker: "00111",
			n:      2,
			want:   []int{4, 2}, // 2 and 3 tie; the seeded tie-break says 2
		},
		{
			name:   "skips pieces we have",
			peers:  map[int]string{A: "11110", B: "10110", C: "10010"},
			picker: "11111",
			have:   []int{4, 1},
			n:      1,
			want:   []int{2},
		},
		{
			name:   "skips unwanted pieces",
			peers:  map[int]string{A: "11110", B: "01110"},
			picker: "11111",
			unwant: []int{4},
			n:      1,
			want:   []int{0},
		},
		{
			name:    "skips pieces already requested from others",
			peers:   map[int]string{A: "11111", B: "01110"},
			picker:  "11111",
			started: []int{4},
			n:       1,
			want:    []int{0},
		},
		{
			name:   "nothing the peer has that we want",
			peers:  map[int]string{A: "11110"},
			picker: "00011",
			have:   []int{3, 4},
			n:      5,
			want:   nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk := newPicker(t, 5, 1, piece.Config{RandomFirst: -1})
			for k, s := range tt.peers {
				setBitfield(t, pk, k, s)
			}
			setBitfield(t, pk, D, tt.picker)
			for _, p := range tt.have {
				if err := pk.SetHave(p); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range tt.unwant {
				if _, err := pk.SetWanted(p, false); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range tt.started {
				// A is asked for p by picking with everything else unwanted.
				for q := range 5 {
					pk.SetWanted(q, q == p)
				}
				if got := pieces(pk.Pick(A, 1)); !slices.Equal(got, []int{p}) {
					t.Fatalf("setting up: Pick(A) = %v, want [%d]", got, p)
				}
				for q := range 5 {
					pk.SetWanted(q, !slices.Contains(tt.unwant, q))
				}
			}
			if got := pieces(pk.Pick(D, tt.n)); !slices.Equal(got, tt.want) {
				t.Errorf("Pick(D, %d) pieces = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}

func TestPickBreaksTiesAtRandom(t *testing.T) {
	first := func(seed uint64) int {
		pk := newPicker(t, 16, 1, piece.Config{RandomFirst: -1, Rand: rand.New(rand.NewPCG(seed, seed))})
		setBitfield(t, pk, A, "1111111111111111")
		setBitfield(t, pk, B, "1111111100000000") // pieces 8..15 are rarer
		got := pk.Pick(A, 1)
		if len(got) != 1 {
			t.Fatalf("seed %d: Pick(A, 1) = %v", seed, got)
		}
		return int(got[0].Piece)
	}
	seen := map[int]int{}
	for seed := range uint64(200) {
		p := first(seed)
		if p < 8 {
			t.Fatalf("seed %d: picked piece %d, not one of the rarest 8..15", seed, p)
		}
		seen[p]++
		if again := first(seed); again != p {
			t.Fatalf("seed %d: picked %d then %d; same seed must give the same pick", seed, p, again)
		}
	}
	// 200 draws over 8 equally rare pieces: each should turn up (a fair
	// tie-break leaves one out with probability < 1e-10).
	if len(seen) != 8 {
		t.Errorf("ties went to %d of 8 pieces: %v", len(seen), seen)
	}
}

func TestPickRandomFirstPieces(t *testing.T) {
	// Piece 0 is the only rare one. While we have fewer than 4 pieces the
	// first pick is random; from 4 on it is the rarest.
	pick := func(seed uint64, have int) int {
		pk := newPicker(t, 32, 1, piece.Config{Rand: rand.New(rand.NewPCG(seed, 7))})
		all := "11111111111111111111111111111111"
		setBitfield(t, pk, A, all)
		setBitfield(t, pk, B, "0"+all[1:])
		for p := 31; p > 31-have; p-- {
			if err := pk.SetHave(p); err != nil {
				t.Fatal(err)
			}
		}
		return int(pk.Pick(A, 1)[0].Piece)
	}
	tests := []struct {
		name       string
		have       int
		wantRarest bool
	}{
		{"newcomer picks at random", 0, false},
		{"three pieces: still random", 3, false},
		{"four pieces: rarest first", 4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[int]bool{}
			for seed := range uint64(50) {
				seen[pick(seed, tt.have)] = true
			}
			if tt.wantRarest && (len(seen) != 1 || !seen[0]) {
				t.Errorf("first picks over 50 seeds = %v, want only the rarest piece 0", seen)
			}
			if !tt.wantRarest && len(seen) < 10 {
				t.Errorf("first picks over 50 seeds = %v, want them spread over many pieces", seen)
			}
		})
	}
}

func TestPickFinishesPartialPiecesFirst(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, pk *piece.Picker[int])
		want  []piece.Block
	}{
		{
			name: "remaining blocks of a piece another peer is sending",
			setup: func(t *testing.T, pk *piece.Picker[int]) {
				got := pk.Pick(A, 2) // A: rarest is piece 3 (A and B only)
				if !slices.Equal(pieces(got), []int{3}) {
					t.Fatalf("setting up: Pick(A, 2) = %v, want two blocks of piece 3", got)
				}
			},
			want: []piece.Block{{3, 2 * piece.BlockSize, piece.BlockSize}, {3, 3 * piece.BlockSize, piece.BlockSize}},
		},
		{
			name: "blocks released by a peer that left",
			setup: func(t *testing.T, pk *piece.Picker[int]) {
				got := pk.Pick(A, 4)
				receive(t, pk, A, got[0])
				receive(t, pk, A, got[2])
				pk.PeerLeft(A)
			},
			want: []piece.Block{{3, piece.BlockSize, piece.BlockSize}, {3, 3 * piece.BlockSize, piece.BlockSize}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk := newPicker(t, 4, 4, piece.Config{RandomFirst: -1})
			setBitfield(t, pk, A, "1111")
			setBitfield(t, pk, B, "1001") // pieces 0 and 3 are rarer than 1 and 2
			setBitfield(t, pk, C, "0110")
			setBitfield(t, pk, D, "0110")
			pk.SetWanted(0, false) // leave piece 3 the rarest alone
			tt.setup(t, pk)
			pk.SetWanted(0, true)
			// B has piece 0 too, which is as rare as 3, but 3 is started.
			got := pk.Pick(B, 2)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Pick(B, 2) = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEndgameDuplicatesAndCancels(t *testing.T) {
	pk := newPicker(t, 2, 2, piece.Config{RandomFirst: -1, MaxDuplicates: 2})
	for _, k := range []int{A, B, C} {
		pk.PeerHasAll(k)
	}
	first := pk.Pick(A, 3)
	if len(first) != 3 || pk.Endgame() {
		t.Fatalf("Pick(A, 3) = %v, endgame %v; want 3 blocks, no endgame", first, pk.Endgame())
	}
	last := pk.Pick(B, 1)
	if len(last) != 1 || !pk.Endgame() {
		t.Fatalf("Pick(B, 1) = %v, endgame %v; want the last block, then endgame", last, pk.Endgame())
	}
	// Every block is requested: C gets duplicates of all four.
	dup := pk.Pick(C, 10)
	if len(dup) != 4 {
		t.Fatalf("endgame Pick(C, 10) = %v, want all 4 blocks again", dup)
	}
	// Each block now has 2 requesters: the limit.
	if got := pk.Pick(D, 10); got != nil {
		t.Errorf("Pick(D) with all blocks at MaxDuplicates = %v, want nil (D is unknown anyway)", got)
	}
	pk.PeerHasAll(D)
	if got := pk.Pick(D, 10); len(got) != 0 {
		t.Errorf("Pick(D) with all blocks at MaxDuplicates = %v, want none", got)
	}
	if got := pk.Pick(A, 10); len(got) != 0 {
		t.Errorf("Pick(A) = %v, want none (A already has every block it could get requested)", got)
	}

	tests := []struct {
		name       string
		from       int
		block      piece.Block
		wantAccept bool
		wantCancel []int
	}{
		{"first copy cancels the other requester", C, last[0], true, []int{B}},
		{"late copy from the cancelled peer is dropped", B, last[0], false, nil},
		{"copy from the original requester cancels the duplicate", A, first[0], true, []int{C}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := receive(t, pk, tt.from, tt.block)
			if r.Accepted != tt.wantAccept || !slices.Equal(r.Cancel, tt.wantCancel) {
				t.Errorf("Received(%d, %v) = %+v, want accepted %v, cancel %v", tt.from, tt.block, r, tt.wantAccept, tt.wantCancel)
			}
			if pk.Requested(tt.from, tt.block) {
				t.Errorf("block %v still requested from %d", tt.block, tt.from)
			}
			for _, k := range tt.wantCancel {
				if pk.Requested(k, tt.block) {
					t.Errorf("block %v still requested from cancelled peer %d", tt.block, k)
				}
			}
		})
	}
	// With a slot free again (C no longer holds first[0]... it was
	// received), D can now take a duplicate of a block with one requester.
	if got := pk.Pick(D, 10); len(got) != 0 {
		t.Errorf("Pick(D) = %v, want none: the two open blocks have 2 requesters", got)
	}
	pk.ReleasePeer(C)
	if got := pk.Pick(D, 10); len(got) != 2 {
		t.Errorf("after C choked us, Pick(D) = %v, want the 2 open blocks", got)
	}
}

func TestReleaseMakesBlocksPickable(t *testing.T) {
	tests := []struct {
		name         string
		release      func(pk *piece.Picker[int], got []piece.Block) []piece.Block
		wantReleased int
		wantAvail    int // availability of piece 0 afterwards
	}{
		{
			name:         "peer disconnects",
			release:      func(pk *piece.Picker[int], got []piece.Block) []piece.Block { return pk.PeerLeft(A) },
			wantReleased: 3,
			wantAvail:    1,
		},
		{
			name:         "peer chokes us",
			release:      func(pk *piece.Picker[int], got []piece.Block) []piece.Block { return pk.ReleasePeer(A) },
			wantReleased: 3,
			wantAvail:    2,
		},
		{
			name: "one request times out",
			release: func(pk *piece.Picker[int], got []piece.Block) []piece.Block {
				if !pk.Release(A, got[1]) {
					return nil
				}
				return got[1:2]
			},
			wantReleased: 1,
			wantAvail:    2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk := newPicker(t, 1, 3, piece.Config{MaxDuplicates: 1})
			pk.PeerHasAll(A)
			pk.PeerHasAll(B)
			got := pk.Pick(A, 3)
			if len(got) != 3 || pk.Outstanding(A) != 3 {
				t.Fatalf("Pick(A, 3) = %v, outstanding %d", got, pk.Outstanding(A))
			}
			if again := pk.Pick(B, 3); len(again) != 0 {
				t.Fatalf("Pick(B) before release = %v, want none (no endgame duplicates)", again)
			}
			released := tt.release(pk, got)
			if len(released) != tt.wantReleased {
				t.Fatalf("released %v, want %d blocks", released, tt.wantReleased)
			}
			if got := pk.Availability(0); got != tt.wantAvail {
				t.Errorf("Availability(0) = %d, want %d", got, tt.wantAvail)
			}
			for _, b := range released {
				if pk.Requested(A, b) {
					t.Errorf("%v still requested from A", b)
				}
			}
			again := pk.Pick(B, 3)
			if !slices.Equal(again, released) {
				t.Errorf("Pick(B, 3) after release = %v, want the released %v", again, released)
			}
		})
	}
}

func TestHashFailureResetsPieceAndNamesSenders(t *testing.T) {
	pk := newPicker(t, 2, 3, piece.Config{RandomFirst: -1})
	for _, k := range []int{A, B, C} {
		pk.PeerHasAll(k)
	}
	blocks := pk.Geometry().Blocks(1)
	senders := []int{B, A, B}
	for i, b := range blocks {
		r := receive(t, pk, senders[i], b) // unrequested, still accepted
		if !r.Accepted || r.Complete != (i == len(blocks)-1) {
			t.Fatalf("Received(%d, %v) = %+v, want accepted, complete only for the last", senders[i], b, r)
		}
	}
	if err := pk.Verified(0); !errors.Is(err, piece.ErrNotComplete) {
		t.Errorf("Verified(0) of an incomplete piece = %v, want ErrNotComplete", err)
	}
	if got := pk.Pick(C, 10); !slices.Equal(pieces(got), []int{0}) {
		t.Errorf("while piece 1 awaits its check, Pick(C) = %v, want blocks of piece 0 only", got)
	}
	pk.ReleasePeer(C)
	got, err := pk.Failed(1)
	if err != nil {
		t.Fatalf("Failed(1): %v", err)
	}
	if want := []int{B, A}; !slices.Equal(got, want) {
		t.Errorf("Failed(1) senders = %v, want %v", got, want)
	}
	if pk.HasPiece(1) {
		t.Errorf("HasPiece(1) after failure = true")
	}
	if _, err := pk.Failed(1); err == nil {
		t.Errorf("Failed(1) twice: no error")
	}
	// The whole piece is downloaded again.
	again := pk.Pick(C, 10)
	var of1 []piece.Block
	for _, b := range again {
		if b.Piece == 1 {
			of1 = append(of1, b)
		}
	}
	if !slices.Equal(of1, blocks) {
		t.Errorf("after failure Pick(C) = %v, want all of piece 1's blocks %v", again, blocks)
	}
	if r := receive(t, pk, C, blocks[0]); !r.Accepted {
		t.Errorf("block of the reset piece not accepted: %+v", r)
	}
}

func TestVerifiedPiecesAreDoneAndUninteresting(t *testing.T) {
	pk := newPicker(t, 2, 1, piece.Config{})
	setBitfield(t, pk, A, "10")
	setBitfield(t, pk, B, "01")
	if !pk.Interesting(A) || !pk.Interesting(B) {
		t.Fatalf("Interesting(A), Interesting(B) = %v, %v; want true", pk.Interesting(A), pk.Interesting(B))
	}
	b := pk.Pick(A, 5)
	if len(b) != 1 || !receive(t, pk, A, b[0]).Complete {
		t.Fatalf("Pick(A) = %v, want the one block that completes piece 0", b)
	}
	if err := pk.Verified(0); err != nil {
		t.Fatal(err)
	}
	if !pk.HasPiece(0) || pk.Interesting(A) || !pk.Interesting(B) || pk.Complete() {
		t.Errorf("after Verified(0): has %v, Interesting(A) %v, Interesting(B) %v, Complete %v",
			pk.HasPiece(0), pk.Interesting(A), pk.Interesting(B), pk.Complete())
	}
	if r := receive(t, pk, A, b[0]); r.Accepted {
		t.Errorf("block of a verified piece accepted")
	}
	if _, err := pk.SetWanted(1, false); err != nil {
		t.Fatal(err)
	}
	if !pk.Complete() || pk.Interesting(B) {
		t.Errorf("with piece 1 unwanted: Complete %v, Interesting(B) %v; want true, false", pk.Complete(), pk.Interesting(B))
	}
	if got := pk.Have().String(); got != "10" {
		t.Errorf("Have() = %s, want 10", got)
	}
}

func TestSetWantedFalseCancelsRequests(t *testing.T) {
	pk := newPicker(t, 1, 2, piece.Config{})
	pk.PeerHasAll(A)
	got := pk.Pick(A, 2)
	cancel, err := pk.SetWanted(0, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []piece.Request[int]{{A, got[0]}, {A, got[1]}}
	if !slices.Equal(cancel, want) {
		t.Errorf("SetWanted(0, false) = %v, want %v", cancel, want)
	}
	if pk.Outstanding(A) != 0 || pk.Pick(A, 2) != nil {
		t.Errorf("after unwanting: outstanding %d; want 0 and nothing to pick", pk.Outstanding(A))
	}
}

func TestPickerRejectsProtocolViolations(t *testing.T) {
	pk := newPicker(t, 3, 2, piece.Config{})
	tests := []struct {
		name string
		err  error
	}{
		{"have past the last piece", pk.PeerHave(A, 3)},
		{"negative have", pk.PeerHave(A, -1)},
		{"bitfield of the wrong length", pk.PeerBitfield(A, piece.NewBitfield(4))},
		{"block of a piece out of range", second(pk.Received(A, piece.Block{Piece: 3, Length: piece.BlockSize}))},
		{"unaligned block", second(pk.Received(A, piece.Block{Piece: 0, Begin: 1, Length: piece.BlockSize}))},
		{"block of the wrong length", second(pk.Received(A, piece.Block{Piece: 0, Length: 10}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Errorf("no error")
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }

// TestParoleGivesPiecesOfTheirOwn: peers on parole (they shared in a failed
// piece) are each given whole pieces nobody else is asked for, other peers
// keep off those pieces, a piece one of them sent alone that verifies takes
// it off parole, and a peer that chokes us opens its pieces to others.
func TestParoleGivesPiecesOfTheirOwn(t *testing.T) {
	pk := newPicker(t, 6, 4, piece.Config{RandomFirst: -1, MaxDuplicates: 1})
	for _, k := range []int{A, B, C} {
		setBitfield(t, pk, k, "111111")
	}
	pk.SetParole(A, true)
	pk.SetParole(B, true)
	if !pk.OnParole(A) || pk.OnParole(C) {
		t.Fatalf("OnParole(A), OnParole(C) = %v, %v, want true, false", pk.OnParole(A), pk.OnParole(C))
	}
	// C starts a piece and takes 2 of its 4 blocks.
	c := pk.Pick(C, 2)
	if len(c) != 2 {
		t.Fatalf("Pick(C, 2) = %v", c)
	}
	shared := int(c[0].Piece)
	a := pk.Pick(A, 2)
	b := pk.Pick(B, 6)
	if len(a) != 2 || len(b) != 6 {
		t.Fatalf("Pick(A, 2) = %v, Pick(B, 6) = %v: want 2 and 6 blocks", a, b)
	}
	for _, blk := range a {
		if int(blk.Piece) == shared || slices.Contains(pieces(b), int(blk.Piece)) {
			t.Errorf("A on parole was given %v: a piece C or B also downloads", blk)
		}
	}
	if slices.Contains(pieces(b), shared) {
		t.Errorf("B on parole was given blocks of piece %d, which C started", shared)
	}
	// C finishes its own piece, then must not join A's or B's.
	more := pk.Pick(C, 10)
	for _, blk := range more {
		if slices.Contains(pieces(a), int(blk.Piece)) || slices.Contains(pieces(b), int(blk.Piece)) {
			t.Errorf("C was given %v of a piece a peer on parole owns", blk)
		}
	}
	// A finishes its piece alone and it verifies: A is off parole.
	rest := pk.Pick(A, 2)
	for _, blk := range append(a, rest...) {
		if int(blk.Piece) == int(a[0].Piece) {
			receive(t, pk, A, blk)
		}
	}
	if err := pk.Verified(int(a[0].Piece)); err != nil {
		t.Fatalf("Verified: %v", err)
	}
	if pk.OnParole(A) {
		t.Errorf("A still on parole after a piece it sent alone verified")
	}
	// B chokes us: its pieces are open to C.
	pk.ReleasePeer(B)
	open := pk.Pick(C, 20)
	if !slices.Contains(pieces(open), int(b[0].Piece)) {
		t.Errorf("after B choked, Pick(C) = pieces %v, want B's piece %d among them", pieces(open), b[0].Piece)
	}
}

// TestDiscardRequeuesABannedPeersBlocks: the blocks a banned peer sent of
// unfinished pieces are picked again, from others.
func TestDiscardRequeuesABannedPeersBlocks(t *testing.T) {
	pk := newPicker(t, 2, 4, piece.Config{RandomFirst: -1, MaxDuplicates: 1})
	setBitfield(t, pk, A, "11")
	setBitfield(t, pk, B, "11")
	a := pk.Pick(A, 2)
	for _, b := range a {
		receive(t, pk, A, b)
	}
	b := pk.Pick(B, 2) // the rest of A's piece
	if n := pk.Discard(A); n != 2*piece.BlockSize {
		t.Fatalf("Discard(A) = %d bytes, want 2 blocks", n)
	}
	for _, blk := range b {
		if r := receive(t, pk, B, blk); r.Complete {
			t.Fatalf("piece complete after B's %v although A's blocks were discarded", blk)
		}
	}
	again := pk.Pick(B, 2)
	if !slices.Equal(again, a) {
		t.Fatalf("Pick(B) after Discard(A) = %v, want A's blocks %v again", again, a)
	}
	for i, blk := range again {
		if r := receive(t, pk, B, blk); r.Complete != (i == 1) {
			t.Fatalf("Received(B, %v) = %+v", blk, r)
		}
	}
	if n := pk.Discard(A); n != 0 {
		t.Errorf("Discard(A) again = %d, want 0", n)
	}
}

// TestAbandonStartsAPieceAfresh: a piece whose blocks were lost (a failed
// write) is picked again from scratch, complete or not, and a hash result
// for it that was under way no longer counts.
func TestAbandonStartsAPieceAfresh(t *testing.T) {
	pk := newPicker(t, 2, 2, piece.Config{RandomFirst: -1, MaxDuplicates: 1})
	setBitfield(t, pk, A, "11")
	first := pk.Pick(A, 4)
	if len(first) != 4 {
		t.Fatalf("Pick(A, 4) = %v", first)
	}
	for _, b := range first[:3] {
		receive(t, pk, A, b) // piece 0 complete, piece 1 half
	}
	p0, p1 := int(first[0].Piece), int(first[3].Piece)
	if reqs := pk.Abandon(p1); len(reqs) != 1 || reqs[0].Peer != A || reqs[0].Block != first[3] {
		t.Errorf("Abandon(%d) = %v, want the outstanding request of %v", p1, reqs, first[3])
	}
	if reqs := pk.Abandon(p0); len(reqs) != 0 {
		t.Errorf("Abandon(%d) of a complete piece = %v, want no requests", p0, reqs)
	}
	if err := pk.Verified(p0); !errors.Is(err, piece.ErrNotComplete) {
		t.Errorf("Verified after Abandon = %v, want ErrNotComplete", err)
	}
	again := pk.Pick(A, 10)
	if len(again) != 4 {
		t.Fatalf("after Abandon, Pick(A) = %v, want all 4 blocks again", again)
	}
	if pk.Endgame() != true || pk.Missing() != 2 {
		t.Errorf("Endgame, Missing = %v, %d; want true, 2", pk.Endgame(), pk.Missing())
	}
	if reqs := pk.Abandon(p0); len(reqs) != 2 {
		t.Errorf("Abandon(%d) with 2 requests out = %v", p0, reqs)
	}
	if pk.Outstanding(A) != 2 {
		t.Errorf("Outstanding(A) = %d after abandoning a piece with 2 of its 4 requests", pk.Outstanding(A))
	}
}

// A block known in advance (BEP 47 padding) is never picked: its piece
// completes with the other blocks, and a hash failure blames only the
// peers that sent something. A piece made only of known blocks is picked
// as usual.
func TestPickerNeverPicksKnownBlocks(t *testing.T) {
	// Piece 0: blocks 2 and 3 are padding; piece 1: all padding.
	known := func(b piece.Block) bool { return b.Piece == 1 || (b.Piece == 0 && b.Begin >= 2*piece.BlockSize) }
	pk := newPicker(t, 2, 4, piece.Config{Known: known, RandomFirst: -1})
	setBitfield(t, pk, A, "11")
	got := pk.Pick(A, 100)
	var p0, p1 int
	for _, b := range got {
		if b.Piece == 0 {
			p0++
			if known(b) {
				t.Errorf("Pick returned pad block %v", b)
			}
		} else {
			p1++
		}
	}
	if p0 != 2 || p1 != 4 {
		t.Fatalf("Pick = %v: %d blocks of piece 0 (want 2), %d of piece 1 (want 4)", got, p0, p1)
	}
	receive(t, pk, A, piece.Block{Piece: 0, Begin: 0, Length: piece.BlockSize})
	if r := receive(t, pk, A, piece.Block{Piece: 0, Begin: piece.BlockSize, Length: piece.BlockSize}); !r.Complete {
		t.Fatalf("piece 0 not complete after its two real blocks: %+v", r)
	}
	senders, err := pk.Failed(0)
	if err != nil || !slices.Equal(senders, []int{A}) {
		t.Fatalf("Failed(0) = %v, %v; want [A] (no sender for pad blocks)", senders, err)
	}
	again := pk.Pick(A, 100)
	for _, b := range again {
		if known(b) && b.Piece == 0 {
			t.Errorf("Pick after Failed returned pad block %v", b)
		}
	}
}

func TestPickHighPriorityPiecesFirst(t *testing.T) {
	// 12 pieces of 1 block; peer A has them all, and B has pieces 8-11,
	// which makes 0-7 the rarest. High: 9 and 10 (common); low: 0-3
	// (rarest). Rarity orders within a priority, never across.
	pk := newPicker(t, 12, 1, piece.Config{RandomFirst: -1})
	setBitfield(t, pk, A, "111111111111")
	setBitfield(t, pk, B, "000000001111")
	for p, pr := range map[int]piece.Priority{9: piece.PriorityHigh, 10: piece.PriorityHigh, 0: piece.PriorityLow, 1: piece.PriorityLow, 2: piece.PriorityLow, 3: piece.PriorityLow} {
		if err := pk.SetPriority(p, pr); err != nil {
			t.Fatal(err)
		}
	}
	got := pieces(pk.Pick(A, 12))
	if len(got) != 12 {
		t.Fatalf("Pick(A, 12) = %v, want all 12 pieces", got)
	}
	if s := got[:2]; !slices.Equal(slices.Sorted(slices.Values(s)), []int{9, 10}) {
		t.Errorf("first picks %v, want the high-priority pieces 9 and 10 (got %v)", s, got)
	}
	// Normal: 4-7 (rarer) before 8 and 11.
	if s := got[2:6]; !slices.Equal(slices.Sorted(slices.Values(s)), []int{4, 5, 6, 7}) {
		t.Errorf("picks 3-6 are %v, want the rarer normal pieces 4-7 (got %v)", s, got)
	}
	if s := got[6:8]; !slices.Equal(slices.Sorted(slices.Values(s)), []int{8, 11}) {
		t.Errorf("picks 7-8 are %v, want normal pieces 8 and 11 (got %v)", s, got)
	}
	if s := got[8:]; !slices.Equal(slices.Sorted(slices.Values(s)), []int{0, 1, 2, 3}) {
		t.Errorf("last picks %v, want the low-priority pieces 0-3 although rarest (got %v)", s, got)
	}
}

func TestPickHighPriorityFirstAmongRandomFirstPieces(t *testing.T) {
	// With nothing verified, new pieces start at random, but still from
	// the highest priority a peer has, over many seeds.
	for seed := range uint64(50) {
		pk := newPicker(t, 64, 1, piece.Config{Rand: rand.New(rand.NewPCG(seed, 3))})
		pk.PeerHasAll(A)
		for _, p := range []int{5, 40} {
			if err := pk.SetPriority(p, piece.PriorityHigh); err != nil {
				t.Fatal(err)
			}
		}
		got := pieces(pk.Pick(A, 2))
		if !slices.Equal(slices.Sorted(slices.Values(got)), []int{5, 40}) {
			t.Fatalf("seed %d: Pick(A, 2) = %v, want the high-priority pieces 5 and 40", seed, got)
		}
	}
}

func TestSetPriorityAtRuntime(t *testing.T) {
	pk := newPicker(t, 8, 1, piece.Config{RandomFirst: -1})
	pk.PeerHasAll(A)
	setBitfield(t, pk, B, "11110000") // 4-7 rarest
	if got := pieces(pk.Pick(A, 1)); len(got) != 1 || got[0] < 4 {
		t.Fatalf("Pick(A, 1) = %v, want a rarest piece of 4-7", got)
	}
	// Raising 1 and lowering 4-7 takes effect at the next pick; the piece
	// already started stays started (it is finished first).
	if err := pk.SetPriority(1, piece.PriorityHigh); err != nil {
		t.Fatal(err)
	}
	for p := 4; p < 8; p++ {
		if err := pk.SetPriority(p, piece.PriorityLow); err != nil {
			t.Fatal(err)
		}
	}
	got := pieces(pk.Pick(A, 4))
	if got[0] != 1 || !slices.Equal(slices.Sorted(slices.Values(got[1:])), []int{0, 2, 3}) {
		t.Errorf("after the change Pick(A, 4) = %v, want 1 then 0, 2, 3", got)
	}
	if pk.Priority(1) != piece.PriorityHigh || pk.Priority(0) != piece.PriorityNormal {
		t.Errorf("Priority(1), Priority(0) = %d, %d", pk.Priority(1), pk.Priority(0))
	}
	// Back to normal everywhere: rarest first again.
	for p := range 8 {
		if err := pk.SetPriority(p, piece.PriorityNormal); err != nil {
			t.Fatal(err)
		}
	}
	if got := pieces(pk.Pick(A, 3)); len(got) != 3 || slices.ContainsFunc(got, func(p int) bool { return p < 4 }) {
		t.Errorf("all normal again: Pick(A, 3) = %v, want the remaining rarest of 4-7", got)
	}
	if err := pk.SetPriority(0, 2); err == nil {
		t.Error("SetPriority(0, 2) succeeded, want an error")
	}
	if err := pk.SetPriority(8, piece.PriorityHigh); err == nil {
		t.Error("SetPriority(8) succeeded, want an out-of-range error")
	}
}
