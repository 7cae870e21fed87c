package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"swarm/internal/progress"
	"swarm/metainfo"
	"swarm/session"
)

// fetchMagnet starts the node (with a DHT node when --dht is on) and adds
// a magnet link's torrent to it, then shows what the metadata phase does on
// the status line until the torrent has its info dict and its storage (open
// opens it) or stops. The info dict comes over the torrent's own
// connections, which then carry the download. The node runs on; on an
// error it is stopped.
func fetchMagnet(ctx context.Context, tr *transfer, link, dir string, tc session.TorrentConfig,
	open func(context.Context, *metainfo.MetaInfo) (session.TorrentConfig, error)) (*session.Node, *session.Torrent, error) {
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
	var openErr error // Open's own error, read once the torrent has stopped
	tc.Open = func(ctx context.Context, m *metainfo.MetaInfo) (session.TorrentConfig, error) {
		c, err := open(ctx, m)
		openErr = err
		return c, err
	}
	t, err := node.AddMagnet(link, tc)
	if err != nil {
		node.Stop()
		return nil, nil, err
	}
	tr.out.Printf("fetching the metadata of %s from peers, listening on %s\n", mg.InfoHash, node.Addr())
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-t.Opened():
			tr.out.MagnetStatus("")
			return node, t, nil
		case <-t.Stopped():
			tr.out.MagnetStatus("")
			node.Stop()
			if openErr != nil {
				return nil, nil, openErr
			}
			return nil, nil, fmt.Errorf("magnet %s: %s", mg.InfoHash, t.Stats().Err)
		case <-ctx.Done():
			tr.out.MagnetStatus("")
			node.Stop()
			return nil, nil, ctx.Err()
		case <-tick.C:
			nodes := -1
			if node.DHT != nil {
				nodes = node.DHT.Stats().Nodes
			}
			tr.out.MagnetStatus(progress.MagnetLine(t.Stats(), nodes))
		}
	}
}

func isMagnet(arg string) bool { return strings.HasPrefix(arg, "magnet:") }
