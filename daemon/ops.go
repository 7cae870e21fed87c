package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"swarm/metainfo"
	"swarm/session"
)

// AddRequest says what to add: exactly one of Torrent (the bytes of a
// .torrent) and Source (a magnet link, an http(s) URL of a .torrent, or a
// path to one on this machine).
type AddRequest struct {
	Torrent []byte
	Source  string
	// Dir is the download folder; "" means the session's.
	Dir    string
	Paused bool
	// Start starts it even when the settings say added torrents start
	// paused: Transmission's explicit "paused": false.
	Start bool
	// Unwanted lists files not to download (indexes into the file list).
	Unwanted []int
}

// Added is what Add reports.
type Added struct {
	ID        int
	Name      string
	Hash      string
	Duplicate bool // the torrent was already there; nothing changed
}

// Errors callers branch on.
var (
	ErrTooMany  = errors.New("too many torrents")
	ErrBadInput = errors.New("not a torrent")
)

// Add adds a torrent and writes it to the state folder before it returns,
// so an acknowledged add survives a crash. A torrent already there is
// reported as a Duplicate.
func (d *Daemon) Add(ctx context.Context, req AddRequest) (Added, error) {
	var m *metainfo.MetaInfo
	var link metainfo.Magnet
	raw := req.Torrent
	switch {
	case raw != nil:
	case strings.HasPrefix(req.Source, "magnet:"):
		var err error
		if link, err = metainfo.ParseMagnet(req.Source); err != nil {
			return Added{}, fmt.Errorf("%w: %v", ErrBadInput, err)
		}
	case req.Source != "":
		// A URL (a private tracker's download link holds the passkey:
		// errors name it masked) or a path on this machine: only a
		// regular file, as opening a FIFO or a device such as /dev/tty
		// would block the request (and an OS thread) for good.
		if !strings.HasPrefix(req.Source, "http://") && !strings.HasPrefix(req.Source, "https://") {
			if fi, err := os.Stat(req.Source); err == nil && !fi.Mode().IsRegular() {
				return Added{}, fmt.Errorf("%w: %s is not a regular file", ErrBadInput, req.Source)
			}
		}
		var err error
		if m, err = session.ReadTorrent(ctx, req.Source, "swarm/"+Version); err != nil {
			return Added{}, fmt.Errorf("%w: %v", ErrBadInput, err)
		}
		if raw, err = m.Encode(); err != nil {
			return Added{}, err
		}
	default:
		return Added{}, fmt.Errorf("%w: nothing to add", ErrBadInput)
	}
	if raw != nil && m == nil {
		var err error
		if m, err = metainfo.Parse(raw); err != nil {
			return Added{}, fmt.Errorf("%w: %v", ErrBadInput, err)
		}
	}
	dir := req.Dir
	if dir != "" && !filepath.IsAbs(dir) {
		return Added{}, fmt.Errorf("download-dir %q: want an absolute path", dir)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if dir == "" {
		dir = d.settings.DownloadDir
	}
	rec := record{Dir: dir, Paused: req.Paused || !req.Start && !d.settings.StartAddedTorrents, Added: time.Now().Unix()}
	if m != nil {
		rec.InfoHash, rec.Name = m.InfoHash.String(), m.Info.Name
		for _, i := range req.Unwanted {
			if i < 0 || i >= len(m.Info.Files) {
				return Added{}, fmt.Errorf("files-unwanted: no file %d", i)
			}
		}
		rec.Unwanted = req.Unwanted
	} else {
		rec.InfoHash, rec.Name, rec.Magnet = link.InfoHash.String(), link.Name, req.Source
		if rec.Name == "" {
			rec.Name = rec.InfoHash
		}
	}
	if e := d.byHash[rec.InfoHash]; e != nil {
		return Added{ID: e.rec.ID, Name: e.rec.Name, Hash: e.rec.InfoHash, Duplicate: true}, nil
	}
	if len(d.byHash) >= d.cfg.MaxTorrents {
		return Added{}, fmt.Errorf("%w: the daemon holds %d, its limit", ErrTooMany, len(d.byHash))
	}
	rec.ID = d.nextID
	rec.QueuePos = len(d.byHash)
	if m != nil {
		if err := d.store.saveTorrent(rec.InfoHash, raw); err != nil {
			return Added{}, err
		}
	}
	if err := d.store.save(&rec); err != nil {
		return Added{}, err
	}
	d.nextID++
	e := &entry{rec: rec, meta: m}
	d.byID[rec.ID], d.byHash[rec.InfoHash] = e, e
	d.added++
	if !rec.Paused {
		e.ph = phaseQueued
		d.scheduleLocked()
	}
	d.log.Info().Str("infohash", rec.InfoHash).Str("name", rec.Name).Int("id", rec.ID).Msg("torrent added")
	return Added{ID: rec.ID, Name: rec.Name, Hash: rec.InfoHash}, nil
}

// entries returns the entries of ids (all when ids is nil); an unknown id
// is ErrNotFound.
func (d *Daemon) entriesLocked(ids []int) ([]*entry, error) {
	if ids == nil {
		return d.sorted(), nil
	}
	es := make([]*entry, 0, len(ids))
	for _, id := range ids {
		e := d.byID[id]
		if e == nil {
			return nil, fmt.Errorf("%w: %d", ErrNotFound, id)
		}
		es = append(es, e)
	}
	return es, nil
}

// Resume starts the torrents of ids (nil: all); now skips the queue.
func (d *Daemon) Resume(ids []int, now bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	es, err := d.entriesLocked(ids)
	if err != nil {
		return err
	}
	for _, e := range es {
		if e.rec.Paused || e.rec.Error != "" {
			e.rec.Paused = false
			e.rec.Error = ""
			d.saveLocked(e)
		}
		if e.ph == phaseStopped {
			e.ph = phaseQueued
			if now && d.ctx != nil && !d.stopping {
				d.launchLocked(e)
			}
		}
	}
	d.scheduleLocked()
	return nil
}

// Pause stops the torrents of ids (nil: all) and returns once each has
// stopped and saved its resume record.
func (d *Daemon) Pause(ids []int) error {
	d.mu.Lock()
	es, err := d.entriesLocked(ids)
	if err != nil {
		d.mu.Unlock()
		return err
	}
	ts := make([]*session.Torrent, len(es))
	for i, e := range es {
		e.rec.Paused = true
		ts[i] = d.stopLocked(e)
		d.saveLocked(e)
	}
	d.scheduleLocked()
	d.mu.Unlock()
	for i, e := range es {
		d.waitStopped(e, ts[i])
	}
	d.mu.Lock()
	for _, e := range es {
		d.saveLocked(e)
	}
	d.mu.Unlock()
	return nil
}

// Reannounce asks the trackers of the running torrents of ids for peers
// now (RPC torrent-reannounce); within a tracker's min interval the
// request is ignored, as Transmission does. Stopped torrents are left.
func (d *Daemon) Reannounce(ids []int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	es, err := d.entriesLocked(ids)
	if err != nil {
		return err
	}
	for _, e := range es {
		if e.t != nil {
			e.t.Reannounce()
		}
	}
	return nil
}

// restart stops each of es, runs between on it (d.mu not held), and
// queues it again if it was to run; between's error leaves it stopped
// with that error.
func (d *Daemon) restart(es []*entry, between func(e *entry) error) error {
	d.mu.Lock()
	ts := make([]*session.Torrent, len(es))
	for i, e := range es {
		ts[i] = d.stopLocked(e)
	}
	d.mu.Unlock()
	var errs []error
	for i, e := range es {
		d.waitStopped(e, ts[i])
		if between != nil {
			if err := between(e); err != nil {
				errs = append(errs, err)
				d.mu.Lock()
				d.failLocked(e, err)
				d.mu.Unlock()
				continue
			}
		}
		d.mu.Lock()
		if !e.rec.Paused && e.ph == phaseStopped {
			e.rec.Error = ""
			e.ph = phaseQueued
		}
		d.saveLocked(e)
		d.mu.Unlock()
	}
	d.mu.Lock()
	d.scheduleLocked()
	d.mu.Unlock()
	return errors.Join(errs...)
}

// Verify checks the data of the torrents of ids again, ignoring their
// resume records. A paused torrent is checked, then stays paused.
func (d *Daemon) Verify(ids []int) error {
	d.mu.Lock()
	es, err := d.entriesLocked(ids)
	d.mu.Unlock()
	if err != nil {
		return err
	}
	return d.restart(es, func(e *entry) error {
		d.mu.Lock()
		m, dir, paused := e.meta, e.rec.Dir, e.rec.Paused
		d.mu.Unlock()
		if m == nil {
			return nil
		}
		if err := os.Remove(session.ResumePath(m, dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the resume record: %w", err)
		}
		if paused {
			// A paused torrent is checked now; opening does it.
			d.mu.Lock()
			e.rec.Paused = false
			d.mu.Unlock()
			d.wg.Go(func() { d.checkThenPause(e) })
		}
		return nil
	})
}

// checkThenPause pauses a torrent again once the check Verify started on a
// paused torrent has finished.
func (d *Daemon) checkThenPause(e *entry) {
	for range 24 * 3600 { // bounded: a day of seconds
		d.mu.Lock()
		ph, stopping := e.ph, d.stopping || d.ctx == nil || d.ctx.Err() != nil
		d.mu.Unlock()
		if stopping {
			return
		}
		if ph == phaseRunning || ph == phaseStopped {
			if ph == phaseRunning {
				d.Pause([]int{e.rec.ID})
			}
			return
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-d.ctx.Done():
			return
		}
	}
}

// Remove takes the torrents of ids out of the daemon; with deleteData
// their downloaded files go too.
func (d *Daemon) Remove(ids []int, deleteData bool) error {
	d.mu.Lock()
	es, err := d.entriesLocked(ids)
	if err != nil {
		d.mu.Unlock()
		return err
	}
	ts := make([]*session.Torrent, len(es))
	for i, e := range es {
		ts[i] = d.stopLocked(e)
		delete(d.byID, e.rec.ID)
		delete(d.byHash, e.rec.InfoHash)
		d.removed = append(d.removed, e.rec.ID)
	}
	if n := len(d.removed); n > 1000 {
		d.removed = slices.Clone(d.removed[n-1000:])
	}
	d.scheduleLocked()
	d.mu.Unlock()
	var errs []error
	for i, e := range es {
		d.waitStopped(e, ts[i])
		if err := d.store.remove(e.rec.InfoHash); err != nil {
			errs = append(errs, err)
		}
		if deleteData && e.meta != nil {
			if err := deleteContent(e.meta, e.rec.Dir); err != nil {
				errs = append(errs, err)
			}
		}
		d.log.Info().Str("name", e.rec.Name).Bool("data_deleted", deleteData).Msg("torrent removed")
	}
	return errors.Join(errs...)
}

// deleteContent removes m's files below dir, the folders they leave empty,
// and its resume record. Paths come from a parsed torrent, which refuses
// any that would leave dir; removing through an os.Root also refuses a
// symbolic link below dir that points out of it, so a link planted in the
// torrent's folder cannot make "remove with data" delete files elsewhere.
func deleteContent(m *metainfo.MetaInfo, dir string) error {
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete the data: %w", err)
	}
	defer root.Close()
	var errs []error
	for _, f := range m.Info.Files {
		if f.Padding {
			continue
		}
		p := filepath.Join(contentPath(m, f)...)
		if err := root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("delete %s: %w", filepath.Join(dir, p), err))
		}
		if m.Info.MultiFile {
			removeEmptyFolders(root, p)
		}
	}
	rp, err := filepath.Rel(dir, session.ResumePath(m, dir))
	if err == nil {
		err = root.Remove(rp)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	root.Remove(filepath.Dir(rp)) // the state folder, if now empty
	return errors.Join(errs...)
}

