package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"swarm/internal/atomicfile"
	"swarm/metainfo"
	"swarm/session"
)

// Version is swarm's version, for the RPC's session-get.
const Version = session.Version

// Defaults for Config fields left zero.
const (
	DefaultMaxTorrents = 20000
	// checkSlots bounds the torrents opening (checking their data or
	// reading their resume record) at once: hashing two torrents at a
	// time uses the disk better than hashing hundreds.
	checkSlots = 2
	// saveInterval is how often running torrents' counters are written.
	saveInterval = time.Minute
)

// Config configures a Daemon.
type Config struct {
	// StateDir holds the torrent list and settings; created if missing.
	StateDir string
	// DownloadDir is where torrents go unless added with a folder of their
	// own; created if missing. A settings.json saved by session-set wins.
	DownloadDir string
	// Session configures the engine the daemon makes; its rate limits
	// are the starting speed limits. Its ListenAddr "" means
	// session.DefaultListenAddr, or any free port if that one is taken.
	Session session.Config
	// DHT, if set, runs a DHT node (BEP 5) beside the session for public
	// torrents (session.StartNode); its StateDir "" means StateDir.
	DHT *session.DHTConfig
	// MaxActiveDownloads and MaxActiveSeeds bound the torrents downloading
	// and seeding at once (a queue beyond them, as Transmission's);
	// 0 means no bound. A settings.json saved by session-set wins.
	MaxActiveDownloads, MaxActiveSeeds int
	// MaxTorrents bounds the torrents an RPC client can add; 0 means
	// DefaultMaxTorrents.
	MaxTorrents int
	// WatchDir, if set, is polled for .torrent files to add.
	WatchDir string
	// WatchInterval is how often WatchDir is read; 0 means 2 s.
	WatchInterval time.Duration
	// Logger receives the daemon's and the session's logs; nil means none.
	Logger *zerolog.Logger
}

// phase is where a torrent is in its life.
type phase int

const (
	phaseStopped  phase = iota // paused, or stopped by an error
	phaseQueued                // wants to run; waits for a slot
	phaseChecking              // opening: resume record or hashing (waiting for a check slot first)
	phaseRunning               // in the session (a magnet's torrent fetching its info dict too)
)

// entry is one torrent of the daemon; d.mu guards it.
type entry struct {
	rec  record
	meta *metainfo.MetaInfo // nil until a magnet's metadata arrives
	t    *session.Torrent   // set while phaseRunning
	ph   phase
	// gen counts launches and stops: a goroutine that opened or fetched
	// for an older gen drops its result.
	gen    int
	cancel context.CancelFunc // ends a check or a metadata fetch
	// last is the torrent's latest stats, kept after it stops.
	last     session.Stats
	hasLast  bool
	checking bool         // holds a check slot (status 2, else 1 while opening)
	checked  atomic.Int64 // pieces checked, for recheckProgress
	// started is when the current run began; zero when not running.
	started time.Time
	// saved is the record as last written, to skip writing it unchanged.
	saved []byte
}

// Daemon runs the torrents.
type Daemon struct {
	cfg   Config
	log   zerolog.Logger
	node  *session.Node    // set by Start
	sess  *session.Session // node's; nil before Start
	store store
	slots chan struct{} // check slots

	mu       sync.Mutex // guards everything below, and every entry
	byID     map[int]*entry
	byHash   map[string]*entry
	nextID   int
	settings Settings
	ctx      context.Context
	close    context.CancelFunc // ends ctx: Close
	stopping bool
	wg       sync.WaitGroup // goroutines of opens, fetches, watchers
	// removed lists ids removed recently, for torrent-get's
	// "recently-active" (Transmission's "removed" array).
	removed   []int
	added     int // torrents added this run, for session-stats
	startedAt time.Time
	runDone   chan struct{}
	unlock    func() // releases the state folder's lock
}

// ErrNotFound is returned for an id the daemon does not have.
var ErrNotFound = errors.New("no such torrent")

