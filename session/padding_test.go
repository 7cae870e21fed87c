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

// makePaddedTorrent builds a multi-file torrent of 64 KiB pieces with a
// BEP 47 pad file after its first file, as libtorrent's hybrid torrents
// have: file a (20,000 bytes), a pad file to the piece boundary (two whole
// 16 KiB blocks of it and part of a third), file b (100,000 bytes). It
// returns the torrent, its content (pad bytes zero) and the bytes of the
// whole pad blocks.
func makePaddedTorrent(t testing.TB) (*metainfo.MetaInfo, []byte, int64) {
	t.Helper()
	const pl, a, b = 64 << 10, 20000, 100000
	pad := pl - a
	content := make([]byte, a+pad+b)
	r := rand.New(rand.NewPCG(47, 52))
	for i := range content {
		if i < a || i >= a+pad {
			content[i] = byte(r.Uint32())
		}
	}
	var pieces []byte
	for off := 0; off < len(content); off += pl {
		h := sha1.Sum(content[off:min(len(content), off+pl)])
		pieces = append(pieces, h[:]...)
	}
	info := "d5:filesl" +
		"d6:lengthi" + itoa(a) + "e4:pathl1:aee" +
		"d4:attr1:p6:lengthi" + itoa(pad) + "e4:pathl4:.pad" + itoa(len(itoa(pad))) + ":" + itoa(pad) + "ee" +
		"d6:lengthi" + itoa(b) + "e4:pathl1:bee" +
		"e4:name6:padded12:piece lengthi" + itoa(pl) + "e6:pieces" + itoa(len(pieces)) + ":" + string(pieces) + "e"
	m, err := metainfo.Parse([]byte("d4:info" + info + "e"))
	if err != nil {
		t.Fatal(err)
	}
	return m, content, 2 * 16384
}

// Blocks wholly inside a pad file are never requested (BEP 47): the
// leecher completes byte for byte having downloaded less than the content
// by at least those blocks, and the pieces with padding pass their hash
// checks (the seed's store holds zeros there, as the hash says).
func TestPadBlocksAreNeverRequested(t *testing.T) {
	checkGoroutines(t)
	m, content, padBlocks := makePaddedTorrent(t)
	seed := runSeed(t, m, content, session.Config{})
	leechSess := newSession(t, session.Config{})
	store := &memStore{data: make([]byte, len(content))}
	leech, err := leechSess.NewTorrent(m, session.TorrentConfig{Store: store, Peers: []netip.AddrPort{addrOf(t, seed)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := leechSess.AddTorrent(leech); err != nil {
		t.Fatal(err)
	}
	cancel := runSession(t, leechSess)
	select {
	case <-leech.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("download did not finish in 30 s: %+v", leech.Stats())
	}
	cancel()
	<-leech.Stopped()
	if !bytes.Equal(store.data, content) {
		t.Fatal("downloaded content differs from the seed's")
	}
	if st := leech.Stats(); st.Downloaded > int64(len(content))-padBlocks {
		t.Errorf("downloaded %d bytes of %d: the %d bytes of whole pad blocks were requested", st.Downloaded, len(content), padBlocks)
	}
}