// removeEmptyFolders removes the folders of the file p (relative to root)
// that are empty, from the deepest up to the torrent's own folder; Remove
// fails on a folder that still holds anything, which ends the walk.
func removeEmptyFolders(root *os.Root, p string) {
	for q := filepath.Dir(p); q != "." && q != string(filepath.Separator); q = filepath.Dir(q) {
		if root.Remove(q) != nil {
			return
		}
	}
}

// contentPath is a file's path below the download folder.
func contentPath(m *metainfo.MetaInfo, f metainfo.File) []string {
	if m.Info.MultiFile {
		return append([]string{m.Info.Name}, f.Path...)
	}
	return f.Path
}

// SetLocation points the torrents of ids at dir; with move their data and
// resume records are moved there first (renamed, or copied then removed
// across file systems).
func (d *Daemon) SetLocation(ids []int, dir string, move bool) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("location %q: want an absolute path", dir)
	}
	d.mu.Lock()
	es, err := d.entriesLocked(ids)
	d.mu.Unlock()
	if err != nil {
		return err
	}
	return d.restart(es, func(e *entry) error {
		d.mu.Lock()
		m, old := e.meta, e.rec.Dir
		d.mu.Unlock()
		if move && m != nil && filepath.Clean(old) != filepath.Clean(dir) {
			d.mu.Lock()
			e.rec.MoveTo = dir
			d.saveLocked(e)
			d.mu.Unlock()
			err := moveContent(m, old, dir)
			d.mu.Lock()
			e.rec.MoveTo = ""
			d.mu.Unlock()
			if err != nil {
				return err
			}
		}
		d.mu.Lock()
		e.rec.Dir = dir
		d.mu.Unlock()
		return nil
	})
}

