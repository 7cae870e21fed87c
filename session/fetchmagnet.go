package session

import (
	"context"
	"fmt"
	"time"

	"swarm/metainfo"
)

// FetchMagnet adds a magnet link's torrent to the node (AddMagnet; tc.Open
// is required) and waits until its info dict has come over the torrent's
// own connections and tc.Open has opened its storage. Meanwhile tick, if
// set, is called every second with the torrent's stats and the size of the
// DHT node's routing table (-1 without a DHT). The torrent then runs on,
// carrying the download. If it stops first, the error is tc.Open's own, as
// Open returned it (so a front end can tell its own errors apart), or why
// the torrent stopped; if ctx ends first, ctx.Err().
func (n *Node) FetchMagnet(ctx context.Context, link string, tc TorrentConfig, tick func(Stats, int)) (*Torrent, error) {
	open := tc.Open
	var openErr error // Open's own error, read once the torrent has stopped
	if open != nil {
		tc.Open = func(ctx context.Context, m *metainfo.MetaInfo) (TorrentConfig, error) {
			c, err := open(ctx, m)
			openErr = err
			return c, err
		}
	}
	t, err := n.AddMagnet(link, tc)
	if err != nil {
		return nil, err
	}
	every := time.NewTicker(time.Second)
	defer every.Stop()
	for {
		select {
		case <-t.Opened():
			return t, nil
		case <-t.Stopped():
			if openErr != nil {
				return nil, openErr
			}
			return nil, fmt.Errorf("magnet %s: %s", t.InfoHash(), t.Stats().Err)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-every.C:
			if tick != nil {
				nodes := -1
				if n.DHT != nil {
					nodes = n.DHT.Stats().Nodes
				}
				tick(t.Stats(), nodes)
			}
		}
	}
}
