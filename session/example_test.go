package session_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"swarm/session"
)

// A front end's whole job with one torrent: start a node (session, DHT
// node, port fallback), add the torrent's content (resume record or a
// check of the data), follow it to completion or a seed limit, stop.
// swarm get and swarm seed are this, with flags and a progress display.
func ExampleStartNode() {
	ctx := context.Background()
	m, err := session.ReadTorrent(ctx, "album.torrent", "example/1.0") // a path or an http(s) URL
	if err != nil {
		log.Fatal(err)
	}
	node, err := session.StartNode(ctx, session.NodeConfig{
		DHT: &session.DHTConfig{StateDir: "downloads"}, // nil: no DHT; leave it out for a private torrent
	})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Stop()
	t, err := node.AddContent(ctx, m, "downloads", session.TorrentConfig{Seed: true}, session.OpenOptions{})
	if err != nil {
		log.Fatal(err)
	}
	why := t.Watch(ctx, session.WatchConfig{
		Limits: session.SeedLimits{Ratio: 2, Time: time.Hour},
		Tick:   func(st session.Stats) { fmt.Printf("%.1f%% ratio %.2f\n", st.Percent(), st.Ratio()) },
	})
	if err := node.Stop(); err != nil { // tells the trackers, saves the resume record and the DHT state
		log.Fatal(err)
	}
	fmt.Println("stopped:", why)
}
