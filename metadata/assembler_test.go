package metadata_test

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"swarm/metadata"
	"swarm/peer"
)

// makeInfo returns size bytes standing for an info dict, and their SHA-1.
func makeInfo(size int) ([]byte, [20]byte) {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b, sha1.Sum(b)
}

// piece is data message i of info.
func piece(info []byte, i int) peer.MetadataMessage {
	start := i * peer.MetadataPieceSize
	return peer.MetadataMessage{Type: peer.MetadataData, Piece: i, TotalSize: len(info),
		Data: info[start : start+peer.MetadataPieceLen(len(info), i)]}
}

// asked returns the pieces the requests ask of p, in order.
func asked(reqs []metadata.Request[string], p string) []int {
	var out []int
	for _, r := range reqs {
		if r.Peer == p {
			out = append(out, r.Piece)
		}
	}
	slices.Sort(out)
	return out
}

func newAssembler(t *testing.T, cfg metadata.Config) *metadata.Assembler[string] {
	t.Helper()
	a, err := metadata.New[string](cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestAssemblerGetsTheWholeDictFromOnePeer: the pieces are asked four at a
// time, each answer brings the next request, and the whole dict comes back
// once it hashes to the info hash; a piece sent again, or never asked,
// ends the peer's fetch.
func TestAssemblerGetsTheWholeDictFromOnePeer(t *testing.T) {
	info, ih := makeInfo(6*peer.MetadataPieceSize + 100) // 7 pieces
	a := newAssembler(t, metadata.Config{InfoHash: ih})
	if err := a.Offer("p", len(info)); err != nil {
		t.Fatal(err)
	}
	if got := asked(a.Requests(t0), "p"); !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Fatalf("first requests = %v, want pieces 0-3", got)
	}
	if got := a.Requests(t0); len(got) != 0 {
		t.Fatalf("requests again with none answered = %v, want none", got)
	}
	var got []byte
	for i := range 7 {
		b, err := a.Data("p", piece(info, i), t0)
		if err != nil {
			t.Fatalf("Data(piece %d) = %v", i, err)
		}
		if want := []int{i + 4}; i+4 < 7 && !slices.Equal(asked(a.Requests(t0), "p"), want) {
			t.Fatalf("after piece %d: requests want %v", i, want)
		}
		got = b
	}
	if !bytes.Equal(got, info) {
		t.Fatalf("Data returned %d bytes at the end, want the %d-byte dict", len(got), len(info))
	}
	if a.Fetching() != 0 || a.Reserved() != 0 {
		t.Errorf("after the dict: %d fetches, %d bytes reserved; want none", a.Fetching(), a.Reserved())
	}

	for _, tt := range []struct {
		name string
		msg  func() peer.MetadataMessage
	}{
		{"piece not asked yet", func() peer.MetadataMessage { return piece(info, 5) }},
		{"piece sent twice", func() peer.MetadataMessage { return piece(info, 0) }},
		{"other total_size", func() peer.MetadataMessage {
			m := piece(info, 1)
			m.TotalSize++
			return m
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newAssembler(t, metadata.Config{InfoHash: ih})
			a.Offer("p", len(info))
			a.Requests(t0)
			if tt.name == "piece sent twice" {
				if _, err := a.Data("p", piece(info, 0), t0); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := a.Data("p", tt.msg(), t0); err == nil {
				t.Fatal("Data accepted it, want an error")
			}
			if a.Fetching() != 0 || a.Reserved() != 0 {
				t.Errorf("after the error: %d fetches, %d bytes reserved; want none", a.Fetching(), a.Reserved())
			}
		})
	}
}

// TestAssemblerNamesTheLiar: a dict that fails the hash is ErrHashMismatch
// from its one sender; the next peer claiming the same size is asked only
// then, and delivers.
func TestAssemblerNamesTheLiar(t *testing.T) {
	info, ih := makeInfo(40000) // 3 pieces
	junk, _ := makeInfo(40000)
	junk[0] ^= 1
	a := newAssembler(t, metadata.Config{InfoHash: ih})
	a.Offer("liar", len(junk))
	a.Offer("honest", len(info))
	if reqs := a.Requests(t0); len(asked(reqs, "honest")) != 0 || len(asked(reqs, "liar")) != 3 {
		t.Fatalf("requests = %v, want all 3 pieces of the liar and none of the honest peer (same size)", reqs)
	}
	var err error
	for i := range 3 {
		_, err = a.Data("liar", piece(junk, i), t0)
	}
	if !errors.Is(err, metadata.ErrHashMismatch) {
		t.Fatalf("Data(last junk piece) = %v, want ErrHashMismatch", err)
	}
	if got := asked(a.Requests(t0), "honest"); !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("after the liar: requests of the honest peer = %v, want 0-2", got)
	}
	var got []byte
	for i := range 3 {
		if got, err = a.Data("honest", piece(info, i), t0); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, info) {
		t.Fatal("the honest peer's dict was not returned")
	}
}

// TestAssemblerBoundsMemory: fetches start while their claimed sizes fit
// in the budget and no other fetch has that size; a dropped or failed
// fetch lets the next one in, in the order peers offered.
func TestAssemblerBoundsMemory(t *testing.T) {
	_, ih := makeInfo(1)
	const mib = 1 << 20
	a := newAssembler(t, metadata.Config{InfoHash: ih}) // 24 MiB
	offers := []struct {
		peer string
		size int
	}{{"a", 16 * mib}, {"b", 16*mib - 1}, {"c", 8 * mib}, {"d", 8 * mib}, {"e", 100}}
	for _, o := range offers {
		if err := a.Offer(o.peer, o.size); err != nil {
			t.Fatal(err)
		}
	}
	started := func() []string {
		seen := map[string]bool{}
		for _, r := range a.Requests(t0) {
			seen[r.Peer] = true
		}
		var out []string
		for p := range seen {
			out = append(out, p)
		}
		slices.Sort(out)
		return out
	}
	// a (16 MiB) and c (8 MiB) fill the budget; b does not fit, d has c's
	// size, e (100 bytes) fits nowhere: 24 MiB are taken.
	if got := started(); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("started %v, want [a c]", got)
	}
	if a.Reserved() != metadata.DefaultMemoryBudget {
		t.Fatalf("reserved %d, want the whole budget %d", a.Reserved(), metadata.DefaultMemoryBudget)
	}
	a.Drop("c")
	if got := started(); !slices.Equal(got, []string{"d"}) {
		t.Fatalf("after c left: started %v, want [d] (offered before e, and c's size is free)", got)
	}
	a.Drop("a")
	if got := started(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("after a left: started %v, want [b] (then 1 byte is free, too little for e)", got)
	}
	a.Drop("d")
	if got := started(); !slices.Equal(got, []string{"e"}) {
		t.Fatalf("after d left: started %v, want [e]", got)
	}
	if want := 16*mib - 1 + 100; a.Reserved() != want || a.Fetching() != 2 {
		t.Errorf("reserved %d in %d fetches, want %d in 2", a.Reserved(), a.Fetching(), want)
	}
}

