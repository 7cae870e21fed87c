package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"swarm/daemon"
	"swarm/daemon/rpc"
)

// fakeBackend records calls and answers from a fixed list of torrents.
type fakeBackend struct {
	mu       sync.Mutex
	views    []daemon.View
	calls    []string
	settings daemon.Settings
	added    []daemon.AddRequest
}

func (f *fakeBackend) note(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	return nil
}

func (f *fakeBackend) Add(_ context.Context, req daemon.AddRequest) (daemon.Added, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if string(req.Torrent) == "junk" {
		return daemon.Added{}, daemon.ErrBadInput
	}
	f.added = append(f.added, req)
	return daemon.Added{ID: 7, Name: "x", Hash: strings.Repeat("ab", 20)}, nil
}
func (f *fakeBackend) Resume(ids []int, now bool) error { return f.note("resume " + j(ids)) }
func (f *fakeBackend) Pause(ids []int) error            { return f.note("pause " + j(ids)) }
func (f *fakeBackend) Verify(ids []int) error           { return f.note("verify " + j(ids)) }
func (f *fakeBackend) Remove(ids []int, del bool) error {
	return f.note("remove " + j(ids) + " " + j(del))
}
func (f *fakeBackend) SetLocation(ids []int, dir string, move bool) error {
	return f.note("move " + j(ids) + " " + dir)
}
func (f *fakeBackend) Set(ids []int, c daemon.Change) error {
	if c.DownLimit != nil {
		return f.note("set " + j(ids) + " down " + j(*c.DownLimit))
	}
	return f.note("set " + j(ids))
}
func (f *fakeBackend) QueueMove(ids []int, where string) error { return f.note("queue " + where) }
func (f *fakeBackend) Torrents(ids []int, recent bool) ([]daemon.View, []int, error) {
	if ids == nil {
		return f.views, nil, nil
	}
	var out []daemon.View
	for _, v := range f.views {
		for _, id := range ids {
			if v.ID == id {
				out = append(out, v)
			}
		}
	}
	return out, nil, nil
}
func (f *fakeBackend) ResolveHash(h string) (int, bool) {
	for _, v := range f.views {
		if v.Hash == h {
			return v.ID, true
		}
	}
	return 0, false
}
func (f *fakeBackend) Known(ids []int) []int {
	var out []int
	for _, id := range ids {
		if _, ok := f.ResolveHash(strings.Repeat(string(rune('0'+id)), 40)); ok {
			out = append(out, id)
		}
	}
	return out
}
func (f *fakeBackend) Settings() daemon.Settings { return f.settings }
func (f *fakeBackend) SetSettings(change func(*daemon.Settings)) error {
	change(&f.settings)
	return nil
}
func (f *fakeBackend) Stats() daemon.SessionStats { return daemon.SessionStats{Torrents: len(f.views)} }
func (f *fakeBackend) PeerPort() int              { return 6881 }
func (f *fakeBackend) ConfigDir() string          { return "/state" }
func (f *fakeBackend) Reannounce(ids []int) error { return f.note("reannounce " + j(ids)) }
func (f *fakeBackend) Close()                     { f.note("close") }

func j(v any) string { b, _ := json.Marshal(v); return string(b) }

func newServer(t *testing.T, cfg rpc.Config) (*httptest.Server, *fakeBackend) {
	t.Helper()
	fb := &fakeBackend{
		views: []daemon.View{
			{ID: 1, Name: "one", Hash: strings.Repeat("1", 40), Status: daemon.StatusSeed, SizeWhenDone: 100, TotalSize: 100, MetadataDone: true, Uploaded: 50},
			{ID: 2, Name: "two", Hash: strings.Repeat("2", 40), Status: daemon.StatusDownload, SizeWhenDone: 200, Left: 150, TotalSize: 200, MetadataDone: true, DownRate: 10, Error: "disk on fire"},
		},
		settings: daemon.Settings{DownloadDir: "/dl", DHT: true, DHTNodes: 42},
	}
	cfg.Backend = fb
	s, err := rpc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, fb
}

