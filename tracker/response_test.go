package tracker_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"swarm/tracker"
)

func peerStrings(r tracker.AnnounceResponse) string {
	var s []string
	for _, p := range r.Peers {
		s = append(s, p.String())
	}
	return strings.Join(s, " ")
}

func TestParseAnnounceResponse(t *testing.T) {
	v6 := "\x20\x01\x0d\xb8" + strings.Repeat("\x00", 11) + "\x02\x00\x50"
	tests := []struct {
		name        string
		body        string
		peers       string
		interval    time.Duration
		minInterval time.Duration
		complete    int64
		incomplete  int64
		trackerID   string
		warning     string
		failure     string // want a *FailureError with this reason
		wantErr     bool   // want another error
	}{
		{
			name:     "compact ipv4",
			body:     "d8:completei3e10:incompletei4e8:intervali1800e12:min intervali900e5:peers12:\x7f\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x00\x50e",
			peers:    "127.0.0.1:6881 10.0.0.2:80",
			interval: 30 * time.Minute, minInterval: 15 * time.Minute, complete: 3, incomplete: 4,
		},
		{
			name:     "compact with peers6",
			body:     "d8:intervali60e5:peers6:\x01\x02\x03\x04\x00\x016:peers618:" + v6 + "e",
			peers:    "1.2.3.4:1 [2001:db8::2]:80",
			interval: time.Minute, complete: -1, incomplete: -1,
		},
		{
			name: "dictionary model",
			body: "d8:intervali10e5:peersl" +
				"d2:ip9:127.0.0.17:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti6881ee" +
				"d2:ip11:2001:db8::14:porti1ee" +
				"d2:ip15:tracker.example4:porti1ee" + // a host name: skipped
				"d2:ip7:1.2.3.44:porti0ee" + // port 0: skipped
				"d2:ip7:1.2.3.44:porti70000ee" + // port out of range: skipped
				"e10:tracker id3:abce",
			peers:    "127.0.0.1:6881 [2001:db8::1]:1",
			interval: 10 * time.Second, complete: -1, incomplete: -1, trackerID: "abc",
		},
		{
			name:  "compact port 0 dropped",
			body:  "d5:peers12:\x01\x02\x03\x04\x00\x00\x01\x02\x03\x05\x00\x01e",
			peers: "1.2.3.5:1", complete: -1, incomplete: -1,
		},
		{
			name:    "warning",
			body:    "d15:warning message4:slow5:peers0:e",
			warning: "slow", complete: -1, incomplete: -1,
		},
		{
			name:     "huge interval capped at a week, negative ignored",
			body:     "d8:intervali99999999999999e12:min intervali-5e5:peers0:e",
			interval: 7 * 24 * time.Hour, complete: -1, incomplete: -1,
		},
		{name: "failure", body: "d14:failure reason17:torrent not founde", failure: "torrent not found"},
		{name: "failure wins over peers", body: "d14:failure reason1:x5:peers0:e", failure: "x"},
		{name: "peers length not a multiple of 6", body: "d5:peers5:abcdee", wantErr: true},
		{name: "peers6 length not a multiple of 18", body: "d6:peers66:abcdefe", wantErr: true},
		{name: "peers an integer", body: "d5:peersi3ee", wantErr: true},
		{name: "not a dictionary", body: "i3e", wantErr: true},
		{name: "html", body: "<html>oops</html>", wantErr: true},
		{name: "truncated", body: "d8:intervali18", wantErr: true},
		{name: "string longer than body", body: "d5:peers999999999:e", wantErr: true},
		{name: "empty", body: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tracker.ParseAnnounceResponse([]byte(tt.body))
			var fe *tracker.FailureError
			switch {
			case tt.failure != "":
				if !errors.As(err, &fe) || fe.Reason != tt.failure {
					t.Fatalf("ParseAnnounceResponse(%q) error = %v, want FailureError{%q}", tt.body, err, tt.failure)
				}
				return
			case tt.wantErr:
				if err == nil || errors.As(err, &fe) {
					t.Fatalf("ParseAnnounceResponse(%q) error = %v, want a parse error", tt.body, err)
				}
				return
			case err != nil:
				t.Fatalf("ParseAnnounceResponse(%q): %v", tt.body, err)
			}
			if p := peerStrings(got); p != tt.peers {
				t.Errorf("peers = %q, want %q", p, tt.peers)
			}
			if got.Interval != tt.interval || got.MinInterval != tt.minInterval {
				t.Errorf("interval, min = %v, %v, want %v, %v", got.Interval, got.MinInterval, tt.interval, tt.minInterval)
			}
			if got.Complete != tt.complete || got.Incomplete != tt.incomplete {
				t.Errorf("complete, incomplete = %d, %d, want %d, %d", got.Complete, got.Incomplete, tt.complete, tt.incomplete)
			}
			if got.TrackerID != tt.trackerID || got.WarningMessage != tt.warning {
				t.Errorf("tracker id, warning = %q, %q, want %q, %q", got.TrackerID, got.WarningMessage, tt.trackerID, tt.warning)
			}
		})
	}
}
