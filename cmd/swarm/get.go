package main

import (
	"context"
	"fmt"
	"os"

	"swarm/session"
)

const getHelp = `
Usage: swarm get FILE.torrent [flags]

Download a torrent into a folder (the current one unless -o says otherwise),
verify every piece, and exit 0 when the download is complete. Peers come from
the torrent's trackers and from --peer. Interrupt with Ctrl-C at any time:
verified pieces are kept, and running the same command again resumes.

Examples:
  swarm get album.torrent
  swarm get album.torrent -o ~/Downloads --seed
  swarm get album.torrent --peer 127.0.0.1:6881 --peer 192.0.2.7:51413
`

func runGet(ctx context.Context, e *env, args []string) error {
	var o peerOptions
	var out string
	var seed bool
	fs := newFlagSet("get")
	fs.StringVarP(&out, "output", "o", ".", "download folder: the torrent's files go inside it")
	fs.BoolVar(&seed, "seed", false, "keep seeding after the download completes, until Ctrl-C")
	o.register(fs)
	if err := parseFlags(fs, getHelp, args, e); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want exactly one FILE.torrent, got %d arguments", fs.NArg())
	}
	log, cfg, peers, err := o.setup(e)
	if err != nil {
		return err
	}
	m, err := loadTorrent(fs.Arg(0))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	sess, t, err := startTorrent(ctx, cfg, m, out, session.TorrentConfig{Seed: seed, Peers: peers, Trackers: trackerTiers(o.trackers)}, log)
	if err != nil {
		return err
	}
	if !o.quiet {
		st := t.Stats()
		fmt.Fprintf(e.stdout, "downloading %s (%s) into %s, listening on %s; %d of %d pieces already verified\n",
			m.Info.Name, formatSize(m.Info.Length), out, sess.Addr(), st.Have, st.Pieces)
	}
	return runTorrent(ctx, e, sess, t, !seed, o.quiet)
}
