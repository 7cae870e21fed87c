package daemon

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"swarm/metainfo"
)

// watchLoop polls the watch folder: each .torrent file in it is added, then
// renamed with .added appended; one that does not parse is renamed .invalid
// and the reason logged. Polling rather than inotify: it works on every
// file system (NFS, bind mounts) and costs one directory read per interval.
func (d *Daemon) watchLoop(ctx context.Context) {
	tick := time.NewTicker(d.cfg.WatchInterval)
	defer tick.Stop()
	failing := map[string]bool{} // files that failed for a reason other than parsing: logged once
	for {
		d.scanWatch(ctx, failing)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// scanWatch handles the .torrent files in the watch folder once.
func (d *Daemon) scanWatch(ctx context.Context, failing map[string]bool) {
	ents, err := os.ReadDir(d.cfg.WatchDir)
	if err != nil {
		if !failing[""] {
			d.log.Warn().Err(err).Str("dir", d.cfg.WatchDir).Msg("read watch folder")
			failing[""] = true
		}
		return
	}
	delete(failing, "")
	for _, e := range ents {
		if ctx.Err() != nil {
			return
		}
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".torrent") {
			continue
		}
		path := filepath.Join(d.cfg.WatchDir, e.Name())
		// A file written within the last interval may still be being
		// copied in (cp writes in pieces): read half, it would not parse
		// and be renamed .invalid for good. It is taken at a later scan.
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) < d.cfg.WatchInterval {
			continue
		}
		data, err := readLimited(path, metainfo.MaxTorrentSize)
		var added Added
		if err == nil {
			added, err = d.Add(ctx, AddRequest{Torrent: data})
		}
		switch {
		case err == nil:
			if rerr := os.Rename(path, path+".added"); rerr != nil {
				d.log.Warn().Err(rerr).Str("file", path).Msg("rename watched file")
			}
			d.log.Info().Str("file", path).Int("id", added.ID).Bool("duplicate", added.Duplicate).Msg("added from the watch folder")
		case errors.Is(err, ErrBadInput) && d.maybeStillWritten(path):
			// A copy in progress (scp, a browser's download) does not parse
			// yet: try again once the file has been left alone for two
			// scans, as Transmission retries its watch folder.
		case errors.Is(err, ErrBadInput):
			d.log.Warn().Err(err).Str("file", path).Msg("watched file is not a torrent: renamed .invalid")
			if rerr := os.Rename(path, path+".invalid"); rerr != nil {
				d.log.Warn().Err(rerr).Str("file", path).Msg("rename watched file")
			}
		default:
			if !failing[path] {
				d.log.Warn().Err(err).Str("file", path).Msg("cannot add watched file; trying again")
				failing[path] = true
			}
		}
	}
}

// readLimited reads a file of at most limit bytes; a larger one (also one
// that grows while read) is bad input.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errors.Join(ErrBadInput, errors.New("larger than a torrent file may be"))
	}
	return b, nil
}

// maybeStillWritten says whether the file at path changed within the last
// two watch intervals, so may still be being written.
func (d *Daemon) maybeStillWritten(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && time.Since(fi.ModTime()) < 2*d.cfg.WatchInterval
}
