package adminapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/adminapi"
	"swarm/tracker/private"
	"swarm/tracker/server"
)

const token = "test-token-0123456789abcdef"

// rig is a private tracker with its flush loop running, its announce
// handler and its admin API each on a 127.0.0.1 port.
type rig struct {
	db       *private.DB
	tr       *private.Tracker
	api      *httptest.Server
	announce *httptest.Server
}

func newRig(t *testing.T) *rig { t.Helper(); return newRigFlushing(t, 10*time.Millisecond) }

// newRigFlushing is newRig with the tracker's flush interval (when it also
// looks for changes in the database).
func newRigFlushing(t *testing.T, flush time.Duration) *rig {
	t.Helper()
	ctx := context.Background()
	log := zerolog.New(zerolog.NewTestWriter(t))
	db, err := private.Open(ctx, filepath.Join(t.TempDir(), "tracker.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tr, err := private.New(ctx, private.Config{DB: db, Logger: &log, Interval: time.Minute, MinInterval: time.Nanosecond,
		FlushInterval: flush})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Interval: time.Minute, MinInterval: time.Nanosecond, Hook: tr,
		Metrics: tr.Collectors(), Logger: &log, MetricsToken: token})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- tr.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("tracker Run: %v", err)
		}
	})
	api, err := adminapi.New(adminapi.Config{DB: db, Live: tr, Token: token, Metrics: srv.MetricsHandler(), Logger: &log,
		MaxBody: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{db: db, tr: tr, api: httptest.NewServer(api), announce: httptest.NewServer(srv.Handler())}
	t.Cleanup(r.api.Close)
	t.Cleanup(r.announce.Close)
	if err := db.SetAnnounceBase(ctx, r.announce.URL); err != nil {
		t.Fatal(err)
	}
	return r
}

// do sends an API request with the token and returns the status and body.
func (r *rig) do(t *testing.T, method, path, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, r.api.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := r.api.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); len(b) > 0 && path != "/metrics" && ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	return resp.StatusCode, b
}

// call is do with a JSON body; it fails the test unless the status is want,
// and decodes the answer into out (if not nil).
func (r *rig) call(t *testing.T, method, path, body string, want int, out any) {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	code, got := r.do(t, method, path, "application/json", b)
	if code != want {
		t.Fatalf("%s %s %s: status %d %s, want %d", method, path, body, code, got, want)
	}
	if out != nil {
		if err := json.Unmarshal(got, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, got)
		}
	}
}

// announceAs announces a with passkey to the tracker and returns the
// failure reason, "" if accepted.
func (r *rig) announceAs(t *testing.T, passkey string, a tracker.AnnounceRequest) string {
	t.Helper()
	resp, err := r.announce.Client().Get(r.announce.URL + "/" + passkey + "/announce?" + a.Query())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	_, err = tracker.ParseAnnounceResponse(body)
	if fe, ok := err.(*tracker.FailureError); ok {
		return fe.Reason
	}
	if err != nil {
		t.Fatalf("announce: %v (%q)", err, body)
	}
	return ""
}

