package private_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/private"
)

// testDeleteUserNeverReusesTheID (TestStores): a new user never gets a deleted user's
// id (the journal and the running tracker's sessions may still name it),
// and the fold skips what the deleted user's sessions counted (bytes and
// snatches) instead of failing on the foreign key, every second after.
func testDeleteUserNeverReusesTheID(t *testing.T, s store) {
	ctx := context.Background()
	db, _ := s.open(t)
	h := metainfo.Hash{7}
	addTorrent(t, db, h)
	alice := addUser(t, db, "alice")
	bob := addUser(t, db, "bob")
	r := newRig(t, db, private.Config{})
	r.mustAnnounce(t, bob, peer(h, "b", tracker.EventStarted, 0, 0, 500))
	r.clock.Advance(time.Minute)
	r.mustAnnounce(t, bob, peer(h, "b", tracker.EventCompleted, 0, 500, 0)) // a snatch, for the hit-and-run list
	r.flush(t)
	if err := db.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteUser(ctx, "bob"); !errors.Is(err, private.ErrNotFound) {
		t.Errorf("deleting bob twice: %v, want ErrNotFound", err)
	}
	r.fold(t)
	if hs, err := db.HitAndRuns(ctx, private.HnRQuery{}); err != nil || len(hs) != 0 {
		t.Errorf("hit-and-runs after deleting bob: %+v, %v; want none", hs, err)
	}
	carol := addUser(t, db, "carol")
	if carol.ID <= bob.ID || carol.ID <= alice.ID {
		t.Errorf("carol's id %d, want above deleted bob's %d", carol.ID, bob.ID)
	}
	p := private.NewPasskey()
	if _, err := db.CreateUser(ctx, "dave", &p); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateUser(ctx, "erin", &p); !errors.Is(err, private.ErrExists) {
		t.Errorf("a second user with dave's passkey: %v, want ErrExists", err)
	}
}

// testActivityFromTheDatabaseMatchesTheTracker (TestStores): what 'swarm tracker torrent
// list' reads from the database (the sessions as last flushed) is what the
// running tracker counts.
func testActivityFromTheDatabaseMatchesTheTracker(t *testing.T, s store) {
	ctx := context.Background()
	db, _ := s.open(t)
	h := metainfo.Hash{8}
	addTorrent(t, db, h)
	alice, bob := addUser(t, db, "alice"), addUser(t, db, "bob")
	r := newRig(t, db, private.Config{})
	r.mustAnnounce(t, alice, peer(h, "a1", tracker.EventStarted, 0, 0, 0))
	r.mustAnnounce(t, alice, peer(h, "a2", tracker.EventStarted, 0, 0, 10))
	r.mustAnnounce(t, bob, peer(h, "b1", tracker.EventStarted, 0, 0, 10))
	r.mustAnnounce(t, bob, peer(h, "b2", tracker.EventStarted, 0, 0, 10))
	r.mustAnnounce(t, bob, peer(h, "b2", tracker.EventStopped, 0, 0, 10))
	r.flush(t)
	liveT, liveU := r.tr.Activity()
	dbT, dbU, err := db.Activity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := private.Activity{Seeding: 1, Leeching: 2}
	if liveT[h] != want || dbT[h] != want {
		t.Errorf("torrent activity: live %+v, database %+v; want %+v", liveT[h], dbT[h], want)
	}
	if liveU[alice.ID] != (private.Activity{1, 1}) || dbU[bob.ID] != (private.Activity{0, 1}) || liveU[bob.ID] != dbU[bob.ID] {
		t.Errorf("user activity: live %+v, database %+v", liveU, dbU)
	}
	r.fold(t) // the sessions move from the journal to the snapshot
	if dbT, _, err = db.Activity(ctx); err != nil || dbT[h] != want {
		t.Errorf("torrent activity after a fold: %+v, %v; want %+v", dbT[h], err, want)
	}
	if peers := r.tr.Peers(h); len(peers) != 3 || peers[0].UserID != alice.ID || peers[0].Left != 0 {
		t.Errorf("peers = %+v, want alice's seeder first, then 2 leechers", peers)
	}
}
