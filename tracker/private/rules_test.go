package private_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/tracker"
	"swarm/tracker/private"
)

// peersFor announces a for u and returns the number of peers in the reply.
func (r *rig) peersFor(tb testing.TB, u private.User, a tracker.AnnounceRequest) int {
	tb.Helper()
	body := r.get(tb, "/"+u.Passkey.String()+"/announce?"+a.Query())
	resp, err := tracker.ParseAnnounceResponse([]byte(body))
	if err != nil {
		tb.Fatalf("announce of %s: %v (body %q)", u.Name, err, body)
	}
	return len(resp.Peers)
}

func cheatEvents(tb testing.TB, db *private.DB) []private.CheatEvent {
	tb.Helper()
	evs, err := db.CheatEvents(context.Background(), private.CheatQuery{})
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}

// testForgedUploadIsNotCredited (TestStores) is the cheat of issue 17: one announce
// claiming 1 TiB uploaded 1.5 s after the previous one. It is answered, the
// peer stays in the swarm, and the bytes are recorded, not credited.
func testForgedUploadIsNotCredited(t *testing.T, s store) {
	db, _ := s.open(t)
	alice, bob := addUser(t, db, "alice"), addUser(t, db, "bob")
	addTorrent(t, db, ihA)
	r := newRig(t, db, private.Config{MinInterval: time.Second})
	r.mustAnnounce(t, alice, peer(ihA, "a", tracker.EventStarted, 0, 0, 0))
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventStarted, 0, 0, size))
	r.clock.Advance(1500 * time.Millisecond)
	r.mustAnnounce(t, alice, peer(ihA, "a", 0, 1<<40, 0, 0))
	r.remote = "10.0.0.2:5555" // the server leaves out peers at the asker's own address
	if n := r.peersFor(t, bob, peer(ihA, "b", tracker.EventStarted, 0, 0, size)); n != 1 {
		t.Errorf("bob is given %d peers, want alice, still in the swarm", n)
	}
	// An honest 60 MB in the next 30 s is credited.
	r.remote = "10.0.0.1:5555"
	r.clock.Advance(30 * time.Second)
	r.mustAnnounce(t, alice, peer(ihA, "a", 0, 1<<40+60_000_000, 0, 0))
	r.flush(t)
	if got := totals(t, db, "alice"); got.Uploaded != 60_000_000 {
		t.Errorf("alice's credited upload = %d, want the honest 60000000 only", got.Uploaded)
	}
	evs := cheatEvents(t, db)
	want := private.CheatEvent{UserID: alice.ID, User: "alice", InfoHash: ihA, Kind: private.CheatTooFast, Claimed: 1 << 40,
		At: r.clock.Now().Add(-30 * time.Second).Truncate(time.Second), IP: netip.MustParseAddr("10.0.0.1")}
	if len(evs) != 1 || !evs[0].At.Equal(want.At) {
		t.Fatalf("cheat events = %+v, want one: %+v", evs, want)
	}
	evs[0].At = want.At
	if evs[0] != want {
		t.Errorf("cheat event = %+v, want %+v", evs[0], want)
	}
	if m := r.metric(t, `swarm_tracker_private_uncredited_announces_total{kind="too_fast"}`); !strings.HasSuffix(m, " 1") {
		t.Errorf("too_fast metric = %q, want 1", m)
	}
}

