package private_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/tracker"
	"swarm/tracker/private"
	"swarm/tracker/server"
)

// TestServeWritesTheLastTotalsAfterTheServerStops: a request answered
// just before Serve's context ends is in the database when Serve returns,
// written by the flush that runs after the server has stopped (the flush
// loop's own second has not come).
func TestServeWritesTheLastTotalsAfterTheServerStops(t *testing.T) {
	db, _ := openDB(t)
	alice := addUser(t, db, "alice")
	addTorrent(t, db, ihA)
	clock := newClock()
	log := zerolog.New(zerolog.NewTestWriter(t))
	tr, err := private.New(context.Background(), private.Config{DB: db, Now: clock.Now, Interval: time.Minute, Logger: &log})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Interval: time.Minute, Now: clock.Now, Hook: tr, Logger: &log})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- tr.Serve(ctx, srv, ln) }()
	base := "http://" + ln.Addr().String() + "/" + alice.Passkey.String() + "/announce?"
	announce := func(a tracker.AnnounceRequest) {
		t.Helper()
		resp, err := http.Get(base + a.Query())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("announce: %s", resp.Status)
		}
	}
	// Downloads: an upload with nobody leeching would not be credited.
	announce(peer(ihA, "a", tracker.EventStarted, 0, 0, size))
	clock.Advance(30 * time.Second)
	announce(peer(ihA, "a", tracker.EventNone, 0, 5000, size-5000))
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10 s of its cancel")
	}
	if got := totals(t, db, "alice").Downloaded; got != 5000 {
		t.Errorf("alice's downloaded total after Serve = %d, want 5000", got)
	}
}
