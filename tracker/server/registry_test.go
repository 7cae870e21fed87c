package server

import (
	"net/netip"
	"testing"
	"time"

	"swarm/metainfo"
	"swarm/tracker"
)

// TestSweep checks the background sweep: expired peers go, a swarm left
// empty is dropped once it has been empty for the expiry period.
func TestSweep(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	reg := newRegistry(4, 1, clock, 2*time.Minute)
	ann := func(ih metainfo.Hash, port uint16, left int64, ev tracker.Event) {
		req := AnnounceRequest{
			AnnounceRequest: tracker.AnnounceRequest{InfoHash: ih, Port: port, Left: left, Event: ev, NumWant: 50},
			Addr:            netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port),
		}
		var rp reply
		reg.announce(&req, &rp)
	}
	quiet, busy, snatched := metainfo.Hash{1}, metainfo.Hash{2}, metainfo.Hash{3}
	ann(quiet, 1, 5, tracker.EventStarted)
	ann(busy, 1, 5, tracker.EventStarted)
	ann(snatched, 1, 0, tracker.EventCompleted)
	ann(snatched, 1, 0, tracker.EventStopped)

	now = now.Add(90 * time.Second)
	ann(busy, 1, 5, tracker.EventNone)
	reg.sweep()
	if st := reg.stats(); st.swarms != 3 || st.leechers != 2 {
		t.Fatalf("after 90 s: %+v, want 3 swarms, 2 leechers", st)
	}

	now = now.Add(31 * time.Second) // quiet: 121 s silent; snatched: empty for 121 s
	reg.sweep()
	if st := reg.stats(); st.swarms != 1 || st.leechers != 1 || st.snatches != 1 {
		t.Fatalf("after 121 s: %+v, want only the busy swarm left, 1 snatch counted", st)
	}
	if c := reg.scrape(busy); c.incomplete != 1 {
		t.Errorf("busy swarm: %+v, want its leecher", c)
	}
}
