package session_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"swarm/peer"
	"swarm/session"
)

// TestUnsolicitedBlocksAreNeverWrittenNorCounted: piece messages for blocks
// we did not request from that peer, with the right data for a piece we
// want, are neither written nor counted as downloaded (the tracker's
// figure), by a leecher or a seeder; they count as wasted, and a peer that
// keeps sending them is dropped (issue 13: they were written, and a seeder
// reported them to the tracker as downloaded).
func TestUnsolicitedBlocksAreNeverWrittenNorCounted(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 1<<20, 64<<10) // 16 pieces of 4 blocks
	n := m.Info.NumPieces()
	for _, role := range []string{"leecher", "seeder"} {
		t.Run(role, func(t *testing.T) {
			simulate(t, func(t *testing.T) {
				var logs logBuffer
				s := loggedSession(t, session.Config{}, &logs)
				store := &memStore{data: make([]byte, len(content))}
				cfg := session.TorrentConfig{Store: store}
				if role == "seeder" {
					copy(store.data, content)
					cfg.Have, cfg.Seed = fullBitfield(n), true
				}
				tor, err := s.NewTorrent(m, cfg)
				if err != nil {
					t.Fatal(err)
				}
				s.AddTorrent(tor)
				runSession(t, s)

				// A peer that has every piece but the last (a seed would be
				// dropped by the seeder), never unchokes us, so it is never
				// asked for anything, and sends blocks all the same: the
				// right data, piece after piece.
				c := dialPeer(t, addrOf(t, s), m.InfoHash)
				has := fullBitfield(n)
				has.Clear(n - 1)
				if _, err := c.Write(frame(byte(peer.Bitfield), has.Bytes()...)); err != nil {
					t.Fatal(err)
				}
				const first = 8
				sent := 0
				for i := range first {
					off := i * peer.BlockSize
					msg := frame(byte(peer.Piece), append(u32(uint32(off/int(m.Info.PieceLength)), uint32(off%int(m.Info.PieceLength))), content[off:off+peer.BlockSize]...)...)
					if _, err := c.Write(msg); err != nil {
						t.Fatal(err)
					}
					sent++
				}
				for deadline := time.Now().Add(10 * time.Second); tor.Stats().Wasted < first*peer.BlockSize; {
					if time.Now().After(deadline) {
						t.Fatalf("%d blocks sent, stats %+v", first, tor.Stats())
					}
					time.Sleep(10 * time.Millisecond)
				}
				st := tor.Stats()
				if st.Downloaded != 0 || st.Wasted != first*peer.BlockSize {
					t.Errorf("after %d unsolicited blocks: downloaded %d, wasted %d; want 0 and %d", first, st.Downloaded, st.Wasted, first*peer.BlockSize)
				}
				if role == "leecher" {
					store.mu.Lock()
					written := !bytes.Equal(store.data, make([]byte, len(content)))
					store.mu.Unlock()
					if written || st.Have != 0 {
						t.Errorf("unsolicited blocks were written: %d pieces verified", st.Have)
					}
				}
				// Keep going: the peer is dropped for it.
				for i := 0; i < 2000; i++ {
					off := (i % (len(content) / peer.BlockSize)) * peer.BlockSize
					msg := frame(byte(peer.Piece), append(u32(uint32(off/int(m.Info.PieceLength)), uint32(off%int(m.Info.PieceLength))), content[off:off+peer.BlockSize]...)...)
					if _, err := c.Write(msg); err != nil {
						break
					}
					sent++
				}
				reason := logs.waitDropReason(t, c.LocalAddr().String())
				if !strings.Contains(reason, "blocks we could not use") {
					t.Errorf("dropped with %q, want the unwanted-blocks limit", reason)
				}
				st = tor.Stats()
				t.Logf("%s: %d blocks sent; downloaded %d, wasted %d; %s", role, sent, st.Downloaded, st.Wasted, reason)
				if st.Downloaded != 0 {
					t.Errorf("downloaded %d bytes, all unsolicited", st.Downloaded)
				}
			})
		})
	}
}
