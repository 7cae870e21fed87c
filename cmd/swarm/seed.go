package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"swarm/internal/humanize"
	"swarm/internal/progress"
	"swarm/metainfo"
	"swarm/session"
)

func runSeed(ctx context.Context, e *env, args []string) error {
	var o peerOptions
	var data, torrentOut, pieceLength string
	var superSeed bool
	fs := newFlagSet("seed")
	fs.StringVar(&data, "data", "", "folder that holds the content of FILE.torrent (default: the current folder)")
	fs.StringVarP(&torrentOut, "output", "o", "", "where to write the torrent made from PATH (default: NAME.torrent)")
	fs.StringVar(&pieceLength, "piece-length", "256KiB", `piece length for a torrent made from PATH, or "auto"`)
	fs.BoolVar(&superSeed, "super-seed", false, "initial seeding (BEP 16): reveal one piece at a time to each peer, the next once another peer has it")
	o.register(fs)
	if err := parseFlags(fs, helpFor("seed"), args, e); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want exactly one PATH or FILE.torrent, got %d arguments", fs.NArg())
	}
	tr, err := o.setup(fs, e)
	if err != nil {
		return err
	}
	arg := fs.Arg(0)
	var m *metainfo.MetaInfo
	if strings.HasSuffix(arg, ".torrent") || isTorrentFile(arg) {
		if m, err = metainfo.Load(arg); err != nil {
			return err
		}
		if data == "" {
			data = "."
		}
	} else {
		if data != "" {
			return usagef("--data is for seeding a .torrent; given content, its folder is the data")
		}
		if m, err = makeTorrentFor(ctx, e, arg, torrentOut, pieceLength, trackerTiers(o.trackers), !tr.out.Text()); err != nil {
			return seedInterrupted(ctx, err)
		}
		abs, err := filepath.Abs(arg)
		if err != nil {
			return err
		}
		data = filepath.Dir(abs)
	}
	node, err := tr.start(ctx, !m.Info.Private, "") // seed writes nothing in --data, no DHT state either
	if err != nil {
		return err
	}
	defer node.Stop() // on every path out; runTorrent stops it first (Stop may be called again)
	tc := session.TorrentConfig{Seed: true, SuperSeed: superSeed, Peers: tr.peers, Trackers: trackerTiers(o.trackers)}
	// Seeding never writes: the data is opened read-only and only the
	// pieces that check out are offered; downloading is get's job.
	t, err := node.AddContent(ctx, m, data, tc, session.OpenOptions{Logger: tr.log, ReadOnly: true})
	if errors.Is(err, session.ErrNothingToSeed) {
		return fmt.Errorf("0 of %d pieces match in %s: is --data the folder that holds %s?", m.Info.NumPieces(), data, m.Info.Name)
	}
	if err != nil {
		return seedInterrupted(ctx, err)
	}
	st := t.Stats()
	tr.out.Printf("seeding %s (%s) from %s on %s: %d of %d pieces verified\n",
		m.Info.Name, humanize.Size(m.Info.Length), data, node.Addr(), st.Have, st.Pieces)
	magnet := m.ShareableMagnet()
	if magnet != "" {
		tr.out.Printf("magnet: %s\n", magnet)
	} else {
		tr.out.Printf("%s\n", noMagnet)
	}
	if st.Have < st.Pieces {
		tr.out.Printf("warning: %d pieces are missing or damaged in %s; seeding the rest\n", st.Pieces-st.Have, data)
	}
	tr.out.Event(progress.Event{Event: "started", Name: m.Info.Name, InfoHash: m.InfoHash.String(), Listen: node.Addr().String(),
		Folder: data, Magnet: magnet}, st)
	return runTorrent(ctx, tr, node, t, false)
}

// makeTorrentFor builds and writes the torrent of content at path, or reuses
// an existing .torrent of the same content at the output path.
func makeTorrentFor(ctx context.Context, e *env, path, out, pieceLength string, tiers [][]string, quiet bool) (*metainfo.MetaInfo, error) {
	cfg := metainfo.BuildConfig{Path: path, Tiers: tiers, CreatedBy: "swarm/" + version, CreationDate: time.Now()}
	var err error
	if cfg.PieceLength, err = parsePieceLength(pieceLength); err != nil {
		return nil, usagef("--piece-length %s: %s", pieceLength, pieceLengthWant)
	}
	bar := progress.NewHashing(e.stderr)
	cfg.Progress = bar.Update
	m, err := metainfo.Build(ctx, cfg)
	bar.Finish()
	if err != nil {
		return nil, err
	}
	if out == "" {
		out = m.Info.Name + ".torrent"
	}
	if old, err := metainfo.Load(out); err == nil && old.InfoHash == m.InfoHash {
		m = old // same content: keep the file (and its trackers) as it is
		if len(tiers) > 0 && !slices.EqualFunc(old.Tiers(), tiers, slices.Equal) {
			fmt.Fprintf(e.stderr, "note: %s already describes this content and is kept as it is, with its own trackers (%d); -t is announced to, but is not in the file or its magnet link: remove the file to make a new one\n", out, len(old.Trackers()))
		}
	} else {
		if len(tiers) == 0 {
			warnNoTracker(e, false)
		}
		if _, err := os.Stat(out); err == nil {
			return nil, fmt.Errorf("%s exists and describes other content; remove it or give -o", out)
		}
		if err := m.Save(out); err != nil {
			return nil, err
		}
	}
	if !quiet {
		fmt.Fprintf(e.stdout, "torrent: %s (info hash %s)\n", out, m.InfoHash)
	}
	return m, nil
}

// seedInterrupted returns nil in place of err when ctx has ended: Ctrl-C
// while seed hashes or checks the data stops it as it would stop seeding
// (exit 0), not as a failure.
func seedInterrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// isTorrentFile says whether path is a .torrent by another name, as the
// daemon's watch folder leaves one (x.torrent.added): it is seeded as a
// torrent, not made into a torrent of its own.
func isTorrentFile(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > metainfo.MaxTorrentSize {
		return false
	}
	_, err = metainfo.Load(path)
	return err == nil
}