// New loads the state folder and opens the session's listener. The
// torrents start when Start is called.
func New(cfg Config) (*Daemon, error) {
	if cfg.StateDir == "" || cfg.DownloadDir == "" {
		return nil, errors.New("daemon: StateDir and DownloadDir are required")
	}
	if cfg.MaxTorrents < 0 || cfg.MaxActiveDownloads < 0 || cfg.MaxActiveSeeds < 0 || cfg.WatchInterval < 0 {
		return nil, errors.New("daemon: negative limit in Config")
	}
	if cfg.MaxTorrents == 0 {
		cfg.MaxTorrents = DefaultMaxTorrents
	}
	if cfg.WatchInterval == 0 {
		cfg.WatchInterval = 2 * time.Second
	}
	d := &Daemon{
		cfg:    cfg,
		log:    zerolog.Nop(),
		store:  store{cfg.StateDir},
		slots:  make(chan struct{}, checkSlots),
		byID:   map[int]*entry{},
		byHash: map[string]*entry{},
		nextID: 1,
	}
	if cfg.Logger != nil {
		d.log = *cfg.Logger
	}
	if err := d.store.init(); err != nil {
		return nil, err
	}
	unlock, err := lockState(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	d.unlock = unlock
	if err := os.MkdirAll(cfg.DownloadDir, 0o755); err != nil {
		unlock()
		return nil, fmt.Errorf("create download folder: %w", err)
	}
	d.settings = defaultSettings(cfg)
	if err := d.loadSettings(); err != nil {
		// A service that does not come back after a reboot is worse than
		// one with default settings: keep the bad file for the user, say
		// so, and start.
		d.settings = defaultSettings(cfg)
		bad := d.settingsPath() + ".corrupt"
		if rerr := os.Rename(d.settingsPath(), bad); rerr != nil {
			unlock()
			return nil, errors.Join(err, rerr)
		}
		d.log.Error().Err(err).Str("kept_as", bad).Msg("settings unreadable: starting with the defaults")
	}
	recs, errs := d.store.load()
	d.cleanTemp(recs)
	for _, err := range errs {
		d.log.Warn().Err(err).Msg("state file skipped")
	}
	for _, r := range recs {
		e := &entry{rec: *r}
		if r.Magnet == "" {
			m, err := metainfo.Load(d.store.torrentPath(r.InfoHash))
			if err != nil {
				d.log.Warn().Err(err).Str("infohash", r.InfoHash).Msg("torrent skipped: its metainfo is unreadable")
				continue
			}
			e.meta = m
		}
		if d.byID[r.ID] != nil || r.ID <= 0 {
			r.ID = 0 // renumbered below
		}
		e.rec.ID = r.ID
		if e.rec.ID != 0 {
			d.byID[e.rec.ID] = e
		}
		d.byHash[r.InfoHash] = e
		d.nextID = max(d.nextID, r.ID+1)
	}
	for _, e := range d.sorted() {
		if e.rec.ID == 0 {
			e.rec.ID = d.nextID
			d.nextID++
			d.byID[e.rec.ID] = e
		}
	}
	d.finishMoves()
	return d, nil
}

// cleanTemp removes the temporary files interrupted writes (a SIGKILL, a
// power cut) left in the folders the daemon owns: the state folder and
// its torrents, at once (the lock keeps other daemons out), and the
// resume records and DHT state (.swarm) of every download folder in use,
// if over a minute old (a 'swarm get' may be writing beside it). Nothing
// else in a download folder is touched.
func (d *Daemon) cleanTemp(recs []*record) {
	removed := 0
	clean := func(dir string, n int, err error) {
		removed += n
		if err != nil {
			d.log.Warn().Err(err).Str("dir", dir).Msg("temporary files left by an interrupted write not removed")
		}
	}
	for _, dir := range []string{d.cfg.StateDir, d.store.torrents()} {
		n, err := atomicfile.Clean(dir, 0)
		clean(dir, n, err)
	}
	dirs := map[string]bool{d.cfg.StateDir: true, d.cfg.DownloadDir: true}
	for _, r := range recs {
		dirs[r.Dir] = true
	}
	delete(dirs, "") // not the working folder's
	for dir := range dirs {
		n, err := session.CleanState(dir)
		clean(dir, n, err)
	}
	if removed > 0 {
		d.log.Info().Int("files", removed).Msg("removed temporary files left by an interrupted write")
	}
}

// Addr is where the session accepts peers; "" before Start.
func (d *Daemon) Addr() string {
	if d.sess == nil {
		return ""
	}
	return d.sess.Addr().String()
}

// PeerPort is the port peers connect to; 0 before Start.
func (d *Daemon) PeerPort() int {
	if d.sess == nil {
		return 0
	}
	if a, ok := d.sess.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// ConfigDir is the state folder.
func (d *Daemon) ConfigDir() string { return d.cfg.StateDir }

// Start runs the session (and the DHT node) and every torrent not paused,
// under ctx. When ctx ends, everything stops; Wait returns once it has.
// Start is called once, before the torrents are changed (it opens the
// session that Add, Resume and the others start torrents in).
func (d *Daemon) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx != nil {
		return errors.New("daemon: Start called twice")
	}
	scfg := d.cfg.Session
	scfg.Logger = d.cfg.Logger
	scfg.UploadRate, scfg.DownloadRate = d.settings.rates()
	var dcfg *session.DHTConfig
	if d.cfg.DHT != nil {
		c := *d.cfg.DHT
		if c.StateDir == "" {
			c.StateDir = d.cfg.StateDir
		}
		dcfg = &c
	}
	ctx, cancel := context.WithCancel(ctx)
	node, err := session.StartNode(ctx, session.NodeConfig{Session: scfg, DHT: dcfg})
	if err != nil {
		cancel()
		return err
	}
	d.close = cancel
	d.node, d.sess = node, node.Session
	d.ctx, d.startedAt, d.runDone = ctx, time.Now(), make(chan struct{})
	// A torrent that had failed is tried again: the folder may be back
	// (a disk mounted late).
	for _, e := range d.sorted() {
		if !e.rec.Paused {
			e.ph = phaseQueued
		}
	}
	d.scheduleLocked()
	var loops sync.WaitGroup
	loops.Go(func() { d.tickLoop(ctx) })
	if d.cfg.WatchDir != "" {
		loops.Go(func() { d.watchLoop(ctx) })
	}
	go func() {
		defer close(d.runDone)
		<-ctx.Done()
		loops.Wait()
		if err := node.Stop(); err != nil { // every torrent stopped: resume records saved
			d.log.Error().Err(err).Msg("session ended")
		}
		d.mu.Lock()
		d.stopping = true
		d.mu.Unlock()
		d.wg.Wait()
		d.mu.Lock()
		for _, e := range d.byID {
			d.foldLocked(e)
		}
		d.writeAllLocked(d.sorted())
		d.mu.Unlock()
		d.unlock()
		d.log.Info().Msg("daemon stopped")
	}()
	d.log.Info().Str("peers", d.Addr()).Int("torrents", len(d.byID)).Bool("dht", node.DHT != nil).Msg("daemon started")
	return nil
}

// Wait blocks until the daemon has stopped after its ctx ended: every
// torrent stopped, announced so, and saved. Without Start it returns at
// once. Either way the state folder is free for another daemon then.
func (d *Daemon) Wait() {
	d.mu.Lock()
	done := d.runDone
	d.mu.Unlock()
	if done != nil {
		<-done
		return
	}
	d.unlock()
}

// Close stops the daemon as the end of Start's ctx does (RPC
// session-close): Done is closed at once, Wait returns once every torrent
// has stopped and been saved. Before Start it does nothing.
func (d *Daemon) Close() {
	d.mu.Lock()
	stop := d.close
	d.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// Done is closed when the daemon starts stopping: Start's ctx ended or
// Close was called. Before Start it is a channel never closed.
func (d *Daemon) Done() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil {
		return nil
	}
	return d.ctx.Done()
}

// Run is Start, then Wait once ctx ends.
func (d *Daemon) Run(ctx context.Context) error {
	if err := d.Start(ctx); err != nil {
		return err
	}
	d.Wait()
	return nil
}

// sorted returns the entries in queue order; d.mu is held (or not yet
// shared).
func (d *Daemon) sorted() []*entry {
	es := make([]*entry, 0, len(d.byHash))
	for _, e := range d.byHash {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b *entry) int {
		if a.rec.QueuePos != b.rec.QueuePos {
			return a.rec.QueuePos - b.rec.QueuePos
		}
		return a.rec.ID - b.rec.ID
	})
	return es
}

