package interop_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"swarm/metainfo"
	"swarm/tracker"
)

// The site's rules (issue 17) against the real binary, with libtorrent
// announcing: a freeleech torrent, and a forged upload.

// rawTotals is what `swarm tracker user show --json` says of a user's
// credited and raw totals.
type rawTotals struct {
	userTotals
	RawUploaded   int64 `json:"raw_uploaded"`
	RawDownloaded int64 `json:"raw_downloaded"`
}

func (s *privateSetup) rawTotals(t *testing.T, user string) rawTotals {
	t.Helper()
	var u rawTotals
	s.userShow(t, user, &u)
	return u
}

// TestPrivateTrackerFreeleechLibtorrent: on a torrent set freeleech with
// 'swarm tracker torrent set --freeleech', bob downloads from alice, both
// with libtorrent. Bob's download is not credited but kept raw, his snatch
// counts, and alice's upload is credited in full.
func TestPrivateTrackerFreeleechLibtorrent(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	s := newPrivateSetup(t, 4<<20)
	dir := filepath.Dir(s.db)
	if out := run(t, swarmBin, "tracker", "torrent", "set", s.infoHash, "--freeleech", "--db", s.db); !regexp.MustCompile(`is freeleech`).MatchString(out) {
		t.Fatalf("torrent set --freeleech printed %q", out)
	}
	s.startTracker(t)
	startLtPeer(t, dir, "seed", s.torrents["alice"], s.src)
	waitTrackerCounts(t, s.announceURL(t, "alice"), s.infoHash, 1, 0, 20*time.Second)

	script, err := filepath.Abs(filepath.Join("testdata", "lt_peer.py"))
	if err != nil {
		t.Fatal(err)
	}
	got := t.TempDir()
	bob := start(t, dir, "libtorrent get (bob)", py, script, "get", s.torrents["bob"], got, fmt.Sprint(freePort(t)), "-", "90")
	if err := bob.wait(t, 100*time.Second); err != nil {
		t.Fatalf("libtorrent: %v", err)
	}
	sameBytes(t, s.content, filepath.Join(got, "film.bin"))
	deadline := time.Now().Add(20 * time.Second)
	for {
		a, b := s.rawTotals(t, "alice"), s.rawTotals(t, "bob")
		if s.within(a.Uploaded) && s.within(a.RawUploaded) && s.within(b.RawDownloaded) && b.Snatches == 1 {
			t.Logf("file %d bytes; alice uploaded %d (raw %d); bob downloaded %d credited, %d raw, %d snatch",
				s.size, a.Uploaded, a.RawUploaded, b.Downloaded, b.RawDownloaded, b.Snatches)
			if b.Downloaded != 0 {
				t.Errorf("bob's credited download on a freeleech torrent = %d, want 0", b.Downloaded)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s: alice %+v, bob %+v; want alice's upload and bob's raw download within a piece of %d, one snatch", a, b, s.size)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestPrivateTrackerForgedUploadNotCredited is the cheat of issue 17: one
// announce claiming 1 TiB uploaded 1.5 s after the previous one, sent over
// HTTP with alice's passkey while her libtorrent seeds. The tracker answers
// it but credits nothing, records it ('swarm tracker cheats', the metric),
// and libtorrent's peer stays in the swarm.
func TestPrivateTrackerForgedUploadNotCredited(t *testing.T) {
	need(t, "/usr/bin/python3")
	s := newPrivateSetup(t, 1<<20)
	dir := filepath.Dir(s.db)
	s.startTracker(t)
	lt := startLtPeer(t, dir, "seed", s.torrents["alice"], s.src)
	ltPort, _ := strconv.Atoi(lt.waitFor(t, regexp.MustCompile(`listening (\d+)`), time.Second)[1])
	alice := s.announceURL(t, "alice")
	waitTrackerCounts(t, alice, s.infoHash, 1, 0, 20*time.Second)

	raw, err := hex.DecodeString(s.infoHash)
	if err != nil {
		t.Fatal(err)
	}
	forged := tracker.AnnounceRequest{InfoHash: metainfo.Hash(raw), Port: 6999, Event: tracker.EventStarted, Compact: true}
	copy(forged.PeerID[:], "-qB4650-forgedforged")
	mustAnswer := func(url string, a tracker.AnnounceRequest) tracker.AnnounceResponse {
		t.Helper()
		c := http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get(url + "?" + a.Query())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		r, err := tracker.ParseAnnounceResponse(body)
		if err != nil {
			t.Fatalf("announce %+v: %v (body %q)", a, err, body)
		}
		return r
	}
	mustAnswer(alice, forged)
	time.Sleep(1500 * time.Millisecond)
	forged.Event, forged.Uploaded = tracker.EventNone, 1<<40
	mustAnswer(alice, forged)

	type cheat struct {
		User     string `json:"user"`
		InfoHash string `json:"info_hash"`
		Kind     string `json:"kind"`
		Claimed  int64  `json:"claimed"`
		IP       string `json:"ip"`
	}
	var cheats []cheat
	deadline := time.Now().Add(10 * time.Second) // written with the next flush (1 s)
	for len(cheats) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no cheat recorded 10 s after the forged announce")
		}
		time.Sleep(200 * time.Millisecond)
		out := run(t, swarmBin, "tracker", "cheats", "--json", "--db", s.db)
		if err := json.Unmarshal([]byte(out), &cheats); err != nil {
			t.Fatalf("tracker cheats --json: %v\n%s", err, out)
		}
	}
	want := cheat{User: "alice", InfoHash: s.infoHash, Kind: "too_fast", Claimed: 1 << 40, IP: "127.0.0.1"}
	if len(cheats) != 1 || cheats[0] != want {
		t.Errorf("cheats = %+v, want one: %+v", cheats, want)
	}
	if a := s.rawTotals(t, "alice"); a.Uploaded != 0 || a.RawUploaded != 0 {
		t.Errorf("alice's totals after the forged announce: %+v, want nothing uploaded", a)
	}
	if m := metricLine(t, s.base, `swarm_tracker_private_uncredited_announces_total{kind="too_fast"}`); m != "1" {
		t.Errorf("too_fast metric = %q, want 1", m)
	}
	// Libtorrent's peer is still given to a leecher, three intervals
	// later (the tracker forgets a peer silent for two).
	time.Sleep(6 * time.Second)
	bob := s.announceURL(t, "bob")
	leech := tracker.AnnounceRequest{InfoHash: metainfo.Hash(raw), Port: 7000, Event: tracker.EventStarted, Left: s.size, Compact: true}
	copy(leech.PeerID[:], "-qB4650-bobbobbobbob")
	found := false
	for _, p := range mustAnswer(bob, leech).Peers {
		found = found || p.Port() == uint16(ltPort)
	}
	if !found {
		t.Errorf("libtorrent's peer (port %d) is not in bob's peer list after the forged announce", ltPort)
	}
}

// metricLine returns the value of the /metrics line that starts with name,
// "" if none.
func metricLine(t *testing.T, base, name string) string {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return ""
	}
	return string(m[1])
}
