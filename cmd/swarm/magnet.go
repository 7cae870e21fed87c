package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"swarm/metainfo"
	"swarm/session"
)

// fetchMagnet turns a magnet link into a torrent: it starts the node (so
// trackers and peers hear the port and peer id it downloads with, and peers
// that find us first can connect) with a DHT node when --dht is on, and
// runs the session's metadata phase (session.Magnet) with a status line.
// The node runs on for the download; on an error it is stopped. It also
// returns the peers found, for the torrent to dial.
func fetchMagnet(ctx context.Context, tr *transfer, link, dir string) (*session.Node, *metainfo.MetaInfo, []netip.AddrPort, error) {
	mc, err := session.ParseMagnetLink(link)
	if err != nil {
		return nil, nil, nil, usagef("%v", err)
	}
	if !tr.opts.dht.enabled && len(mc.Trackers) == 0 && len(mc.Peers) == 0 {
		return nil, nil, nil, usagef("the magnet link names no tracker (tr) and no peer (x.pe), and --dht is off: nowhere to find peers")
	}
	// A magnet link does not say whether the torrent is private; until the
	// info dict does, the DHT is a source like any other (libtorrent does
	// the same). The session never announces a private torrent into it.
	node, err := tr.start(ctx, true, dir)
	if err != nil {
		return nil, nil, nil, err
	}
	fetch, err := node.NewMagnet(mc)
	if err != nil {
		node.Stop()
		return nil, nil, nil, err
	}
	tr.out.printf("fetching the metadata of %s from peers, listening on %s\n", metainfo.Hash(mc.InfoHash), node.Addr())

	type result struct {
		m     *metainfo.MetaInfo
		peers []netip.AddrPort
		err   error
	}
	done := make(chan result, 1)
	go func() {
		m, peers, err := fetch.Run(ctx)
		done <- result{m, peers, err}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case r := <-done:
			tr.out.magnetStatus("")
			if r.err != nil {
				node.Stop()
				return nil, nil, nil, r.err
			}
			if r.m.Info.Private && node.DHT != nil {
				tr.log.Info().Msg("the torrent is private (BEP 27): its peers will come from its trackers only")
			}
			return node, r.m, r.peers, nil
		case <-tick.C:
			tr.out.magnetStatus(magnetLine(fetch.Stats()))
		}
	}
}

// magnetLine is the status line of the metadata phase, e.g.
//
//	metadata: 1/2 trackers answered  3 peers, 1 connected  DHT 40 nodes, 2 lookups
//
// short enough for 80 columns; "n connecting" joins the peers while dials are
// under way.
func magnetLine(st session.MagnetStats) string {
	var parts []string
	if st.Trackers > 0 {
		parts = append(parts, fmt.Sprintf("%d/%d trackers answered", st.TrackersAnswered, st.Trackers))
	}
	peers := fmt.Sprintf("%d %s, %d connected", st.PeersFound, plural(st.PeersFound, "peer", "peers"), st.Connected)
	if st.Connecting > 0 {
		peers += fmt.Sprintf(", %d connecting", st.Connecting)
	}
	parts = append(parts, peers)
	if st.DHT {
		parts = append(parts, fmt.Sprintf("DHT %d %s, %d %s", st.DHTNodes, plural(st.DHTNodes, "node", "nodes"),
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
