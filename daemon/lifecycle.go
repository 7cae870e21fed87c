package daemon

import (
	"context"
	"fmt"
	"slices"
	"time"

	"swarm/metainfo"
	"swarm/session"
)

// A torrent's life: stopped → queued → checking (resume record or hash)
// → running; a magnet link goes from queued to running at once, and its
// torrent fetches the info dict, then opens its storage, in the session. Stopping one
// removes it from the session (its loop saves the resume record); the next
// start opens it again from that record, without hashing.

// scheduleLocked starts queued torrents while the queue has room, in queue
// order: a complete torrent needs a seed slot, another a download slot.
func (d *Daemon) scheduleLocked() {
	if d.ctx == nil || d.stopping || d.ctx.Err() != nil {
		return
	}
	downs, seeds := 0, 0
	es := d.sorted()
	for _, e := range es {
		if e.ph == phaseChecking || e.ph == phaseRunning {
			if d.completeLocked(e) {
				seeds++
			} else {
				downs++
			}
		}
	}
	s := d.settings
	for _, e := range es {
		if e.ph != phaseQueued {
			continue
		}
		if d.completeLocked(e) {
			if s.SeedQueueEnabled && seeds >= s.SeedQueueSize {
				continue
			}
			seeds++
		} else {
			if s.DownloadQueueEnabled && downs >= s.DownloadQueueSize {
				continue
			}
			downs++
		}
		d.launchLocked(e)
	}
}

// completeLocked says whether e has every wanted piece, as last known.
func (d *Daemon) completeLocked(e *entry) bool {
	if e.meta == nil {
		return false
	}
	if e.t != nil {
		return e.t.Stats().Complete
	}
	if e.hasLast {
		return e.last.Complete
	}
	return e.rec.Done != 0 && e.rec.Left == 0
}

// launchLocked opens e (or fetches its metadata) in a goroutine of its own.
func (d *Daemon) launchLocked(e *entry) {
	e.gen++
	gen := e.gen
	ctx, cancel := context.WithCancel(d.ctx)
	e.cancel = cancel
	e.rec.Error = ""
	e.checked.Store(0)
	if e.meta == nil {
		cancel()
		e.cancel = nil
		d.addMagnetLocked(e, gen)
		return
	}
	e.ph = phaseChecking
	m, dir, unwanted := e.meta, e.rec.Dir, e.rec.Unwanted
	d.wg.Go(func() { d.open(ctx, e, gen, m, dir, unwanted) })
}

// open reads e's resume record or checks its data, then runs it.
func (d *Daemon) open(ctx context.Context, e *entry, gen int, m *metainfo.MetaInfo, dir string, unwanted []int) {
	select {
	case d.slots <- struct{}{}:
	case <-ctx.Done():
		return
	}
	d.mu.Lock()
	e.checking = e.gen == gen
	d.mu.Unlock()
	skip := map[int]bool{}
	for _, i := range unwanted {
		skip[i] = true
	}
	log := d.log.With().Str("infohash", m.InfoHash.String()).Logger()
	d.mu.Lock()
	tc := session.TorrentConfig{Seed: true}
	tc.UploadRate, tc.DownloadRate = e.rec.limits()
	tc.FilePriorities = e.rec.filePriorities()
	d.mu.Unlock()
	t, err := d.sess.AddContent(ctx, m, dir, tc, session.OpenOptions{
		Logger:   &log,
		Skip:     func(i int) bool { return skip[i] },
		Progress: func(done, _ int) { e.checked.Store(int64(done)) },
	})
	<-d.slots
	d.mu.Lock()
	defer d.mu.Unlock()
	e.checking = false
	if e.gen != gen || ctx.Err() != nil {
		if err == nil {
			d.sess.RemoveTorrent(t) // stopped while it opened
		}
		return
	}
	if err != nil {
		d.failLocked(e, fmt.Errorf("open %s: %w", dir, err))
		return
	}
	e.t, e.ph, e.started = t, phaseRunning, time.Now()
	d.wg.Go(func() { d.watchTorrent(e, t, gen) })
}

// watchTorrent notes when t completes, and when it stops by itself (a
// storage error): the error shows and the others run on.
func (d *Daemon) watchTorrent(e *entry, t *session.Torrent, gen int) {
	opened, done := t.Opened(), t.Done()
	for opened != nil || done != nil {
		select {
		case <-opened:
			opened = nil
			d.mu.Lock()
			if m := t.Info(); e.t == t && e.meta == nil && m != nil {
				// A magnet's info dict arrived and its storage is open
				// (its .torrent was saved by Open).
				e.meta, e.rec.Magnet, e.rec.Name = m, "", m.Info.Name
				d.saveLocked(e)
			}
			d.mu.Unlock()
		case <-done:
			done = nil
			d.mu.Lock()
			if e.t == t && e.rec.Done == 0 && t.Stats().Left == 0 {
				e.rec.Done = time.Now().Unix()
				d.saveLocked(e)
			}
			d.scheduleLocked() // a download slot is free
			d.mu.Unlock()
		case <-t.Stopped():
			opened, done = nil, nil
		}
	}
	<-t.Stopped()
	d.mu.Lock()
	defer d.mu.Unlock()
	if e.t != t || e.gen != gen || d.stopping || d.ctx.Err() != nil {
		return // stopped by us, or the daemon is stopping
	}
	st := t.Stats()
	d.foldLocked(e)
	msg := st.Err
	if msg == "" {
		msg = "the torrent stopped"
	}
	d.failLocked(e, fmt.Errorf("%s", msg))
}