// eventually retries f every 10 ms, for at most 5 s, until it returns "";
// else it fails with f's last answer. The tracker picks up database
// changes at its next flush.
func eventually(t *testing.T, f func() string) {
	t.Helper()
	var last string
	for range 500 {
		if last = f(); last == "" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal(last)
}

type userResp struct {
	ID          int64    `json:"id"`
	Name        string   `json:"name"`
	Passkey     string   `json:"passkey"`
	AnnounceURL string   `json:"announce_url"`
	Disabled    bool     `json:"disabled"`
	CanLeech    bool     `json:"can_leech"`
	Uploaded    int64    `json:"uploaded"`
	Downloaded  int64    `json:"downloaded"`
	Ratio       *float64 `json:"ratio"`
	Seeding     int      `json:"seeding"`
	Leeching    int      `json:"leeching"`
}

type torrentResp struct {
	InfoHash string `json:"info_hash"`
	Name     string `json:"name"`
	Size     int64  `json:"size"`
	Seeders  int    `json:"seeders"`
	Leechers int    `json:"leechers"`
	Snatches int64  `json:"snatches"`
	Warning  string `json:"warning"`
}

type peerResp struct {
	User       string `json:"user"`
	IP         string `json:"ip"`
	Port       int    `json:"port"`
	Client     string `json:"client"`
	Uploaded   int64  `json:"uploaded"`
	Downloaded int64  `json:"downloaded"`
	Left       int64  `json:"left"`
	Seeder     bool   `json:"seeder"`
	// LastAnnounce is kept as the text sent, to check its form.
	LastAnnounce string `json:"last_announce"`
}

func announceReq(h metainfo.Hash, id string, ev tracker.Event, up, down, left int64) tracker.AnnounceRequest {
	var pid [20]byte
	copy(pid[:], id)
	return tracker.AnnounceRequest{InfoHash: h, PeerID: pid, Port: 6881, Event: ev, Uploaded: up, Downloaded: down,
		Left: left, Compact: true}
}

// TestAdminAPIUsersTorrentsStatsPeers walks through what a site does: it
// creates users, registers a torrent, lets them announce, reads their
// stats and the torrent's peers, changes a user's class, disables and
// deletes users.
func TestAdminAPIUsersTorrentsStatsPeers(t *testing.T) {
	r := newRig(t)
	var alice, bob userResp
	r.call(t, "POST", "/api/users", `{"name":"alice"}`, http.StatusCreated, &alice)
	if len(alice.Passkey) != 32 || alice.AnnounceURL != r.announce.URL+"/"+alice.Passkey+"/announce" || !alice.CanLeech {
		t.Fatalf("created alice = %+v, want a passkey, its announce URL under %s, can leech", alice, r.announce.URL)
	}
	given := strings.Repeat("ab", 16)
	r.call(t, "POST", "/api/users", `{"name":"bob","passkey":"`+given+`"}`, http.StatusCreated, &bob)
	if bob.Passkey != given {
		t.Fatalf("bob's passkey = %q, want the one given, %s", bob.Passkey, given)
	}

	h := metainfo.Hash{1, 2, 3}
	var tor torrentResp
	r.call(t, "POST", "/api/torrents", `{"info_hash":"`+h.String()+`","name":"film","size":1000}`, http.StatusCreated, &tor)
	if tor.InfoHash != h.String() || tor.Name != "film" || tor.Size != 1000 {
		t.Fatalf("registered %+v", tor)
	}

	// bob seeds, alice leeches; the tracker takes up the new users at its
	// next flush.
	eventually(t, func() string {
		return r.announceAs(t, bob.Passkey, announceReq(h, "-qB4630-bob-peer-id", tracker.EventStarted, 0, 0, 0))
	})
	if reason := r.announceAs(t, alice.Passkey, announceReq(h, "-TR3000-alice-peerid", tracker.EventStarted, 0, 0, 1000)); reason != "" {
		t.Fatal(reason)
	}
	if reason := r.announceAs(t, bob.Passkey, announceReq(h, "-qB4630-bob-peer-id", tracker.EventNone, 600, 0, 0)); reason != "" {
		t.Fatal(reason)
	}
	var peers []peerResp
	r.call(t, "GET", "/api/torrents/"+h.String()+"/peers", "", http.StatusOK, &peers)
	if len(peers) != 2 || peers[0].User != "bob" || !peers[0].Seeder || peers[0].Uploaded != 600 ||
		peers[0].IP != "127.0.0.1" || peers[0].Port != 6881 || !strings.HasPrefix(peers[0].Client, "qBittorrent 4.6.3") ||
		peers[1].User != "alice" || peers[1].Left != 1000 || !strings.HasPrefix(peers[1].Client, "Transmission 3.0") {
		t.Fatalf("peers = %+v, want bob seeding (600 up, qBittorrent) then alice leeching (Transmission)", peers)
	}
	// Whole seconds in UTC, as every other time the API gives.
	for _, p := range peers {
		if at, err := time.Parse(time.RFC3339, p.LastAnnounce); err != nil || at.Nanosecond() != 0 || !strings.HasSuffix(p.LastAnnounce, "Z") {
			t.Errorf("%s's last_announce %q: want whole seconds in UTC (%v)", p.User, p.LastAnnounce, err)
		}
	}
	r.call(t, "GET", "/api/torrents/"+h.String(), "", http.StatusOK, &tor)
	if tor.Seeders != 1 || tor.Leechers != 1 {
		t.Errorf("torrent = %+v, want 1 seeder and 1 leecher", tor)
	}
	eventually(t, func() string {
		var u userResp
		r.call(t, "GET", "/api/users/bob", "", http.StatusOK, &u)
		if u.Uploaded != 600 || u.Seeding != 1 || u.Leeching != 0 || u.Ratio != nil {
			return fmt.Sprintf("bob = %+v, want 600 uploaded, seeding 1, no ratio", u)
		}
		return ""
	})
	var list []userResp
	r.call(t, "GET", "/api/users", "", http.StatusOK, &list)
	if len(list) != 2 || list[0].Name != "alice" || list[0].Leeching != 1 || list[1].Name != "bob" || list[1].Passkey != "" {
		t.Errorf("user list = %+v, want alice (leeching 1), bob; no passkeys", list)
	}

	// A user who may not leech may still seed.
	r.call(t, "PATCH", "/api/users/alice", `{"can_leech":false}`, http.StatusOK, &alice)
	if alice.CanLeech {
		t.Fatalf("alice after PATCH can_leech=false: %+v", alice)
	}
	eventually(t, func() string {
		if reason := r.announceAs(t, alice.Passkey, announceReq(h, "-TR3000-alice-peerid", tracker.EventStarted, 0, 0, 1000)); !strings.Contains(reason, "may not download") {
			return "leech announce with can_leech=false: reason " + reason
		}
		return ""
	})
	if reason := r.announceAs(t, alice.Passkey, announceReq(h, "-TR3000-alice-seed02", tracker.EventStarted, 0, 0, 0)); reason != "" {
		t.Errorf("seed announce with can_leech=false refused: %s", reason)
	}

	// Disabled, then a new passkey: the old one stops working.
	r.call(t, "PATCH", "/api/users/bob", `{"disabled":true}`, http.StatusOK, &bob)
	eventually(t, func() string {
		if reason := r.announceAs(t, bob.Passkey, announceReq(h, "-qB4630-bob-peer-id", tracker.EventStarted, 0, 0, 0)); reason != "account disabled" {
			return "disabled bob's announce: " + reason
		}
		return ""
	})
	r.call(t, "PATCH", "/api/users/bob", `{"disabled":false}`, http.StatusOK, nil)
	old := bob.Passkey
	r.call(t, "POST", "/api/users/bob/passkey", "", http.StatusOK, &bob)
	if bob.Passkey == old || len(bob.Passkey) != 32 {
		t.Fatalf("reset passkey: %q, was %q", bob.Passkey, old)
	}
	eventually(t, func() string {
		if reason := r.announceAs(t, old, announceReq(h, "-qB4630-bob-peer-id", tracker.EventStarted, 0, 0, 0)); reason != "unknown passkey" {
			return "old passkey after reset: " + reason
		}
		return ""
	})

	// Deleted: gone from the API, the passkey refused, the id never given
	// again.
	r.call(t, "DELETE", "/api/users/bob", "", http.StatusNoContent, nil)
	r.call(t, "GET", "/api/users/bob", "", http.StatusNotFound, nil)
	eventually(t, func() string {
		if reason := r.announceAs(t, bob.Passkey, announceReq(h, "-qB4630-bob-peer-id", tracker.EventStarted, 0, 0, 0)); reason != "unknown passkey" {
			return "deleted bob's announce: " + reason
		}
		return ""
	})
	var carol userResp
	r.call(t, "POST", "/api/users", `{"name":"carol","can_leech":false}`, http.StatusCreated, &carol)
	if carol.ID <= bob.ID || carol.CanLeech {
		t.Errorf("carol = %+v: want an id above deleted bob's %d, can_leech false", carol, bob.ID)
	}
	// bob's uploaded bytes are still unfolded: Run's last fold, checked at
	// cleanup, must skip them rather than fail on the foreign key.

	r.call(t, "DELETE", "/api/torrents/"+h.String(), "", http.StatusNoContent, nil)
	r.call(t, "GET", "/api/torrents/"+h.String(), "", http.StatusNotFound, nil)
	r.call(t, "GET", "/api/torrents", "", http.StatusOK, &[]torrentResp{})
}

// TestAdminAPIRegistersTorrentFiles: a .torrent as the body, or in base64
// in JSON; a torrent not marked private comes back with a warning.
func TestAdminAPIRegistersTorrentFiles(t *testing.T) {
	r := newRig(t)
	for _, tt := range []struct {
		name    string
		private bool
		json    bool
	}{{"raw-private", true, false}, {"json-public", false, true}} {
		data := torrentFile(t, tt.name, tt.private)
		var (
			code int
			body []byte
		)
		if tt.json {
			code, body = r.do(t, "POST", "/api/torrents", "application/json",
				[]byte(`{"torrent":"`+base64.StdEncoding.EncodeToString(data)+`"}`))
		} else {
			code, body = r.do(t, "POST", "/api/torrents", "application/x-bittorrent", data)
		}
		var got torrentResp
		if err := json.Unmarshal(body, &got); code != http.StatusCreated || err != nil {
			t.Fatalf("%s: status %d %s", tt.name, code, body)
		}
		m, err := metainfo.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		if got.InfoHash != m.InfoHash.String() || got.Name != tt.name || got.Size != m.Info.Length || (got.Warning != "") == tt.private {
			t.Errorf("%s: registered %+v, want hash %s, size %d, a warning only if not private", tt.name, got, m.InfoHash, m.Info.Length)
		}
		if code, body := r.do(t, "POST", "/api/torrents", "application/x-bittorrent", data); code != http.StatusConflict {
			t.Errorf("%s registered twice: status %d %s, want 409", tt.name, code, body)
		}
	}
}

// torrentFile builds a small single-file torrent.
func torrentFile(t *testing.T, name string, private bool) []byte {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, bytes.Repeat([]byte(name), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := metainfo.Build(context.Background(), metainfo.BuildConfig{Path: path, Private: private, PieceLength: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestAdminAPIErrors: each bad request gets its status and a JSON message,
// never a stack or SQL.
func TestAdminAPIErrors(t *testing.T) {
	r := newRig(t)
	r.call(t, "POST", "/api/users", `{"name":"alice"}`, http.StatusCreated, nil)
	for _, tt := range []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"POST", "/api/users", `{"name":"alice"}`, http.StatusConflict, "already exists"},
		{"POST", "/api/users", `{"name":"a b"}`, http.StatusBadRequest, "only letters"},
		{"POST", "/api/users", `{"name":"x","can_leach":true}`, http.StatusBadRequest, "unknown field"},
		{"POST", "/api/users", `{"name":"x"} {}`, http.StatusBadRequest, "one JSON object"},
		{"POST", "/api/users", ``, http.StatusBadRequest, "empty request body"},
		{"POST", "/api/users", `{"name":"x","passkey":"zz"}`, http.StatusBadRequest, "passkey"},
		{"POST", "/api/users", `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, http.StatusRequestEntityTooLarge, "larger than"},
		{"PATCH", "/api/users/alice", `{}`, http.StatusBadRequest, "nothing to change"},
		{"PATCH", "/api/users/nobody", `{"disabled":true}`, http.StatusNotFound, "not found"},
		{"DELETE", "/api/users/nobody", ``, http.StatusNotFound, "not found"},
		{"POST", "/api/torrents", `{"info_hash":"xyz"}`, http.StatusBadRequest, "info_hash"},
		{"POST", "/api/torrents", `{"info_hash":"` + strings.Repeat("0", 40) + `","size":-1}`, http.StatusBadRequest, "size"},
		{"GET", "/api/torrents/nothex/peers", ``, http.StatusBadRequest, "info hash"},
		{"GET", "/api/torrents/" + strings.Repeat("0", 40), ``, http.StatusNotFound, "not found"},
		{"GET", "/api/nothing", ``, http.StatusNotFound, "not found"},
		{"PUT", "/api/users", ``, http.StatusMethodNotAllowed, "method not allowed"},
	} {
		var b []byte
		if tt.body != "" {
			b = []byte(tt.body)
		}
		code, body := r.do(t, tt.method, tt.path, "application/json", b)
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(body, &e); code != tt.code || err != nil || !strings.Contains(e.Error, tt.msg) {
			t.Errorf("%s %s %.40s: status %d %s, want %d and a JSON error with %q", tt.method, tt.path, tt.body, code, body, tt.code, tt.msg)
		}
	}
	// A database error is a 500 with a generic message: its text may hold
	// SQL.
	closed, err := private.Open(context.Background(), filepath.Join(t.TempDir(), "closed.db"))
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	api, err := adminapi.New(adminapi.Config{DB: closed, Live: r.tr, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	r.api = httptest.NewServer(api)
	defer r.api.Close()
	code, body := r.do(t, "GET", "/api/users", "", nil)
	if code != http.StatusInternalServerError || string(body) != `{"error":"internal error"}`+"\n" {
		t.Errorf("GET /api/users with the database closed: status %d %s, want 500 and a generic message", code, body)
	}
}

// TestAdminAPIToken: without the token, or with a wrong one, every path
// (metrics included, on both listeners) answers 401.
func TestAdminAPIToken(t *testing.T) {
	r := newRig(t)
	for _, tc := range []struct{ url, auth string }{
		{r.api.URL + "/api/users", ""},
		{r.api.URL + "/api/users", "Bearer wrong"},
		{r.api.URL + "/api/users", "Bearer " + token + "x"},
		{r.api.URL + "/api/users", "Basic " + token},
		{r.api.URL + "/api/nothing", ""},
		{r.api.URL + "/metrics", ""},
		{r.announce.URL + "/metrics", ""},
		{r.announce.URL + "/metrics", "Bearer wrong"},
	} {
		req, _ := http.NewRequest("GET", tc.url, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s with %q: status %d, want 401", tc.url, tc.auth, resp.StatusCode)
		}
	}
	for _, url := range []string{r.api.URL + "/metrics", r.announce.URL + "/metrics"} {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("swarm_tracker_private_users")) {
			t.Errorf("GET %s with the token: status %d, want 200 and the private tracker's metrics", url, resp.StatusCode)
		}
	}
}

// A user's detail always carries "torrents", [] before any, as the README
// shows, so a site need not test for the key; the list leaves it out.
func TestAdminAPIUserDetailShowsEmptyTorrents(t *testing.T) {
	r := newRig(t)
	var created, detail map[string]any
	r.call(t, "POST", "/api/users", `{"name":"alice"}`, http.StatusCreated, &created)
	r.call(t, "GET", "/api/users/alice", "", http.StatusOK, &detail)
	for what, v := range map[string]map[string]any{"created": created, "detail": detail} {
		if ts, ok := v["torrents"].([]any); !ok || len(ts) != 0 {
			t.Errorf("%s alice: torrents = %#v, want []", what, v["torrents"])
		}
	}
	var list []map[string]any
	r.call(t, "GET", "/api/users", "", http.StatusOK, &list)
	if len(list) != 1 {
		t.Fatalf("list: %d users, want 1", len(list))
	}
	if _, ok := list[0]["torrents"]; ok {
		t.Errorf("list: alice has torrents %#v, want no key", list[0]["torrents"])
	}
}

// A .torrent posted without its Content-Type, or as a form, is a 400 that
// says how to send it (newuser walk: it was "invalid character 'd' looking
// for beginning of value"), and registers nothing.
func TestAdminAPITorrentFileWithoutItsType(t *testing.T) {
	r := newRig(t)
	data := torrentFile(t, "album", true)
	for _, ct := range []string{"application/x-www-form-urlencoded", "", "multipart/form-data; boundary=x"} {
		code, body := r.do(t, "POST", "/api/torrents", ct, data)
		if code != http.StatusBadRequest || !strings.Contains(string(body), "Content-Type: application/x-bittorrent") {
			t.Errorf("Content-Type %q: status %d %s, want 400 naming application/x-bittorrent", ct, code, body)
		}
	}
	var list []torrentResp
	r.call(t, "GET", "/api/torrents", "", http.StatusOK, &list)
	if len(list) != 0 {
		t.Errorf("torrents = %+v, want none registered", list)
	}
}

// TestTokenlessAPIRefusesBrowsers: without a token the API serves loopback
// only, and a web page the admin visits must not reach it: not by a form
// or fetch posted from its origin (CSRF: the browser sends Origin), nor by
// DNS rebinding (its own host name in Host, resolving to 127.0.0.1).
func TestTokenlessAPIRefusesBrowsers(t *testing.T) {
	ctx := context.Background()
	db, err := private.Open(ctx, filepath.Join(t.TempDir(), "tracker.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tr, err := private.New(ctx, private.Config{DB: db, Interval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	api, err := adminapi.New(adminapi.Config{DB: db, Live: tr})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	send := func(method, path, host, origin, body string) int {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
			req.Header.Set("Content-Type", "text/plain;charset=UTF-8") // what fetch(..., {mode: "no-cors"}) sends
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send("POST", "/api/users", "", "http://evil.example", `{"name":"mallory"}`); code != http.StatusForbidden {
		t.Errorf("a cross-site POST creating a user: status %d, want 403", code)
	}
	if _, err := db.User(ctx, "mallory"); err == nil {
		t.Error("a web page made itself a member")
	}
	if code := send("GET", "/api/users", "evil.example:80", "", ""); code != http.StatusForbidden {
		t.Errorf("GET /api/users with Host evil.example (DNS rebinding): status %d, want 403", code)
	}
	// curl on the admin's machine still works, by address or localhost.
	if code := send("POST", "/api/users", "", "", `{"name":"alice"}`); code != http.StatusCreated {
		t.Errorf("POST /api/users from curl: status %d, want 201", code)
	}
	if code := send("GET", "/api/users", "localhost:1234", "", ""); code != http.StatusOK {
		t.Errorf("GET /api/users with Host localhost: status %d, want 200", code)
	}
}

// TestAdminAPIChangeSeenAtOnce: what a change's answer confirms, announces
// see: a member created and a torrent registered through the API can
// announce as soon as the answers come, even when the tracker's own look
// at the database is an hour away. (The real binary's interop test failed
// here: libtorrent announced before the next flush, was refused "unknown
// passkey", and did not ask again within 30 s.)
func TestAdminAPIChangeSeenAtOnce(t *testing.T) {
	r := newRigFlushing(t, time.Hour)
	var alice userResp
	r.call(t, "POST", "/api/users", `{"name":"alice"}`, http.StatusCreated, &alice)
	h := metainfo.Hash{7, 7, 7}
	r.call(t, "POST", "/api/torrents", `{"info_hash":"`+h.String()+`","name":"film","size":1000}`, http.StatusCreated, nil)
	if reason := r.announceAs(t, alice.Passkey, announceReq(h, "-qB4630-alice-peerid", tracker.EventStarted, 0, 0, 0)); reason != "" {
		t.Fatalf("alice's first announce: %q, want accepted", reason)
	}
	r.call(t, "PATCH", "/api/users/alice", `{"disabled":true}`, http.StatusOK, nil)
	if reason := r.announceAs(t, alice.Passkey, announceReq(h, "-qB4630-alice-peerid", tracker.EventNone, 0, 0, 0)); reason == "" {
		t.Fatal("announce after alice was disabled: accepted, want refused")
	}
}
