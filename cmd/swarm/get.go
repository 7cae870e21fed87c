package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"swarm/metainfo"
	"swarm/session"
)

const getHelp = `
Usage: swarm get FILE.torrent|URL|MAGNET [flags]

Download a torrent into a folder (the current one unless -o says otherwise),
verify every piece, and exit 0 when the download is complete. The torrent is
a file, an http(s) URL of one, or a magnet link, whose info dict is fetched
from peers (BEP 9) and checked against its hash. Peers come from the
torrent's trackers, the DHT (public torrents; --dht=false turns it off) and
--peer. Interrupt with Ctrl-C at any time: verified pieces are kept, and
running the same command again resumes. Exit status 130 (SIGINT) or 143
(SIGTERM) says the download was interrupted before it completed.

Examples:
  swarm get album.torrent
  swarm get https://example.org/album.torrent -o ~/Downloads
  swarm get album.torrent --only '*.flac' --only 'disc 2'
  swarm get album.torrent --seed-ratio 2 --seed-time 1h
  swarm get album.torrent --peer 127.0.0.1:6881 --json
  swarm get 'magnet:?xt=urn:btih:HASH&tr=http://tracker.example/announce'
`

func runGet(ctx context.Context, e *env, args []string) error {
	var o peerOptions
	var out string
	var seed bool
	var only []string
	fs := newFlagSet("get")
	fs.StringVarP(&out, "output", "o", ".", "download folder `DIR`: the torrent's files go inside it")
	fs.StringVar(&out, "data", ".", "another name for -o, as seed calls the same `DIR` --data")
	fs.BoolVar(&seed, "seed", false, "keep seeding after the download completes, until Ctrl-C or a --seed-* limit")
	fs.StringArrayVar(&only, "only", nil, "download only the files whose path, name or folder matches the glob `PATTERN`; repeatable")
	o.register(fs)
	if err := parseFlags(fs, getHelp, args, e); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want exactly one FILE.torrent or URL, got %d arguments", fs.NArg())
	}
	tr, err := o.setup(fs, e)
	if err != nil {
		return err
	}
	tr.download = true
	// A seeding limit only makes sense when seeding.
	seed = seed || fs.Changed("seed-ratio") || fs.Changed("seed-time")
	// openOptions says which files of m to download (--only) and makes the
	// folder.
	openOptions := func(m *metainfo.MetaInfo) (session.OpenOptions, error) {
		open := session.OpenOptions{Logger: tr.log}
		if len(only) > 0 {
			var err error
			if open.Skip, err = session.SkipFiles(&m.Info, only); err != nil {
				var pe *session.PatternError
				if errors.As(err, &pe) && pe.Err == nil {
					return open, usagef("--only %v ('swarm info' lists them)", err)
				}
				return open, usagef("--only %v", err)
			}
		}
		return open, os.MkdirAll(out, 0o755)
	}
	tc := session.TorrentConfig{Seed: seed, Peers: tr.peers, Trackers: trackerTiers(o.trackers)}
	var m *metainfo.MetaInfo
	var node *session.Node
	var t *session.Torrent
	if isMagnet(fs.Arg(0)) {
		// The info dict comes over the torrent's own connections, which
		// then carry the download.
		node, t, err = fetchMagnet(ctx, tr, fs.Arg(0), out, tc, func(ctx context.Context, m *metainfo.MetaInfo) (session.TorrentConfig, error) {
			open, err := openOptions(m)
			if err != nil {
				return session.TorrentConfig{}, err
			}
			return session.OpenContent(ctx, m, out, open)
		})
		if err != nil {
			return orInterrupted(ctx, err)
		}
		defer node.Stop() // on every path out; runTorrent stops it first (Stop may be called again)
		m = t.Info()
	} else {
		m, err = session.ReadTorrent(ctx, fs.Arg(0), "swarm/"+version)
		var ue *session.URLError
		if errors.As(err, &ue) {
			err = usagef("%v", err)
		}
		if err != nil {
			return orInterrupted(ctx, err)
		}
		open, err := openOptions(m)
		if err != nil {
			return err
		}
		if node, err = tr.start(ctx, !m.Info.Private, out); err != nil {
			return err
		}
		defer node.Stop()
		if t, err = node.AddContent(ctx, m, out, tc, open); err != nil {
			return orInterrupted(ctx, err) // Ctrl-C while checking the data
		}
	}
	st := t.Stats()
	size := formatSize(m.Info.Length)
	if st.Wanted != m.Info.Length {
		size = fmt.Sprintf("%s of %s selected", formatSize(st.Wanted), formatSize(m.Info.Length))
	}
	tr.out.printf("downloading %s (%s) into %s, listening on %s; %d of %d pieces already verified\n",
		m.Info.Name, size, out, node.Addr(), st.Have, st.Pieces)
	tr.out.event(jsonEvent{Event: "started", Name: m.Info.Name, InfoHash: m.InfoHash.String(), Listen: node.Addr().String(), Folder: out}, st)
	return runTorrent(ctx, tr, node, t, !seed)
}

// orInterrupted returns get's *interruptedError in place of err when ctx has
// ended: a step that Ctrl-C cut short (fetching the metadata, checking the
// data) fails with the context's error, which is not a failure to report.
func orInterrupted(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return interrupted(ctx, "interrupted before the download started")
	}
	return err
}
