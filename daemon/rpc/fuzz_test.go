package rpc_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"swarm/daemon"
	"swarm/daemon/rpc"
)

// FuzzRequest sends arbitrary bodies, past the session-id handshake, to the
// RPC: every one gets a JSON answer with a result (the protocol's error
// result for bad input), never a panic or a 5xx.
func FuzzRequest(f *testing.F) {
	for _, seed := range []string{
		`{"method":"session-get","tag":1}`,
		`{"method":"torrent-get","arguments":{"fields":["id","name","percentDone","files","peers","trackerStats","pieces"],"ids":[1,2]}}`,
		`{"method":"torrent-get","arguments":{"fields":["id"],"ids":"recently-active"}}`,
		`{"method":"torrent-add","arguments":{"metainfo":"junk","paused":true}}`,
		`{"method":"torrent-add","arguments":{"filename":"magnet:?xt=urn:btih:` + strings.Repeat("a", 40) + `"}}`,
		`{"method":"torrent-set","arguments":{"ids":[1],"downloadLimit":10,"files-wanted":[0],"priority-high":[1]}}`,
		`{"method":"torrent-set-location","arguments":{"ids":[2],"location":"/x","move":true}}`,
		`{"method":"torrent-remove","arguments":{"ids":["` + strings.Repeat("1", 40) + `"],"delete-local-data":true}}`,
		`{"method":"session-set","arguments":{"speed-limit-down":5,"speed-limit-down-enabled":true}}`,
		`{"method":"free-space","arguments":{"path":"/"}}`,
		`{"method":"queue-move-top","arguments":{"ids":[1]}}`,
		`{"method":"nope"}`, `{"method":["x"]}`, `{"arguments":[]}`, `[]`, `null`, `{`, ``,
	} {
		f.Add(seed)
	}
	fb := &fakeBackend{
		views: []daemon.View{
			{ID: 1, Name: "one", Hash: strings.Repeat("1", 40), Status: daemon.StatusSeed, SizeWhenDone: 100, TotalSize: 100, MetadataDone: true},
			{ID: 2, Name: "two", Hash: strings.Repeat("2", 40), Status: daemon.StatusDownload, SizeWhenDone: 200, Left: 150, TotalSize: 200},
		},
	}
	s, err := rpc.New(rpc.Config{Backend: fb, MaxBody: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	// httptest's default Host (example.com) is refused without a password,
	// against DNS rebinding; a client on loopback names an address.
	const host = "127.0.0.1:9091"
	first := httptest.NewRecorder()
	hello := httptest.NewRequest(http.MethodPost, rpc.Path, strings.NewReader(`{"method":"session-get"}`))
	hello.Host = host
	s.ServeHTTP(first, hello)
	sid := first.Header().Get("X-Transmission-Session-Id")
	if sid == "" {
		f.Fatal("no session id on the first answer")
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, rpc.Path, strings.NewReader(body))
		req.Host = host
		req.Header.Set("X-Transmission-Session-Id", sid)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("status %d for %q", w.Code, body)
		}
		if w.Code != http.StatusOK {
			return
		}
		var out struct {
			Result *string `json:"result"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.Result == nil {
			t.Fatalf("answer %q to %q: not JSON with a result (%v)", w.Body.String(), body, err)
		}
	})
}
