package tracker_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"swarm/metainfo"
	"swarm/tracker"
)

// fakeTracker serves fixed replies and records the raw query it was sent.
func fakeTracker(tb testing.TB, handler http.HandlerFunc) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(handler)
	tb.Cleanup(srv.Close)
	return srv
}

func testRequest() tracker.AnnounceRequest {
	var pid [20]byte
	copy(pid[:], "-SW0001-abcdefghijkl")
	return tracker.AnnounceRequest{
		InfoHash: metainfo.Hash{0xde, 0xad, 0xbe, 0xef, ' ', '&'},
		PeerID:   pid, Port: 6881, Left: 100, Event: tracker.EventStarted, NumWant: 50, Compact: true,
	}
}

func TestClientAnnounce(t *testing.T) {
	tests := []struct {
		name      string
		path      string // appended to the server URL
		status    int
		body      string
		wantQuery string // prefix of the raw query the tracker must see
		wantPeers string
		failure   string
		wantErr   string
	}{
		{
			name: "compact reply", path: "/announce", status: 200,
			body:      "d8:intervali60e5:peers6:\x7f\x00\x00\x01\x1a\xe1e",
			wantQuery: "info_hash=%DE%AD%BE%EF%20%26%00%00%00%00%00%00%00%00%00%00%00%00%00%00&peer_id=-SW0001-abcdefghijkl&port=6881",
			wantPeers: "127.0.0.1:6881",
		},
		{
			name: "passkey query kept", path: "/announce?passkey=s3cret", status: 200,
			body:      "d5:peers0:e",
			wantQuery: "passkey=s3cret&info_hash=",
		},
		{
			name: "failure reason", path: "/announce", status: 200,
			body:    "d14:failure reason12:unregisterede",
			failure: "unregistered",
		},
		{
			name: "bencoded failure with status 400 still parsed", path: "/announce", status: 400,
			body:    "d14:failure reason3:bade",
			failure: "bad",
		},
		{
			name: "html error page", path: "/announce", status: 500,
			body:    "<html>500</html>",
			wantErr: "500",
		},
		{
			name: "garbage with 200", path: "/announce", status: 200,
			body:    "hello",
			wantErr: "decode announce response",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotQuery string
			srv := fakeTracker(t, func(w http.ResponseWriter, r *http.Request) {
				gotQuery = r.URL.RawQuery
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			var c tracker.Client
			resp, err := c.Announce(context.Background(), srv.URL+tt.path, testRequest())
			if tt.wantQuery != "" && !strings.HasPrefix(gotQuery, tt.wantQuery) {
				t.Errorf("tracker saw query %q, want prefix %q", gotQuery, tt.wantQuery)
			}
			var fe *tracker.FailureError
			switch {
			case tt.failure != "":
				if !errors.As(err, &fe) || fe.Reason != tt.failure {
					t.Fatalf("Announce() error = %v, want FailureError{%q}", err, tt.failure)
				}
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Announce() error = %v, want one containing %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("Announce(): %v", err)
			default:
				if p := peerStrings(resp); p != tt.wantPeers {
					t.Errorf("peers = %q, want %q", p, tt.wantPeers)
				}
			}
		})
	}
}

func TestClientRejectsOversizedReply(t *testing.T) {
	srv := fakeTracker(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "d5:peers6000:"+strings.Repeat("\x7f\x00\x00\x01\x1a\xe1", 1000)+"e")
	})
	c := tracker.Client{MaxResponseBytes: 1000}
	_, err := c.Announce(context.Background(), srv.URL+"/announce", testRequest())
	if err == nil || !strings.Contains(err.Error(), "longer than 1000 bytes") {
		t.Fatalf("Announce() error = %v, want reply too long", err)
	}
}

func TestClientHonoursContextDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := fakeTracker(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var c tracker.Client
	_, err := c.Announce(ctx, srv.URL+"/announce", testRequest())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Announce() error = %v, want context.DeadlineExceeded", err)
	}
}

func TestClientRejectsBadURL(t *testing.T) {
	var c tracker.Client
	for _, u := range []string{"udp://tracker.example:80/announce", "http:///announce", "://x", "ftp://a/b"} {
		if _, err := c.Announce(context.Background(), u, testRequest()); err == nil {
			t.Errorf("Announce(%q) = nil error, want one", u)
		}
	}
}