// saveLocked writes e's record with its live counters, durably, unless it
// is what was written last; errors are logged, the torrent runs on (the
// next save tries again).
func (d *Daemon) saveLocked(e *entry) { d.writeLocked(e, true) }

// writeLocked is saveLocked; with sync false the caller syncs once for
// many (store.syncAll), which saves a daemon of a thousand torrents a
// thousand fsyncs at shutdown. It reports whether it wrote.
func (d *Daemon) writeLocked(e *entry, sync bool) bool {
	r := e.rec
	if e.t != nil {
		st := e.t.Stats()
		r.Uploaded += st.Uploaded
		r.Downloaded += st.Downloaded
		r.Corrupt += st.Wasted
		r.Have, r.Left, r.Wanted = st.Have, st.Left, st.Wanted
	}
	b, err := encode(&r)
	if err == nil && bytes.Equal(b, e.saved) {
		return false
	}
	if err == nil {
		err = d.store.saveData(r.InfoHash, b, sync)
	}
	if err != nil {
		d.log.Error().Err(err).Str("infohash", r.InfoHash).Msg("save torrent state")
		return false
	}
	e.saved = b
	return true
}

// writeAllLocked saves every changed record and syncs once.
func (d *Daemon) writeAllLocked(es []*entry) {
	wrote := false
	for _, e := range es {
		if d.writeLocked(e, false) {
			wrote = true
		}
	}
	if wrote {
		if err := d.store.syncAll(); err != nil {
			d.log.Error().Err(err).Msg("sync the state folder")
		}
	}
}

