package daemon

import (
	"time"

	"swarm/metainfo"
	"swarm/piece"
	"swarm/session"
)

// Status is a torrent's state, numbered as the Transmission RPC does.
type Status int

const (
	StatusStopped      Status = 0
	StatusCheckWait    Status = 1
	StatusCheck        Status = 2
	StatusDownloadWait Status = 3
	StatusDownload     Status = 4
	StatusSeedWait     Status = 5
	StatusSeed         Status = 6
)

// View is a snapshot of one torrent. Sizes are bytes, rates bytes per
// second, times Unix seconds (0 for never).
type View struct {
	ID     int
	Hash   string
	Name   string
	Status Status
	// Error is why the torrent stopped by itself ("" if it did not);
	// TrackerError why the last announce failed.
	Error, TrackerError string
	Dir                 string
	Added, Done         int64
	Activity, Started   int64
	TotalSize           int64 // content, every file
	SizeWhenDone        int64 // wanted files
	Left                int64 // of SizeWhenDone, not verified yet
	PieceCount          int
	PieceSize           int64
	DownRate, UpRate    float64
	Uploaded            int64 // over the torrent's life
	Downloaded          int64
	Corrupt             int64
	Peers, Seeds        int
	SendingToUs         int // peers we receive payload from now
	GettingFromUs       int // peers we send payload to now
	QueuePos            int
	RecheckProgress     float64 // 0 to 1 while checking
	MetadataDone        bool
	Finished            bool // stopped after reaching its seed limit
	Private             bool
	Comment, Creator    string
	Created             int64
	Magnet              string
	UpLimit, DownLimit  int64
	UpLimited           bool
	DownLimited         bool
	SeedRatioMode       int
	SeedRatio           float64
	SeedIdleMode        int
	SeedIdle            int
	Labels              []string
	// Time spent downloading and seeding over the torrent's life.
	SecondsDownloading, SecondsSeeding int64
	// Detail: the bitfield, peers and the last announce (shared; read
	// only). Bits is nil until the torrent has run in this process.
	session.Detail

	meta       *metainfo.MetaInfo
	unwanted   []int
	priorities []int
}

// FileView is one file of a torrent.
type FileView struct {
	Name      string // path below the download folder, "/"-separated
	Length    int64
	Completed int64 // bytes in verified pieces
	Wanted    bool
	Priority  int // -1 low, 0 normal, 1 high
}

// recentWindow is how long after its last activity a torrent counts as
// "recently-active".
const recentWindow = 60 * time.Second

// Torrents returns views of the torrents of ids (nil: all), in id order;
// recent keeps only those active in the last minute and also returns the
// ids removed lately (Transmission's "recently-active").
func (d *Daemon) Torrents(ids []int, recent bool) ([]View, []int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var es []*entry
	if ids == nil {
		es = make([]*entry, 0, len(d.byID))
		for id := 1; id < d.nextID && len(es) < len(d.byID); id++ {
			if e := d.byID[id]; e != nil {
				es = append(es, e)
			}
		}
	} else {
		var err error
		if es, err = d.entriesLocked(ids); err != nil {
			return nil, nil, err
		}
	}
	now := time.Now().Unix()
	vs := make([]View, 0, len(es))
	for _, e := range es {
		v := d.viewLocked(e)
		if recent && now-max(v.Activity, v.Added, v.Started, v.Done) > int64(recentWindow/time.Second) && e.ph != phaseChecking {
			continue
		}
		vs = append(vs, v)
	}
	var removed []int
	if recent {
		removed, d.removed = d.removed, nil
	}
	return vs, removed, nil
}

