package lab

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/server"
)

// TestWaitSeedersEscapesEveryHashByte: the scrape that waits for the seed
// names the info hash as the tracker reads it. url.QueryEscape writes a
// space byte as '+', which a tracker keeps as '+' (RFC 3986), so a hash
// with a 0x20 byte (the lab's 2 MiB torrent in 64 KiB pieces has one) was
// never found and the run failed with "no seeder registered".
func TestWaitSeedersEscapesEveryHashByte(t *testing.T) {
	log := zerolog.Nop()
	trk, err := server.New(server.Config{Interval: 5 * time.Second, Logger: &log})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- trk.Run(ctx, ln) }()
	defer func() { cancel(); <-done }()

	var ih metainfo.Hash
	copy(ih[:], " +a b+ \x00\xff%&=?#/ok")
	announce := "http://" + ln.Addr().String() + "/announce"
	seed := announce + "?info_hash=" + string(tracker.AppendEscaped(nil, ih[:])) +
		"&peer_id=-SW0001-aaaaaaaaaaaa&port=6881&uploaded=0&downloaded=0&left=0&compact=1&event=started"
	resp, err := http.Get(seed)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := waitSeeders(ctx, announce, ih, 5*time.Second); err != nil {
		t.Fatalf("waitSeeders after the seed announced: %v", err)
	}
}
