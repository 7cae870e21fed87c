package session_test

import (
	"bytes"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"swarm/peer"
	"swarm/piece"
	"swarm/session"
	"swarm/storage"
)

// recordingStore is a memStore that counts its reads and writes, and
// writes several buffers in one call as storage.File does.
type recordingStore struct {
	memStore
	reads, writes, bufWrites atomic.Int64
}

func (s *recordingStore) ReadAt(p []byte, off int64) (int, error) {
	s.reads.Add(1)
	return s.memStore.ReadAt(p, off)
}

func (s *recordingStore) WriteAt(p []byte, off int64) (int, error) {
	s.writes.Add(1)
	return s.memStore.WriteAt(p, off)
}

func (s *recordingStore) WriteBuffersAt(bufs [][]byte, off int64) (int64, error) {
	s.bufWrites.Add(1)
	return storage.WriteBuffers(&s.memStore, bufs, off)
}

// leechInto downloads a torrent of size bytes from a seed into store, with the held
// limit set if limit >= 0, and waits for it to complete.
func leechInto(t *testing.T, store *recordingStore, size int, pieceLen, limit int64) session.Stats {
	t.Helper()
	m, content := makeTorrent(t, size, pieceLen)
	store.data = make([]byte, len(content))
	seedSess := runSeed(t, m, content, session.Config{})
	leechSess := newSession(t, session.Config{})
	leech, err := leechSess.NewTorrent(m, session.TorrentConfig{Store: store, Peers: []netip.AddrPort{addrOf(t, seedSess)}})
	if err != nil {
		t.Fatal(err)
	}
	if limit >= 0 {
		session.SetHeldLimit(leech, limit)
	}
	leechSess.AddTorrent(leech)
	runSession(t, leechSess)
	select {
	case <-leech.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("download not complete: %+v", leech.Stats())
	}
	if !bytes.Equal(store.data, content) {
		t.Fatal("the download differs from the content")
	}
	return leech.Stats()
}

// TestPiecesAreHashedFromMemoryAndWrittenOnce: a leecher hashes each piece
// from the blocks it holds, reads nothing back, and writes each piece with
// one call (issue 20).
func TestPiecesAreHashedFromMemoryAndWrittenOnce(t *testing.T) {
	simulate(t, func(t *testing.T) {
		checkGoroutines(t)
		store := &recordingStore{}
		st := leechInto(t, store, 1<<20, 64<<10, -1) // 16 pieces of 4 blocks
		if r, w, bw := store.reads.Load(), store.writes.Load(), store.bufWrites.Load(); r != 0 || w != 0 || bw != 16 || st.Have != 16 {
			t.Errorf("%d reads, %d single writes, %d piece writes, %d pieces verified; want 0, 0, 16, 16", r, w, bw, st.Have)
		}
	})
}

// TestSpilledPiecesAreCheckedFromStorage: past the limit of blocks held in
// memory, pieces go to storage block by block and are read back for their
// hash check, and the download is still byte-identical.
func TestSpilledPiecesAreCheckedFromStorage(t *testing.T) {
	simulate(t, func(t *testing.T) {
		checkGoroutines(t)
		store := &recordingStore{}
		st := leechInto(t, store, 1<<20, 64<<10, 0) // every incomplete piece spills
		if r, w := store.reads.Load(), store.writes.Load(); r == 0 || w == 0 || st.Have != 16 {
			t.Errorf("%d reads, %d block writes, %d pieces verified; want some reads and block writes, 16 pieces", r, w, st.Have)
		}
	})
}

