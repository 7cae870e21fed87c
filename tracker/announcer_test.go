package tracker_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"swarm/tracker"
)

// fakeClock is a settable clock for the Announcer.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeTransport answers per URL and records the URLs it was asked, in order.
type fakeTransport struct {
	mu      sync.Mutex
	replies map[string]tracker.AnnounceResponse // URLs in neither map are unreachable
	refuse  map[string]string                   // URL: the failure reason it answers with
	calls   []string
	reqs    []tracker.AnnounceRequest
}

func (f *fakeTransport) Announce(ctx context.Context, u string, req tracker.AnnounceRequest) (tracker.AnnounceResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, u)
	f.reqs = append(f.reqs, req)
	if r, ok := f.replies[u]; ok {
		return r, nil
	}
	if reason, ok := f.refuse[u]; ok {
		return tracker.AnnounceResponse{}, &tracker.FailureError{Reason: reason}
	}
	return tracker.AnnounceResponse{}, fmt.Errorf("down: %s", u)
}

func (f *fakeTransport) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func newTestAnnouncer(tb testing.TB, tiers [][]string, tr tracker.Transport, clock *fakeClock) *tracker.Announcer {
	tb.Helper()
	a, err := tracker.NewAnnouncer(tracker.AnnouncerConfig{
		Tiers:      tiers,
		Transport:  tr,
		Now:        clock.Now,
		Rand:       rand.New(rand.NewPCG(1, 2)),
		MinBackoff: time.Minute,
		MaxBackoff: 10 * time.Minute,
	})
	if err != nil {
		tb.Fatalf("NewAnnouncer: %v", err)
	}
	return a
}

func TestAnnouncerShufflesWithinTiersOnly(t *testing.T) {
	tiers := [][]string{{"a1", "a2", "a3", "a4", "a5"}, {"b1"}, {}, {"c1", "c2"}}
	a := newTestAnnouncer(t, tiers, &fakeTransport{}, newFakeClock())
	got := a.Tiers()
	if len(got) != 3 {
		t.Fatalf("Tiers() = %v, want 3 tiers (the empty one dropped)", got)
	}
	for i, want := range [][]string{tiers[0], tiers[1], tiers[3]} {
		g := slices.Clone(got[i])
		slices.Sort(g)
		if !slices.Equal(g, want) {
			t.Errorf("tier %d = %v, want a permutation of %v", i, got[i], want)
		}
	}
	if slices.Equal(got[0], tiers[0]) {
		t.Errorf("tier 0 = %v, not shuffled (seed 1,2 shuffles it)", got[0])
	}
}

func TestAnnouncerFallsThroughTiersAndPromotes(t *testing.T) {
	clock := newFakeClock()
	tr := &fakeTransport{replies: map[string]tracker.AnnounceResponse{
		"b2": {Interval: 20 * time.Minute},
	}}
	a := newTestAnnouncer(t, [][]string{{"a1", "a2"}, {"b1", "b2", "b3"}}, tr, clock)
	order := a.Tiers()

	if _, err := a.Announce(context.Background(), testRequest()); err != nil {
		t.Fatalf("Announce: %v", err)
	}
	calls := tr.takeCalls()
	// Every tracker of tier 0, then tier 1 in order up to b2.
	want := slices.Clone(order[0])
	for _, u := range order[1] {
		want = append(want, u)
		if u == "b2" {
			break
		}
	}
	if !slices.Equal(calls, want) {
		t.Errorf("tried %v, want %v", calls, want)
	}
	if got := a.Tiers()[1][0]; got != "b2" {
		t.Errorf("tier 1 front = %q, want b2 (BEP 12: the tracker that answered moves to the front)", got)
	}
	if !slices.Equal(a.Tiers()[0], order[0]) {
		t.Errorf("tier 0 = %v, want unchanged %v", a.Tiers()[0], order[0])
	}

	// Next time tier 0 is tried again first, then b2 straight away.
	if _, err := a.Announce(context.Background(), testRequest()); err != nil {
		t.Fatalf("second Announce: %v", err)
	}
	if calls, want := tr.takeCalls(), append(slices.Clone(order[0]), "b2"); !slices.Equal(calls, want) {
		t.Errorf("second round tried %v, want %v", calls, want)
	}
}