// foldLocked adds a stopped torrent's counters to its record and forgets
// the torrent.
func (d *Daemon) foldLocked(e *entry) {
	if e.t == nil {
		return
	}
	st := e.t.Stats()
	e.rec.Uploaded += st.Uploaded
	e.rec.Downloaded += st.Downloaded
	e.rec.Corrupt += st.Wasted
	e.rec.Have, e.rec.Left, e.rec.Wanted = st.Have, st.Left, st.Wanted
	e.last, e.hasLast = st, true
	e.last.Uploaded, e.last.Downloaded = 0, 0
	e.t = nil
	e.started = time.Time{}
}

// Settings are the session-wide settings the RPC reads and changes; rates
// are bytes per second.
type Settings struct {
	DownloadDir             string  `json:"download_dir"`
	SpeedLimitDown          int64   `json:"speed_limit_down"`
	SpeedLimitDownEnabled   bool    `json:"speed_limit_down_enabled"`
	SpeedLimitUp            int64   `json:"speed_limit_up"`
	SpeedLimitUpEnabled     bool    `json:"speed_limit_up_enabled"`
	AltSpeedDown            int64   `json:"alt_speed_down"`
	AltSpeedUp              int64   `json:"alt_speed_up"`
	AltSpeedEnabled         bool    `json:"alt_speed_enabled"`
	DownloadQueueSize       int     `json:"download_queue_size"`
	DownloadQueueEnabled    bool    `json:"download_queue_enabled"`
	SeedQueueSize           int     `json:"seed_queue_size"`
	SeedQueueEnabled        bool    `json:"seed_queue_enabled"`
	SeedRatioLimit          float64 `json:"seed_ratio_limit"`
	SeedRatioLimited        bool    `json:"seed_ratio_limited"`
	IdleSeedingLimit        int     `json:"idle_seeding_limit"` // minutes
	IdleSeedingLimitEnabled bool    `json:"idle_seeding_limit_enabled"`
	StartAddedTorrents      bool    `json:"start_added_torrents"`
	// DHT says whether the DHT runs, DHTNodes how many nodes its routing
	// table holds (set by Settings; not settings).
	DHT      bool `json:"-"`
	DHTNodes int  `json:"-"`
}