func (d *Daemon) viewLocked(e *entry) View {
	r := &e.rec
	v := View{
		ID: r.ID, Hash: r.InfoHash, Name: r.Name, Error: r.Error, Dir: r.Dir,
		Added: r.Added, Done: r.Done, Activity: r.Activity, QueuePos: r.QueuePos,
		Uploaded: r.Uploaded, Downloaded: r.Downloaded, Corrupt: r.Corrupt,
		SizeWhenDone: r.Wanted, Left: r.Left,
		UpLimit: r.UpLimit, DownLimit: r.DownLimit, UpLimited: r.UpLimited, DownLimited: r.DownLimited,
		SeedRatioMode: r.SeedRatioMode, SeedRatio: r.SeedRatio, SeedIdleMode: r.SeedIdleMode, SeedIdle: r.SeedIdle,
		Labels: r.Labels, Magnet: r.Magnet,
		SecondsDownloading: r.SecondsDownloading, SecondsSeeding: r.SecondsSeeding,
		meta: e.meta, unwanted: r.Unwanted, priorities: r.Priorities,
	}
	if !e.started.IsZero() {
		v.Started = e.started.Unix()
	}
	if m := e.meta; m != nil {
		v.MetadataDone = true
		v.TotalSize, v.PieceCount, v.PieceSize = m.Info.Length, m.Info.NumPieces(), m.Info.PieceLength
		v.Private, v.Comment, v.Creator = m.Info.Private, m.Comment, m.CreatedBy
		if !m.CreationDate.IsZero() {
			v.Created = m.CreationDate.Unix()
		}
		v.Magnet = m.ShareableMagnet() // "" for a private torrent: its magnet would carry the passkey
		if r.Wanted == 0 && r.Have == 0 && !e.hasLast && e.t == nil {
			v.SizeWhenDone, v.Left = m.Info.Length, m.Info.Length // not opened yet
		}
	}
	var st session.Stats
	have := false
	switch {
	case e.t != nil:
		st, have = e.t.Stats(), true
		v.Uploaded += st.Uploaded
		v.Downloaded += st.Downloaded
		v.Corrupt += st.Wasted
		v.DownRate, v.UpRate = st.DownRate, st.UpRate
		v.Peers, v.Seeds = st.Peers, st.Seeds
		v.TrackerError = st.TrackerErr
		if st.Err != "" && v.Error == "" {
			v.Error = st.Err // a full disk: downloading paused, retried by itself
		}
		for _, p := range st.PeerList {
			if p.DownRate > 0 {
				v.SendingToUs++
			}
			if p.UpRate > 0 {
				v.GettingFromUs++
			}
		}
	case e.hasLast:
		st, have = e.last, true
		st.PeerList = nil
	}
	if have {
		v.SizeWhenDone, v.Left = st.Wanted, st.Left
		v.Detail = st.Detail
		if e.meta != nil && st.Wanted < v.TotalSize && st.Bits != nil {
			// As Transmission counts it: the wanted pieces, and the
			// verified pieces of files no longer wanted.
			v.SizeWhenDone += verifiedBytes(st.Bits, &e.meta.Info) - (st.Wanted - st.Left)
		}
	}
	complete := v.MetadataDone && v.Left == 0 && v.SizeWhenDone > 0
	switch e.ph {
	case phaseStopped:
		v.Status = StatusStopped
		v.Finished = complete && r.Paused && r.Error == ""
	case phaseQueued:
		v.Status = StatusDownloadWait
		if d.completeLocked(e) {
			v.Status = StatusSeedWait
		}
	case phaseChecking:
		v.Status = StatusCheckWait
		if e.checking {
			v.Status = StatusCheck
		}
		if v.PieceCount > 0 {
			v.RecheckProgress = float64(e.checked.Load()) / float64(v.PieceCount)
		}
	case phaseRunning:
		v.Status = StatusDownload
		if st.Complete {
			v.Status = StatusSeed
		}
	}
	return v
}