// TestUploadWithNobodyLeechingIsNotCredited: a seeder alone on a torrent
// has nobody to upload to; once a leecher is there, or was during the
// interval, its upload counts.
func TestUploadWithNobodyLeechingIsNotCredited(t *testing.T) {
	db, _ := openDB(t)
	alice, bob := addUser(t, db, "alice"), addUser(t, db, "bob")
	addTorrent(t, db, ihA)
	r := newRig(t, db, private.Config{MinInterval: 10 * time.Second})
	r.mustAnnounce(t, alice, peer(ihA, "a", tracker.EventStarted, 0, 0, 0))
	r.mustAnnounce(t, alice, peer(ihA, "a2", tracker.EventStarted, 0, 0, 0)) // her own second client: no leecher
	r.clock.Advance(30 * time.Second)
	r.mustAnnounce(t, alice, peer(ihA, "a", 0, 500_000, 0, 0))
	// Bob comes and goes within alice's next interval.
	r.clock.Advance(10 * time.Second)
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventStarted, 0, 0, size))
	r.clock.Advance(10 * time.Second)
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventCompleted, 0, size, 0))
	r.clock.Advance(10 * time.Second)
	r.mustAnnounce(t, alice, peer(ihA, "a", 0, 500_000+size, 0, 0))
	// Bob now seeds: alice's next upload, more than the 10 s of grace for
	// clients' late counters after bob completed, has nobody to go to.
	r.clock.Advance(40 * time.Second)
	r.mustAnnounce(t, alice, peer(ihA, "a", 0, 500_000+2*size, 0, 0))
	r.flush(t)
	u, err := db.User(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if u.Uploaded != size || u.RawUploaded != size {
		t.Errorf("alice's upload credited %d, raw %d; want %d for both", u.Uploaded, u.RawUploaded, size)
	}
	evs := cheatEvents(t, db)
	if len(evs) != 2 || evs[0].Kind != private.CheatNoLeechers || evs[0].Claimed != size || evs[1].Claimed != 500_000 {
		t.Errorf("cheat events = %+v, want two no_leechers: %d then 500000 bytes (newest first)", evs, size)
	}
}

// TestOwnCompletionIsNoLeecher: a leecher that completes and then claims
// an upload had nobody to upload to but itself.
func TestOwnCompletionIsNoLeecher(t *testing.T) {
	db, _ := openDB(t)
	alice := addUser(t, db, "alice")
	addTorrent(t, db, ihA)
	r := newRig(t, db, private.Config{MinInterval: 10 * time.Second})
	r.mustAnnounce(t, alice, peer(ihA, "a", tracker.EventStarted, 0, 0, size))
	r.clock.Advance(30 * time.Second)
	r.mustAnnounce(t, alice, peer(ihA, "a", tracker.EventCompleted, 0, size, 0))
	r.clock.Advance(30 * time.Second)
	r.mustAnnounce(t, alice, peer(ihA, "a", 0, 5000, size, 0))
	r.flush(t)
	if got := totals(t, db, "alice"); got.Uploaded != 0 || got.Downloaded != size {
		t.Errorf("alice's totals = %+v, want %d down and nothing up", got, size)
	}
}

// TestFallingCountersAreRecorded: counters that go down within a session
// without a restart are recorded, and nothing is counted twice when they
// climb back.
func TestFallingCountersAreRecorded(t *testing.T) {
	db, _ := openDB(t)
	alice, bob := addUser(t, db, "alice"), addUser(t, db, "bob")
	addTorrent(t, db, ihA)
	r := newRig(t, db, private.Config{MinInterval: 10 * time.Second})
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventStarted, 0, 0, size))
	r.mustAnnounce(t, alice, peer(ihA, "a", tracker.EventStarted, 0, 0, 0))
	r.clock.Advance(30 * time.Second)
	r.mustAnnounce(t, alice, peer(ihA, "a", 0, 400_000, 0, 0))
	r.clock.Advance(30 * time.Second)
	r.mustAnnounce(t, alice, peer(ihA, "a", 0, 100_000, 0, 0))
	r.clock.Advance(30 * time.Second)
	r.mustAnnounce(t, alice, peer(ihA, "a", 0, 600_000, 0, 0))
	r.flush(t)
	if got := totals(t, db, "alice").Uploaded; got != 600_000 {
		t.Errorf("alice's upload = %d, want 600000", got)
	}
	evs := cheatEvents(t, db)
	if len(evs) != 1 || evs[0].Kind != private.CheatDecreasing || evs[0].Claimed != 300_000 {
		t.Errorf("cheat events = %+v, want one decreasing by 300000", evs)
	}
}