func TestAnnouncerSchedule(t *testing.T) {
	clock := newFakeClock()
	start := clock.Now()
	tr := &fakeTransport{replies: map[string]tracker.AnnounceResponse{
		"a": {Interval: 30 * time.Minute, MinInterval: 5 * time.Minute, TrackerID: "tid-1"},
	}}
	a := newTestAnnouncer(t, [][]string{{"a"}}, tr, clock)
	if !a.NextAnnounce().IsZero() {
		t.Fatalf("NextAnnounce() before any announce = %v, want zero (now)", a.NextAnnounce())
	}
	if _, err := a.Announce(context.Background(), testRequest()); err != nil {
		t.Fatalf("Announce: %v", err)
	}
	if got, want := a.NextAnnounce(), start.Add(30*time.Minute); !got.Equal(want) {
		t.Errorf("NextAnnounce() = %v, want %v (interval)", got, want)
	}

	regular := testRequest()
	regular.Event = tracker.EventNone
	clock.Advance(4 * time.Minute)
	if _, err := a.Announce(context.Background(), regular); !errors.Is(err, tracker.ErrTooSoon) {
		t.Errorf("regular Announce 4 min after = %v, want ErrTooSoon (min interval 5 min)", err)
	}
	completed := regular
	completed.Event = tracker.EventCompleted
	if _, err := a.Announce(context.Background(), completed); err != nil {
		t.Errorf("completed Announce within min interval = %v, want events always sent", err)
	}
	clock.Advance(5 * time.Minute)
	if _, err := a.Announce(context.Background(), regular); err != nil {
		t.Errorf("regular Announce after min interval: %v", err)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if got := tr.reqs[0].TrackerID; got != "" {
		t.Errorf("first request tracker id = %q, want empty", got)
	}
	if got := tr.reqs[len(tr.reqs)-1].TrackerID; got != "tid-1" {
		t.Errorf("later request tracker id = %q, want tid-1 echoed", got)
	}
}

func TestAnnouncerDefaultIntervalAndMinIntervalFloor(t *testing.T) {
	tests := []struct {
		name string
		resp tracker.AnnounceResponse
		want time.Duration
	}{
		{"no interval uses default", tracker.AnnounceResponse{}, tracker.DefaultInterval},
		{"min interval above interval wins", tracker.AnnounceResponse{Interval: time.Minute, MinInterval: 2 * time.Minute}, 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			tr := &fakeTransport{replies: map[string]tracker.AnnounceResponse{"a": tt.resp}}
			a := newTestAnnouncer(t, [][]string{{"a"}}, tr, clock)
			if _, err := a.Announce(context.Background(), testRequest()); err != nil {
				t.Fatal(err)
			}
			if got := a.NextAnnounce().Sub(clock.Now()); got != tt.want {
				t.Errorf("next announce in %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAnnouncerBacksOffExponentially(t *testing.T) {
	clock := newFakeClock()
	tr := &fakeTransport{replies: map[string]tracker.AnnounceResponse{}}
	a := newTestAnnouncer(t, [][]string{{"a", "b"}, {"c"}}, tr, clock)
	for i, want := range []time.Duration{1, 2, 4, 8, 10, 10} {
		_, err := a.Announce(context.Background(), testRequest())
		if err == nil || !strings.Contains(err.Error(), "down: a") || !strings.Contains(err.Error(), "down: c") {
			t.Fatalf("round %d: error = %v, want the trackers' failures joined", i, err)
		}
		if n := len(tr.takeCalls()); n != 3 {
			t.Errorf("round %d tried %d trackers, want 3", i, n)
		}
		if got := a.NextAnnounce().Sub(clock.Now()); got != want*time.Minute {
			t.Errorf("round %d: next announce in %v, want %v", i, got, want*time.Minute)
		}
		clock.Advance(want * time.Minute)
	}
	// A success resets the backoff.
	tr.mu.Lock()
	tr.replies["c"] = tracker.AnnounceResponse{Interval: time.Hour}
	tr.mu.Unlock()
	if _, err := a.Announce(context.Background(), testRequest()); err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	delete(tr.replies, "c")
	tr.mu.Unlock()
	a.Announce(context.Background(), testRequest())
	if got := a.NextAnnounce().Sub(clock.Now()); got != time.Minute {
		t.Errorf("after a success then a failure: next announce in %v, want 1m", got)
	}
}

// TestAnnouncerRetriesARefusalSooner: a tracker that answers with a
// failure reason is retried after 5 s, doubling to MaxBackoff, or to the
// interval of its last accepted reply; a member whose rule or passkey was
// just put right waited MinBackoff (the session's 15 s) and more before.
func TestAnnouncerRetriesARefusalSooner(t *testing.T) {
	clock := newFakeClock()
	tr := &fakeTransport{refuse: map[string]string{"a": "unregistered torrent"}}
	a := newTestAnnouncer(t, [][]string{{"a"}}, tr, clock)
	rounds := func(want ...time.Duration) {
		t.Helper()
		for i, w := range want {
			var fe *tracker.FailureError
			if _, err := a.Announce(context.Background(), testRequest()); !errors.As(err, &fe) {
				t.Fatalf("round %d: error = %v, want the refusal", i, err)
			}
			if got := a.NextAnnounce().Sub(clock.Now()); got != w*time.Second {
				t.Errorf("round %d: next announce in %v, want %v", i, got, w*time.Second)
			}
			clock.Advance(w * time.Second)
		}
	}
	rounds(5, 10, 20, 40, 80, 160, 320, 600, 600) // MaxBackoff 10 min
	tr.mu.Lock()
	tr.replies = map[string]tracker.AnnounceResponse{"a": {Interval: 2 * time.Minute}}
	tr.mu.Unlock()
	if _, err := a.Announce(context.Background(), testRequest()); err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	tr.replies = nil
	tr.mu.Unlock()
	clock.Advance(2 * time.Minute)
	rounds(5, 10, 20, 40, 80, 120, 120) // the last interval, 2 min
}

func TestAnnouncerCancelledContextIsNotAFailure(t *testing.T) {
	clock := newFakeClock()
	ctx, cancel := context.WithCancel(context.Background())
	tr := &cancellingTransport{cancel: cancel}
	a := newTestAnnouncer(t, [][]string{{"a", "b"}}, tr, clock)
	_, err := a.Announce(ctx, testRequest())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Announce() error = %v, want context.Canceled", err)
	}
	if tr.calls != 1 {
		t.Errorf("tried %d trackers, want 1 (stop on cancel)", tr.calls)
	}
	if !a.NextAnnounce().IsZero() {
		t.Errorf("NextAnnounce() = %v, want zero: a cancelled round schedules no backoff", a.NextAnnounce())
	}
}

type cancellingTransport struct {
	cancel func()
	calls  int
}

func (c *cancellingTransport) Announce(ctx context.Context, _ string, _ tracker.AnnounceRequest) (tracker.AnnounceResponse, error) {
	c.calls++
	c.cancel()
	return tracker.AnnounceResponse{}, ctx.Err()
}

func TestNewAnnouncerRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  tracker.AnnouncerConfig
	}{
		{"no trackers", tracker.AnnouncerConfig{}},
		{"only empty tiers", tracker.AnnouncerConfig{Tiers: [][]string{{}, {""}}}},
		{"min backoff above max", tracker.AnnouncerConfig{Tiers: [][]string{{"a"}}, MinBackoff: time.Hour, MaxBackoff: time.Minute}},
		{"negative interval", tracker.AnnouncerConfig{Tiers: [][]string{{"a"}}, DefaultInterval: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tracker.NewAnnouncer(tt.cfg); err == nil {
				t.Error("NewAnnouncer() = nil error, want one")
			}
		})
	}
}
