package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"

	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/server"
)

var ihA = metainfo.Hash{0xaa, 1}

func TestBadAnnouncesGetFailureReason(t *testing.T) {
	s, _ := newTestServer(t, server.Config{})
	ok := testPeer(ihA, 1, 0).Query()
	tests := []struct {
		name, query, reason string
	}{
		{"missing info_hash", strings.Replace(ok, "info_hash=", "x=", 1), "missing info_hash"},
		{"short info_hash", "info_hash=abc&" + ok[strings.Index(ok, "&")+1:], "info_hash must be 20 bytes, got 3"},
		{"bad percent-encoding", strings.Replace(ok, "peer_id=", "peer_id=%G1", 1), "peer_id: bad percent-encoding at byte 0"},
		{"port 0", strings.Replace(ok, "port=10001", "port=0", 1), `port must be a number from 1 to 65535, got "0"`},
		{"port out of range", strings.Replace(ok, "port=10001", "port=70000", 1), `port must be a number from 1 to 65535, got "70000"`},
		{"negative left", strings.Replace(ok, "left=0", "left=-1", 1), "left is negative: -1"},
		{"unknown event", ok + "&event=begun", `unknown event "begun"`},
		{"oversized query", ok + "&pad=" + strings.Repeat("x", 9000), "query longer than 8192 bytes"},
		{"empty query", "", "missing info_hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := get(t, s.Handler(), "192.0.2.1:1", "/announce?"+tt.query)
			_, err := tracker.ParseAnnounceResponse(body)
			var fe *tracker.FailureError
			if !errors.As(err, &fe) || fe.Reason != tt.reason {
				t.Errorf("announce %q: %v, want failure %q", tt.query, err, tt.reason)
			}
		})
	}
}

func TestAnnounceReplies(t *testing.T) {
	ih := metainfo.Hash{0xbb}
	s, _ := newTestServer(t, server.Config{})
	h := s.Handler()
	for n := 1; n <= 3; n++ {
		announce(t, h, "10.0.0.1", testPeer(ih, n, int64(n-1)), "") // peer 1 seeds
	}
	announce(t, h, "2001:db8::4", testPeer(ih, 4, 9), "")
	p5 := testPeer(ih, 5, 7)
	tests := []struct {
		name, extra string
		golden      string
	}{
		{"compact with peers6", "", "announce_compact.golden"},
		{"dictionary model", "", "announce_dict.golden"},
		{"dictionary model without peer ids", "&no_peer_id=1", "announce_dict_no_peer_id.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := p5
			r.Compact = tt.golden == "announce_compact.golden"
			body := get(t, h, "10.0.0.5:1", "/announce?"+r.Query()+tt.extra)
			golden(t, tt.golden, body)
		})
	}
	t.Run("failure", func(t *testing.T) {
		golden(t, "failure.golden", get(t, h, "10.0.0.5:1", "/announce?info_hash=x"))
	})
	t.Run("scrape", func(t *testing.T) {
		q := "info_hash=" + string(tracker.AppendEscaped(nil, ih[:])) + "&info_hash=" + string(tracker.AppendEscaped(nil, ihA[:]))
		golden(t, "scrape.golden", get(t, h, "10.0.0.5:1", "/scrape?"+q))
	})
}

func TestDictionaryModelCarriesPeerIDs(t *testing.T) {
	ih := metainfo.Hash{0xbc}
	s, _ := newTestServer(t, server.Config{})
	h := s.Handler()
	announce(t, h, "10.0.0.1", testPeer(ih, 1, 0), "")
	announce(t, h, "2001:db8::2", testPeer(ih, 2, 0), "")
	r := testPeer(ih, 3, 5)
	r.Compact = false
	var reply struct {
		Peers []struct {
			IP     string `bencode:"ip"`
			PeerID string `bencode:"peer id"`
			Port   int    `bencode:"port"`
		} `bencode:"peers"`
	}
	if err := bencode.Unmarshal(get(t, h, "10.0.0.3:1", "/announce?"+r.Query()), &reply); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range reply.Peers {
		got[netip.AddrPortFrom(netip.MustParseAddr(p.IP), uint16(p.Port)).String()] = p.PeerID
	}
	id1, id2 := testPeer(ih, 1, 0).PeerID, testPeer(ih, 2, 0).PeerID
	want := map[string]string{
		"10.0.0.1:10001":      string(id1[:]),
		"[2001:db8::2]:10002": string(id2[:]),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("dictionary peers = %v, want %v", got, want)
	}
}

