package private_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/private"
)

var (
	ihA = metainfo.Hash{0xaa, 1}
	ihB = metainfo.Hash{0xbb, 2}
)

const size = 1 << 20

// testTwoUsersTrade (TestStores): one user seeds to another; each one's
// totals are the bytes their client reported moving, and one completed is
// one snatch.
func testTwoUsersTrade(t *testing.T, s store) {
	db, _ := s.open(t)
	alice, bob := addUser(t, db, "alice"), addUser(t, db, "bob")
	addTorrent(t, db, ihA)
	r := newRig(t, db, private.Config{MinInterval: 10 * time.Second})

	r.mustAnnounce(t, alice, peer(ihA, "a", tracker.EventStarted, 0, 0, 0))
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventStarted, 0, 0, size))
	r.clock.Advance(30 * time.Second)
	r.mustAnnounce(t, alice, peer(ihA, "a", tracker.EventNone, 600_000, 0, 0))
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventNone, 0, 600_000, size-600_000))
	r.flush(t)
	r.clock.Advance(time.Second)
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventCompleted, 0, size, 0))
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventCompleted, 0, size, 0)) // a retry
	r.clock.Advance(29 * time.Second)
	r.mustAnnounce(t, alice, peer(ihA, "a", tracker.EventNone, size, 0, 0))
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventStopped, 0, size, 0))
	r.flush(t)

	if got, want := totals(t, db, "alice"), (private.Totals{Uploaded: size, SeedSeconds: 60}); got != want {
		t.Errorf("alice's totals = %+v, want %+v", got, want)
	}
	if got, want := totals(t, db, "bob"), (private.Totals{Downloaded: size, Snatches: 1, SeedSeconds: 29}); got != want {
		t.Errorf("bob's totals = %+v, want %+v", got, want)
	}
	// Per-torrent totals appear at the next fold.
	r.fold(t)
	per, err := db.UserTorrents(context.Background(), bob.ID)
	if err != nil || len(per) != 1 || per[0].InfoHash != ihA || per[0].Downloaded != size || per[0].Name == "" {
		t.Errorf("bob's per-torrent totals = %+v, %v; want one row for %s with %d bytes down", per, err, ihA, size)
	}
	if m := r.metric(t, `swarm_tracker_private_accounted_bytes_total{direction="uploaded"}`); !strings.HasSuffix(m, " 1.048576e+06") {
		t.Errorf("accounted uploaded metric = %q, want 1048576", m)
	}
}

// TestRefusals: every reason private mode refuses for, with the failure
// reason the client sees and the metric that counts it.
func TestRefusals(t *testing.T) {
	db, _ := openDB(t)
	alice, carol := addUser(t, db, "alice"), addUser(t, db, "carol")
	if err := db.SetDisabled(context.Background(), "carol", true); err != nil {
		t.Fatal(err)
	}
	addTorrent(t, db, ihA)
	r := newRig(t, db, private.Config{MinInterval: 10 * time.Second, Rate: 1, Burst: 3})
	ok := peer(ihA, "a", tracker.EventStarted, 0, 0, 1)
	tests := []struct {
		name, passkey string
		a             tracker.AnnounceRequest
		reason, label string
	}{
		{"no passkey", "", ok, "private tracker", "no_passkey"},
		{"malformed passkey", "xyz", ok, "unknown passkey", "unknown_passkey"},
		{"unknown passkey", private.NewPasskey().String(), ok, "unknown passkey", "unknown_passkey"},
		{"disabled user", carol.Passkey.String(), ok, "account disabled", "disabled"},
		{"unregistered torrent", alice.Passkey.String(), peer(ihB, "a", 0, 0, 0, 1), "not registered", "unregistered_torrent"},
		{"accepted", alice.Passkey.String(), ok, "", ""},
		{"min interval", alice.Passkey.String(), peer(ihA, "a", 0, 0, 0, 1), "min interval", "min_interval"},
		// The burst of 3 is spent by the three requests above.
		{"rate limit", alice.Passkey.String(), ok, "slow down", "rate_limited"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.announce(t, tt.passkey, tt.a)
			if tt.reason == "" {
				if got != "" {
					t.Fatalf("refused with %q, want success", got)
				}
				return
			}
			if !strings.Contains(got, tt.reason) {
				t.Errorf("failure reason %q, want one containing %q", got, tt.reason)
			}
			if m := r.metric(t, `swarm_tracker_private_refusals_total{reason="`+tt.label+`"}`); m == "" || strings.HasSuffix(m, " 0") {
				t.Errorf("refusal not counted: %q", m)
			}
		})
	}
	if m := r.metric(t, "swarm_tracker_private_users"); m != "swarm_tracker_private_users 1" {
		t.Errorf("users metric %q, want 1 (carol is disabled)", m)
	}
	if m := r.metric(t, "swarm_tracker_private_torrents"); m != "swarm_tracker_private_torrents 1" {
		t.Errorf("torrents metric %q, want 1", m)
	}
}