// TestMaxIPsPerTorrent: one user's clients on one torrent may announce from
// at most MaxIPsPerTorrent addresses at once; a client that stops frees its
// address, and one that moves keeps its place.
func TestMaxIPsPerTorrent(t *testing.T) {
	db, _ := openDB(t)
	alice, bob := addUser(t, db, "alice"), addUser(t, db, "bob")
	addTorrent(t, db, ihA)
	addTorrent(t, db, ihB)
	r := newRig(t, db, private.Config{MinInterval: 10 * time.Second, MaxIPsPerTorrent: 2})
	from := func(addr string, u private.User, a tracker.AnnounceRequest) string {
		t.Helper()
		r.remote = addr + ":5555"
		return r.announce(t, u.Passkey.String(), a)
	}
	steps := []struct {
		addr   string
		u      private.User
		a      tracker.AnnounceRequest
		reason string
	}{
		{"10.0.0.1", alice, peer(ihA, "a1", tracker.EventStarted, 0, 0, 0), ""},
		{"10.0.0.1", alice, peer(ihA, "a2", tracker.EventStarted, 0, 0, 0), ""}, // same address
		{"10.0.0.2", alice, peer(ihA, "a3", tracker.EventStarted, 0, 0, 0), ""},
		{"10.0.0.3", alice, peer(ihA, "a4", tracker.EventStarted, 0, 0, 0), "too many addresses"},
		{"10.0.0.3", alice, peer(ihB, "a4", tracker.EventStarted, 0, 0, 0), ""}, // another torrent
		{"10.0.0.3", bob, peer(ihA, "b", tracker.EventStarted, 0, 0, 0), ""},    // another user
		{"10.0.0.4", alice, peer(ihA, "a3", tracker.EventStarted, 0, 0, 0), ""}, // a3 moved
		{"10.0.0.4", alice, peer(ihA, "a3", tracker.EventStopped, 0, 0, 0), ""},
		{"10.0.0.3", alice, peer(ihA, "a4", tracker.EventStarted, 0, 0, 0), ""}, // a3's place is free
	}
	for i, s := range steps {
		if got := from(s.addr, s.u, s.a); s.reason == "" && got != "" || !strings.Contains(got, s.reason) {
			t.Errorf("step %d: %s from %s: reason %q, want %q", i, s.u.Name, s.addr, got, s.reason)
		}
	}
	if m := r.metric(t, `swarm_tracker_private_refusals_total{reason="too_many_ips"}`); !strings.HasSuffix(m, " 1") {
		t.Errorf("too_many_ips metric = %q, want 1", m)
	}
	// Two intervals later the silent clients' addresses are free again.
	r.clock.Advance(2*time.Minute + time.Second)
	if got := from("10.0.0.5", alice, peer(ihA, "a5", tracker.EventStarted, 0, 0, 0)); got != "" {
		t.Errorf("after two silent intervals: %q, want accepted", got)
	}
}