func TestAnnounceNeverReturnsTheAsker(t *testing.T) {
	s, _ := newTestServer(t, server.Config{})
	h := s.Handler()
	for n := range 10 {
		announce(t, h, "10.0.0.1", testPeer(ihA, n, 100), "")
	}
	for n := range 10 {
		resp := announce(t, h, "10.0.0.1", testPeer(ihA, n, 100), "")
		if len(resp.Peers) != 9 {
			t.Errorf("peer %d got %d peers, want the 9 others", n, len(resp.Peers))
		}
		for _, p := range resp.Peers {
			if p.Port() == uint16(10000+n) {
				t.Errorf("peer %d was sent itself", n)
			}
		}
	}
}

// seedPeer is a known seed: left=0 after downloading (downloaded>0).
func seedPeer(ih metainfo.Hash, n int) tracker.AnnounceRequest {
	r := testPeer(ih, n, 0)
	r.Downloaded = 1 << 20
	return r
}

func TestSeederIsSentLeechersOnly(t *testing.T) {
	s, _ := newTestServer(t, server.Config{})
	h := s.Handler()
	for n := range 20 {
		r := seedPeer(ihA, n)
		if n%2 == 1 {
			r = testPeer(ihA, n, 5) // odd peers leech
		}
		ip := "10.0.0.1"
		if n%4 == 3 {
			ip = "2001:db8::1"
		}
		announce(t, h, ip, r, "")
	}
	for range 20 {
		resp := announce(t, h, "10.0.0.1", seedPeer(ihA, 0), "")
		if len(resp.Peers) != 10 {
			t.Fatalf("seeder got %d peers, want the 10 leechers", len(resp.Peers))
		}
		for _, p := range resp.Peers {
			if p.Port()%2 == 0 {
				t.Fatalf("seeder was sent seeder %v", p)
			}
		}
	}
	resp := announce(t, h, "10.0.0.1", testPeer(ihA, 1, 5), "&numwant=100")
	if len(resp.Peers) != 19 || resp.Complete != 10 || resp.Incomplete != 10 {
		t.Errorf("leecher got %d peers, complete %d incomplete %d; want 19, 10, 10", len(resp.Peers), resp.Complete, resp.Incomplete)
	}
}

func TestNumWantIsCapped(t *testing.T) {
	tests := []struct {
		name  string
		cfg   server.Config
		extra string
		want  int
	}{
		{"default 50", server.Config{}, "", 50},
		{"asked 10", server.Config{}, "&numwant=10", 10},
		{"asked 0", server.Config{}, "&numwant=0", 0},
		{"asked 200 capped at 50", server.Config{}, "&numwant=200", 50},
		{"configured max 80", server.Config{MaxNumWant: 80}, "&numwant=200", 80},
		{"configured default 30", server.Config{DefaultNumWant: 30}, "", 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, tt.cfg)
			h := s.Handler()
			for n := range 120 {
				announce(t, h, "10.0.0.1", testPeer(ihA, n, 1), "&numwant=0")
			}
			resp := announce(t, h, "10.0.0.1", testPeer(ihA, 0, 1), tt.extra)
			if len(resp.Peers) != tt.want {
				t.Errorf("got %d peers, want %d", len(resp.Peers), tt.want)
			}
		})
	}
}

func scrape(tb testing.TB, h http.Handler, ih metainfo.Hash) (complete, incomplete, downloaded int) {
	tb.Helper()
	body := get(tb, h, "10.0.0.9:1", "/scrape?info_hash="+string(tracker.AppendEscaped(nil, ih[:])))
	var reply struct {
		Files map[string]struct {
			Complete   int `bencode:"complete"`
			Incomplete int `bencode:"incomplete"`
			Downloaded int `bencode:"downloaded"`
		} `bencode:"files"`
	}
	if err := bencode.Unmarshal(body, &reply); err != nil {
		tb.Fatalf("scrape reply %q: %v", body, err)
	}
	f, ok := reply.Files[string(ih[:])]
	if !ok || len(reply.Files) != 1 {
		tb.Fatalf("scrape reply %q lacks the asked hash", body)
	}
	return f.Complete, f.Incomplete, f.Downloaded
}