// moveContent moves m's files and resume record from old to dir. It
// refuses before moving anything when a file is already at its place in
// dir (it would be overwritten) or when a path on either side goes through
// a symbolic link (a move must not read or write outside the two folders),
// and afterwards removes only the folders it left empty: files the user
// keeps beside the torrent's stay where they are.
func moveContent(m *metainfo.MetaInfo, old, dir string) error {
	var paths []string
	for _, f := range m.Info.Files {
		if !f.Padding {
			paths = append(paths, filepath.Join(contentPath(m, f)...))
		}
	}
	rel, err := filepath.Rel(old, session.ResumePath(m, old))
	if err != nil {
		return err
	}
	paths = append(paths, rel)
	for _, p := range paths {
		if err := noLink(old, p, false); err != nil {
			return err
		}
		if _, err := os.Lstat(filepath.Join(old, p)); errors.Is(err, fs.ErrNotExist) {
			continue // not downloaded, or moved by a move a crash cut short
		}
		if err := noLink(dir, p, true); err != nil {
			return err
		}
	}
	for _, p := range paths {
		from, to := filepath.Join(old, p), filepath.Join(dir, p)
		if err := moveFile(from, to); err != nil {
			return fmt.Errorf("move %s to %s: %w", from, dir, err)
		}
	}
	if root, err := os.OpenRoot(old); err == nil {
		for _, p := range paths {
			removeEmptyFolders(root, p)
		}
		root.Close()
	}
	return nil
}