// testClientAllowList (TestStores): an empty list allows every client; once it has
// prefixes, a client matching none is refused with a clear reason, logged
// at info with the masked passkey and the address.
func testClientAllowList(t *testing.T, s store) {
	db, _ := s.open(t)
	ctx := context.Background()
	alice := addUser(t, db, "alice")
	addTorrent(t, db, ihA)
	withID := func(id string) tracker.AnnounceRequest {
		a := peer(ihA, "", tracker.EventStarted, 0, 0, 1)
		a.PeerID = [20]byte{}
		copy(a.PeerID[:], id)
		return a
	}
	r := newRig(t, db, private.Config{})
	if got := r.announce(t, alice.Passkey.String(), withID("-XX0100-abcdefghijkl")); got != "" {
		t.Fatalf("with no rules: %q, want accepted", got)
	}
	for _, p := range []string{"-qB4", "-TR3", "-LT20", "-SW01"} {
		if err := db.AllowClient(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AllowClient(ctx, "-qB4"); !errors.Is(err, private.ErrExists) {
		t.Errorf("allowing -qB4 twice: %v, want ErrExists", err)
	}
	var logs bytes.Buffer
	l := zerolog.New(&logs)
	r = newRig(t, db, private.Config{Logger: &l})
	for id, ok := range map[string]bool{
		"-qB4650-abcdefghijkl": true, "-TR3000-abcdefghijkl": true, "-LT2080-abcdefghijkl": true, "-SW0100-abcdefghijkl": true,
		"-qB3250-abcdefghijkl": false, "-XX0100-abcdefghijkl": false, "-tr3000-abcdefghijkl": false, "M7-2-2--abcdefghijkl": false,
	} {
		got := r.announce(t, alice.Passkey.String(), withID(id))
		if ok && got != "" || !ok && !strings.Contains(got, "client is not allowed") {
			t.Errorf("client %s: reason %q, want allowed=%v", id, got, ok)
		}
	}
	log := logs.String()
	if !strings.Contains(log, `"level":"info"`) || !strings.Contains(log, alice.Passkey.Mask()) ||
		!strings.Contains(log, `"ip":"10.0.0.1"`) || !strings.Contains(log, "client is not allowed") {
		t.Errorf("refusal not logged at info with the masked passkey, the address and the reason:\n%s", log)
	}
	if strings.Contains(log, alice.Passkey.String()[:8]) {
		t.Errorf("log holds the passkey:\n%s", log)
	}
	rules, err := db.ClientRules(ctx)
	if err != nil || len(rules) != 4 || rules[0].Prefix != "-LT20" {
		t.Errorf("ClientRules = %+v, %v; want 4 sorted", rules, err)
	}
	for _, p := range []string{"-qB4", "-TR3", "-LT20", "-SW01"} {
		if err := db.DisallowClient(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DisallowClient(ctx, "-qB4"); !errors.Is(err, private.ErrNotFound) {
		t.Errorf("disallowing -qB4 twice: %v, want ErrNotFound", err)
	}
}

// testBans (TestStores): a banned address or range is refused, announces and scrapes,
// before its passkey is even looked at.
func testBans(t *testing.T, s store) {
	db, _ := s.open(t)
	ctx := context.Background()
	alice := addUser(t, db, "alice")
	addTorrent(t, db, ihA)
	for _, s := range []string{"192.0.2.0/24", "2001:db8::1", "::ffff:198.51.100.7"} {
		p, err := private.ParseBan(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.AddBan(ctx, private.Ban{Prefix: p, Reason: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	r := newRig(t, db, private.Config{})
	for addr, banned := range map[string]bool{
		"192.0.2.200:1": true, "[2001:db8::1]:1": true, "198.51.100.7:1": true, "[::ffff:192.0.2.9]:1": true,
		"192.0.3.1:1": false, "[2001:db8::2]:1": false, "198.51.100.8:1": false,
	} {
		r.remote = addr
		got := r.announce(t, alice.Passkey.String(), peer(ihA, addr, tracker.EventStarted, 0, 0, 1))
		if banned != strings.Contains(got, "banned") || !banned && got != "" {
			t.Errorf("announce from %s: %q, want banned=%v", addr, got, banned)
		}
	}
	r.remote = "192.0.2.1:1"
	if body := r.get(t, "/"+alice.Passkey.String()+"/scrape?info_hash="+escape(ihA)); !strings.Contains(body, "banned") {
		t.Errorf("scrape from a banned range = %q, want a refusal", body)
	}
	bans, err := db.Bans(ctx)
	if err != nil || len(bans) != 3 {
		t.Fatalf("Bans = %+v, %v; want 3", bans, err)
	}
	p := netip.MustParsePrefix("198.51.100.7/32")
	if err := db.RemoveBan(ctx, p); err != nil {
		t.Errorf("RemoveBan(%v): %v", p, err)
	}
	if err := db.RemoveBan(ctx, p); !errors.Is(err, private.ErrNotFound) {
		t.Errorf("RemoveBan(%v) twice: %v, want ErrNotFound", p, err)
	}
}

// testKindsCreditApartFromRaw (TestStores): freeleech, neutral and double upload change
// the credited totals, never the raw ones, per torrent and site-wide.
func testKindsCreditApartFromRaw(t *testing.T, s store) {
	ctx := context.Background()
	start := newClock().Now()
	tests := []struct {
		name      string
		kind      private.Kind
		site      *private.FreeleechWindow
		up, down  int64 // credited, of 1000 up (alice) and 1000 down (bob)
		rawUpDown int64
	}{
		{"normal", private.KindNormal, nil, 1000, 1000, 1000},
		{"freeleech", private.KindFreeleech, nil, 1000, 0, 1000},
		{"neutral", private.KindNeutral, nil, 0, 0, 1000},
		{"double upload", private.KindDoubleUpload, nil, 2000, 1000, 1000},
		{"site freeleech", private.KindNormal, &private.FreeleechWindow{Start: start, End: start.Add(time.Hour), Kind: private.KindFreeleech}, 1000, 0, 1000},
		{"site window over", private.KindNormal, &private.FreeleechWindow{Start: start.Add(-time.Hour), End: start.Add(30 * time.Second), Kind: private.KindFreeleech}, 1000, 1000, 1000},
		{"site window to come", private.KindNormal, &private.FreeleechWindow{Start: start.Add(time.Hour), End: start.Add(2 * time.Hour), Kind: private.KindNeutral}, 1000, 1000, 1000},
		{"neutral torrent, double-upload site", private.KindNeutral, &private.FreeleechWindow{Start: start, End: start.Add(time.Hour), Kind: private.KindDoubleUpload}, 2000, 0, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := s.open(t)
			alice, bob := addUser(t, db, "alice"), addUser(t, db, "bob")
			addTorrent(t, db, ihA)
			if err := db.SetTorrentKind(ctx, ihA, tt.kind); err != nil {
				t.Fatal(err)
			}
			if tt.site != nil {
				if err := db.AddSiteFreeleech(ctx, *tt.site); err != nil {
					t.Fatal(err)
				}
			}
			r := newRig(t, db, private.Config{})
			r.mustAnnounce(t, alice, peer(ihA, "a", tracker.EventStarted, 0, 0, 0))
			r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventStarted, 0, 0, size))
			r.clock.Advance(time.Minute)
			r.mustAnnounce(t, alice, peer(ihA, "a", 0, 1000, 0, 0))
			r.mustAnnounce(t, bob, peer(ihA, "b", 0, 0, 1000, size-1000))
			r.fold(t)
			a, b := totals(t, db, "alice"), totals(t, db, "bob")
			if a.Uploaded != tt.up || b.Downloaded != tt.down {
				t.Errorf("credited: alice up %d, bob down %d; want %d, %d", a.Uploaded, b.Downloaded, tt.up, tt.down)
			}
			bu, err := db.User(ctx, "bob")
			if err != nil {
				t.Fatal(err)
			}
			per, err := db.UserTorrents(ctx, bob.ID)
			if err != nil || len(per) != 1 {
				t.Fatalf("bob's per-torrent totals: %+v, %v", per, err)
			}
			if bu.RawDownloaded != tt.rawUpDown || per[0].RawDownloaded != tt.rawUpDown || per[0].Downloaded != tt.down {
				t.Errorf("bob: raw down %d, per torrent raw %d credited %d; want raw %d, credited %d",
					bu.RawDownloaded, per[0].RawDownloaded, per[0].Downloaded, tt.rawUpDown, tt.down)
			}
		})
	}
}

// testKindAdmin (TestStores): kinds and site windows round-trip through the database,
// and bad ones are refused.
func testKindAdmin(t *testing.T, s store) {
	db, _ := s.open(t)
	ctx := context.Background()
	addTorrent(t, db, ihA)
	if err := db.SetTorrentKind(ctx, ihB, private.KindFreeleech); !errors.Is(err, private.ErrNotFound) {
		t.Errorf("SetTorrentKind of an unregistered torrent: %v, want ErrNotFound", err)
	}
	if err := db.SetTorrentKind(ctx, ihA, private.KindDoubleUpload); err != nil {
		t.Fatal(err)
	}
	ts, err := db.Torrents(ctx)
	if err != nil || len(ts) != 1 || ts[0].Kind != private.KindDoubleUpload {
		t.Errorf("Torrents = %+v, %v; want one double_upload", ts, err)
	}
	for _, s := range []string{"normal", "freeleech", "neutral", "double_upload", "double-upload", "Freeleech"} {
		if _, err := private.ParseKind(s); err != nil {
			t.Errorf("ParseKind(%q): %v", s, err)
		}
	}
	if _, err := private.ParseKind("half"); err == nil {
		t.Error("ParseKind(half) = nil error")
	}
	now := time.Now().Truncate(time.Second)
	w := private.FreeleechWindow{Start: now, End: now.Add(time.Hour), Kind: private.KindFreeleech}
	for _, bad := range []private.FreeleechWindow{{Start: now, End: now, Kind: private.KindFreeleech}, {Start: now, End: now.Add(time.Hour)}} {
		if err := db.AddSiteFreeleech(ctx, bad); err == nil {
			t.Errorf("AddSiteFreeleech(%+v) = nil error", bad)
		}
	}
	if err := db.AddSiteFreeleech(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := db.AddSiteFreeleech(ctx, w); !errors.Is(err, private.ErrExists) {
		t.Errorf("adding a window twice: %v, want ErrExists", err)
	}
	ws, err := db.SiteFreeleech(ctx)
	if err != nil || len(ws) != 1 || !ws[0].Start.Equal(w.Start) || !ws[0].End.Equal(w.End) || ws[0].Kind != w.Kind {
		t.Errorf("SiteFreeleech = %+v, %v; want %+v", ws, err, w)
	}
	if err := db.RemoveSiteFreeleech(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := db.RemoveSiteFreeleech(ctx, w); !errors.Is(err, private.ErrNotFound) {
		t.Errorf("removing a window twice: %v, want ErrNotFound", err)
	}
}

// testHitAndRuns (TestStores): a snatch seeded less than the seed time within the
// window of it is listed with the time seeded so far; seeding after the
// window does not count.
func testHitAndRuns(t *testing.T, s store) {
	db, _ := s.open(t)
	ctx := context.Background()
	alice, bob, carol := addUser(t, db, "alice"), addUser(t, db, "bob"), addUser(t, db, "carol")
	addTorrent(t, db, ihA)
	r := newRig(t, db, private.Config{Interval: time.Hour, HnRWindow: 3 * time.Hour})
	r.mustAnnounce(t, alice, peer(ihA, "a", tracker.EventStarted, 0, 0, 0)) // the uploader: no snatch
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventStarted, 0, 0, size))
	r.mustAnnounce(t, carol, peer(ihA, "c", tracker.EventStarted, 0, 0, size))
	r.clock.Advance(time.Hour)
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventCompleted, 0, size, 0))
	r.mustAnnounce(t, carol, peer(ihA, "c", tracker.EventCompleted, 0, size, 0))
	r.fold(t)
	snatched := r.clock.Now()
	// Bob seeds two hours, carol stops at once; alice seeds on.
	r.mustAnnounce(t, carol, peer(ihA, "c", tracker.EventStopped, 0, size, 0))
	for range 2 {
		r.clock.Advance(time.Hour)
		r.mustAnnounce(t, bob, peer(ihA, "b", 0, 0, size, 0))
		r.mustAnnounce(t, alice, peer(ihA, "a", 0, 0, 0, 0))
		r.fold(t)
	}
	list := func(q private.HnRQuery) map[string]int64 {
		t.Helper()
		q.Now, q.Window = r.clock.Now(), 3*time.Hour
		hs, err := db.HitAndRuns(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, h := range hs {
			if h.InfoHash != ihA || !h.Snatched.Equal(snatched.Truncate(time.Second)) || h.Name == "" {
				t.Errorf("hit-and-run %+v: want %s snatched at %v", h, ihA, snatched)
			}
			out[h.User] = h.SeedSeconds
		}
		return out
	}
	if got := list(private.HnRQuery{SeedTime: 3 * time.Hour}); len(got) != 2 || got["bob"] != 7200 || got["carol"] != 0 {
		t.Errorf("with a 3 h seed time: %v, want bob at 7200 s and carol at 0", got)
	}
	if got := list(private.HnRQuery{SeedTime: 2 * time.Hour}); len(got) != 1 || got["carol"] != 0 {
		t.Errorf("with a 2 h seed time: %v, want carol alone", got)
	}
	if got := list(private.HnRQuery{SeedTime: 3 * time.Hour, Closed: true}); len(got) != 0 {
		t.Errorf("closed ones before the window ends: %v, want none", got)
	}
	// Past the window bob's seeding no longer counts.
	r.clock.Advance(time.Hour + time.Second)
	r.mustAnnounce(t, bob, peer(ihA, "b", 0, 0, size, 0))
	r.fold(t)
	if got := list(private.HnRQuery{SeedTime: 3 * time.Hour, Closed: true}); len(got) != 2 || got["bob"] != 7200 {
		t.Errorf("closed ones after the window: %v, want bob still at 7200 s and carol", got)
	}
}

// testMinRatio (TestStores): past MinRatioAfter bytes downloaded, a user below the
// ratio may not leech, with a reason naming the ratio, but may seed and
// stop.
func testMinRatio(t *testing.T, s store) {
	db, _ := s.open(t)
	alice, bob := addUser(t, db, "alice"), addUser(t, db, "bob")
	addTorrent(t, db, ihA)
	addTorrent(t, db, ihB)
	r := newRig(t, db, private.Config{MinInterval: 10 * time.Second, MinRatio: 0.5, MinRatioAfter: 500_000})
	r.mustAnnounce(t, alice, peer(ihA, "a", tracker.EventStarted, 0, 0, 0))
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventStarted, 0, 0, size))
	r.clock.Advance(time.Minute)
	r.mustAnnounce(t, alice, peer(ihA, "a", 0, 400_000, 0, 0))
	r.mustAnnounce(t, bob, peer(ihA, "b", 0, 0, 400_000, size-400_000)) // under MinRatioAfter
	r.clock.Advance(time.Minute)
	r.mustAnnounce(t, bob, peer(ihA, "b", 0, 0, 800_000, size-800_000))
	r.clock.Advance(time.Minute)
	got := r.announce(t, bob.Passkey.String(), peer(ihB, "b", tracker.EventStarted, 0, 0, size))
	if !strings.Contains(got, "ratio 0.00") || !strings.Contains(got, "minimum of 0.50") {
		t.Errorf("bob leeching at ratio 0: %q, want a reason naming his ratio and the minimum", got)
	}
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventStopped, 0, 800_000, size-800_000))
	r.mustAnnounce(t, bob, peer(ihB, "b2", tracker.EventStarted, 0, 0, 0)) // seeding
	if m := r.metric(t, `swarm_tracker_private_refusals_total{reason="ratio"}`); !strings.HasSuffix(m, " 1") {
		t.Errorf("ratio metric = %q, want 1", m)
	}
}