func TestEvents(t *testing.T) {
	s, _ := newTestServer(t, server.Config{})
	h := s.Handler()
	type step struct {
		peer                             int
		left                             int64
		event                            tracker.Event
		complete, incomplete, downloaded int
	}
	steps := []step{
		{1, 10, tracker.EventStarted, 0, 1, 0},
		{2, 10, tracker.EventStarted, 0, 2, 0},
		{1, 0, tracker.EventCompleted, 1, 1, 1},
		{1, 0, tracker.EventCompleted, 1, 1, 1}, // repeated: not a second snatch
		{3, 0, tracker.EventCompleted, 2, 1, 2}, // unknown peer completing: counted
		{2, 10, tracker.EventStopped, 2, 0, 2},
		{2, 10, tracker.EventStopped, 2, 0, 2}, // stopping twice is harmless
		{1, 0, tracker.EventStopped, 1, 0, 2},
		{3, 0, tracker.EventStopped, 0, 0, 2},
	}
	for i, st := range steps {
		r := testPeer(ihA, st.peer, st.left)
		r.Event = st.event
		resp := announce(t, h, "10.0.0.1", r, "")
		if int(resp.Complete) != st.complete || int(resp.Incomplete) != st.incomplete {
			t.Errorf("step %d (%v by %d): complete %d incomplete %d, want %d %d", i, st.event, st.peer, resp.Complete, resp.Incomplete, st.complete, st.incomplete)
		}
		if st.event == tracker.EventStopped && len(resp.Peers) != 0 {
			t.Errorf("step %d: stopped reply has %d peers, want none", i, len(resp.Peers))
		}
		c, in, d := scrape(t, h, ihA)
		if c != st.complete || in != st.incomplete || d != st.downloaded {
			t.Errorf("step %d: scrape %d/%d/%d, want %d/%d/%d", i, c, in, d, st.complete, st.incomplete, st.downloaded)
		}
	}
	// A stopped event for an unknown torrent creates nothing.
	r := testPeer(metainfo.Hash{0xcc}, 1, 0)
	r.Event = tracker.EventStopped
	if resp := announce(t, h, "10.0.0.1", r, ""); resp.Complete != 0 || resp.Incomplete != 0 {
		t.Errorf("stopped on unknown torrent: %+v", resp)
	}
}

func TestEmptySwarmIsDropped(t *testing.T) {
	s, _ := newTestServer(t, server.Config{Interval: time.Minute})
	h := s.Handler()
	swarms := func() string {
		for _, line := range strings.Split(string(get(t, h, "10.0.0.1:1", "/metrics")), "\n") {
			if strings.HasPrefix(line, "swarm_tracker_swarms ") {
				return line
			}
		}
		return "no swarms metric"
	}
	ihB := metainfo.Hash{0xbd}
	announce(t, h, "10.0.0.1", testPeer(ihA, 1, 5), "")
	done := testPeer(ihB, 1, 0)
	done.Event = tracker.EventCompleted
	announce(t, h, "10.0.0.1", done, "")
	if got := swarms(); got != "swarm_tracker_swarms 2" {
		t.Fatalf("%s, want 2", got)
	}
	for _, ih := range []metainfo.Hash{ihA, ihB} {
		r := testPeer(ih, 1, 0)
		r.Event = tracker.EventStopped
		announce(t, h, "10.0.0.1", r, "")
	}
	// ihA had no snatch: gone at once. ihB keeps its count until it has
	// been empty for an expiry period and a sweep runs (see TestSweep).
	if got := swarms(); got != "swarm_tracker_swarms 1" {
		t.Errorf("after both emptied: %s, want 1", got)
	}
	if _, _, d := scrape(t, h, ihB); d != 1 {
		t.Errorf("downloaded of emptied swarm = %d, want 1 kept", d)
	}
}

