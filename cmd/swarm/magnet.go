package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

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
	tr.out.printf("fetching the metadata of %s from peers, listening on %s\n", mg.InfoHash, node.Addr())
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-t.Opened():
			tr.out.magnetStatus("")
			return node, t, nil
		case <-t.Stopped():
			tr.out.magnetStatus("")
			node.Stop()
			if openErr != nil {
				return nil, nil, openErr
			}
			return nil, nil, fmt.Errorf("magnet %s: %s", mg.InfoHash, t.Stats().Err)
		case <-ctx.Done():
			tr.out.magnetStatus("")
			node.Stop()
			return nil, nil, ctx.Err()
		case <-tick.C:
			nodes := -1
			if node.DHT != nil {
				nodes = node.DHT.Stats().Nodes
			}
			tr.out.magnetStatus(magnetLine(t.Stats(), nodes))
		}
	}
}

// magnetLine is the status line of the metadata phase, e.g.
//
//	metadata: 1/2 trackers answered  3 peers, 1 connected  DHT 40 nodes, 2 lookups
//
// short enough for 80 columns; "n connecting" joins the peers while dials are
// under way. dhtNodes is the DHT node's routing table size, -1 without one.
func magnetLine(st session.Stats, dhtNodes int) string {
	var parts []string
	if st.Trackers > 0 {
		parts = append(parts, fmt.Sprintf("%d/%d trackers answered", st.TrackersAnswered, st.Trackers))
	}
	peers := fmt.Sprintf("%d %s, %d connected", st.Known, plural(st.Known, "peer", "peers"), st.Peers)
	if st.Connecting > 0 {
		peers += fmt.Sprintf(", %d connecting", st.Connecting)
	}
	parts = append(parts, peers)
	if dhtNodes >= 0 {
		parts = append(parts, fmt.Sprintf("DHT %d %s, %d %s", dhtNodes, plural(dhtNodes, "node", "nodes"),
			st.DHTLookups, plural(st.DHTLookups, "lookup", "lookups")))
	}
	return "metadata: " + strings.Join(parts, "  ")
}

// magnetStatus shows line as the status line (terminal), or every
// plainInterval as a plain line; "" ends a terminal line. JSON mode has no
// event for it.
func (d *display) magnetStatus(line string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.mode == modeTerminal && line == "":
		d.clearLocked()
		d.line = ""
	case d.mode == modeTerminal:
		d.line = "\r\033[K" + line[:min(len(line), max(termWidth(d.w)-1, 0))]
		io.WriteString(d.w, d.line)
	case d.mode == modePlain && line != "" && time.Since(d.lastPlain) >= plainInterval:
		d.lastPlain = time.Now()
		fmt.Fprintln(d.w, line)
	}
}

func isMagnet(arg string) bool { return strings.HasPrefix(arg, "magnet:") }
