package session_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"swarm/peer"
	"swarm/session"
	"swarm/storage"
)

// TestPeerLeavingMidPieceHandsItsBlocksToOthers: a peer that answers a few
// requests and hangs up in the middle of a piece, with requests still
// owed, loses them to the other peer at once (not after the 60 s snub
// timeout), and the download completes byte for byte.
func TestPeerLeavingMidPieceHandsItsBlocksToOthers(t *testing.T) {
	simulate(t, testPeerLeavingMidPieceHandsItsBlocksToOthers)
}

func testPeerLeavingMidPieceHandsItsBlocksToOthers(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 2<<20, 256<<10) // 8 pieces of 16 blocks
	n := m.Info.NumPieces()
	seedSess := runSeed(t, m, content, session.Config{UploadRate: 1 << 20})

	ln := listen(t)
	leechSess := newSession(t, session.Config{})
	leechStore := &memStore{data: make([]byte, len(content))}
	leech, err := leechSess.NewTorrent(m, session.TorrentConfig{
		Store: leechStore,
		Peers: []netip.AddrPort{netip.MustParseAddrPort(ln.Addr().String()), addrOf(t, seedSess)},
	})
	if err != nil {
		t.Fatal(err)
	}
	leechSess.AddTorrent(leech)
	started := time.Now()
	runSession(t, leechSess)

	// The quitter: has everything, sends five good blocks, then hangs up.
	c, err := acceptWithin(ln, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var id [20]byte
	copy(id[:], "-XX0000-quitter-0000")
	if _, err := peer.Accept(c, func(ih [20]byte) (peer.Handshake, bool) { return peer.NewHandshake(ih, id), true }); err != nil {
		t.Fatal(err)
	}
	conn, _ := peer.NewConn(c, peer.Config{})
	conn.WriteMessage(peer.Message{ID: peer.Bitfield, Bitfield: fullBitfield(n).Bytes()})
	conn.WriteMessage(peer.Message{ID: peer.Unchoke})
	c.SetDeadline(time.Now().Add(20 * time.Second))
	owed := map[[2]uint32]bool{}
	answered := 0
	for range 1000 {
		var msg peer.Message
		if err := conn.ReadMessage(&msg); err != nil {
			t.Fatalf("quitter: %v", err)
		}
		if msg.KeepAlive || msg.ID != peer.Request {
			continue
		}
		owed[[2]uint32{msg.Index, msg.Begin}] = true
		if answered < 5 {
			off := int64(msg.Index)*m.Info.PieceLength + int64(msg.Begin)
			conn.WriteMessage(peer.Message{ID: peer.Piece, Index: msg.Index, Begin: msg.Begin, Block: content[off : off+int64(msg.Length)]})
			delete(owed, [2]uint32{msg.Index, msg.Begin})
			answered++
		}
		if answered == 5 && len(owed) >= 3 {
			break
		}
	}
	c.Close()
	if len(owed) == 0 {
		t.Fatal("the quitter owed nothing when it left")
	}
	select {
	case <-leech.Done():
	case <-time.After(45 * time.Second): // under the 60 s snub timeout
		t.Fatalf("download did not complete after the quitter left owing %d blocks: %+v", len(owed), leech.Stats())
	}
	if !bytes.Equal(leechStore.data, content) {
		t.Fatal("downloaded content differs")
	}
	t.Logf("the quitter sent 5 blocks and left owing %d; the download completed %v after start (2 MiB at the seed's 1 MiB/s)",
		len(owed), time.Since(started).Round(10*time.Millisecond))
}

// fillingStore is a memStore whose disk can be made full: while full is
// set, every write fails with storage.ErrDiskFull, as on a full tmpfs.
type fillingStore struct {
	memStore
	full atomic.Bool
}

func (s *fillingStore) WriteAt(p []byte, off int64) (int, error) {
	if s.full.Load() {
		return 0, fmt.Errorf("write film.bin: %w", storage.ErrDiskFull)
	}
	return s.memStore.WriteAt(p, off)
}

// TestFullDiskPausesThenResumesByItself: when the disk fills mid-download,
// the torrent pauses with the error in its stats and keeps its verified
// pieces; once space is freed it resumes on its own, without a restart,
// blames no peer for the blocks it could not write, and completes byte for
// byte.
func TestFullDiskPausesThenResumesByItself(t *testing.T) {
	simulate(t, testFullDiskPausesThenResumesByItself)
}

