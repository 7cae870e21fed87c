package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"swarm/internal/humanize"
	"swarm/internal/progress"
	"swarm/metainfo"
)

type createOptions struct {
	output      string
	trackers    []string
	pieceLength string
	private     bool
	comment     string
	webSeeds    []string
	source      string
	workers     int
	force       bool
	noDate      bool
	log         logOptions
}

func runCreate(ctx context.Context, e *env, args []string) error {
	var o createOptions
	fs := newFlagSet("create")
	fs.StringVarP(&o.output, "output", "o", "", "where to write the torrent (default: NAME.torrent in the current folder)")
	fs.StringArrayVarP(&o.trackers, "tracker", "t", nil, "tracker announce URL; repeat for more tiers, comma-separate for one tier")
	fs.StringVar(&o.pieceLength, "piece-length", "256KiB", `piece length: a power of two from 16KiB to 64MiB, or "auto"`)
	fs.BoolVar(&o.private, "private", false, "mark the torrent private (BEP 27): peers come from its trackers only")
	fs.StringVar(&o.comment, "comment", "", "free-text comment")
	fs.StringArrayVar(&o.webSeeds, "web-seed", nil, "web seed URL (BEP 19); repeatable")
	fs.StringVar(&o.source, "source", "", "source tag, as private trackers ask for (changes the info hash)")
	fs.IntVar(&o.workers, "workers", 0, "hashing goroutines (0 means one per CPU)")
	fs.BoolVarP(&o.force, "force", "f", false, "overwrite the output file if it exists")
	fs.BoolVar(&o.noDate, "no-date", false, "leave out the creation date (reproducible output)")
	o.log.register(fs)
	if err := parseFlags(fs, helpFor("create"), args, e); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want exactly one PATH, got %d arguments", fs.NArg())
	}
	log, err := o.log.logger(e.stderr)
	if err != nil {
		return err
	}
	path := fs.Arg(0)

	cfg := metainfo.BuildConfig{
		Path:      path,
		Private:   o.private,
		Comment:   o.comment,
		WebSeeds:  o.webSeeds,
		Source:    o.source,
		CreatedBy: "swarm/" + version,
		Workers:   o.workers,
	}
	if !o.noDate {
		cfg.CreationDate = time.Now()
	}
	cfg.Tiers = trackerTiers(o.trackers)
	if len(cfg.Tiers) == 0 {
		warnNoTracker(e, o.private)
	}
	if cfg.PieceLength, err = parsePieceLength(o.pieceLength); err != nil {
		return err
	}

	out := o.output
	if out == "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		out = filepath.Base(abs) + ".torrent"
	}
	if !o.force {
		if _, err := os.Stat(out); err == nil {
			return fmt.Errorf("%s already exists (use --force to overwrite)", out)
		}
	}

	bar := progress.NewHashing(e.stderr)
	cfg.Progress = bar.Update
	start := time.Now()
	m, err := metainfo.Build(ctx, cfg)
	bar.Finish()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return errors.New("interrupted")
		}
		return err
	}
	elapsed := time.Since(start)
	log.Debug().Str("infohash", m.InfoHash.String()).Dur("took", elapsed).Int("pieces", m.Info.NumPieces()).Msg("hashed")
	if err := m.Save(out); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s\n", out)
	fmt.Fprintf(e.stdout, "name:       %s\n", m.Info.Name)
	fmt.Fprintf(e.stdout, "size:       %s in %d %s\n", humanize.Size(m.Info.Length), len(m.Info.Files), humanize.Plural(len(m.Info.Files), "file", "files"))
	fmt.Fprintf(e.stdout, "pieces:     %d x %s\n", m.Info.NumPieces(), humanize.Size(m.Info.PieceLength))
	fmt.Fprintf(e.stdout, "info hash:  %s\n", m.InfoHash)
	if magnet := m.ShareableMagnet(); magnet != "" {
		fmt.Fprintf(e.stdout, "magnet:     %s\n", magnet)
	} else {
		fmt.Fprintln(e.stdout, noMagnet)
	}
	return nil
}

// parsePieceLength reads --piece-length: a size or "auto".
func parsePieceLength(s string) (int64, error) {
	if s == "auto" {
		return metainfo.PieceLengthAuto, nil
	}
	pl, err := humanize.ParseSize(s)
	if err != nil {
		return 0, usagef("--piece-length: %v", err)
	}
	if err := metainfo.CheckPieceLength(pl); err != nil {
		return 0, usagef("--piece-length %s: %s", s, pieceLengthWant)
	}
	return pl, nil
}

const pieceLengthWant = "want a power of two from 16KiB to 64MiB, or auto"

// warnNoTracker says, when a torrent is made without -t, how its peers can
// find each other: rtorrent ignores such a torrent without a word.
func warnNoTracker(e *env, private bool) {
	how := "the DHT, peer exchange (ut_pex) or --peer"
	if private {
		how = "--peer (a private torrent never uses the DHT or peer exchange)"
	}
	fmt.Fprintf(e.stderr, "warning: no tracker (-t): peers can find this torrent only through %s, and some clients (rtorrent) ignore a torrent without a tracker\n", how)
}