func TestPeersExpireAfterTwoIntervals(t *testing.T) {
	s, clock := newTestServer(t, server.Config{Interval: 10 * time.Minute})
	h := s.Handler()
	announce(t, h, "10.0.0.1", testPeer(ihA, 1, 5), "") // goes quiet
	announce(t, h, "10.0.0.1", testPeer(ihA, 2, 5), "") // keeps announcing
	for range 2 {
		clock.Advance(10 * time.Minute)
		resp := announce(t, h, "10.0.0.1", testPeer(ihA, 2, 5), "")
		if len(resp.Peers) != 1 {
			t.Fatalf("within two intervals: %d peers, want peer 1 still there", len(resp.Peers))
		}
	}
	clock.Advance(time.Second)
	resp := announce(t, h, "10.0.0.1", testPeer(ihA, 2, 5), "")
	if len(resp.Peers) != 0 || resp.Incomplete != 1 {
		t.Errorf("after two intervals: %d peers, incomplete %d; want peer 1 expired", len(resp.Peers), resp.Incomplete)
	}
	if _, in, _ := scrape(t, h, ihA); in != 1 {
		t.Errorf("scrape incomplete = %d, want 1", in)
	}
	clock.Advance(21 * time.Minute)
	if _, in, _ := scrape(t, h, ihA); in != 0 {
		t.Errorf("scrape after all expired: incomplete = %d, want 0", in)
	}
}

func TestIPParameterNeedsTrust(t *testing.T) {
	for _, trust := range []bool{false, true} {
		t.Run(fmt.Sprint("trust=", trust), func(t *testing.T) {
			s, _ := newTestServer(t, server.Config{TrustIP: trust})
			h := s.Handler()
			announce(t, h, "10.0.0.1", testPeer(ihA, 1, 5), "&ip=10.9.9.9")
			resp := announce(t, h, "10.0.0.2", testPeer(ihA, 2, 5), "")
			want := "10.0.0.1:10001"
			if trust {
				want = "10.9.9.9:10001"
			}
			if len(resp.Peers) != 1 || resp.Peers[0].String() != want {
				t.Errorf("peers = %v, want [%s]", resp.Peers, want)
			}
		})
	}
}

