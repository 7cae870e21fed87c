package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"swarm/metainfo"
	"swarm/session"
	"swarm/tracker"
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
			if open.Skip, err = skipFiles(&m.Info, only); err != nil {
				return open, err
			}
		}
		return open, os.MkdirAll(out, 0o755)
	}
	tc := session.TorrentConfig{Seed: seed, Peers: tr.peers, Trackers: trackerTiers(o.trackers)}
	var m *metainfo.MetaInfo
	var sess *session.Session
	var t *session.Torrent
	if isMagnet(fs.Arg(0)) {
		// The metadata comes over the torrent's own connections, which
		// then carry the download.
		sess, t, err = fetchMagnet(ctx, tr, fs.Arg(0), out, tc, func(ctx context.Context, m *metainfo.MetaInfo) (session.TorrentConfig, error) {
			open, err := openOptions(m)
			if err != nil {
				return session.TorrentConfig{}, err
			}
			return session.OpenContent(ctx, m, out, open)
		})
		if tr.dhtWait != nil {
			defer tr.dhtWait() // stops the node on every path out
		}
		defer tr.endRun() // stops the session fetchMagnet started, on every path out
		if err != nil {
			return orInterrupted(ctx, err)
		}
		m = t.Info()
	} else {
		if m, err = readTorrent(ctx, fs.Arg(0)); err != nil {
			return orInterrupted(ctx, err)
		}
		open, err := openOptions(m)
		if err != nil {
			return err
		}
		if sess, t, err = startTorrent(ctx, tr, m, out, tc, open); err != nil {
			return orInterrupted(ctx, err) // Ctrl-C while checking the data
		}
	}
	st := t.Stats()
	size := formatSize(m.Info.Length)
	if st.Wanted != m.Info.Length {
		size = fmt.Sprintf("%s of %s selected", formatSize(st.Wanted), formatSize(m.Info.Length))
	}
	tr.out.printf("downloading %s (%s) into %s, listening on %s; %d of %d pieces already verified\n",
		m.Info.Name, size, out, sess.Addr(), st.Have, st.Pieces)
	tr.out.event(jsonEvent{Event: "started", Name: m.Info.Name, InfoHash: m.InfoHash.String(), Listen: sess.Addr().String(), Folder: out}, st)
	return runTorrent(ctx, tr, sess, t, !seed)
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

// readTorrent reads a .torrent from a file or an http(s) URL. Errors name
// the URL masked: a private tracker's download links hold the passkey.
func readTorrent(ctx context.Context, arg string) (*metainfo.MetaInfo, error) {
	if !strings.HasPrefix(arg, "http://") && !strings.HasPrefix(arg, "https://") {
		return loadTorrent(arg)
	}
	masked := tracker.MaskURL(arg)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, arg, nil)
	if err != nil {
		return nil, usagef("%s: %v", masked, tracker.StripURL(err))
	}
	req.Header.Set("User-Agent", "swarm/"+version)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch torrent %s: %w", masked, tracker.StripURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch torrent %s: %s", masked, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, metainfo.MaxTorrentSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch torrent %s: %w", masked, err)
	}
	if len(data) > metainfo.MaxTorrentSize {
		return nil, fmt.Errorf("%s: larger than %d MiB, not a torrent file", masked, metainfo.MaxTorrentSize>>20)
	}
	m, err := metainfo.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", masked, err)
	}
	return m, nil
}

// skipFiles turns --only patterns into the files to leave out. A pattern
// (path.Match syntax) selects a file if it matches the file's path in the
// torrent ("disc 1/01.flac"), its name ("*.flac") or one of its folders
// ("disc 1"). Every pattern must select some file.
func skipFiles(info *metainfo.Info, patterns []string) (func(file int) bool, error) {
	keep := make([]bool, len(info.Files))
	for _, pat := range patterns {
		if _, err := path.Match(pat, ""); err != nil {
			return nil, usagef("--only %q: %v", pat, err)
		}
		found := false
		for i, f := range info.Files {
			if !f.Padding && selects(pat, f.DisplayPath()) {
				keep[i], found = true, true
			}
		}
		if !found {
			return nil, usagef("--only %q selects no file of the torrent ('swarm info' lists them)", pat)
		}
	}
	return func(i int) bool { return !keep[i] }, nil
}

// selects reports whether pattern matches p, its last element or one of
// its folders.
func selects(pattern, p string) bool {
	if ok, _ := path.Match(pattern, path.Base(p)); ok {
		return true
	}
	for i := range len(p) + 1 {
		if i == len(p) || p[i] == '/' {
			if ok, _ := path.Match(pattern, p[:i]); ok {
				return true
			}
		}
	}
	return false
}