func defaultSettings(cfg Config) Settings {
	return Settings{
		DownloadDir:           cfg.DownloadDir,
		SpeedLimitDown:        cfg.Session.DownloadRate,
		SpeedLimitDownEnabled: cfg.Session.DownloadRate > 0,
		SpeedLimitUp:          cfg.Session.UploadRate,
		SpeedLimitUpEnabled:   cfg.Session.UploadRate > 0,
		AltSpeedDown:          50000, AltSpeedUp: 50000,
		DownloadQueueSize: orDefault(cfg.MaxActiveDownloads, 5), DownloadQueueEnabled: cfg.MaxActiveDownloads > 0,
		SeedQueueSize: orDefault(cfg.MaxActiveSeeds, 10), SeedQueueEnabled: cfg.MaxActiveSeeds > 0,
		SeedRatioLimit: 2, IdleSeedingLimit: 30,
		StartAddedTorrents: true,
	}
}

// orDefault is n, or def when n is 0: the size Transmission shows for a
// queue that is off.
func orDefault(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// rates are the session's caps the settings give; 0 means none.
func (s Settings) rates() (up, down int64) {
	switch {
	case s.AltSpeedEnabled:
		return s.AltSpeedUp, s.AltSpeedDown
	default:
		if s.SpeedLimitUpEnabled {
			up = s.SpeedLimitUp
		}
		if s.SpeedLimitDownEnabled {
			down = s.SpeedLimitDown
		}
		return up, down
	}
}

func (d *Daemon) settingsPath() string { return filepath.Join(d.cfg.StateDir, "settings.json") }

func (d *Daemon) loadSettings() error {
	b, err := os.ReadFile(d.settingsPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = json.Unmarshal(b, &d.settings)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", d.settingsPath(), err)
	}
	return nil
}

// Settings returns the session-wide settings.
func (d *Daemon) Settings() Settings {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.settings
	s.DHT = d.node != nil && d.node.DHT != nil
	if s.DHT {
		s.DHTNodes = d.node.DHT.Stats().Nodes
	}
	return s
}

// SetSettings applies change to the settings, saves them and applies the
// new rates and queue at once.
func (d *Daemon) SetSettings(change func(*Settings)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.settings
	change(&s)
	if s.SpeedLimitDown < 0 || s.SpeedLimitUp < 0 || s.AltSpeedDown < 0 || s.AltSpeedUp < 0 ||
		s.DownloadQueueSize < 0 || s.SeedQueueSize < 0 || s.SeedRatioLimit < 0 || s.IdleSeedingLimit < 0 {
		return errors.New("negative limit")
	}
	if s.DownloadDir == "" || !filepath.IsAbs(s.DownloadDir) {
		return fmt.Errorf("download-dir %q: want an absolute path", s.DownloadDir)
	}
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(d.settingsPath(), b, 0o600, true); err != nil {
		return err
	}
	d.settings = s
	if d.sess != nil {
		up, down := s.rates()
		if err := d.sess.SetRates(up, down); err != nil {
			return err
		}
	}
	if d.ctx != nil {
		d.scheduleLocked()
	}
	return nil
}