func TestScrapeFailures(t *testing.T) {
	s, _ := newTestServer(t, server.Config{MaxScrapeHashes: 2})
	h := s.Handler()
	one := "info_hash=" + strings.Repeat("a", 20)
	tests := []struct{ name, query, reason string }{
		{"none", "", "missing info_hash (full scrapes are not served)"},
		{"too many", one + "&info_hash=" + strings.Repeat("b", 20) + "&info_hash=" + strings.Repeat("c", 20), "more than 2 info_hash parameters"},
		{"bad length", "info_hash=abc", "info_hash must be 20 bytes, got 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := get(t, h, "10.0.0.1:1", "/scrape?"+tt.query)
			if want := fmt.Sprintf("d14:failure reason%d:%se", len(tt.reason), tt.reason); string(body) != want {
				t.Errorf("scrape %q = %q, want %q", tt.query, body, want)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	s, _ := newTestServer(t, server.Config{})
	tests := []struct {
		method, target string
		code           int
	}{
		{"GET", "/announce", 200},
		{"HEAD", "/announce", 200},
		{"POST", "/announce", 405},
		{"GET", "/key/announce", 404}, // passkey paths need a Hook
		{"GET", "/", 404},
		{"GET", "/metrics", 200},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.target, nil)
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		if w.Code != tt.code {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.target, w.Code, tt.code)
		}
	}
}

func TestMetrics(t *testing.T) {
	s, _ := newTestServer(t, server.Config{})
	h := s.Handler()
	r := testPeer(ihA, 1, 0)
	r.Event = tracker.EventCompleted
	announce(t, h, "10.0.0.1", r, "")
	announce(t, h, "10.0.0.1", testPeer(ihA, 2, 3), "")
	get(t, h, "10.0.0.1:1", "/announce?port=0")
	scrape(t, h, ihA)
	body := string(get(t, h, "10.0.0.1:1", "/metrics"))
	for _, want := range []string{
		`swarm_tracker_announces_total{event="completed"} 1`,
		`swarm_tracker_announces_total{event="none"} 1`,
		`swarm_tracker_scrapes_total 1`,
		`swarm_tracker_failures_total{reason="port"} 1`,
		"swarm_tracker_swarms 1",
		"swarm_tracker_seeders 1",
		"swarm_tracker_leechers 1",
		"swarm_tracker_snatches_total 1",
		"go_goroutines",
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// passkeyHook admits one passkey and refuses one torrent.
type passkeyHook struct {
	banned metainfo.Hash
	fail   error // returned for passkey "broken"
}

func (p passkeyHook) BeforeAnnounce(ctx context.Context, req *server.AnnounceRequest) error {
	switch {
	case req.Passkey == "broken":
		return p.fail
	case req.Passkey != "good":
		return server.ClientError("unknown passkey")
	case req.InfoHash == p.banned:
		return server.ClientError("unregistered torrent")
	}
	return nil
}

func (p passkeyHook) BeforeScrape(ctx context.Context, req *server.ScrapeRequest) error {
	if req.Passkey != "good" {
		return server.ClientError("unknown passkey")
	}
	return nil
}

func TestHook(t *testing.T) {
	forEachStore(t, func(t *testing.T, redis string) {
		testHook(t, server.Config{Redis: redis})
	})
}

func testHook(t *testing.T, cfg server.Config) {
	banned := metainfo.Hash{0xdd}
	cfg.Hook = passkeyHook{banned: banned, fail: errors.New("database on fire")}
	s, _ := newTestServer(t, cfg)
	h := s.Handler()
	tests := []struct {
		name, path string
		ih         metainfo.Hash
		reason     string // "" means success
	}{
		{"good passkey", "/good/announce", ihA, ""},
		{"bad passkey", "/bad/announce", ihA, "unknown passkey"},
		{"no passkey", "/announce", ihA, "unknown passkey"},
		{"unregistered torrent", "/good/announce", banned, "unregistered torrent"},
		{"internal error hidden", "/broken/announce", ihA, "internal tracker error"},
		{"scrape good", "/good/scrape", ihA, ""},
		{"scrape bad", "/bad/scrape", ihA, "unknown passkey"},
		// The query form, for clients that refuse other paths on loopback.
		{"good passkey in the query", "/announce?passkey=good", ihA, ""},
		{"bad passkey in the query", "/announce?passkey=bad", ihA, "unknown passkey"},
		{"passkey in the query twice", "/announce?passkey=good&passkey=good", ihA, "passkey given more than once"},
		{"scrape, good passkey in the query", "/scrape?passkey=good", ihA, ""},
		{"scrape, bad passkey in the query", "/scrape?passkey=bad", ihA, "unknown passkey"},
		{"scrape, passkey in the query twice", "/scrape?passkey=good&passkey=good", ihA, "passkey given more than once"},
		{"the path wins over the query", "/good/announce?passkey=bad", ihA, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sep := "?"
			if strings.Contains(tt.path, "?") {
				sep = "&"
			}
			q := testPeer(tt.ih, 1, 0).Query()
			body := string(get(t, h, "10.0.0.1:1", tt.path+sep+q))
			isFailure := strings.HasPrefix(body, "d14:failure reason")
			if tt.reason == "" {
				if isFailure {
					t.Errorf("%s: %q, want success", tt.path, body)
				}
				return
			}
			if want := fmt.Sprintf("d14:failure reason%d:%se", len(tt.reason), tt.reason); body != want {
				t.Errorf("%s: %q, want %q", tt.path, body, want)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  server.Config
	}{
		{"shards not a power of two", server.Config{Shards: 3}},
		{"min interval above interval", server.Config{Interval: time.Minute, MinInterval: time.Hour}},
		{"interval under a second", server.Config{Interval: time.Millisecond}},
		{"default numwant above max", server.Config{DefaultNumWant: 60}},
		{"negative timeout", server.Config{ReadTimeout: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := server.New(tt.cfg); err == nil {
				t.Error("New() = nil error, want one")
			}
		})
	}
}

// TestMinIntervalRoundsUpToWholeSeconds: replies carry whole seconds, and a
// min interval under one is sent as 1, not 0, so a client that follows it
// never announces sooner than the tracker allows.
func TestMinIntervalRoundsUpToWholeSeconds(t *testing.T) {
	for _, tt := range []struct {
		min, want time.Duration
	}{
		{100 * time.Millisecond, time.Second},
		{1500 * time.Millisecond, 2 * time.Second},
		{3 * time.Second, 3 * time.Second},
		{0, 5 * time.Second}, // half of the interval
	} {
		s, _ := newTestServer(t, server.Config{Interval: 10 * time.Second, MinInterval: tt.min})
		resp := announce(t, s.Handler(), "10.0.0.1", testPeer(metainfo.Hash{0xcc}, 1, 0), "")
		if resp.MinInterval != tt.want {
			t.Errorf("MinInterval %v: reply says %v, want %v", tt.min, resp.MinInterval, tt.want)
		}
	}
}

// TestUnknownSeedIsSentSeeds: a left=0 peer is sent only leechers once it is
// known to be a seed (it reported a download, or completed); until then it
// is sent seeds too. aria2c fetching a magnet link announces left=0 with
// nothing downloaded, before it knows the torrent's size (issue 21).
func TestUnknownSeedIsSentSeeds(t *testing.T) {
	s, _ := newTestServer(t, server.Config{})
	h := s.Handler()
	const seed, other = 1, 2
	announce(t, h, "10.0.0.1", testPeer(ihA, seed, 0), "") // a seed started from complete data
	announce(t, h, "10.0.0.1", seedPeer(ihA, other), "")   // a known seed
	ports := func(resp tracker.AnnounceResponse) []int {
		var ps []int
		for _, p := range resp.Peers {
			ps = append(ps, int(p.Port())-10000)
		}
		slices.Sort(ps)
		return ps
	}
	magnet := testPeer(ihA, 3, 0)
	magnet.Event = tracker.EventStarted
	completed := testPeer(ihA, 3, 0)
	completed.Event = tracker.EventCompleted
	steps := []struct {
		name string
		req  tracker.AnnounceRequest
		want []int
	}{
		{"magnet client, left=0, nothing downloaded", magnet, []int{seed, other}},
		{"again, no event", testPeer(ihA, 3, 0), []int{seed, other}},
		{"with the metadata, a leecher", testPeer(ihA, 3, 1000), []int{seed, other}},
		{"done: left=0 after left>0", testPeer(ihA, 3, 0), nil},
		{"started again from the same address", magnet, []int{seed, other}},
		{"completed event", completed, nil},
	}
	for _, st := range steps {
		resp := announce(t, h, "10.0.0.1", st.req, "")
		if got := ports(resp); !slices.Equal(got, st.want) {
			t.Errorf("%s: sent peers %v, want %v", st.name, got, st.want)
		}
	}
	// The seed started from complete data sees the magnet client, which now
	// seeds too (completed); the known seed sees neither.
	if got := ports(announce(t, h, "10.0.0.1", testPeer(ihA, seed, 0), "")); !slices.Equal(got, []int{other, 3}) {
		t.Errorf("unknown seed was sent %v, want [%d 3]", got, other)
	}
	if got := ports(announce(t, h, "10.0.0.1", seedPeer(ihA, other), "")); len(got) != 0 {
		t.Errorf("known seed was sent %v, want no seeds", got)
	}
}

// TestOpenTrackerIgnoresPasskeyParameter: without a Hook the passkey
// parameter is an unknown parameter like any other, however long.
func TestOpenTrackerIgnoresPasskeyParameter(t *testing.T) {
	s, _ := newTestServer(t, server.Config{})
	q := testPeer(ihA, 1, 0).Query() + "&passkey=" + strings.Repeat("x", 100) + "&passkey=again"
	body := string(get(t, s.Handler(), "10.0.0.1:1", "/announce?"+q))
	if _, err := tracker.ParseAnnounceResponse([]byte(body)); err != nil {
		t.Errorf("announce with passkey parameters to an open tracker: %v (%q)", err, body)
	}
}