// post sends body with the session id (if not empty) and returns the
// status and the decoded answer.
func post(t *testing.T, url, sid, body string, mod func(*http.Request)) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if sid != "" {
		req.Header.Set("X-Transmission-Session-Id", sid)
	}
	if mod != nil {
		mod(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header, out
}

// handshake returns the session id the server hands out.
func handshake(t *testing.T, url string, mod func(*http.Request)) string {
	t.Helper()
	code, h, _ := post(t, url, "", `{"method":"session-get"}`, mod)
	if code != http.StatusConflict || h.Get("X-Transmission-Session-Id") == "" {
		t.Fatalf("first request: status %d, session id %q; want 409 with an id", code, h.Get("X-Transmission-Session-Id"))
	}
	return h.Get("X-Transmission-Session-Id")
}

func TestRequestWithoutSessionIDGets409ThenSucceeds(t *testing.T) {
	ts, _ := newServer(t, rpc.Config{})
	sid := handshake(t, ts.URL, nil)
	code, _, out := post(t, ts.URL, "wrong", `{"method":"session-get"}`, nil)
	if code != http.StatusConflict {
		t.Errorf("wrong session id: status %d, want 409", code)
	}
	code, _, out = post(t, ts.URL, sid, `{"method":"session-get","tag":5}`, nil)
	if code != 200 || out["result"] != "success" || out["tag"] != 5.0 {
		t.Fatalf("session-get: %d %v", code, out)
	}
	args := out["arguments"].(map[string]any)
	if args["rpc-version"] != 17.0 || args["download-dir"] != "/dl" || args["peer-port"] != 6881.0 {
		t.Errorf("session-get arguments: %v", args)
	}
	if args["dht-enabled"] != true || args["dht-nodes"] != 42.0 {
		t.Errorf("session-get DHT: enabled %v, nodes %v; want true and the backend's 42", args["dht-enabled"], args["dht-nodes"])
	}
}

func TestBasicAuthRequiredWhenPasswordSet(t *testing.T) {
	ts, _ := newServer(t, rpc.Config{User: "me", Password: "pw"})
	for _, tc := range []struct {
		name string
		mod  func(*http.Request)
	}{
		{"none", nil},
		{"wrong password", func(r *http.Request) { r.SetBasicAuth("me", "nope") }},
		{"wrong user", func(r *http.Request) { r.SetBasicAuth("you", "pw") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, h, _ := post(t, ts.URL, "", `{"method":"session-get"}`, tc.mod)
			if code != http.StatusUnauthorized || h.Get("X-Transmission-Session-Id") != "" {
				t.Errorf("status %d, session id %q; want 401 and no id", code, h.Get("X-Transmission-Session-Id"))
			}
		})
	}
	auth := func(r *http.Request) { r.SetBasicAuth("me", "pw") }
	sid := handshake(t, ts.URL, auth)
	if code, _, out := post(t, ts.URL, sid, `{"method":"session-get"}`, auth); code != 200 || out["result"] != "success" {
		t.Errorf("with credentials: %d %v", code, out)
	}
}

func TestGuardAppliesAuthButNoSessionID(t *testing.T) {
	fb := &fakeBackend{}
	s, err := rpc.New(rpc.Config{Backend: fb, User: "me", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("page")) })
	ts := httptest.NewServer(s.Guard(page))
	defer ts.Close()
	for _, tc := range []struct {
		user, pass string
		code       int
	}{{"me", "pw", 200}, {"me", "no", 401}, {"", "", 401}} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
		if tc.user != "" {
			req.SetBasicAuth(tc.user, tc.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("GET / as %q:%q: status %d, want %d", tc.user, tc.pass, resp.StatusCode, tc.code)
		}
	}
}

func TestHostNameRefusedWithoutPassword(t *testing.T) {
	ts, _ := newServer(t, rpc.Config{})
	code, _, _ := post(t, ts.URL, "", `{}`, func(r *http.Request) { r.Host = "evil.example:9091" })
	if code != http.StatusMisdirectedRequest {
		t.Errorf("Host evil.example: status %d, want 421", code)
	}
	code, _, _ = post(t, ts.URL, "", `{}`, func(r *http.Request) { r.Host = "localhost:9091" })
	if code != http.StatusConflict {
		t.Errorf("Host localhost: status %d, want 409", code)
	}
}

func TestBadRequestsGetErrorResults(t *testing.T) {
	ts, _ := newServer(t, rpc.Config{MaxBody: 1 << 10})
	sid := handshake(t, ts.URL, nil)
	for _, tc := range []struct {
		name, body string
		code       int
		result     string
	}{
		{"unknown method", `{"method":"torrent-explode"}`, 200, "method name not recognized"},
		{"not JSON", `{"method":`, 400, "bad request"},
		{"bad ids", `{"method":"torrent-stop","arguments":{"ids":[{"x":1}]}}`, 200, "invalid id"},
		{"bad hash", `{"method":"torrent-stop","arguments":{"ids":["zz"]}}`, 200, "invalid id"},
		{"bad argument type", `{"method":"torrent-set","arguments":{"downloadLimit":"fast"}}`, 200, "invalid arguments"},
		{"negative limit", `{"method":"torrent-set","arguments":{"downloadLimit":-1}}`, 200, "negative"},
		{"corrupt torrent", `{"method":"torrent-add","arguments":{"metainfo":"anVuaw=="}}`, 200, "invalid or corrupt torrent"},
		{"nothing to add", `{"method":"torrent-add","arguments":{}}`, 200, "no filename or metainfo"},
		{"too large", `{"method":"torrent-add","arguments":{"metainfo":"` + strings.Repeat("A", 2<<10) + `"}}`, 413, "bad request"},
		{"port test", `{"method":"port-test"}`, 200, "port-test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, out := post(t, ts.URL, sid, tc.body, nil)
			res, _ := out["result"].(string)
			if code != tc.code || !strings.Contains(res, tc.result) {
				t.Errorf("status %d result %q, want %d and %q", code, res, tc.code, tc.result)
			}
		})
	}
}