// noLink refuses a path p below dir that goes through a symbolic link or
// ends at anything but a regular file; a missing path is fine. With
// target, p is where a file is to go, and anything already there is
// refused.
func noLink(dir, p string, target bool) error {
	comps := strings.Split(p, string(filepath.Separator))
	for i := range comps {
		q := filepath.Join(dir, filepath.Join(comps[:i+1]...))
		fi, err := os.Lstat(q)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		last := i == len(comps)-1
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s is a symbolic link: refusing to move through it", q)
		case last && target:
			return fmt.Errorf("%s already exists: refusing to overwrite it", q)
		case last && !fi.Mode().IsRegular():
			return fmt.Errorf("%s is not a regular file", q)
		case !last && !fi.IsDir():
			return fmt.Errorf("%s is not a folder", q)
		}
	}
	return nil
}

// moveFile renames from to to, or copies and removes it when they are on
// different file systems; a missing from (not downloaded yet) is no error.
func moveFile(from, to string) error {
	if _, err := os.Lstat(from); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	if err := os.Rename(from, to); err == nil {
		return nil
	}
	// Across file systems: copy to a temporary name, then rename it into
	// place, so a crash never leaves a partial file under the real name
	// (a move resumed after it would take that for the moved file).
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.CreateTemp(filepath.Dir(to), ".swarm-move-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(dst.Name(), to)
	}
	if err != nil {
		os.Remove(dst.Name()) // the partial copy; from is still whole
		return err
	}
	return os.Remove(from)
}

// Change is a torrent-set: nil fields stay as they are.
type Change struct {
	UpLimit, DownLimit                        *int64 // bytes per second
	UpLimited, DownLimited                    *bool
	SeedRatioMode                             *int
	SeedRatio                                 *float64
	SeedIdleMode, SeedIdle                    *int
	Wanted, Unwanted                          []int
	PriorityHigh, PriorityLow, PriorityNormal []int
	QueuePosition                             *int
	Labels                                    []string
}

