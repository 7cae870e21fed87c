package session_test

import (
	"bytes"
	"cmp"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"swarm/session"
)

// eventTracker is an HTTP tracker that records the event of each announce
// and answers with no peers, holding back its answer to the events in
// delay for that long (or until the client gives up), as a distant or
// stuck tracker would.
type eventTracker struct {
	delay  map[string]time.Duration
	mu     sync.Mutex // guards events and reply
	events []string
	reply  string // bencoded answer; "" for an interval of 30 min
}

func startEventTracker(t *testing.T, delay map[string]time.Duration) (*eventTracker, string) {
	t.Helper()
	et := &eventTracker{delay: delay}
	ln := listen(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev := r.URL.Query().Get("event")
		et.mu.Lock()
		et.events = append(et.events, ev)
		reply := cmp.Or(et.reply, "d8:intervali1800e5:peers0:e")
		et.mu.Unlock()
		select {
		case <-time.After(et.delay[ev]):
		case <-r.Context().Done():
		}
		w.Write([]byte(reply))
	})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() { srv.Close(); <-done })
	return et, "http://" + ln.Addr().String() + "/announce"
}

func (et *eventTracker) seen() []string {
	et.mu.Lock()
	defer et.mu.Unlock()
	return append([]string(nil), et.events...)
}

// TestStopAtCompletionStillAnnouncesCompleted: a download whose session is
// stopped the moment it completes (as `swarm get` does) tells the tracker
// "completed" exactly once, then "stopped", within 5 s in all, so that a
// private tracker counts the snatch (issue 13). Before, a completion
// that came while "started" was on the way sent "stopped" only, and a
// "completed" on the way was cut short by the shutdown.
func TestStopAtCompletionStillAnnouncesCompleted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay map[string]time.Duration
		// waitFor is an event the tracker must have received before the
		// session is stopped ("" for none).
		waitFor string
		want    []string
	}{
		// The tracker has "started" and holds its answer. (The download
		// may complete before "started" even reaches the tracker; then the
		// shutdown sends "completed" and "stopped" only.)
		{"started still on the way", map[string]time.Duration{"started": 3 * time.Second}, "started", []string{"started", "completed", "stopped"}},
		{"completed still on the way", map[string]time.Duration{"completed": time.Second}, "completed", []string{"started", "completed", "stopped"}},
		// The tracker never answers "completed": the shutdown gives up on
		// it and has no time left for "stopped".
		{"completed never answered", map[string]time.Duration{"completed": time.Minute}, "completed", []string{"started", "completed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			simulate(t, func(t *testing.T) {
				checkGoroutines(t)
				m, content := makeTorrent(t, 256<<10, 16<<10)
				seed := runSeed(t, m, content, session.Config{})
				et, announce := startEventTracker(t, tc.delay)

				s := newSession(t, session.Config{})
				store := &memStore{data: make([]byte, len(content))}
				leech, err := s.NewTorrent(m, session.TorrentConfig{
					Store: store, Peers: []netip.AddrPort{addrOf(t, seed)}, Trackers: [][]string{{announce}},
				})
				if err != nil {
					t.Fatal(err)
				}
				if err := s.AddTorrent(leech); err != nil {
					t.Fatal(err)
				}
				cancel := runSession(t, s)
				select {
				case <-leech.Done():
				case <-time.After(30 * time.Second):
					t.Fatalf("download did not finish in 30 s: %+v", leech.Stats())
				}
				for deadline := time.Now().Add(10 * time.Second); tc.waitFor != "" && !slices.Contains(et.seen(), tc.waitFor); {
					if time.Now().After(deadline) {
						t.Fatalf("the tracker heard %q, no %q within 10 s", et.seen(), tc.waitFor)
					}
					time.Sleep(10 * time.Millisecond)
				}
				cancel()
				stopping := time.Now()
				select {
				case <-leech.Stopped():
				case <-time.After(15 * time.Second):
					t.Fatal("torrent did not stop within 15 s")
				}
				took := time.Since(stopping)
				if !bytes.Equal(store.data, content) {
					t.Fatal("downloaded content differs from the seed's")
				}
				got := et.seen()
				t.Logf("tracker heard %q; stopped %v after the cancel", got, took.Round(time.Millisecond))
				if !slices.Equal(got, tc.want) {
					t.Errorf("tracker heard %q, want %q", got, tc.want)
				}
				// A generous bound on the 5 s limit (the race detector, a
				// loaded machine), far below the minute the tracker stalls.
				if took > 8*time.Second {
					t.Errorf("stopping took %v, want the last announces bounded by 5 s", took)
				}
			})
		})
	}
}

