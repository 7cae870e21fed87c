package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"swarm/dht"
	"swarm/metadata"
	"swarm/metainfo"
	"swarm/tracker"
)

// magnetDHTInterval is how often the DHT is asked for peers while the
// metadata is missing. magnetJoinWait is the first wait after a lookup
// found nobody to ask because the node has not joined the DHT yet (it
// starts with the lookup, and joining takes a round trip): it doubles up to
// magnetDHTInterval, so the first lookup that can succeed does not wait for
// a whole interval.
const (
	magnetDHTInterval = 5 * time.Second
	magnetJoinWait    = 250 * time.Millisecond
)

// fetchMagnet turns a magnet link into a torrent: peers come from its x.pe
// addresses, its tr trackers and the DHT, and the info dict from them over
// ut_metadata (BEP 9), checked against the info hash. The DHT node it starts
// (when --dht is on) stays in tr for the download. It also returns the x.pe
// peers, for the torrent to dial.
func fetchMagnet(ctx context.Context, tr *transfer, link, dir string) (*metainfo.MetaInfo, []netip.AddrPort, error) {
	mg, err := metainfo.ParseMagnet(link)
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	var direct []netip.AddrPort
	for _, p := range mg.Peers {
		if a, err := resolvePeer(p); err == nil {
			direct = append(direct, a)
		}
	}
	// A magnet link does not say whether the torrent is private; until the
	// info dict does, the DHT is a source like any other (libtorrent does
	// the same).
	node, err := tr.opts.dht.open(tr.opts.listen, false, dir, tr.log)
	if err != nil {
		return nil, nil, err
	}
	if node == nil && len(mg.Trackers) == 0 && len(direct) == 0 {
		return nil, nil, usagef("the magnet link names no tracker (tr) and no peer (x.pe), and --dht is off: nowhere to find peers")
	}
	if node != nil {
		tr.cfg.DHT = node
		tr.dhtWait = runDHT(ctx, node)
	}
	// The session listens from now on, so the port and peer id trackers and
	// peers hear while the metadata is fetched are the ones it downloads
	// with (libtorrent does the same).
	cfg := tr.cfg
	cfg.DHT = node
	sess, err := newSession(cfg)
	if err != nil {
		return nil, nil, err
	}
	keep := false
	defer func() {
		if !keep {
			sess.Close()
		}
	}()
	port := 0
	if a, ok := sess.Addr().(*net.TCPAddr); ok {
		port = a.Port
	}
	id := sess.PeerID()
	tr.out.printf("fetching the metadata of %s from peers\n", mg.InfoHash)

	fctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	peers := make(chan netip.AddrPort, 512)
	send := func(as []netip.AddrPort) {
		for _, a := range as {
			select {
			case peers <- a:
			case <-fctx.Done():
				return
			}
		}
	}
	wg.Go(func() { send(direct) })
	for _, u := range mg.Trackers {
		wg.Go(func() {
			resp, err := (&tracker.Client{UserAgent: "swarm/" + version}).Announce(fctx, u, tracker.AnnounceRequest{
				InfoHash: mg.InfoHash, PeerID: id, Port: uint16(port), Left: 1, NumWant: 50, Compact: true,
			})
			if err != nil {
				tr.log.Debug().Err(err).Str("tracker_url", tracker.MaskURL(u)).Msg("magnet: announce failed")
				return
			}
			send(resp.Peers)
		})
	}
	if node != nil {
		wg.Go(func() {
			joinWait := magnetJoinWait
			for {
				lctx, lcancel := context.WithTimeout(fctx, 30*time.Second)
				found, err := node.GetPeers(lctx, dht.ID(mg.InfoHash))
				lcancel()
				if err != nil {
					tr.log.Debug().Err(err).Msg("magnet: DHT lookup failed")
				}
				send(found)
				wait := magnetDHTInterval
				if errors.Is(err, dht.ErrNoNodes) {
					wait, joinWait = joinWait, min(2*joinWait, magnetDHTInterval)
				}
				select {
				case <-fctx.Done():
					return
				case <-time.After(wait):
				}
			}
		})
	}
	info, err := metadata.Fetch(fctx, metadata.Config{InfoHash: mg.InfoHash, PeerID: id, ListenPort: uint16(port), Peers: peers, Logger: tr.log, Client: "swarm " + version})
	if err != nil {
		return nil, nil, fmt.Errorf("metadata of %s: %w", mg.InfoHash, err)
	}
	var tiers [][]string
	for _, u := range mg.Trackers {
		tiers = append(tiers, []string{u})
	}
	m, err := metainfo.FromInfo(info, tiers)
	if err != nil {
		return nil, nil, fmt.Errorf("metadata of %s: %w", mg.InfoHash, err)
	}
	if m.Info.Private && node != nil {
		tr.log.Info().Msg("the torrent is private (BEP 27): its peers will come from its trackers only")
	}
	keep, tr.sess = true, sess
	return m, direct, nil
}

func isMagnet(arg string) bool { return strings.HasPrefix(arg, "magnet:") }
