package session_test

import (
	"bytes"
	"crypto/sha1"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"swarm/metainfo"
	"swarm/session"
)

// makeTwoFiles builds a torrent of 16 KiB pieces over two files of 24
// pieces each, a and b.
func makeTwoFiles(t testing.TB) (*metainfo.MetaInfo, []byte) {
	t.Helper()
	const pl, half = 16 << 10, 24 * 16 << 10
	content := make([]byte, 2*half)
	r := rand.New(rand.NewPCG(15, 1))
	for i := range content {
		content[i] = byte(r.Uint32())
	}
	var pieces []byte
	for off := 0; off < len(content); off += pl {
		h := sha1.Sum(content[off : off+pl])
		pieces = append(pieces, h[:]...)
	}
	info := "d5:filesl" +
		"d6:lengthi" + itoa(half) + "e4:pathl1:aee" +
		"d6:lengthi" + itoa(half) + "e4:pathl1:bee" +
		"e4:name3:two12:piece lengthi" + itoa(pl) + "e6:pieces" + itoa(len(pieces)) + ":" + string(pieces) + "e"
	m, err := metainfo.Parse([]byte("d4:info" + info + "e"))
	if err != nil {
		t.Fatal(err)
	}
	return m, content
}

// A high-priority file is downloaded before a normal one, whether the
// priorities come with the TorrentConfig or from SetFilePriorities before
// the first peer: the leecher's download is rate limited, and until the
// high file is complete no piece of the other file is verified (the
// only seed sends blocks in the order asked).
func TestHighPriorityFileDownloadsFirst(t *testing.T) {
	for _, tc := range []struct {
		name    string
		high    int // file index
		runtime bool
	}{
		{"config, second file high", 1, false},
		{"SetFilePriorities, first file high", 0, true},
		{"SetFilePriorities, second file high", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			simulate(t, func(t *testing.T) {
				m, content := makeTwoFiles(t)
				seed := runSeed(t, m, content, session.Config{})
				prios := []int{-1, -1}
				prios[tc.high] = 1
				sess := newSession(t, session.Config{})
				store := &memStore{data: make([]byte, len(content))}
				tc0 := session.TorrentConfig{Store: store, DownloadRate: 64 << 10}
				if !tc.runtime {
					tc0.FilePriorities = prios
					tc0.Peers = []netip.AddrPort{addrOf(t, seed)}
				}
				leech, err := sess.NewTorrent(m, tc0)
				if err != nil {
					t.Fatal(err)
				}
				if err := sess.AddTorrent(leech); err != nil {
					t.Fatal(err)
				}
				runSession(t, sess)
				if tc.runtime {
					if err := leech.SetFilePriorities([]int{0}); err == nil {
						t.Fatal("SetFilePriorities of 1 priority for 2 files succeeded")
					}
					if err := leech.SetFilePriorities([]int{0, 2}); err == nil {
						t.Fatal("SetFilePriorities with priority 2 succeeded")
					}
					if err := leech.SetFilePriorities(prios); err != nil {
						t.Fatal(err)
					}
					leech.AddPeers(t.Context(), []netip.AddrPort{addrOf(t, seed)})
				}
				n := m.Info.NumPieces()
				highFirst, highLast := tc.high*n/2, tc.high*n/2+n/2-1
				deadline := time.Now().Add(5 * time.Minute)
				for done := false; !done; {
					select {
					case <-leech.Done():
						done = true
					case <-time.After(100 * time.Millisecond):
						if time.Now().After(deadline) {
							t.Fatalf("download not done in 5 min (simulated): %+v", leech.Stats())
						}
					}
					bits := leech.Stats().Bits
					has := func(p int) bool { return p/8 < len(bits) && bits[p/8]&(0x80>>(p%8)) != 0 }
					highDone := true
					for p := highFirst; p <= highLast; p++ {
						highDone = highDone && has(p)
					}
					for p := range n {
						if (p < highFirst || p > highLast) && has(p) && !highDone {
							t.Fatalf("piece %d of the other file verified before the high-priority file %d was complete", p, tc.high)
						}
					}
				}
				if !bytes.Equal(store.data, content) {
					t.Fatal("downloaded content differs from the seed's")
				}
			})
		})
	}
}
