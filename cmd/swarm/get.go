package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"swarm/internal/humanize"
	"swarm/internal/progress"
	"swarm/metainfo"
	"swarm/session"
)

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
	if err := parseFlags(fs, helpFor("get"), args, e); err != nil {
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
	if _, err := session.CleanState(out); err != nil {
		tr.log.Warn().Err(err).Msg("temporary files left by an interrupted write not removed")
	}
	tc := session.TorrentConfig{Seed: seed, Peers: tr.peers, Trackers: trackerTiers(o.trackers)}
	var m *metainfo.MetaInfo
	var node *session.Node
	var t *session.Torrent
	if isMagnet(fs.Arg(0)) {
		// The info dict comes over the torrent's own connections, which
		// then carry the download.
		tc.Open = func(ctx context.Context, m *metainfo.MetaInfo) (session.TorrentConfig, error) {
			open, err := openOptions(m)
			if err != nil {
				return session.TorrentConfig{}, err
			}
			return session.OpenContent(ctx, m, out, open)
		}
		node, t, err = fetchMagnet(ctx, tr, fs.Arg(0), out, tc)
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
	size := humanize.Size(m.Info.Length)
	if st.Wanted != m.Info.Length {
		size = fmt.Sprintf("%s of %s selected", humanize.Size(st.Wanted), humanize.Size(m.Info.Length))
	}
	tr.out.Printf("downloading %s (%s) into %s, listening on %s; %d of %d pieces already verified\n",
		m.Info.Name, size, out, node.Addr(), st.Have, st.Pieces)
	tr.out.Event(progress.Event{Event: "started", Name: m.Info.Name, InfoHash: m.InfoHash.String(), Listen: node.Addr().String(), Folder: out}, st)
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