// verifiedBytes is the length of the pieces set in bits.
func verifiedBytes(bits []byte, info *metainfo.Info) int64 {
	n := info.NumPieces()
	var total int64
	for p := range n {
		if bits[p/8]&(0x80>>(p%8)) != 0 {
			if p == n-1 {
				total += info.Length - int64(n-1)*info.PieceLength
			} else {
				total += info.PieceLength
			}
		}
	}
	return total
}

// PercentDone is the share of the wanted bytes verified, 0 to 1.
func (v *View) PercentDone() float64 {
	if v.SizeWhenDone <= 0 {
		if v.MetadataDone {
			return 1
		}
		return 0
	}
	return float64(v.SizeWhenDone-v.Left) / float64(v.SizeWhenDone)
}

// Files describes the torrent's files (none before its metadata); pad
// files are left out.
func (v *View) Files() []FileView {
	if v.meta == nil {
		return nil
	}
	info := &v.meta.Info
	var have *piece.Bitfield
	if v.Bits != nil {
		have, _ = piece.FromBytes(v.Bits, info.NumPieces())
	}
	skip := map[int]bool{}
	for _, i := range v.unwanted {
		skip[i] = true
	}
	fs := make([]FileView, 0, len(info.Files))
	for i, f := range info.Files {
		if f.Padding {
			continue
		}
		fv := FileView{Name: f.DisplayPath(), Length: f.Length, Wanted: !skip[i]}
		if info.MultiFile {
			fv.Name = info.Name + "/" + fv.Name
		}
		if i < len(v.priorities) {
			fv.Priority = v.priorities[i]
		}
		if have != nil && f.Length > 0 {
			first, last := f.Offset/info.PieceLength, (f.Offset+f.Length-1)/info.PieceLength
			for p := first; p <= last; p++ {
				if !have.Has(int(p)) {
					continue
				}
				start, end := max(p*info.PieceLength, f.Offset), min((p+1)*info.PieceLength, f.Offset+f.Length)
				fv.Completed += end - start
			}
		} else if v.Left == 0 && v.SizeWhenDone > 0 && fv.Wanted {
			fv.Completed = f.Length // complete, from the record
		}
		fs = append(fs, fv)
	}
	return fs
}

// FileCount is the number of files Files returns.
func (v *View) FileCount() int {
	if v.meta == nil {
		return 0
	}
	n := 0
	for _, f := range v.meta.Info.Files {
		if !f.Padding {
			n++
		}
	}
	return n
}

// SessionStats are totals for session-stats.
type SessionStats struct {
	Torrents, Active, Paused int
	DownRate, UpRate         float64
	Uploaded, Downloaded     int64 // this run
	Added                    int   // torrents added this run
	Seconds                  int64 // since Start
}

// Stats returns the session's totals.
func (d *Daemon) Stats() SessionStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := SessionStats{Torrents: len(d.byID), Added: d.added}
	if !d.startedAt.IsZero() {
		s.Seconds = int64(time.Since(d.startedAt) / time.Second)
	}
	for _, e := range d.byID {
		if e.ph == phaseStopped {
			s.Paused++
			continue
		}
		if e.t != nil {
			st := e.t.Stats()
			s.DownRate += st.DownRate
			s.UpRate += st.UpRate
			s.Uploaded += st.Uploaded
			s.Downloaded += st.Downloaded
			if st.DownRate > 0 || st.UpRate > 0 {
				s.Active++
			}
		}
	}
	return s
}

// Known keeps the ids the daemon has, in order.
func (d *Daemon) Known(ids []int) []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]int, 0, len(ids))
	for _, id := range ids {
		if d.byID[id] != nil {
			out = append(out, id)
		}
	}
	return out
}

// ResolveHash turns an info hash (lower-case hex) into an id.
func (d *Daemon) ResolveHash(hash string) (int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.byHash[hash]; e != nil {
		return e.rec.ID, true
	}
	return 0, false
}

// FreeSpace is the bytes free for an unprivileged user at path.
func FreeSpace(path string) (int64, error) { return freeSpace(path) }