// TestAssemblerRefusesAndExpires: sizes out of range are refused; a reject
// of a piece asked ends the fetch, one of a piece never asked is ignored; a
// fetch without a piece for Timeout, or running ten Timeouts, expires.
func TestAssemblerRefusesAndExpires(t *testing.T) {
	info, ih := makeInfo(5 * peer.MetadataPieceSize) // 5 pieces
	a := newAssembler(t, metadata.Config{InfoHash: ih, Timeout: time.Second})
	for _, size := range []int{0, -1, peer.MaxMetadataSize + 1} {
		if err := a.Offer("p", size); !errors.Is(err, metadata.ErrBadSize) {
			t.Errorf("Offer(size %d) = %v, want ErrBadSize", size, err)
		}
	}
	a.Offer("r", len(info))
	a.Requests(t0)
	if err := a.Reject("r", 4); err != nil {
		t.Errorf("Reject of a piece not asked = %v, want it ignored", err)
	}
	if err := a.Reject("r", 1); !errors.Is(err, metadata.ErrRejected) {
		t.Errorf("Reject of a piece asked = %v, want ErrRejected", err)
	}

	a.Offer("slow", len(info))
	a.Requests(t0)
	if got := a.Expired(t0.Add(999 * time.Millisecond)); len(got) != 0 {
		t.Fatalf("expired %v before Timeout", got)
	}
	// A piece each 0.9 s keeps it going, until ten Timeouts have passed.
	now := t0
	for i := range 4 {
		now = now.Add(900 * time.Millisecond)
		if _, err := a.Data("slow", piece(info, i), now); err != nil {
			t.Fatal(err)
		}
		a.Requests(now)
		if got := a.Expired(now); len(got) != 0 {
			t.Fatalf("expired at piece %d, want it kept while pieces come", i)
		}
	}
	if got := a.Expired(now.Add(time.Second)); !slices.Equal(got, []string{"slow"}) {
		t.Fatalf("Expired a second after the last piece = %v, want [slow]", got)
	}
	if a.Fetching() != 0 {
		t.Errorf("%d fetches after expiry, want none", a.Fetching())
	}
	a.Offer("trickle", len(info))
	a.Requests(t0)
	if got := a.Expired(t0.Add(10 * time.Second)); !slices.Equal(got, []string{"trickle"}) {
		t.Errorf("Expired after ten Timeouts = %v, want [trickle]", got)
	}
}

func TestAssemblerConfigErrors(t *testing.T) {
	for _, cfg := range []metadata.Config{
		{MemoryBudget: -1},
		{Timeout: -time.Second},
		{MemoryBudget: peer.MaxMetadataSize - 1},
	} {
		if _, err := metadata.New[string](cfg); err == nil {
			t.Errorf("New(%+v) = nil error, want one", cfg)
		}
	}
}

func ExampleAssembler() {
	info := []byte("d4:name1:xe")
	a, _ := metadata.New[string](metadata.Config{InfoHash: sha1.Sum(info)})
	a.Offer("peer 1", len(info))
	for _, r := range a.Requests(time.Now()) {
		fmt.Println("ask", r.Peer, "for piece", r.Piece)
		dict, err := a.Data(r.Peer, peer.MetadataMessage{Type: peer.MetadataData, Piece: 0, TotalSize: len(info), Data: info}, time.Now())
		fmt.Printf("%s %v\n", dict, err)
	}
	// Output:
	// ask peer 1 for piece 0
	// d4:name1:xe <nil>
}
