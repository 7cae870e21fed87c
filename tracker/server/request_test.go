package server

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"swarm/tracker"
)

var testParseOptions = parseOptions{
	defaultNumWant: 50, maxNumWant: 50, maxQueryBytes: 8 << 10, maxScrapeHashes: 4,
}

const (
	hash20 = "%00%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%FF"
	okBase = "info_hash=" + hash20 + "&peer_id=-SW0001-abcdefghijkl&port=6881&uploaded=1&downloaded=2&left=3"
)

func TestParseAnnounceAccepts(t *testing.T) {
	remote := netip.MustParseAddr("192.0.2.7")
	tests := []struct {
		name  string
		query string
		trust bool
		check func(t *testing.T, r AnnounceRequest)
	}{
		{"minimal", okBase, false, func(t *testing.T, r AnnounceRequest) {
			if r.InfoHash[19] != 0xff || r.InfoHash[10] != 0x0a || string(r.PeerID[:]) != "-SW0001-abcdefghijkl" {
				t.Errorf("info_hash %x, peer_id %q", r.InfoHash, r.PeerID)
			}
			if r.Port != 6881 || r.Uploaded != 1 || r.Downloaded != 2 || r.Left != 3 {
				t.Errorf("port %d counters %d %d %d", r.Port, r.Uploaded, r.Downloaded, r.Left)
			}
			if !r.Compact || r.NumWant != 50 || r.Event != tracker.EventNone || r.NoPeerID {
				t.Errorf("compact %v numwant %d event %v no_peer_id %v", r.Compact, r.NumWant, r.Event, r.NoPeerID)
			}
			if r.Addr != netip.MustParseAddrPort("192.0.2.7:6881") {
				t.Errorf("addr %v", r.Addr)
			}
		}},
		{"options", okBase + "&event=completed&compact=0&no_peer_id=1&numwant=7&key=k%2B1&trackerid=x", false, func(t *testing.T, r AnnounceRequest) {
			if r.Event != tracker.EventCompleted || r.Compact || !r.NoPeerID || r.NumWant != 7 || r.Key != "k+1" || r.TrackerID != "x" {
				t.Errorf("got %+v", r)
			}
		}},
		{"numwant capped", okBase + "&numwant=5000", false, func(t *testing.T, r AnnounceRequest) {
			if r.NumWant != 50 {
				t.Errorf("numwant %d, want 50", r.NumWant)
			}
		}},
		{"numwant huge capped", okBase + "&numwant=99999999999999999999999", false, func(t *testing.T, r AnnounceRequest) {
			if r.NumWant != 50 {
				t.Errorf("numwant %d, want 50", r.NumWant)
			}
		}},
		{"numwant zero", okBase + "&numwant=0", false, func(t *testing.T, r AnnounceRequest) {
			if r.NumWant != 0 {
				t.Errorf("numwant %d, want 0", r.NumWant)
			}
		}},
		{"numwant negative means default", okBase + "&numwant=-1", false, func(t *testing.T, r AnnounceRequest) {
			if r.NumWant != 50 {
				t.Errorf("numwant %d, want 50", r.NumWant)
			}
		}},
		{"ip ignored when not trusted", okBase + "&ip=10.0.0.9", false, func(t *testing.T, r AnnounceRequest) {
			if r.Addr.Addr() != remote {
				t.Errorf("addr %v, want the connection's", r.Addr)
			}
		}},
		{"untrusted ip ignored even twice", okBase + "&ip=10.0.0.9&ip=bogus", false, func(t *testing.T, r AnnounceRequest) {
			if r.Addr.Addr() != remote {
				t.Errorf("addr %v, want the connection's", r.Addr)
			}
		}},
		{"ip honoured when trusted", okBase + "&ip=10.0.0.9", true, func(t *testing.T, r AnnounceRequest) {
			if r.Addr != netip.MustParseAddrPort("10.0.0.9:6881") {
				t.Errorf("addr %v, want 10.0.0.9:6881", r.Addr)
			}
		}},
		{"trusted ipv6 ip, mapped unmapped", okBase + "&ip=%3A%3Affff%3A1.2.3.4", true, func(t *testing.T, r AnnounceRequest) {
			if r.Addr != netip.MustParseAddrPort("1.2.3.4:6881") {
				t.Errorf("addr %v", r.Addr)
			}
		}},
		{"unknown parameters and empty pairs ignored", "&&foo=%zz&" + okBase + "&supportcrypto=1&", false, func(t *testing.T, r AnnounceRequest) {}},
		{"encoded key", "info%5Fhash=" + hash20 + "&peer_id=-SW0001-abcdefghijkl&port=1&uploaded=0&downloaded=0&left=0", false, func(t *testing.T, r AnnounceRequest) {
			if r.InfoHash[19] != 0xff {
				t.Errorf("info_hash %x", r.InfoHash)
			}
		}},
		{"plus stays plus", "info_hash=++++++++++++++++++++&peer_id=-SW0001-abcdefghijkl&port=1&uploaded=0&downloaded=0&left=0", false, func(t *testing.T, r AnnounceRequest) {
			if string(r.InfoHash[:]) != strings.Repeat("+", 20) {
				t.Errorf("info_hash %q", r.InfoHash)
			}
		}},
		{"paused is a regular announce", okBase + "&event=paused", false, func(t *testing.T, r AnnounceRequest) {
			if r.Event != tracker.EventNone {
				t.Errorf("event %v", r.Event)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testParseOptions
			o.trustIP = tt.trust
			r, err := parseAnnounce(tt.query, remote, o)
			if err != nil {
				t.Fatalf("parseAnnounce(%q): %v", tt.query, err)
			}
			tt.check(t, r)
		})
	}
}

func TestParseAnnounceRejects(t *testing.T) {
	remote := netip.MustParseAddr("192.0.2.7")
	without := func(param string) string {
		var kept []string
		for _, p := range strings.Split(okBase, "&") {
			if !strings.HasPrefix(p, param+"=") {
				kept = append(kept, p)
			}
		}
		return strings.Join(kept, "&")
	}
	with := func(param, value string) string { return without(param) + "&" + param + "=" + value }
	tests := []struct {
		name, query, field, reason string
		trust                      bool
	}{
		{"missing info_hash", without("info_hash"), "info_hash", "missing info_hash", false},
		{"short info_hash", with("info_hash", "abc"), "info_hash", "info_hash must be 20 bytes, got 3", false},
		{"long info_hash", with("info_hash", strings.Repeat("a", 21)), "info_hash", "info_hash must be 20 bytes, got 21", false},
		{"very long info_hash", with("info_hash", strings.Repeat("a", 1000)), "info_hash", "info_hash: longer than 64 bytes", false},
		{"bad percent-encoding", with("info_hash", "%zz"+strings.Repeat("a", 18)), "info_hash", "info_hash: bad percent-encoding at byte 0", false},
		{"truncated percent-encoding", with("peer_id", strings.Repeat("a", 19)+"%4"), "peer_id", "peer_id: bad percent-encoding at byte 19", false},
		{"duplicate info_hash", okBase + "&info_hash=" + hash20, "info_hash", "info_hash given more than once", false},
		{"missing peer_id", without("peer_id"), "peer_id", "missing peer_id", false},
		{"short peer_id", with("peer_id", "x"), "peer_id", "peer_id must be 20 bytes, got 1", false},
		{"missing port", without("port"), "port", "missing port", false},
		{"port 0", with("port", "0"), "port", `port must be a number from 1 to 65535, got "0"`, false},
		{"port too big", with("port", "65536"), "port", `port must be a number from 1 to 65535, got "65536"`, false},
		{"port negative", with("port", "-1"), "port", `port must be a number from 1 to 65535, got "-1"`, false},
		{"port not a number", with("port", "http"), "port", `port must be a number from 1 to 65535, got "http"`, false},
		{"negative left", with("left", "-5"), "left", "left is negative: -5", false},
		{"negative uploaded", with("uploaded", "-1"), "uploaded", "uploaded is negative: -1", false},
		{"downloaded not a number", with("downloaded", "1e9"), "downloaded", `downloaded is not a number: "1e9"`, false},
		{"left out of range", with("left", "18446744073709551616"), "left", `left out of range: "18446744073709551616"`, false},
		{"missing left", without("left"), "left", "missing left", false},
		{"unknown event", okBase + "&event=finished", "event", `unknown event "finished"`, false},
		{"long unknown event cut", okBase + "&event=" + strings.Repeat("x", 40), "event", `unknown event "` + strings.Repeat("x", 32) + `"...`, false},
		{"numwant not a number", okBase + "&numwant=lots", "numwant", `numwant is not a number: "lots"`, false},
		{"trusted ip not an address", okBase + "&ip=example.org", "ip", `ip is not an IP address: "example.org"`, true},
		{"oversized query", okBase + "&x=" + strings.Repeat("a", 9000), "query", "query longer than 8192 bytes", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testParseOptions
			o.trustIP = tt.trust
			_, err := parseAnnounce(tt.query, remote, o)
			if err == nil {
				t.Fatalf("parseAnnounce(%q) = nil error, want %q", tt.query, tt.reason)
			}
			if err.field != tt.field || err.reason != tt.reason {
				t.Errorf("parseAnnounce(%q) = %s: %q, want %s: %q", tt.query, err.field, err.reason, tt.field, tt.reason)
			}
		})
	}
}

