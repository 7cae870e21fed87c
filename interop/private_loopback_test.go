package interop_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestPrivateTrackerLoopbackLibtorrent: libtorrent, with its SSRF
// mitigation on as users have it, refuses a tracker on 127.0.0.1 whose path
// is not /announce, so a member on the tracker's own machine cannot use
// /PASSKEY/announce (issue 21, item 3). With /announce?passkey=PASSKEY it
// downloads from alice's swarm seed, and the tracker accounts bob's bytes
// and snatch to him; the passkey never reaches the tracker's log.
func TestPrivateTrackerLoopbackLibtorrent(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	s := newPrivateSetup(t, 3<<20)
	dir := filepath.Dir(s.db)
	queryURL := func(user string) string {
		t.Helper()
		var u struct {
			Path  string `json:"announce_url"`
			Query string `json:"announce_query_url"`
		}
		out := run(t, swarmBin, "tracker", "user", "show", user, "--json", "--db", s.db, "--public-url", s.base)
		if err := json.Unmarshal([]byte(out), &u); err != nil {
			t.Fatalf("user show %s --json: %v\n%s", user, err, out)
		}
		if want := s.base + "/announce?passkey=" + s.passkeyOf(t, u.Path); u.Query != want {
			t.Fatalf("user show %s: announce_query_url %q, want %q", user, u.Query, want)
		}
		return u.Query
	}
	// Each user's torrent again, with the query form: same info hash.
	for _, user := range []string{"alice", "bob"} {
		torrent := filepath.Join(dir, user+"-query.torrent")
		run(t, swarmBin, "create", s.content, "-o", torrent, "--private", "-t", queryURL(user), "--piece-length", "256KiB")
		if got := infoHash(t, torrent); got != s.infoHash {
			t.Fatalf("%s: info hash %s, want %s", torrent, got, s.infoHash)
		}
		s.torrents[user+"-query"] = torrent
	}
	tr := s.startTracker(t)
	start(t, dir, "swarm seed (alice)", swarmBin, "seed", s.torrents["alice-query"], "--data", s.src,
		"--listen", "127.0.0.1:0", "--log-level", "debug")
	waitTrackerCounts(t, queryURL("alice"), s.infoHash, 1, 0, 30*time.Second)

	script, err := filepath.Abs(filepath.Join("testdata", "lt_peer.py"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("path form refused by libtorrent", func(t *testing.T) {
		lt := start(t, dir, "libtorrent get (bob, path form)", py, script, "get", s.torrents["bob"],
			t.TempDir(), fmt.Sprint(freePort(t)), "-", "30", "--ssrf-mitigation")
		lt.waitFor(t, regexp.MustCompile(`(?i)alert .*ssrf`), 30*time.Second)
	})
	t.Run("query form", func(t *testing.T) {
		got := t.TempDir()
		lt := start(t, dir, "libtorrent get (bob, query form)", py, script, "get", s.torrents["bob-query"],
			got, fmt.Sprint(freePort(t)), "-", "90", "--ssrf-mitigation")
		if err := lt.wait(t, 100*time.Second); err != nil {
			t.Fatalf("libtorrent: %v", err)
		}
		sameBytes(t, s.content, filepath.Join(got, "film.bin"))
		a, b := s.waitTotals(t, 20*time.Second, func(a, b userTotals) bool {
			return s.within(a.Uploaded) && s.within(b.Downloaded) && b.Snatches == 1
		})
		t.Logf("file %d bytes; alice uploaded %d, bob downloaded %d, bob's snatches %d", s.size, a.Uploaded, b.Downloaded, b.Snatches)
	})
	// qBittorrent builds on libtorrent and keeps its SSRF mitigation on by
	// default: the query form works for it too.
	t.Run("qBittorrent, query form", func(t *testing.T) {
		need(t, "qbittorrent-nox")
		got := t.TempDir()
		startQb(t, "qbittorrent-nox (bob, query form)", s.torrents["bob-query"], got)
		want := treeDigest(t, s.content)["."]
		deadline := time.Now().Add(90 * time.Second)
		for {
			file := filepath.Join(got, "film.bin")
			if _, err := os.Stat(file); err == nil && treeDigest(t, file)["."] == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("qBittorrent has not downloaded %s byte for byte after 90 s", file)
			}
			time.Sleep(500 * time.Millisecond)
		}
		// Its completed announce may wait for its next one.
		_, b := s.waitTotals(t, 30*time.Second, func(a, b userTotals) bool { return b.Snatches == 2 })
		t.Logf("qBittorrent complete; bob downloaded %d in all, %d snatches", b.Downloaded, b.Snatches)
	})
	for _, user := range []string{"alice", "bob"} {
		pk := s.passkeyOf(t, s.announceURL(t, user))
		if strings.Contains(tr.output(), pk) {
			t.Errorf("the tracker's log holds %s's passkey", user)
		}
	}
}
