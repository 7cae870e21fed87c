package session_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/session"
)

// startNode starts a Node on loopback with a DHT node that joins nobody,
// keeping its state in stateDir; the test stops it.
func startNode(t *testing.T, stateDir string) *session.Node {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	n, err := session.StartNode(context.Background(), session.NodeConfig{
		Session: session.Config{ListenAddr: "127.0.0.1:0", Logger: &log},
		DHT:     &session.DHTConfig{StateDir: stateDir},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	return n
}

// TestNodeSeedsUntilALimitThenStops runs the front ends' path: a Node with
// its DHT node, content added from a folder (checked, read-only), watched
// until a seed limit, then stopped; the DHT node saves its state last.
func TestNodeSeedsUntilALimitThenStops(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 100000, 16384)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, m.Info.Name), content, 0o644); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	n := startNode(t, state)
	if n.DHT == nil || !n.DHT.Addr().Addr().IsLoopback() {
		t.Fatalf("node's DHT = %v, want one on loopback", n.DHT)
	}
	tor, err := n.AddContent(context.Background(), m, dir, session.TorrentConfig{Seed: true}, session.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("AddContent: %v", err)
	}
	if st := tor.Stats(); st.Have != st.Pieces {
		t.Fatalf("after the check: %d of %d pieces; want all", st.Have, st.Pieces)
	}
	completed := 0
	ticks := 0
	reason := tor.Watch(context.Background(), session.WatchConfig{
		Limits:    session.SeedLimits{Time: 30 * time.Millisecond},
		Interval:  10 * time.Millisecond,
		Completed: func(session.Stats) { completed++ },
		Tick:      func(session.Stats) { ticks++ },
	})
	if reason != session.EndSeedTime || completed != 1 || ticks == 0 {
		t.Errorf("Watch = %q after %d Completed calls and %d ticks; want %q, 1 and some", reason, completed, ticks, session.EndSeedTime)
	}
	if err := n.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := n.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(state, session.StateDir, "dht.state")); err != nil {
		t.Errorf("the DHT node saved no state: %v", err)
	}
	// Watch of a stopped torrent ends at once, as an interruption if its
	// context has ended, otherwise as an error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := tor.Watch(ctx, session.WatchConfig{}); r != session.EndInterrupted {
		t.Errorf("Watch with an ended context = %q, want %q", r, session.EndInterrupted)
	}
}

// TestAddContentRefusesToSeedNothing: read-only content of which no piece
// checks out is refused, and leaves the session without the torrent.
func TestAddContentRefusesToSeedNothing(t *testing.T) {
	checkGoroutines(t)
	m, _ := makeTorrent(t, 50000, 16384)
	n := startNode(t, "")
	_, err := n.AddContent(context.Background(), m, t.TempDir(), session.TorrentConfig{Seed: true}, session.OpenOptions{ReadOnly: true})
	if !errors.Is(err, session.ErrNothingToSeed) {
		t.Fatalf("AddContent of an empty folder = %v, want ErrNothingToSeed", err)
	}
	// Not in the session: the same torrent can be added, to download.
	tor, err := n.AddContent(context.Background(), m, t.TempDir(), session.TorrentConfig{}, session.OpenOptions{})
	if err != nil {
		t.Fatalf("AddContent to download after the refusal: %v", err)
	}
	if st := tor.Stats(); st.Have != 0 || st.Complete {
		t.Errorf("a download into an empty folder has %d pieces, complete %v", st.Have, st.Complete)
	}
}

func TestReadTorrentFromURL(t *testing.T) {
	var ue *session.URLError
	if _, err := session.ReadTorrent(context.Background(), "http://a b/x.torrent", "swarm/test"); !errors.As(err, &ue) {
		t.Errorf("ReadTorrent of a malformed URL = %v, want a *URLError", err)
	}
}

// TestSeedFromResumeRecordRewritesNoRecord: a seed opened from a valid
// resume record neither rewrites it at start nor at stop (each rewrite is
// an fsync: a daemon restarting or stopping 1,000 seeds paid seconds for
// them, bench/daemon); one whose data was checked writes it once.
func TestSeedFromResumeRecordRewritesNoRecord(t *testing.T) {
	checkGoroutines(t)
	m, content := makeTorrent(t, 50000, 16384)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, m.Info.Name), content, 0o644); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, "")
	rp := session.ResumePath(m, dir)
	seedOnce := func() {
		t.Helper()
		tor, err := n.AddContent(context.Background(), m, dir, session.TorrentConfig{Seed: true}, session.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-tor.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("not complete within 10 s: %+v", tor.Stats())
		}
		if err := n.RemoveTorrent(tor); err != nil {
			t.Fatal(err)
		}
		select {
		case <-tor.Stopped():
		case <-time.After(10 * time.Second):
			t.Fatal("not stopped within 10 s of RemoveTorrent")
		}
	}
	seedOnce() // checks the data, writes the record
	first, err := os.Stat(rp)
	if err != nil {
		t.Fatalf("no resume record after the first run: %v", err)
	}
	seedOnce() // from the record
	second, err := os.Stat(rp)
	if err != nil {
		t.Fatal(err)
	}
	// The record is written to a temporary file renamed over it: a rewrite
	// is another file.
	if !os.SameFile(first, second) {
		t.Errorf("the resume record was rewritten by a seed that read it and changed nothing")
	}
}