// TestTrackerErrorShowsInStats: a tracker nobody answers at, and one that
// refuses the announce with a failure reason, show in the torrent's
// Stats.TrackerErr while it trades on.
func TestTrackerErrorShowsInStats(t *testing.T) {
	for _, tc := range []struct {
		name string
		// refuse is the tracker's failure reason; "" means no tracker
		// listens at the URL.
		refuse, want string
	}{
		{"nobody answers", "", "not answering"},
		{"refused", "torrent not registered", "refused: torrent not registered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			simulate(t, func(t *testing.T) {
				checkGoroutines(t)
				ln := listen(t)
				url := "http://" + ln.Addr().String() + "/announce"
				if tc.refuse == "" {
					ln.Close()
				} else {
					srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						w.Write([]byte("d14:failure reason" + itoa(len(tc.refuse)) + ":" + tc.refuse + "e"))
					})}
					done := make(chan struct{})
					go func() {
						defer close(done)
						srv.Serve(ln)
					}()
					t.Cleanup(func() { srv.Close(); <-done })
				}
				m, content := makeTorrent(t, 64<<10, 16<<10)
				s := newSession(t, session.Config{})
				tor, err := s.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: make([]byte, len(content))}, Trackers: [][]string{{url}}})
				if err != nil {
					t.Fatal(err)
				}
				s.AddTorrent(tor)
				runSession(t, s)
				time.Sleep(2 * time.Second) // the first announce fails; stats are published every second
				if got := tor.Stats().TrackerErr; got != tc.want {
					t.Errorf("Stats.TrackerErr = %q, want %q", got, tc.want)
				}
			})
		})
	}
}

// TestReannounceAsksNowWithinMinInterval: Reannounce announces at once,
// half an hour before the interval is up, unless the tracker's min
// interval has not passed since its last answer: then it is ignored.
func TestReannounceAsksNowWithinMinInterval(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply string
		min   time.Duration
	}{
		{"no min interval", "", 0},
		{"min interval 60 s", "d8:intervali1800e12:min intervali60e5:peers0:e", time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			simulate(t, func(t *testing.T) {
				checkGoroutines(t)
				et, announce := startEventTracker(t, nil)
				et.mu.Lock()
				et.reply = tc.reply
				et.mu.Unlock()
				// A complete torrent: no early announces for want of peers.
				m, content := makeTorrent(t, 64<<10, 16<<10)
				s := newSession(t, session.Config{})
				tor, err := s.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: bytes.Clone(content)},
					Have: fullBitfield(m.Info.NumPieces()), Seed: true, Trackers: [][]string{{announce}}})
				if err != nil {
					t.Fatal(err)
				}
				if err := s.AddTorrent(tor); err != nil {
					t.Fatal(err)
				}
				runSession(t, s)
				waitEvents := func(n int) {
					t.Helper()
					for deadline := time.Now().Add(10 * time.Second); len(et.seen()) < n; {
						if time.Now().After(deadline) {
							t.Fatalf("the tracker heard %q, want %d announces within 10 s", et.seen(), n)
						}
						time.Sleep(10 * time.Millisecond)
					}
				}
				waitEvents(1)
				time.Sleep(time.Second) // the answer is in
				tor.Reannounce()
				if tc.min > 0 {
					time.Sleep(5 * time.Second)
					if got := et.seen(); len(got) != 1 {
						t.Fatalf("within the min interval the tracker heard %q, want only the first announce", got)
					}
					time.Sleep(tc.min)
					tor.Reannounce()
				}
				waitEvents(2)
				if got := et.seen(); !slices.Equal(got, []string{"started", ""}) {
					t.Errorf("tracker heard %q, want started and a regular announce", got)
				}
			})
		})
	}
}

// TestFailedFirstAnnounceIsRetriedWithinSeconds: a tracker that resets the
// first announces (as the lab's tracker did under 256 peers starting at
// once) is asked again 5 s after the first failure, then 10 s, as
// libtorrent does, not a quarter of a minute later (issue 20). The times
// are the bubble's clock: the schedule, not the machine's speed.
func TestFailedFirstAnnounceIsRetriedWithinSeconds(t *testing.T) {
	simulate(t, func(t *testing.T) {
		checkGoroutines(t)
		var mu sync.Mutex
		var at []time.Time
		ln := listen(t)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			at = append(at, time.Now())
			n := len(at)
			mu.Unlock()
			if n <= 2 {
				// Hang up without an answer, as a reset does.
				if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
					c.Close()
				}
				return
			}
			w.Write([]byte("d8:intervali1800e5:peers0:e"))
		})}
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.Serve(ln)
		}()
		t.Cleanup(func() { srv.Close(); <-done })
		m, content := makeTorrent(t, 64<<10, 16<<10)
		s := newSession(t, session.Config{})
		tor, err := s.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: make([]byte, len(content))},
			Trackers: [][]string{{"http://" + ln.Addr().String() + "/announce"}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AddTorrent(tor); err != nil {
			t.Fatal(err)
		}
		runSession(t, s)
		time.Sleep(20 * time.Second)
		mu.Lock()
		defer mu.Unlock()
		if len(at) < 3 {
			t.Fatalf("the tracker heard %d announces in 20 s, want the first and two retries", len(at))
		}
		for i, want := range []time.Duration{5 * time.Second, 10 * time.Second} {
			if gap := at[i+1].Sub(at[i]); gap < want || gap > want+time.Second {
				t.Errorf("retry %d came %v after the failure, want %v", i+1, gap, want)
			}
		}
		if got := tor.Stats().TrackerErr; got != "" {
			t.Errorf("Stats.TrackerErr = %q after the tracker answered", got)
		}
	})
}