// TestPieceFailingItsCheckIsNeverWritten: blocks from a peer that lies
// are hashed in memory and dropped, and storage is never touched.
func TestPieceFailingItsCheckIsNeverWritten(t *testing.T) {
	simulate(t, func(t *testing.T) {
		checkGoroutines(t)
		m, content := makeTorrent(t, 256<<10, 64<<10) // 4 pieces
		ln := listen(t)
		store := &recordingStore{memStore: memStore{data: make([]byte, len(content))}}
		leechSess := newSession(t, session.Config{})
		leech, err := leechSess.NewTorrent(m, session.TorrentConfig{Store: store, Peers: []netip.AddrPort{netip.MustParseAddrPort(ln.Addr().String())}})
		if err != nil {
			t.Fatal(err)
		}
		leechSess.AddTorrent(leech)
		runSession(t, leechSess)
		c, err := acceptWithin(ln, 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var id [20]byte
		copy(id[:], "-XX0000-liar-liar-xx")
		if _, err := peer.Accept(c, func(ih [20]byte) (peer.Handshake, bool) { return peer.NewHandshake(ih, id), true }); err != nil {
			t.Fatal(err)
		}
		conn, _ := peer.NewConn(c, peer.Config{})
		conn.WriteMessage(peer.Message{ID: peer.Bitfield, Bitfield: []byte{0xf0}})
		conn.WriteMessage(peer.Message{ID: peer.Unchoke})
		c.SetDeadline(time.Now().Add(20 * time.Second))
		for range 1000 { // until the leecher bans us
			var msg peer.Message
			if err := conn.ReadMessage(&msg); err != nil {
				break
			}
			if msg.ID == peer.Request && !msg.KeepAlive {
				if conn.WriteMessage(peer.Message{ID: peer.Piece, Index: msg.Index, Begin: msg.Begin, Block: bytes.Repeat([]byte{0xff}, int(msg.Length))}) != nil {
					break
				}
			}
		}
		st := leech.Stats()
		for deadline := time.Now().Add(3 * time.Second); st.HashFails == 0 && time.Now().Before(deadline); st = leech.Stats() {
			time.Sleep(10 * time.Millisecond)
		}
		if w := store.writes.Load() + store.bufWrites.Load(); st.HashFails == 0 || w != 0 || !bytes.Equal(store.data, make([]byte, len(content))) {
			t.Errorf("after the lie: %d hash failures, %d writes; want some failures, no write and storage untouched", st.HashFails, w)
		}
	})
}

// TestHeldBlocksAreBoundedAcrossTorrents: a peer in the swarms of several
// torrents sends every block of piece after piece but the last; the blocks
// the session holds in memory stay within its limit over all torrents,
// not each torrent's limit times their number (past it, pieces spill to
// storage).
func TestHeldBlocksAreBoundedAcrossTorrents(t *testing.T) {
	simulate(t, func(t *testing.T) {
		checkGoroutines(t)
		const (
			torrents  = 4
			pieceLen  = 64 << 10
			perLimit  = 512 << 10 // each torrent's limit
			sessLimit = 1 << 20   // the session's, half of torrents × perLimit
		)
		ln := listen(t)
		leechSess := newSession(t, session.Config{})
		session.SetSessionHeldLimit(leechSess, sessLimit)
		var tors []*session.Torrent
		for i := range torrents {
			m, content := makeTorrent(t, 4<<20+i*pieceLen, pieceLen) // distinct info hashes
			store := &recordingStore{memStore: memStore{data: make([]byte, len(content))}}
			tor, err := leechSess.NewTorrent(m, session.TorrentConfig{Store: store, Peers: []netip.AddrPort{netip.MustParseAddrPort(ln.Addr().String())}})
			if err != nil {
				t.Fatal(err)
			}
			session.SetHeldLimit(tor, perLimit)
			leechSess.AddTorrent(tor)
			tors = append(tors, tor)
		}
		runSession(t, leechSess)
		var wg sync.WaitGroup
		defer wg.Wait()
		for range torrents {
			c, err := acceptWithin(ln, 20*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			wg.Go(func() { withholdLastBlocks(c, pieceLen) })
		}
		var most int64
		for range 100 {
			time.Sleep(100 * time.Millisecond)
			most = max(most, session.HeldBytes(leechSess))
		}
		if most == 0 || most > sessLimit+piece.BlockSize {
			t.Errorf("the session held at most %d bytes of incomplete pieces; want some, and no more than %d", most, sessLimit+piece.BlockSize)
		}
		t.Logf("held at most %d bytes over %d torrents (session limit %d, each torrent's %d)", most, torrents, sessLimit, perLimit)
		// Torrents removed give their share back.
		for _, tor := range tors {
			if err := leechSess.RemoveTorrent(tor); err != nil {
				t.Fatal(err)
			}
			<-tor.Stopped()
		}
		if held := session.HeldBytes(leechSess); held != 0 {
			t.Errorf("with every torrent removed the session counts %d bytes held, want 0", held)
		}
	})
}

// withholdLastBlocks plays a seed on c that answers every request but
// those for the last block of a piece, for 15 s.
func withholdLastBlocks(c net.Conn, pieceLen uint32) {
	var id [20]byte
	copy(id[:], "-XX0000-withholding-")
	if _, err := peer.Accept(c, func(ih [20]byte) (peer.Handshake, bool) { return peer.NewHandshake(ih, id), true }); err != nil {
		return
	}
	conn, _ := peer.NewConn(c, peer.Config{})
	for i := range uint32(64) { // the first 64 pieces of every torrent of the test
		conn.WriteMessage(peer.Message{ID: peer.Have, Index: i})
	}
	conn.WriteMessage(peer.Message{ID: peer.Unchoke})
	c.SetDeadline(time.Now().Add(15 * time.Second))
	for range 100_000 {
		var msg peer.Message
		if err := conn.ReadMessage(&msg); err != nil {
			return
		}
		if msg.ID != peer.Request || msg.KeepAlive || msg.Begin+msg.Length == pieceLen {
			continue
		}
		if conn.WriteMessage(peer.Message{ID: peer.Piece, Index: msg.Index, Begin: msg.Begin, Block: make([]byte, msg.Length)}) != nil {
			return
		}
	}
}