// TestScrapeOnlyRegistered: a member's scrape answers registered torrents
// only; a stranger's is refused.
func TestScrapeOnlyRegistered(t *testing.T) {
	db, _ := openDB(t)
	alice := addUser(t, db, "alice")
	addTorrent(t, db, ihA)
	r := newRig(t, db, private.Config{})
	q := "?info_hash=" + escape(ihA) + "&info_hash=" + escape(ihB)
	body := r.get(t, "/"+alice.Passkey.String()+"/scrape"+q)
	if !strings.Contains(body, string(ihA[:])) || strings.Contains(body, string(ihB[:])) {
		t.Errorf("scrape = %q, want only the registered torrent", body)
	}
	if body := r.get(t, "/"+alice.Passkey.String()+"/scrape?info_hash="+escape(ihB)); !strings.Contains(body, "not registered") {
		t.Errorf("scrape of an unregistered torrent = %q, want a refusal", body)
	}
	if body := r.get(t, "/"+private.NewPasskey().String()+"/scrape"+q); !strings.Contains(body, "unknown passkey") {
		t.Errorf("scrape with an unknown passkey = %q, want a refusal", body)
	}
}

func escape(h metainfo.Hash) string { return string(tracker.AppendEscaped(nil, h[:])) }

// testCrashLosesNoBytes (TestStores): announces counted after the last
// flush are lost in a crash, but the sessions' counters were written with
// the totals, so the clients' next announces bring those bytes back.
func testCrashLosesNoBytes(t *testing.T, s store) {
	db, path := s.open(t)
	alice, bob := addUser(t, db, "alice"), addUser(t, db, "bob")
	addTorrent(t, db, ihA)
	r := newRig(t, db, private.Config{})
	r.mustAnnounce(t, alice, peer(ihA, "a", tracker.EventStarted, 0, 0, 0))
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventStarted, 0, 0, size))
	r.clock.Advance(time.Minute)
	r.mustAnnounce(t, alice, peer(ihA, "a", 0, 100_000, 0, 0))
	r.mustAnnounce(t, bob, peer(ihA, "b", 0, 0, 100_000, size-100_000))
	r.fold(t) // into the session snapshot
	r.clock.Advance(time.Minute)
	r.mustAnnounce(t, alice, peer(ihA, "a", 0, 300_000, 0, 0))
	r.mustAnnounce(t, bob, peer(ihA, "b", 0, 0, 300_000, size-300_000))
	r.flush(t) // into the journal
	r.clock.Advance(time.Minute)
	r.mustAnnounce(t, alice, peer(ihA, "a", 0, 700_000, 0, 0))
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventCompleted, 0, size, 0))
	// The crash: r is dropped without a flush.
	if got := totals(t, db, "alice").Uploaded; got != 300_000 {
		t.Fatalf("before the restart alice has %d bytes up in the database, want the flushed 300000", got)
	}

	r2 := newRig(t, reopenDB(t, path), private.Config{})
	r2.mustAnnounce(t, alice, peer(ihA, "a", 0, size, 0, 0))
	r2.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventStopped, 0, size, 0))
	r2.flush(t)
	if got := totals(t, db, "alice").Uploaded; got != size {
		t.Errorf("after the restart alice has %d bytes up, want %d", got, size)
	}
	if got := totals(t, db, "bob").Downloaded; got != size {
		t.Errorf("after the restart bob has %d bytes down, want %d", got, size)
	}
	r2.fold(t)
	per, err := db.UserTorrents(context.Background(), alice.ID)
	if err != nil || len(per) != 1 || per[0].Uploaded != size {
		t.Errorf("alice's per-torrent totals after the restart = %+v, %v; want %d bytes up", per, err, size)
	}
}