// Set applies c to the torrents of ids. Limits apply at once; a change of
// the wanted files restarts the torrent from its resume record.
func (d *Daemon) Set(ids []int, c Change) error {
	d.mu.Lock()
	es, err := d.entriesLocked(ids)
	if err != nil {
		d.mu.Unlock()
		return err
	}
	var restart []*entry
	type prioChange struct {
		t     *session.Torrent
		prios []int
	}
	var reprio []prioChange
	for _, e := range es {
		n := -1
		if e.meta != nil {
			n = len(e.meta.Info.Files)
		}
		for _, list := range [][]int{c.Wanted, c.Unwanted, c.PriorityHigh, c.PriorityLow, c.PriorityNormal} {
			for _, i := range list {
				if i < 0 || (n >= 0 && i >= n) || (n < 0 && len(list) > 0) {
					d.mu.Unlock()
					return fmt.Errorf("file index %d out of range", i)
				}
			}
		}
	}
	for _, e := range es {
		r := &e.rec
		setIf(&r.UpLimit, c.UpLimit)
		setIf(&r.DownLimit, c.DownLimit)
		setIf(&r.UpLimited, c.UpLimited)
		setIf(&r.DownLimited, c.DownLimited)
		setIf(&r.SeedRatioMode, c.SeedRatioMode)
		setIf(&r.SeedRatio, c.SeedRatio)
		setIf(&r.SeedIdleMode, c.SeedIdleMode)
		setIf(&r.SeedIdle, c.SeedIdle)
		if c.Labels != nil {
			r.Labels = c.Labels
		}
		if c.QueuePosition != nil {
			d.moveInQueueLocked(e, *c.QueuePosition)
		}
		if e.t != nil {
			up, down := r.limits()
			e.t.SetRates(up, down)
		}
		if len(c.Wanted)+len(c.Unwanted) > 0 {
			was := slices.Clone(r.Unwanted)
			for _, i := range c.Unwanted {
				if !slices.Contains(r.Unwanted, i) {
					r.Unwanted = append(r.Unwanted, i)
				}
			}
			r.Unwanted = slices.DeleteFunc(r.Unwanted, func(i int) bool { return slices.Contains(c.Wanted, i) })
			slices.Sort(r.Unwanted)
			if !slices.Equal(was, r.Unwanted) && e.ph != phaseStopped {
				restart = append(restart, e)
			}
		}
		for prio, list := range map[int][]int{1: c.PriorityHigh, -1: c.PriorityLow, 0: c.PriorityNormal} {
			for _, i := range list {
				if r.Priorities == nil {
					r.Priorities = make([]int, len(e.meta.Info.Files))
				}
				r.Priorities[i] = prio
			}
		}
		if len(c.PriorityHigh)+len(c.PriorityLow)+len(c.PriorityNormal) > 0 && e.t != nil && !slices.Contains(restart, e) {
			reprio = append(reprio, prioChange{e.t, r.filePriorities()})
		}
		d.saveLocked(e)
	}
	d.mu.Unlock()
	// Outside the lock: the torrent's loop takes the change in its turn.
	for _, pc := range reprio {
		if err := pc.t.SetFilePriorities(pc.prios); err != nil {
			return err
		}
	}
	if len(restart) > 0 {
		return d.restart(restart, nil)
	}
	return nil
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// QueueMove moves the torrents of ids in the queue: "top", "up", "down"
// or "bottom".
func (d *Daemon) QueueMove(ids []int, where string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	es, err := d.entriesLocked(ids)
	if err != nil {
		return err
	}
	for _, e := range es {
		pos := e.rec.QueuePos
		switch where {
		case "top":
			pos = 0
		case "up":
			pos--
		case "down":
			pos++
		case "bottom":
			pos = len(d.byID)
		default:
			return fmt.Errorf("queue move %q: want top, up, down or bottom", where)
		}
		d.moveInQueueLocked(e, pos)
	}
	d.scheduleLocked()
	return nil
}

// moveInQueueLocked puts e at pos in the queue and renumbers the others
// 0, 1, 2, …; records whose position changed are saved.
func (d *Daemon) moveInQueueLocked(e *entry, pos int) {
	es := slices.DeleteFunc(d.sorted(), func(x *entry) bool { return x == e })
	pos = min(max(pos, 0), len(es))
	es = slices.Insert(es, pos, e)
	for i, x := range es {
		if x.rec.QueuePos != i {
			x.rec.QueuePos = i
			if x != e {
				d.saveLocked(x)
			}
		}
	}
}

// finishMoves completes the moves a crash cut short (records with MoveTo
// set, from New): files already moved are skipped, the others moved. A
// move that cannot finish leaves the torrent paused in its old folder with
// the reason as its error, rather than running it there, where it would
// download again what is already in the new folder.
func (d *Daemon) finishMoves() {
	for _, e := range d.byHash {
		to := e.rec.MoveTo
		if to == "" {
			continue
		}
		e.rec.MoveTo = ""
		if e.meta != nil {
			if err := moveContent(e.meta, e.rec.Dir, to); err != nil {
				e.rec.Paused = true
				e.rec.Error = fmt.Sprintf("finish the move to %s, cut short by a crash: %v", to, err)
				d.log.Error().Str("infohash", e.rec.InfoHash).Str("error", e.rec.Error).Msg("torrent paused")
				d.saveLocked(e)
				continue
			}
		}
		e.rec.Dir = to
		d.log.Info().Str("infohash", e.rec.InfoHash).Str("dir", to).Msg("finished a move cut short by a crash")
		d.saveLocked(e)
	}
}