func testFullDiskPausesThenResumesByItself(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 4<<20, 128<<10) // 32 pieces
	n := m.Info.NumPieces()
	seedSess := runSeed(t, m, content, session.Config{UploadRate: 1 << 20})

	store := &fillingStore{memStore: memStore{data: make([]byte, len(content))}}
	leechSess := newSession(t, session.Config{})
	leech, err := leechSess.NewTorrent(m, session.TorrentConfig{Store: store, Peers: []netip.AddrPort{addrOf(t, seedSess)}})
	if err != nil {
		t.Fatal(err)
	}
	leechSess.AddTorrent(leech)
	runSession(t, leechSess)

	waitStats := func(what string, limit time.Duration, ok func(session.Stats) bool) session.Stats {
		t.Helper()
		deadline := time.Now().Add(limit)
		for st := leech.Stats(); ; st = leech.Stats() {
			if ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v: %+v", what, limit, st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitStats("4 pieces verified", 20*time.Second, func(st session.Stats) bool { return st.Have >= 4 })
	store.full.Store(true)
	paused := waitStats("paused by the full disk", 20*time.Second, func(st session.Stats) bool { return st.Err != "" })
	if !strings.Contains(paused.Err, "film.bin") || paused.Complete {
		t.Fatalf("paused with %+v, want an error naming film.bin", paused)
	}
	time.Sleep(2 * time.Second) // still paused, verified pieces kept
	if st := leech.Stats(); st.Err == "" || st.Have < paused.Have {
		t.Fatalf("2 s after the disk filled: %+v, want still paused with at least %d pieces", st, paused.Have)
	}
	store.full.Store(false)
	freed := time.Now()
	select {
	case <-leech.Done():
	case <-time.After(60 * time.Second):
		t.Fatalf("no resume within 60 s of freeing space: %+v", leech.Stats())
	}
	st := leech.Stats()
	t.Logf("paused at %d of %d pieces (%s); complete %v after space was freed, %d hash failures", paused.Have, n, paused.Err, time.Since(freed).Round(100*time.Millisecond), st.HashFails)
	if st.Err != "" || st.HashFails != 0 {
		t.Errorf("after the resume: %+v, want no error and no piece blamed on the seed", st)
	}
	if !bytes.Equal(store.data, content) {
		t.Fatal("the download differs from the content")
	}
}

// deniedStore is a memStore whose writes fail as on a folder without write
// permission.
type deniedStore struct{ memStore }

func (s *deniedStore) WriteAt(p []byte, off int64) (int, error) {
	return 0, fmt.Errorf("storage: open film.bin: %w", fs.ErrPermission)
}

// TestStorageErrorOtherThanFullDiskStopsTheTorrent: a write that fails for
// a reason waiting will not cure (here permission denied) stops the torrent
// at once with the error in its stats, instead of pausing and retrying as
// for a full disk (issue 13).
func TestStorageErrorOtherThanFullDiskStopsTheTorrent(t *testing.T) {
	simulate(t, testStorageErrorOtherThanFullDiskStopsTheTorrent)
}

func testStorageErrorOtherThanFullDiskStopsTheTorrent(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 1<<20, 64<<10)
	seedSess := runSeed(t, m, content, session.Config{})
	leechSess := newSession(t, session.Config{})
	leech, err := leechSess.NewTorrent(m, session.TorrentConfig{Store: &deniedStore{memStore{data: make([]byte, len(content))}}, Peers: []netip.AddrPort{addrOf(t, seedSess)}})
	if err != nil {
		t.Fatal(err)
	}
	leechSess.AddTorrent(leech)
	runSession(t, leechSess)
	start := time.Now()
	select {
	case <-leech.Stopped():
	case <-time.After(20 * time.Second):
		t.Fatalf("the torrent did not stop within 20 s of a permission error: %+v", leech.Stats())
	}
	st := leech.Stats()
	t.Logf("stopped %v after start: %s", time.Since(start).Round(time.Millisecond), st.Err)
	if !strings.Contains(st.Err, "permission denied") || st.Have != 0 {
		t.Errorf("stats after the error: %+v, want Err naming the permission error", st)
	}
}
