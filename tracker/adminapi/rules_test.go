package adminapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"swarm/metainfo"
	"swarm/tracker"
)

// TestAdminAPIRules: the rules a site sets through the API reach the
// running tracker, and what it records comes back: the client allow list,
// a ban, a torrent's kind, a site-wide window, cheat events, hit-and-runs.
func TestAdminAPIRules(t *testing.T) {
	r := newRig(t)
	var alice userResp
	r.call(t, "POST", "/api/users", `{"name":"alice"}`, http.StatusCreated, &alice)
	h := metainfo.Hash{9}
	r.call(t, "POST", "/api/torrents", `{"info_hash":"`+h.String()+`","name":"x","size":10}`, http.StatusCreated, nil)
	qb := announceReq(h, "-qB4630-alice-000001", tracker.EventStarted, 0, 0, 10)
	tr := announceReq(h, "-TR3000-alice-000001", tracker.EventStarted, 0, 0, 10)
	eventually(t, func() string { return r.announceAs(t, alice.Passkey, qb) })

	// Client allow list.
	r.call(t, "POST", "/api/clients", `{"prefix":"-qB4"}`, http.StatusCreated, nil)
	r.call(t, "POST", "/api/clients", `{"prefix":"-qB4"}`, http.StatusConflict, nil)
	var clients []struct{ Prefix string }
	r.call(t, "GET", "/api/clients", "", http.StatusOK, &clients)
	if len(clients) != 1 || clients[0].Prefix != "-qB4" {
		t.Fatalf("clients = %+v, want [-qB4]", clients)
	}
	eventually(t, func() string {
		if reason := r.announceAs(t, alice.Passkey, tr); reason == "" {
			return "Transmission accepted with only -qB4 allowed"
		}
		return ""
	})
	if reason := r.announceAs(t, alice.Passkey, announceReq(h, "-qB4630-alice-000002", tracker.EventStarted, 0, 0, 10)); reason != "" {
		t.Errorf("qBittorrent refused with -qB4 allowed: %s", reason)
	}
	r.call(t, "DELETE", "/api/clients/-qB4", "", http.StatusNoContent, nil)
	eventually(t, func() string { return r.announceAs(t, alice.Passkey, tr) })

	// Bans: the test's client is 127.0.0.1.
	var ban struct{ CIDR, Reason string }
	r.call(t, "POST", "/api/bans", `{"cidr":"127.0.0.0/8","reason":"testing"}`, http.StatusCreated, &ban)
	if ban.CIDR != "127.0.0.0/8" || ban.Reason != "testing" {
		t.Errorf("ban = %+v", ban)
	}
	eventually(t, func() string {
		if reason := r.announceAs(t, alice.Passkey, announceReq(h, "-qB4630-alice-000003", tracker.EventStarted, 0, 0, 10)); reason == "" {
			return "announce from a banned address accepted"
		}
		return ""
	})
	r.call(t, "DELETE", "/api/bans/127.0.0.0/8", "", http.StatusNoContent, nil)
	r.call(t, "DELETE", "/api/bans/127.0.0.0/8", "", http.StatusNotFound, nil)

	// Kinds and windows.
	var tor struct{ Kind string }
	r.call(t, "PATCH", "/api/torrents/"+h.String(), `{"kind":"freeleech"}`, http.StatusOK, &tor)
	if tor.Kind != "freeleech" {
		t.Errorf("torrent kind after PATCH = %q, want freeleech", tor.Kind)
	}
	start := time.Now().UTC().Truncate(time.Second)
	win := `{"start":"` + start.Format(time.RFC3339) + `","end":"` + start.Add(time.Hour).Format(time.RFC3339) + `","kind":"double_upload"}`
	r.call(t, "POST", "/api/freeleech", win, http.StatusCreated, nil)
	var wins []struct{ Kind string }
	r.call(t, "GET", "/api/freeleech", "", http.StatusOK, &wins)
	if len(wins) != 1 || wins[0].Kind != "double_upload" {
		t.Errorf("windows = %+v", wins)
	}
	r.call(t, "DELETE", "/api/freeleech", win, http.StatusNoContent, nil)

	// A forged upload: 1 TiB claimed moments after the last announce.
	eventually(t, func() string {
		return r.announceAs(t, alice.Passkey, announceReq(h, "-qB4630-alice-000009", tracker.EventStarted, 0, 0, 0))
	})
	if reason := r.announceAs(t, alice.Passkey, announceReq(h, "-qB4630-alice-000009", tracker.EventNone, 1<<40, 0, 0)); reason != "" {
		t.Fatalf("the forged announce is answered with a failure: %s", reason)
	}
	eventually(t, func() string {
		var evs []struct {
			User, Kind, IP string
			Claimed        int64
		}
		r.call(t, "GET", "/api/cheats?user=alice", "", http.StatusOK, &evs)
		for _, e := range evs {
			if e.User == "alice" && e.Claimed == 1<<40 && e.IP == "127.0.0.1" {
				return ""
			}
		}
		return "cheat events: no 1 TiB claim by alice"
	})
	r.call(t, "GET", "/api/hit-and-runs?closed=true", "", http.StatusOK, &[]any{})

	for _, tt := range []struct {
		method, path, body, msg string
	}{
		{"POST", "/api/clients", `{"prefix":"a b"}`, "client prefix"},
		{"POST", "/api/bans", `{"cidr":"300.1.2.3"}`, "ban"},
		{"PATCH", "/api/torrents/" + h.String(), `{"kind":"free"}`, "kind"},
		{"POST", "/api/freeleech", `{"start":"2026-01-02T00:00:00Z","end":"2026-01-01T00:00:00Z","kind":"freeleech"}`, "after start"},
		{"GET", "/api/cheats?since=yesterday", "", "since"},
		{"GET", "/api/hit-and-runs?closed=maybe", "", "closed"},
	} {
		code, body := r.do(t, tt.method, tt.path, "application/json", []byte(tt.body))
		if code != http.StatusBadRequest || !strings.Contains(string(body), tt.msg) {
			t.Errorf("%s %s %s: status %d %s, want 400 naming %q", tt.method, tt.path, tt.body, code, body, tt.msg)
		}
	}
}