func TestParseScrape(t *testing.T) {
	remote := netip.MustParseAddr("192.0.2.7")
	h := func(b byte) string { return strings.Repeat(fmt.Sprintf("%%%02X", b), 20) }
	tests := []struct {
		name   string
		query  string
		want   int
		reason string
	}{
		{"one", "info_hash=" + h(1), 1, ""},
		{"three with a duplicate", "info_hash=" + h(1) + "&info_hash=" + h(2) + "&info_hash=" + h(1) + "&info_hash=" + h(3), 3, ""},
		{"at the limit", "info_hash=" + h(1) + "&info_hash=" + h(2) + "&info_hash=" + h(3) + "&info_hash=" + h(4), 4, ""},
		{"over the limit", "info_hash=" + h(1) + "&info_hash=" + h(2) + "&info_hash=" + h(3) + "&info_hash=" + h(4) + "&info_hash=" + h(5), 0, "more than 4 info_hash parameters"},
		{"none", "foo=bar", 0, "missing info_hash (full scrapes are not served)"},
		{"short", "info_hash=abc", 0, "info_hash must be 20 bytes, got 3"},
		{"bad encoding", "info_hash=%g0", 0, "info_hash: bad percent-encoding at byte 0"},
		{"oversized", "info_hash=" + strings.Repeat("a", 9000), 0, "query longer than 8192 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseScrape(tt.query, remote, testParseOptions)
			if tt.reason != "" {
				if err == nil || err.reason != tt.reason {
					t.Fatalf("parseScrape(%q) error = %v, want %q", tt.query, err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseScrape(%q): %v", tt.query, err)
			}
			if len(r.InfoHashes) != tt.want {
				t.Errorf("got %d info hashes, want %d", len(r.InfoHashes), tt.want)
			}
		})
	}
}