// testRestoredSessionWaitsForClientBackoff: after a crash, a client whose
// announce failed while the tracker was down comes back on its retry
// back-off, later than two intervals after the restart (libtorrent waits
// 15 s after one failure, with a 2 s interval in the interop test). Its
// restored session must still be there, or the bytes it moved since the
// last flush are lost: it would be counted as a new session from the
// counters it reports. Restored sessions that never return go after
// Config.RestoreGrace. In TestStores.
func testRestoredSessionWaitsForClientBackoff(t *testing.T, s store) {
	db, path := s.open(t)
	alice, bob := addUser(t, db, "alice"), addUser(t, db, "bob")
	addTorrent(t, db, ihA)
	r := newRig(t, db, private.Config{})
	r.mustAnnounce(t, alice, peer(ihA, "a", tracker.EventStarted, 0, 0, 0))
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventStarted, 0, 0, size))
	r.clock.Advance(time.Minute)
	r.mustAnnounce(t, alice, peer(ihA, "a", 0, 300_000, 0, 0))
	r.mustAnnounce(t, bob, peer(ihA, "b", 0, 0, 300_000, size-300_000))
	r.flush(t)
	// The crash: r is dropped without a flush.

	r2 := newRig(t, reopenDB(t, path), private.Config{FlushInterval: time.Millisecond, RestoreGrace: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r2.tr.Run(ctx) }()
	stop := func() {
		t.Helper()
		if cancel == nil {
			return
		}
		cancel()
		cancel = nil
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	defer stop()
	// waitSessions polls the sessions metric until it is want, for at
	// most 5 s (Run sweeps on its next tick).
	waitSessions := func(want string) {
		t.Helper()
		var got string
		for range 500 {
			if got = r2.metric(t, "swarm_tracker_private_sessions"); got == "swarm_tracker_private_sessions "+want {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("sessions metric %q after 5 s, want %s", got, want)
	}
	waitSessions("2")
	// A client that reached the restarted tracker at once, then left.
	r2.mustAnnounce(t, alice, peer(ihA, "gone", tracker.EventStarted, 0, 0, 0))
	waitSessions("3")

	// Three intervals later the live session has been swept, the restored
	// ones have not.
	r2.clock.Advance(3 * time.Minute)
	waitSessions("2")
	r2.mustAnnounce(t, alice, peer(ihA, "a", 0, size, 0, 0))
	// Past the grace, bob's restored session, silent all along, goes, and
	// so does alice's, silent since.
	r2.clock.Advance(time.Hour + time.Minute)
	waitSessions("0")
	stop()

	if got := totals(t, db, "alice").Uploaded; got != size {
		t.Errorf("alice, back on her back-off after the restart, has %d bytes up, want %d", got, size)
	}
	if got := totals(t, db, "bob").Downloaded; got != 300_000 {
		t.Errorf("bob, never back, has %d bytes down, want the flushed 300000", got)
	}
}

// testRunPicksUpAdminChanges (TestStores): users and torrents changed
// through another connection (an admin command) take effect while Run
// runs, and Run writes the totals when it stops.
func testRunPicksUpAdminChanges(t *testing.T, s store) {
	db, path := s.open(t)
	admin := reopenDB(t, path) // another connection, as another process would have
	addTorrent(t, db, ihA)
	r := newRig(t, db, private.Config{FlushInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.tr.Run(ctx) }()
	stopped := false
	defer func() {
		cancel()
		if !stopped {
			<-done
		}
	}()

	// eventually polls an announce until its failure reason contains want
	// ("" for success), for at most 5 s.
	eventually := func(u private.User, peerName, want string) {
		t.Helper()
		var got string
		for range 500 {
			r.clock.Advance(time.Minute) // keep clear of the min interval
			got = r.announce(t, u.Passkey.String(), peer(ihA, peerName, 0, 0, 0, 1))
			if want == "" && got == "" || want != "" && strings.Contains(got, want) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("announce of %s: %q after 5 s, want %q", u.Name, got, want)
	}
	dave := addUser(t, admin, "dave")
	eventually(dave, "d", "")
	if err := admin.SetDisabled(context.Background(), "dave", true); err != nil {
		t.Fatal(err)
	}
	eventually(dave, "d", "disabled")
	if err := admin.SetDisabled(context.Background(), "dave", false); err != nil {
		t.Fatal(err)
	}
	eventually(dave, "d", "")
	newKey, err := admin.ResetPasskey(context.Background(), "dave")
	if err != nil {
		t.Fatal(err)
	}
	eventually(dave, "d", "unknown passkey")
	dave.Passkey = newKey
	eventually(dave, "d", "")
	if err := admin.RemoveTorrent(context.Background(), ihA); err != nil {
		t.Fatal(err)
	}
	eventually(dave, "d", "not registered")
	if err := admin.AddTorrent(context.Background(), private.Torrent{InfoHash: ihA}); err != nil {
		t.Fatal(err)
	}
	// A site writing the tables itself (docs/private-schema.md), in plain
	// SQL over its own connection.
	raw := s.raw(t, path)
	erin := private.User{Name: "erin", Passkey: private.NewPasskey()}
	if _, err := raw.Exec("INSERT INTO users (name, passkey, created) VALUES ('erin', '" + erin.Passkey.String() + "', 0)"); err != nil {
		t.Fatal(err)
	}
	eventually(erin, "f", "")
	if _, err := raw.Exec("UPDATE users SET disabled = 1 WHERE name = 'erin'"); err != nil {
		t.Fatal(err)
	}
	eventually(erin, "f", "disabled")
	eventually(dave, "e", "")

	r.clock.Advance(time.Minute)
	r.mustAnnounce(t, dave, peer(ihA, "e", 0, 0, 12345, 1)) // a download: nobody leeches for an upload
	cancel()
	err = <-done
	stopped = true
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := totals(t, admin, "dave").Downloaded; got != 12345 {
		t.Errorf("after Run stopped dave has %d bytes down, want 12345 (the final flush)", got)
	}
}

// TestLogsMaskPasskeys: refusals and accepted announces are logged, never
// with a whole passkey.
func TestLogsMaskPasskeys(t *testing.T) {
	db, _ := openDB(t)
	alice := addUser(t, db, "alice")
	addTorrent(t, db, ihA)
	var logs bytes.Buffer
	l := zerolog.New(&logs).Level(zerolog.DebugLevel)
	r := newRig(t, db, private.Config{Logger: &l})
	stranger := private.NewPasskey().String()
	r.announce(t, alice.Passkey.String(), peer(ihB, "a", 0, 0, 0, 1)) // unregistered
	r.announce(t, stranger, peer(ihA, "a", 0, 0, 0, 1))
	r.mustAnnounce(t, alice, peer(ihA, "a", tracker.EventStarted, 0, 0, 1))
	if !strings.Contains(logs.String(), "refused") || !strings.Contains(logs.String(), "private tracker announce") {
		t.Fatalf("no refusal or no accepted announce logged:\n%s", logs.String())
	}
	for _, key := range []string{alice.Passkey.String(), stranger} {
		if strings.Contains(logs.String(), key) || strings.Contains(logs.String(), key[:8]) {
			t.Errorf("log holds a passkey:\n%s", logs.String())
		}
	}
}

// testAdminErrors (TestStores): what admin operations refuse.
func testAdminErrors(t *testing.T, s store) {
	db, _ := s.open(t)
	ctx := context.Background()
	addUser(t, db, "alice")
	addTorrent(t, db, ihA)
	for name, err := range map[string]error{
		"duplicate user":       func() error { _, err := db.AddUser(ctx, "alice"); return err }(),
		"duplicate torrent":    db.AddTorrent(ctx, private.Torrent{InfoHash: ihA}),
		"disable unknown user": db.SetDisabled(ctx, "nobody", true),
		"remove unknown":       db.RemoveTorrent(ctx, ihB),
	} {
		if !errors.Is(err, private.ErrExists) && !errors.Is(err, private.ErrNotFound) {
			t.Errorf("%s: %v, want ErrExists or ErrNotFound", name, err)
		}
	}
	for _, bad := range []string{"", "a b", "x/y", strings.Repeat("n", 65), "é"} {
		if _, err := db.AddUser(ctx, bad); err == nil {
			t.Errorf("AddUser(%q) = nil error, want one", bad)
		}
	}
}

// TestPasskeysAreDistinct: passkeys are 32 hex characters and do not repeat.
func TestPasskeysAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s := private.NewPasskey().String()
		if len(s) != 32 || seen[s] {
			t.Fatalf("passkey %q: want 32 hex characters, never repeated", s)
		}
		seen[s] = true
	}
}