// failLocked stops e with a local error, shown until it is started again.
func (d *Daemon) failLocked(e *entry, err error) {
	d.log.Error().Err(err).Str("infohash", e.rec.InfoHash).Str("name", e.rec.Name).Msg("torrent stopped by an error")
	e.ph = phaseStopped
	e.rec.Error = err.Error()
	d.saveLocked(e)
	d.scheduleLocked()
}

// addMagnetLocked adds a magnet link's torrent to the session: it fetches
// its info dict in its own loop (session.AddMagnet), then Open saves the
// .torrent in the state folder and opens the storage, and the torrent
// downloads over the same connections. It shows as downloading meanwhile,
// named by the link's dn.
func (d *Daemon) addMagnetLocked(e *entry, gen int) {
	hash, dir, unwanted := e.rec.InfoHash, e.rec.Dir, e.rec.Unwanted
	log := d.log.With().Str("infohash", hash).Logger()
	tc := session.TorrentConfig{Seed: true}
	tc.UploadRate, tc.DownloadRate = e.rec.limits()
	tc.Open = func(ctx context.Context, m *metainfo.MetaInfo) (session.TorrentConfig, error) {
		raw, err := m.Encode()
		if err == nil {
			err = d.store.saveTorrent(hash, raw)
		}
		if err != nil {
			return session.TorrentConfig{}, fmt.Errorf("save the fetched metadata: %w", err)
		}
		skip := map[int]bool{}
		for _, i := range unwanted {
			skip[i] = true
		}
		return session.OpenContent(ctx, m, dir, session.OpenOptions{Logger: &log, Skip: func(i int) bool { return skip[i] }})
	}
	t, err := d.sess.AddMagnet(e.rec.Magnet, tc)
	if err != nil {
		d.failLocked(e, fmt.Errorf("add the magnet link: %w", err))
		return
	}
	e.t, e.ph, e.started = t, phaseRunning, time.Now()
	d.wg.Go(func() { d.watchTorrent(e, t, gen) })
}

// stopLocked takes e out of the session or cancels its open or fetch, and
// returns a channel closed once its data is closed and its resume record
// saved. The counters fold into the record when the torrent has stopped:
// call finishStop with the channel's torrent.
func (d *Daemon) stopLocked(e *entry) *session.Torrent {
	e.gen++
	if e.cancel != nil {
		e.cancel()
		e.cancel = nil
	}
	e.ph = phaseStopped
	t := e.t
	if t != nil {
		if err := d.sess.RemoveTorrent(t); err != nil {
			d.log.Warn().Err(err).Msg("stop torrent")
		}
	}
	return t
}

// waitStopped waits for t (from stopLocked; nil is fine) to end, then
// folds its counters into e; d.mu is not held.
func (d *Daemon) waitStopped(e *entry, t *session.Torrent) {
	if t == nil {
		return
	}
	<-t.Stopped()
	d.mu.Lock()
	if e.t == t {
		d.foldLocked(e)
	}
	d.mu.Unlock()
}

// tickLoop runs once a second: the queue, seed limits, activity, and a
// save of running torrents' counters every saveInterval.
func (d *Daemon) tickLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastSave := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			d.mu.Lock()
			save := now.Sub(lastSave) >= saveInterval
			var stop, running []*entry
			for _, e := range d.byID {
				if e.t == nil {
					continue
				}
				st := e.t.Stats()
				if st.DownRate > 0 || st.UpRate > 0 {
					e.rec.Activity = now.Unix()
				}
				if st.Complete {
					e.rec.SecondsSeeding++
				} else {
					e.rec.SecondsDownloading++
				}
				if d.seedLimitReachedLocked(e, st, now) {
					stop = append(stop, e)
				}
				running = append(running, e)
			}
			if save {
				d.writeAllLocked(running)
				lastSave = now
			}
			for _, e := range stop {
				d.log.Info().Str("name", e.rec.Name).Msg("seed limit reached: torrent stopped")
				e.rec.Paused = true
				t := d.stopLocked(e)
				d.saveLocked(e)
				d.wg.Go(func() { d.waitStopped(e, t) })
			}
			d.scheduleLocked()
			d.mu.Unlock()
		}
	}
}

// seedLimitReachedLocked: a complete torrent stops at its seed ratio, or
// after its idle limit without uploading (its own, else the session's).
func (d *Daemon) seedLimitReachedLocked(e *entry, st session.Stats, now time.Time) bool {
	if !st.Complete || e.meta == nil {
		return false
	}
	ratio, ok := e.rec.SeedRatio, e.rec.SeedRatioMode == 1
	if e.rec.SeedRatioMode == 0 {
		ratio, ok = d.settings.SeedRatioLimit, d.settings.SeedRatioLimited
	}
	size := max(st.Wanted, 1)
	if ok && float64(e.rec.Uploaded+st.Uploaded)/float64(size) >= ratio {
		return true
	}
	idle, ok := e.rec.SeedIdle, e.rec.SeedIdleMode == 1
	if e.rec.SeedIdleMode == 0 {
		idle, ok = d.settings.IdleSeedingLimit, d.settings.IdleSeedingLimitEnabled
	}
	last := max(e.rec.Activity, e.rec.Done, e.started.Unix())
	return ok && now.Unix()-last >= int64(idle)*60
}

// limits are the torrent's own rate caps for the session; 0 means none.
func (r *record) limits() (up, down int64) {
	if r.UpLimited {
		up = r.UpLimit
	}
	if r.DownLimited {
		down = r.DownLimit
	}
	return up, down
}

// filePriorities are r's file priorities for the session, nil for all
// normal. Skipped files count as low, so that they do not raise a piece
// they share with a wanted file.
func (r *record) filePriorities() []int {
	if r.Priorities == nil {
		return nil
	}
	out := slices.Clone(r.Priorities)
	for _, i := range r.Unwanted {
		if i < len(out) {
			out[i] = -1
		}
	}
	return out
}
