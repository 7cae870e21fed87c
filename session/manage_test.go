package session_test

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"swarm/piece"
	"swarm/session"
)

// TestRemoveTorrentWhileRunningThenResume: a download stopped halfway by
// RemoveTorrent saves its resume record and closes its storage while the
// session runs on; a new Torrent from the saved pieces finishes it without
// fetching them again; peer details and the bitfield are in the stats.
func TestRemoveTorrentWhileRunningThenResume(t *testing.T) {
	checkGoroutines(t)
	const size = 2<<20 + 777
	m, content := makeTorrent(t, size, 64<<10)
	seedSess := runSeed(t, m, content, session.Config{UploadRate: 512 << 10})
	leechSess := newSession(t, session.Config{})
	runSession(t, leechSess)

	store := &memStore{data: make([]byte, size)}
	var saved *piece.Bitfield
	cfg := session.TorrentConfig{
		Store: store, Peers: []netip.AddrPort{addrOf(t, seedSess)},
		SaveResume: func(h *piece.Bitfield) error { saved = h.Clone(); return nil },
	}
	leech, err := leechSess.NewTorrent(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := leechSess.AddTorrent(leech); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for leech.Stats().Have < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	st := leech.Stats()
	if st.Have < 4 {
		t.Fatalf("no progress in 20 s: %+v", st)
	}
	if len(st.PeerList) != 1 || st.PeerList[0].Client == "" || st.PeerList[0].Progress != 1 {
		t.Errorf("PeerList = %+v, want the seed, named, with progress 1", st.PeerList)
	}
	if err := leechSess.RemoveTorrent(leech); err != nil {
		t.Fatal(err)
	}
	select {
	case <-leech.Stopped():
	case <-time.After(10 * time.Second):
		t.Fatal("torrent did not stop within 10 s of RemoveTorrent")
	}
	if !store.closed || saved == nil || saved.Count() < 4 {
		t.Fatalf("after RemoveTorrent: storage closed %v, resume %v", store.closed, saved)
	}
	if err := leechSess.RemoveTorrent(leech); !errors.Is(err, session.ErrNotInSession) {
		t.Errorf("second RemoveTorrent = %v, want ErrNotInSession", err)
	}
	if bf, _ := piece.FromBytes(leech.Stats().Bits, m.Info.NumPieces()); bf == nil || bf.Count() != leech.Stats().Have {
		t.Errorf("Bits %x do not hold Have=%d pieces", leech.Stats().Bits, leech.Stats().Have)
	}

	resumed := saved.Count()
	store.closed = false
	cfg.Have = saved
	again, err := leechSess.NewTorrent(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := leechSess.AddTorrent(again); err != nil {
		t.Fatalf("AddTorrent after RemoveTorrent: %v", err)
	}
	if err := again.SetRates(0, 0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-again.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("resumed download did not finish in 30 s: %+v", again.Stats())
	}
	if !bytes.Equal(store.data, content) {
		t.Fatal("content differs from the seed's")
	}
	// Only the pieces missing at the stop were fetched again.
	missing := int64(m.Info.NumPieces()-resumed) * m.Info.PieceLength
	if got := again.Stats().Downloaded; got > missing+int64(m.Info.PieceLength) {
		t.Errorf("resumed torrent downloaded %d bytes, want at most about %d (the missing pieces)", got, missing)
	}
}

// TestSetRatesChangesLimitsAtRuntime: negative rates are refused; a cap set
// on a running session and torrent, then lifted, is accepted.
func TestSetRatesChangesLimitsAtRuntime(t *testing.T) {
	s := newSession(t, session.Config{})
	t.Cleanup(func() { s.Close() }) // never Run
	if err := s.SetRates(-1, 0); err == nil {
		t.Error("SetRates(-1, 0) accepted")
	}
	if err := s.SetRates(100<<10, 0); err != nil {
		t.Error(err)
	}
	m, content := makeTorrent(t, 1000, 16<<10)
	tor, err := s.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: content}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tor.SetRates(0, -5); err == nil {
		t.Error("Torrent.SetRates(0, -5) accepted")
	}
	if err := tor.SetRates(1, 1<<20); err != nil {
		t.Error(err)
	}
	if err := s.AddTorrent(tor); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveTorrent(tor); err != nil {
		t.Fatalf("RemoveTorrent before Run: %v", err)
	}
	<-tor.Stopped()
}
