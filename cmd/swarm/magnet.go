package main

import (
	"context"
	"strings"

	"swarm/internal/progress"
	"swarm/metainfo"
	"swarm/session"
)

// fetchMagnet starts the node (with a DHT node when --dht is on) and adds
// a magnet link's torrent to it, then shows what the metadata phase does on
// the status line until the torrent has its info dict and its storage
// (tc.Open opens it) or stops. The info dict comes over the torrent's own
// connections, which then carry the download. The node runs on; on an
// error it is stopped.
func fetchMagnet(ctx context.Context, tr *transfer, link, dir string, tc session.TorrentConfig) (*session.Node, *session.Torrent, error) {
	mg, err := metainfo.ParseMagnet(link)
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	if !tr.opts.dht.enabled && len(mg.Trackers) == 0 && len(mg.Peers) == 0 && len(tc.Trackers) == 0 && len(tc.Peers) == 0 {
		return nil, nil, usagef("the magnet link names no tracker (tr) and no peer (x.pe), and --dht is off: nowhere to find peers")
	}
	// A magnet link does not say whether the torrent is private; until the
	// info dict does, the DHT is a source like any other (libtorrent does
	// the same). The torrent stops announcing into it once it knows.
	node, err := tr.start(ctx, true, dir)
	if err != nil {
		return nil, nil, err
	}
	tr.out.Printf("fetching the metadata of %s from peers, listening on %s\n", mg.InfoHash, node.Addr())
	t, err := node.FetchMagnet(ctx, link, tc, func(st session.Stats, nodes int) {
		tr.out.MagnetStatus(progress.MagnetLine(st, nodes))
	})
	tr.out.MagnetStatus("")
	if err != nil {
		node.Stop()
		return nil, nil, err
	}
	return node, t, nil
}

func isMagnet(arg string) bool { return strings.HasPrefix(arg, "magnet:") }
