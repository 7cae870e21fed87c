package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/rs/zerolog"

	"swarm/metainfo"
	"swarm/session"
	"swarm/tracker"
)

// labPeer is one peer of a run: its torrent, and what starts it.
type labPeer struct {
	t *session.Torrent
	// start runs the session, its rate limits starting then (see
	// restartRates).
	start func()
	// restartRates empties the session's rate limiters: what they saved
	// while the peer waited for the run to begin would let it send more
	// than its rate times the run's time, and the run beat the bound
	// (issue 20: N = 4, F = 2 MiB measured 0.87 of it).
	restartRates func()
}

// preparePeer makes a session with one torrent on loopback.
// The session stops when ctx ends; wg waits for it and errs collects its
// failure.
func preparePeer(ctx context.Context, wg *sync.WaitGroup, errs *errList, name string, m *metainfo.MetaInfo,
	tmpl session.Config, log *zerolog.Logger, up, down int64, tc session.TorrentConfig) (labPeer, error) {
	cfg := tmpl
	if cfg.Listener == nil && cfg.ListenAddr == "" {
		cfg.ListenAddr = "127.0.0.1:0"
	}
	cfg.UploadRate, cfg.DownloadRate = up, down
	l := log.With().Str("lab", name).Logger()
	cfg.Logger = &l
	s, err := session.New(cfg)
	if err != nil {
		return labPeer{}, fmt.Errorf("%s: %w", name, err)
	}
	t, err := s.NewTorrent(m, tc)
	if err == nil {
		err = s.AddTorrent(t)
	}
	if err != nil {
		s.Close()
		return labPeer{}, fmt.Errorf("%s: %w", name, err)
	}
	// The rates are valid (session.New took them): SetRates cannot fail.
	restart := func() { _ = s.SetRates(up, down) }
	start := func() {
		restart()
		wg.Go(func() { errs.add(name, s.Run(ctx)) })
	}
	return labPeer{t: t, start: start, restartRates: restart}, nil
}

// startPeer is preparePeer, started at once.
func startPeer(ctx context.Context, wg *sync.WaitGroup, errs *errList, name string, m *metainfo.MetaInfo,
	tmpl session.Config, log *zerolog.Logger, up, down int64, tc session.TorrentConfig) (labPeer, error) {
	p, err := preparePeer(ctx, wg, errs, name, m, tmpl, log, up, down, tc)
	if err != nil {
		return labPeer{}, err
	}
	p.start()
	return p, nil
}

// waitSeeders polls the tracker's scrape until it counts a seeder, so that
// the leechers' first announce finds the seed.
func waitSeeders(ctx context.Context, announce string, ih metainfo.Hash, limit time.Duration) error {
	scrape := announce[:len(announce)-len("announce")] + "scrape?info_hash=" + string(tracker.AppendEscaped(nil, ih[:]))
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		n, err := scrapeComplete(ctx, scrape, ih)
		if err == nil && n > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("no seeder registered")
			}
			return errorf("seed did not reach the tracker within %v: %v", limit, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func scrapeComplete(ctx context.Context, scrapeURL string, ih metainfo.Hash) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scrapeURL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return 0, err
	}
	var out struct {
		Files map[string]struct {
			Complete int `bencode:"complete"`
		} `bencode:"files"`
	}
	if err := bencode.Unmarshal(body, &out); err != nil {
		return 0, fmt.Errorf("scrape reply: %w", err)
	}
	return out.Files[string(ih[:])].Complete, nil
}

// errList collects the failures of goroutines that run peers.
type errList struct {
	mu   sync.Mutex
	errs []error
}

func (e *errList) add(name string, err error) {
	if err == nil {
		return
	}
	e.mu.Lock()
	e.errs = append(e.errs, fmt.Errorf("%s: %w", name, err))
	e.mu.Unlock()
}

func (e *errList) err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return errors.Join(e.errs...)
}