func TestParseBan(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7": "192.0.2.7/32", "192.0.2.7/24": "192.0.2.0/24", "2001:db8::1": "2001:db8::1/128",
		"2001:db8::/32": "2001:db8::/32", "::ffff:192.0.2.7": "192.0.2.7/32", "::ffff:192.0.2.0/120": "192.0.2.0/24",
		" 10.1.2.3 ": "10.1.2.3/32",
	} {
		if got, err := private.ParseBan(in); err != nil || got.String() != want {
			t.Errorf("ParseBan(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "host", "192.0.2.7/33", "fe80::1%eth0", "::ffff:0:0/80", "1.2.3.4/"} {
		if got, err := private.ParseBan(bad); err == nil {
			t.Errorf("ParseBan(%q) = %v, want an error", bad, got)
		}
	}
}

// testRunPicksUpRuleChanges (TestStores): bans, the client allow list and torrent kinds
// changed through another connection (swarm tracker ban|client|torrent)
// take effect while Run runs.
func testRunPicksUpRuleChanges(t *testing.T, s store) {
	db, path := s.open(t)
	admin := reopenDB(t, path)
	ctx := context.Background()
	alice := addUser(t, db, "alice")
	addTorrent(t, db, ihA)
	r := newRig(t, db, private.Config{FlushInterval: 10 * time.Millisecond})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.tr.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	// eventually polls an announce until its failure reason contains want
	// ("" for success), for at most 5 s.
	eventually := func(want string) {
		t.Helper()
		var got string
		for range 500 {
			r.clock.Advance(time.Minute) // keep clear of the min interval
			got = r.announce(t, alice.Passkey.String(), peer(ihA, "a", 0, 0, 0, 1))
			if want == "" && got == "" || want != "" && strings.Contains(got, want) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("announce: %q after 5 s, want %q", got, want)
	}
	eventually("")
	ban := netip.MustParsePrefix("10.0.0.0/8")
	if err := admin.AddBan(ctx, private.Ban{Prefix: ban}); err != nil {
		t.Fatal(err)
	}
	eventually("banned")
	if err := admin.RemoveBan(ctx, ban); err != nil {
		t.Fatal(err)
	}
	eventually("")
	if err := admin.AllowClient(ctx, "-qB4"); err != nil {
		t.Fatal(err)
	}
	eventually("client is not allowed")
	if err := admin.AllowClient(ctx, "-TEST"); err != nil {
		t.Fatal(err)
	}
	eventually("")
}

// TestUploadAfterARestartIsCredited: the tracker is killed while alice
// seeds to bob; bob finishes while it is down, so his "stopped" is lost.
// Alice comes back long after the restart, on her client's back-off: her
// upload, moved over the downtime to bob (restored with the sessions), is
// credited.
func TestUploadAfterARestartIsCredited(t *testing.T) {
	db, path := openDB(t)
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

	r2 := newRig(t, reopenDB(t, path), private.Config{})
	// Past twice the longest a session lives unseen, and the grace: her
	// restored session (kept an hour, RestoreGrace) is judged from the
	// restart, when bob was there.
	r2.clock.Advance(5 * time.Minute)
	r2.mustAnnounce(t, alice, peer(ihA, "a", 0, size, 0, 0))
	r2.flush(t)
	if got := totals(t, db, "alice").Uploaded; got != size {
		t.Errorf("alice after the restart has %d bytes up, want %d", got, size)
	}
	if evs := cheatEvents(t, db); len(evs) != 0 {
		t.Errorf("cheat events = %+v, want none", evs)
	}
}

// TestOwnSecondClientIsNoLeecher: a user's second client (another peer id
// on the same passkey) announcing left > 0 is no leecher to upload to:
// otherwise one member alone credits herself up to Config.MaxRate with
// forged counters, leeching from herself.
func TestOwnSecondClientIsNoLeecher(t *testing.T) {
	db, _ := openDB(t)
	alice := addUser(t, db, "alice")
	addTorrent(t, db, ihA)
	r := newRig(t, db, private.Config{MinInterval: 10 * time.Second})
	r.mustAnnounce(t, alice, peer(ihA, "a", tracker.EventStarted, 0, 0, 0))
	r.mustAnnounce(t, alice, peer(ihA, "a2", tracker.EventStarted, 0, 0, size)) // her own leeching client
	r.clock.Advance(30 * time.Second)
	r.mustAnnounce(t, alice, peer(ihA, "a", 0, 500_000_000, 0, 0))
	r.mustAnnounce(t, alice, peer(ihA, "a2", tracker.EventStopped, 0, 0, size))
	r.clock.Advance(5 * time.Second) // within the grace after a2 left
	r.mustAnnounce(t, alice, peer(ihA, "a", tracker.EventStarted, 700_000_000, 0, 0))
	r.flush(t)
	if got := totals(t, db, "alice"); got.Uploaded != 0 {
		t.Errorf("alice's credited upload = %d, want 0: her only leecher was herself", got.Uploaded)
	}
	if evs := cheatEvents(t, db); len(evs) != 2 || evs[0].Kind != private.CheatNoLeechers || evs[1].Kind != private.CheatNoLeechers {
		t.Errorf("cheat events = %+v, want two no_leechers", evs)
	}
}

// TestMaxRateBoundsAMembersClientsTogether: a member running many clients
// (peer ids) on one torrent, from one address, gets no more than
// Config.MaxRate over them all, not MaxRate each.
func TestMaxRateBoundsAMembersClientsTogether(t *testing.T) {
	db, _ := openDB(t)
	alice, bob := addUser(t, db, "alice"), addUser(t, db, "bob")
	addTorrent(t, db, ihA)
	const (
		rate    = 1_000_000
		clients = 10
	)
	interval := 10 * time.Second // two intervals: the burst one client may claim at first
	r := newRig(t, db, private.Config{Interval: interval, MinInterval: 5 * time.Second, MaxRate: rate})
	r.mustAnnounce(t, bob, peer(ihA, "b", tracker.EventStarted, 0, 0, size))
	for i := range clients {
		r.mustAnnounce(t, alice, peer(ihA, fmt.Sprintf("a%d", i), tracker.EventStarted, 0, 0, 0))
	}
	r.clock.Advance(6 * time.Second)
	r.mustAnnounce(t, bob, peer(ihA, "b", 0, 0, 0, size))
	for i := range clients { // each at the rate: 6 MB each, 60 MB claimed in 6 s
		r.mustAnnounce(t, alice, peer(ihA, fmt.Sprintf("a%d", i), 0, 6*rate, 0, 0))
	}
	r.flush(t)
	most := int64(rate * (6*time.Second + 2*interval).Seconds())
	if got := totals(t, db, "alice"); got.Uploaded > most {
		t.Errorf("alice's %d clients were credited %d bytes in 6 s; want at most %d (the rate over 6 s and two intervals)", clients, got.Uploaded, most)
	}
}
