package session

import (
	"context"
	"time"
)

// Why Watch returned, besides the seed limits (EndSeedRatio, EndSeedTime).
const (
	EndInterrupted = "interrupted" // its context ended
	EndComplete    = "complete"    // every wanted piece verified, with StopOnDone
	EndError       = "error"       // the torrent stopped by itself: a storage error (Stats.Err says which)
)

// WatchConfig says when Watch returns and what it reports on the way.
type WatchConfig struct {
	// StopOnDone returns once every wanted piece is verified; otherwise
	// the torrent seeds on.
	StopOnDone bool
	// Limits end seeding, counted from when the torrent completed.
	Limits SeedLimits
	// Tick, if set, gets the torrent's figures once a second.
	Tick func(Stats)
	// Completed, if set, is called once, when every wanted piece is
	// verified (at once if they already are).
	Completed func(Stats)
	// Interval is how often Tick runs and the limits are checked; 0 means
	// a second.
	Interval time.Duration
}

// Watch follows a torrent of a running session until ctx ends, the torrent
// stops by itself, it completes (StopOnDone) or a seed limit is reached,
// and returns why (EndInterrupted, EndError, EndComplete, EndSeedRatio,
// EndSeedTime). It stops nothing itself: the caller stops the session (or
// the torrent) when it returns.
func (t *Torrent) Watch(ctx context.Context, cfg WatchConfig) string {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	done, stopped := t.Done(), t.Stopped()
	var completedAt time.Time // zero until every wanted piece is verified
	for {
		select {
		case <-ctx.Done():
			return EndInterrupted
		case <-stopped:
			if ctx.Err() != nil {
				return EndInterrupted
			}
			return EndError
		case <-done:
			done = nil
			completedAt = time.Now()
			if cfg.Completed != nil {
				cfg.Completed(t.Stats())
			}
			if cfg.StopOnDone {
				return EndComplete
			}
		case <-tick.C:
			st := t.Stats()
			if cfg.Tick != nil {
				cfg.Tick(st)
			}
			if !completedAt.IsZero() {
				if r := cfg.Limits.Reached(st, time.Since(completedAt)); r != "" {
					return r
				}
			}
		}
	}
}
