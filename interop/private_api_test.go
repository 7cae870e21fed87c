package interop_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// adminAPI is a client of swarm tracker's admin API.
type adminAPI struct {
	base, token string
}

// call sends a request and decodes the JSON answer into out (if not nil);
// it fails the test unless the status is want.
func (a adminAPI) call(t *testing.T, method, path, contentType string, body []byte, want int, out any) {
	t.Helper()
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d %s, want %d", method, path, resp.StatusCode, got, want)
	}
	if out != nil {
		if err := json.Unmarshal(got, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, got)
		}
	}
}

type apiUser struct {
	AnnounceQueryURL string `json:"announce_query_url"`
	Uploaded         int64  `json:"uploaded"`
	Downloaded       int64  `json:"downloaded"`
	Snatches         int64  `json:"snatches"`
	Seeding          int    `json:"seeding"`
}

// TestPrivateTrackerAdminAPI runs the swarm binary as a site would: the
// tracker with its admin API behind a token; users created and the torrent
// registered (from its .torrent file) through the API; alice seeds with
// libtorrent and bob downloads with swarm get, each with the passkey the
// API gave them; the API then lists alice's libtorrent as a seeder and
// reads back what each moved.
func TestPrivateTrackerAdminAPI(t *testing.T) {
	need(t, "/usr/bin/python3")
	dir := t.TempDir()
	token := "interop-token-0123456789abcdef"
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	tr := start(t, dir, "swarm tracker --private --admin-listen", swarmBin, "tracker", "--private",
		"--db", filepath.Join(dir, "tracker.db"), "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--admin-listen", "127.0.0.1:0", "--admin-token-file", tokenFile,
		"--interval", trackerTestInterval, "--min-interval", trackerTestMinInterval, "--log-level", "debug")
	api := adminAPI{token: token}
	api.base = tr.waitFor(t, regexp.MustCompile(`admin API listening on (http://127\.0\.0\.1:\d+)/api/`), 10*time.Second)[1]

	users := map[string]apiUser{}
	for _, name := range []string{"alice", "bob"} {
		var u apiUser
		api.call(t, "POST", "/api/users", "application/json", []byte(`{"name":"`+name+`"}`), http.StatusCreated, &u)
		if !strings.HasPrefix(u.AnnounceQueryURL, base+"/announce?passkey=") {
			t.Fatalf("%s's announce URL %q, want one under %s", name, u.AnnounceQueryURL, base)
		}
		users[name] = u
	}
	const size = 3 << 20
	src := filepath.Join(dir, "src")
	content := filepath.Join(src, "film.bin")
	writeRandomFile(t, content, size, 17)
	torrents := map[string]string{}
	for name, u := range users {
		torrents[name] = filepath.Join(dir, name+".torrent")
		run(t, swarmBin, "create", content, "-o", torrents[name], "--private", "-t", u.AnnounceQueryURL, "--piece-length", "256KiB")
	}
	data, err := os.ReadFile(torrents["alice"])
	if err != nil {
		t.Fatal(err)
	}
	var registered struct {
		InfoHash string `json:"info_hash"`
		Warning  string `json:"warning"`
	}
	api.call(t, "POST", "/api/torrents", "application/x-bittorrent", data, http.StatusCreated, &registered)
	if want := readWithSwarm(t, torrents["alice"]).InfoHash; registered.InfoHash != want || registered.Warning != "" {
		t.Fatalf("registered %+v, want info hash %s and no warning (the torrent is private)", registered, want)
	}

	// The tracker reloads its users and torrents within a second.
	startLtPeer(t, dir, "seed", torrents["alice"], src)
	waitTrackerCounts(t, users["alice"].AnnounceQueryURL, registered.InfoHash, 1, 0, 30*time.Second)
	var peers []struct {
		User, IP, Client string
		Seeder           bool
	}
	api.call(t, "GET", "/api/torrents/"+registered.InfoHash+"/peers", "", nil, http.StatusOK, &peers)
	if len(peers) != 1 || peers[0].User != "alice" || peers[0].IP != "127.0.0.1" || !peers[0].Seeder ||
		!strings.HasPrefix(peers[0].Client, "libtorrent") {
		t.Fatalf("peers = %+v, want alice's libtorrent seeding from 127.0.0.1", peers)
	}

	got := filepath.Join(dir, "bob")
	run(t, swarmBin, "get", torrents["bob"], "-o", got, "--listen", "127.0.0.1:0")
	sameBytes(t, content, filepath.Join(got, "film.bin"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		var a, b apiUser
		api.call(t, "GET", "/api/users/alice", "", nil, http.StatusOK, &a)
		api.call(t, "GET", "/api/users/bob", "", nil, http.StatusOK, &b)
		if a.Uploaded >= size && b.Downloaded >= size && b.Snatches == 1 && a.Seeding == 1 {
			t.Logf("through the API: alice uploaded %d, seeding %d; bob downloaded %d, %d snatch", a.Uploaded, a.Seeding, b.Downloaded, b.Snatches)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: alice %+v, bob %+v; want %d bytes each way, 1 snatch, alice seeding", a, b, size)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if strings.Contains(tr.output(), token) {
		t.Error("the admin token appears in the tracker's log")
	}
}
