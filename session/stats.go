package session

import "time"

// Stats is a snapshot of a torrent, published by its loop once a second and
// on changes. It is immutable once published.
type Stats struct {
	// State is what the torrent is doing: StateMetadata, StateChecking,
	// StateDownloading, StateSeeding or StateStopped.
	State State
	// Name is the info dict's name; a magnet link's display name (dn), or
	// the info hash in hex, until the info dict has arrived.
	Name     string
	Length   int64 // content bytes, padding included
	Pieces   int
	Have     int   // verified pieces
	Left     int64 // bytes of wanted pieces not yet verified
	Wanted   int64 // bytes of wanted pieces, verified or not (Length unless some files are skipped)
	Complete bool  // every wanted piece verified

	Downloaded int64   // payload bytes received this session
	Uploaded   int64   // payload bytes sent this session
	Wasted     int64   // bytes received and thrown away (duplicates, failed pieces)
	HashFails  int     // pieces that failed their hash check this session
	DownRate   float64 // bytes per second, over the last few seconds
	UpRate     float64

	// Fast extension (BEP 6) this session: peers that said have-all,
	// requests of ours peers rejected, and requests of theirs we rejected.
	HaveAlls, RejectsIn, RejectsOut int

	Peers      int // connected peers
	Seeds      int // connected peers that have everything
	Connecting int // outgoing connection attempts in flight
	Known      int // peer addresses known: from trackers, the DHT, pex, the user, peers that connected
	// Trackers counts the tracker URLs, TrackersAnswered those that have
	// answered an announce; DHTLookups the DHT lookups finished.
	Trackers, TrackersAnswered int
	DHTLookups                 int
	// WebSeeds are the BEP 19 web seeds in use; their bytes count in
	// Downloaded and DownRate too.
	WebSeeds []WebSeedStats

	// Err is set when the torrent stopped downloading because of a storage
	// error. After a full disk, verified data is still uploaded and the
	// download resumes by itself; after any other storage error the
	// torrent has stopped (Stopped is closed).
	Err string
	// TrackerErr says why the last announce to the trackers failed (a
	// refusal's reason, or that none answered); "" once one answers.
	TrackerErr string
	At         time.Time

	Detail // for a daemon's clients: peers, pieces, trackers
}

// State is what a torrent is doing.
type State string

const (
	// StateMetadata: a magnet link's torrent fetching its info dict.
	StateMetadata State = "metadata"
	// StateChecking: the info dict is known and TorrentConfig.Open runs.
	StateChecking State = "checking"
	// StateDownloading: some wanted piece is not verified yet.
	StateDownloading State = "downloading"
	// StateSeeding: every wanted piece is verified.
	StateSeeding State = "seeding"
	// StateStopped: the torrent's loop has ended.
	StateStopped State = "stopped"
)

// recentWindow is the seconds of history behind displayed rates.
const recentWindow = 5

// Stats returns the latest snapshot; safe from any goroutine.
func (t *Torrent) Stats() Stats { return *t.stats.Load() }

// Uploaded returns the payload bytes sent to peers so far this session, as
// the writers count them; safe from any goroutine and fresher than Stats,
// which is published about once a second. The lab samples it to see when
// an upload link stands idle.
func (t *Torrent) Uploaded() int64 { return t.uploaded.Load() }

// publishStats builds a new snapshot from loop state.
func (t *Torrent) publishStats() {
	st := &Stats{
		Name:             t.name,
		Length:           t.geo.Length,
		Pieces:           t.geo.NumPieces(),
		Complete:         t.complete,
		Downloaded:       t.downloaded,
		Uploaded:         t.uploaded.Load(),
		Wasted:           t.wasted,
		HashFails:        t.hashFails,
		HaveAlls:         t.fastStats.haveAlls,
		RejectsIn:        t.fastStats.rejectsIn,
		RejectsOut:       t.fastStats.rejectsOut,
		Peers:            len(t.peers),
		Connecting:       t.addrs.dialing,
		Known:            t.addrs.len(),
		TrackersAnswered: int(t.answered.Load()),
		DHTLookups:       int(t.lookups.Load()),
		At:               time.Now(),
	}
	for _, tier := range t.trackers() {
		st.Trackers += len(tier)
	}
	switch {
	case t.ended:
		st.State = StateStopped
	case t.meta != nil:
		st.State = StateMetadata
	case t.picker == nil:
		st.State = StateChecking
	case t.complete:
		st.State = StateSeeding
	default:
		st.State = StateDownloading
	}
	if t.picker != nil {
		have := t.picker.Have()
		st.Have = have.Count()
		for p := range t.geo.NumPieces() {
			if t.picker.Wanted(p) {
				st.Wanted += t.geo.PieceLen(p)
				if !have.Has(p) {
					st.Left += t.geo.PieceLen(p)
				}
			}
		}
	}
	t.webSeedStats(st)
	for p := range t.peers {
		st.DownRate += p.rate.recent(recentWindow)
		st.UpRate += p.upRate.recent(recentWindow)
		if p.has != nil && p.has.Full() {
			st.Seeds++
		}
	}
	if t.diskErr != nil {
		st.Err = t.diskErr.Error()
	} else if t.stopErr != nil {
		st.Err = t.stopErr.Error()
	}
	if e := t.trackerErr.Load(); e != nil {
		st.TrackerErr = *e
	}
	t.fillDetail(st)
	t.stats.Store(st)
}