func TestTorrentGetFieldsAndIDs(t *testing.T) {
	ts, fb := newServer(t, rpc.Config{})
	c := &rpc.Client{Addr: strings.TrimPrefix(ts.URL, "http://")}
	ctx := context.Background()
	type tor = map[string]any
	var out struct {
		Torrents []tor `json:"torrents"`
	}
	fields := []string{"id", "name", "status", "percentDone", "uploadRatio", "error", "errorString", "eta", "leftUntilDone", "labels", "noSuchField"}
	if err := c.Call(ctx, "torrent-get", map[string]any{"fields": fields}, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Torrents) != 2 {
		t.Fatalf("torrents: %v", out.Torrents)
	}
	one, two := out.Torrents[0], out.Torrents[1]
	if one["percentDone"] != 1.0 || one["uploadRatio"] != 0.5 || one["status"] != 6.0 || one["error"] != 0.0 {
		t.Errorf("torrent 1: %v", one)
	}
	if two["percentDone"] != 0.25 || two["error"] != 3.0 || two["errorString"] != "disk on fire" || two["eta"] != 15.0 {
		t.Errorf("torrent 2: %v", two)
	}
	if _, ok := one["noSuchField"]; ok || len(one) != len(fields)-1 {
		t.Errorf("fields answered: %v", one)
	}
	for _, ids := range []any{2, []any{2}, strings.Repeat("2", 40), []any{strings.Repeat("2", 40), 99}} {
		out.Torrents = nil
		if err := c.Call(ctx, "torrent-get", map[string]any{"fields": []string{"id"}, "ids": ids}, &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Torrents) != 1 || out.Torrents[0]["id"] != 2.0 {
			t.Errorf("ids %v: %v", ids, out.Torrents)
		}
	}
	if err := c.Call(ctx, "torrent-stop", map[string]any{"ids": []int{1, 99}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(ctx, "torrent-set", map[string]any{"ids": 2, "downloadLimit": 100}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(ctx, "session-set", map[string]any{"speed-limit-down": 100, "speed-limit-down-enabled": true}, nil); err != nil {
		t.Fatal(err)
	}
	want := []string{"pause [1]", "set [2] down 100000"}
	if j(fb.calls) != j(want) {
		t.Errorf("backend calls %v, want %v (unknown id 99 skipped; kB/s to bytes)", fb.calls, want)
	}
	if fb.settings.SpeedLimitDown != 100000 || !fb.settings.SpeedLimitDownEnabled {
		t.Errorf("settings after session-set: %+v", fb.settings)
	}
	var added map[string]map[string]any
	if err := c.Call(ctx, "torrent-add", map[string]any{"filename": "magnet:?xt=urn:btih:" + strings.Repeat("ab", 20), "paused": true}, &added); err != nil {
		t.Fatal(err)
	}
	if added["torrent-added"]["id"] != 7.0 || len(fb.added) != 1 || !fb.added[0].Paused {
		t.Errorf("torrent-add: %v, backend got %+v", added, fb.added)
	}
}

func TestClientSaysNoDaemon(t *testing.T) {
	ts, _ := newServer(t, rpc.Config{})
	addr := strings.TrimPrefix(ts.URL, "http://")
	ts.Close()
	err := (&rpc.Client{Addr: addr}).Call(context.Background(), "session-get", nil, nil)
	if !errors.Is(err, rpc.ErrNoDaemon) || !strings.Contains(err.Error(), "swarm daemon") {
		t.Errorf("Call to a closed server = %v, want ErrNoDaemon naming 'swarm daemon'", err)
	}
}

func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		addr, password string
		ok             bool
	}{
		{"127.0.0.1:9091", "", true},
		{"[::1]:9091", "", true},
		{"localhost:9091", "", true},
		{"0.0.0.0:9091", "", false},
		{":9091", "", false},
		{"192.0.2.1:9091", "", false},
		{"0.0.0.0:9091", "pw", true},
		{"nonsense", "pw", false},
	} {
		if err := rpc.CheckListen(tc.addr, tc.password); (err == nil) != tc.ok {
			t.Errorf("CheckListen(%q, %q) = %v, want ok=%v", tc.addr, tc.password, err, tc.ok)
		}
	}
}

// TestReannounceAndSessionClose: the two methods transmission-remote and
// the *arr apps send reach the backend with their ids, and answer success.
func TestReannounceAndSessionClose(t *testing.T) {
	ts, fb := newServer(t, rpc.Config{})
	sid := handshake(t, ts.URL, nil)
	for _, body := range []string{
		`{"method":"torrent-reannounce","arguments":{"ids":[2]}}`,
		`{"method":"torrent-reannounce"}`,
		`{"method":"session-close","tag":3}`,
	} {
		if code, _, out := post(t, ts.URL, sid, body, nil); code != 200 || out["result"] != "success" {
			t.Errorf("%s: status %d, %v; want 200 and success", body, code, out)
		}
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if want := []string{"reannounce [2]", "reannounce null", "close"}; !slices.Equal(fb.calls, want) {
		t.Errorf("backend calls %q, want %q", fb.calls, want)
	}
}
