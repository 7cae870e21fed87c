package private

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/server"
)

// Defaults of Config.
const (
	DefaultRate          = 5
	DefaultBurst         = 300
	DefaultFlushInterval = time.Second
	DefaultFoldInterval  = time.Minute
	DefaultRestoreGrace  = time.Hour
)

// Config configures a Tracker.
type Config struct {
	// DB is the database; required. The Tracker does not close it.
	DB *DB
	// Logger receives lifecycle lines, refusals at Debug and database
	// errors; nil means no logging. Passkeys appear masked.
	Logger *zerolog.Logger
	// Interval and MinInterval must be the server's (server.Config): a
	// session silent for two intervals is closed, and an announce without
	// an event sooner than MinInterval after the previous one is refused.
	// 0 means server.DefaultInterval and Interval/2, as in the server.
	Interval, MinInterval time.Duration
	// Rate is how many requests (announces and scrapes) a second one
	// passkey may make in the long run, and Burst how many at once; 0 means
	// DefaultRate (5) and DefaultBurst (300: a client starting with
	// hundreds of torrents announces them all at once).
	Rate  float64
	Burst int
	// FlushInterval is how often Run writes the totals; 0 means
	// DefaultFlushInterval (1 s). A crash loses at most this much of the
	// accounting (see Run).
	FlushInterval time.Duration
	// FoldInterval is how often Run moves the journal into the
	// per-user-per-torrent totals and a snapshot of the sessions; 0 means
	// DefaultFoldInterval (1 minute). Longer folds merge more announces of
	// one session into one write, but the journal grows meanwhile.
	FoldInterval time.Duration
	// RestoreGrace is how long a session loaded from the database at start
	// is kept before its client announces again; 0 means
	// DefaultRestoreGrace (1 hour), and two intervals apply if longer. A
	// client whose announce failed while the tracker was down retries on
	// its own back-off, not at its interval (libtorrent waits about 15 s
	// after one failure, up to an hour after many); its session must still
	// be there then, since the counters in it are what its next announce is
	// counted from.
	RestoreGrace time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// The rules of a private site (cheat.go, rules.go, hnr.go). Client
	// allow lists, bans and torrent kinds are in the database.

	// MaxRate is the fastest upload credited, in bytes a second over the
	// time since a session's last announce, and over a member's clients on
	// one torrent together (a burst of two intervals' worth allowed); 0
	// means DefaultMaxRate (1 GiB/s), negative means no limit.
	MaxRate int64
	// MaxIPsPerTorrent is how many addresses one user may announce one
	// torrent from at once (within two intervals); 0 means no limit.
	MaxIPsPerTorrent int
	// HnRWindow is how long after a snatch its seeding time counts for
	// the hit-and-run list (DB.HitAndRuns); 0 means DefaultHnRWindow
	// (14 days).
	HnRWindow time.Duration
	// MinRatio, when above 0, refuses leeching (announces with left > 0)
	// to a user whose credited ratio is below it once they have
	// downloaded more than MinRatioAfter bytes.
	MinRatio      float64
	MinRatioAfter int64
}

func (c Config) withDefaults() (Config, error) {
	if c.Interval == 0 {
		c.Interval = server.DefaultInterval
	}
	if c.MinInterval == 0 {
		c.MinInterval = c.Interval / 2
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Burst == 0 {
		c.Burst = DefaultBurst
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.FoldInterval == 0 {
		c.FoldInterval = DefaultFoldInterval
	}
	if c.RestoreGrace == 0 {
		c.RestoreGrace = DefaultRestoreGrace
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxRate == 0 {
		c.MaxRate = DefaultMaxRate
	}
	if c.HnRWindow == 0 {
		c.HnRWindow = DefaultHnRWindow
	}
	switch {
	case c.MaxIPsPerTorrent < 0 || c.HnRWindow < 0 || c.MinRatio < 0 || c.MinRatioAfter < 0:
		return c, fmt.Errorf("max IPs per torrent %d, hit-and-run window %v, min ratio %v after %d bytes: want 0 or more",
			c.MaxIPsPerTorrent, c.HnRWindow, c.MinRatio, c.MinRatioAfter)
	case c.DB == nil:
		return c, errors.New("no database")
	case c.Interval < 0 || c.MinInterval < 0 || c.MinInterval > c.Interval:
		return c, fmt.Errorf("min interval %v is not between 0 and interval %v", c.MinInterval, c.Interval)
	case c.Rate < 0 || c.Burst < 1:
		return c, fmt.Errorf("rate %v and burst %d: want a positive rate and a burst of at least 1", c.Rate, c.Burst)
	case c.FlushInterval < 0 || c.FoldInterval < 0 || c.RestoreGrace < 0:
		return c, errors.New("negative flush interval, fold interval or restore grace")
	}
	return c, nil
}

// Tracker is the private mode: a server.Hook over a DB. Create it with New,
// give it to server.Config.Hook with its Collectors in
// server.Config.Metrics, and run Run beside the server.
type Tracker struct {
	cfg     Config
	log     zerolog.Logger
	policy  policy
	snap    atomic.Pointer[snapshot]
	shards  shards
	peers   peerIndex // the swarms with their users, for the admin API
	metrics *metrics

	rules    atomic.Pointer[ruleSet] // replaced with snap
	activity activity
	cheats   cheatLog
	reloads  chan chan error // Reload's requests, served by Run

	// Owned by Run (and New before it).
	conn        *sql.Conn // one connection, so the data version counts others' commits only
	dataVersion int64
	retry       *batch                // a batch whose write failed, written with the next
	unfolded    map[userTorrent]delta // journaled since the last fold; seeding time in seconds
}

// snapshot is the users and torrents the announce path checks against,
// replaced whole when the database changes.
type snapshot struct {
	users    map[Passkey]*user
	torrents map[metainfo.Hash]struct{}
	enabled  int // users not disabled
}

type user struct {
	id       int64
	disabled bool
	canLeech bool          // Class.CanLeech
	limit    *rate.Limiter // survives reloads: it belongs to the user id
}

// New loads the users, the torrents and the open sessions from cfg.DB.
func New(ctx context.Context, cfg Config) (*Tracker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("new private tracker: %w", err)
	}
	t := &Tracker{
		reloads: make(chan chan error),
		cfg:     cfg,
		log:     zerolog.Nop(),
		policy: policy{
			minInterval: int64(cfg.MinInterval),
			maxGap:      int64(2 * cfg.Interval),
		},
	}
	if cfg.Logger != nil {
		t.log = *cfg.Logger
	}
	t.shards.init()
	t.unfolded = map[userTorrent]delta{}
	t.metrics = newMetrics(t)
	if err := t.connect(ctx); err != nil {
		return nil, fmt.Errorf("new private tracker: %w", err)
	}
	if err := t.reload(ctx); err != nil {
		t.conn.Close()
		return nil, fmt.Errorf("new private tracker: %w", err)
	}
	if err := t.loadState(ctx); err != nil {
		t.conn.Close()
		return nil, fmt.Errorf("new private tracker: %w", err)
	}
	t.noteRestoredLeechers()
	s := t.snap.Load()
	t.log.Info().Int("users", s.enabled).Int("torrents", len(s.torrents)).Int("sessions", t.sessionCount()).
		Msg("private tracker loaded")
	return t, nil
}

// Failure reasons sent to clients. None says anything about another user.
var (
	errNoPasskey    = server.ClientError("this is a private tracker: announce to /PASSKEY/announce or /announce?passkey=PASSKEY, with your passkey")
	errBadPasskey   = server.ClientError("unknown passkey")
	errDisabled     = server.ClientError("account disabled")
	errUnregistered = server.ClientError("torrent not registered with this tracker")
	errRate         = server.ClientError("too many requests with this passkey, slow down")
	errMinInterval  = server.ClientError("announced sooner than the min interval")
	errBanned       = server.ClientError("your address is banned from this tracker")
	errClient       = server.ClientError("your client is not allowed on this tracker; see the site's list of allowed clients")
	errRatio        = server.ClientError("your ratio is too low to download")
	errTooManyIPs   = server.ClientError("too many addresses announce this torrent with your passkey at once")
	errNoLeech      = server.ClientError("your account may not download: seeding only")
)

// BeforeAnnounce implements server.Hook: it refuses what private mode does
// not allow and accounts the rest.
func (t *Tracker) BeforeAnnounce(_ context.Context, req *server.AnnounceRequest) error {
	now := t.cfg.Now()
	ip, rs := req.Addr.Addr(), t.rules.Load()
	if rs.banned(ip) {
		return t.refuseRule(reasonBanned, errBanned, req.Passkey, ip)
	}
	u, err := t.authorize(req.Passkey, now)
	if err != nil {
		return err
	}
	if !rs.clientAllowed(&req.PeerID) {
		return t.refuseRule(reasonClient, errClient, req.Passkey, ip)
	}
	if _, ok := t.snap.Load().torrents[req.InfoHash]; !ok {
		return t.refuse(reasonUnregistered, req.Passkey)
	}
	if req.Left > 0 && !u.canLeech {
		return t.refuseRule(reasonNoLeech, errNoLeech, req.Passkey, ip)
	}
	if err := t.checkRatio(rs, u.id, req); err != nil {
		return t.refuseRule(reasonRatio, err, req.Passkey, ip)
	}
	k := sessionKey{user: u.id, hash: req.InfoHash, peer: req.PeerID}
	if t.cfg.MaxIPsPerTorrent > 0 && req.Event != tracker.EventStopped &&
		!t.activity.admit(k.hash, peerKey{k.user, k.peer}, ip, now.UnixNano(), int64(2*t.cfg.Interval), t.cfg.MaxIPsPerTorrent) {
		return t.refuseRule(reasonTooManyIPs, errTooManyIPs, req.Passkey, ip)
	}
	a := announce{event: req.Event, up: req.Uploaded, down: req.Downloaded, left: req.Left}
	j := judge{t: t, rules: rs, key: k, a: a, addr: ip, now: now.UnixNano()}
	if a.up < 0 || a.down < 0 || a.left < 0 {
		// The server's parsers refuse these; a caller of the Hook that does
		// not gets an answer and no accounting.
		j.record(CheatNegative, min(a.up, a.down, a.left))
		t.recordCheats(j.events[:j.n], req.Passkey)
		return nil
	}
	d, ok := t.shards.of(&k).applyJudged(k, a, now.UnixNano(), t.policy, &j)
	if j.n > 0 {
		t.recordCheats(j.events[:j.n], req.Passkey)
	}
	if e := t.log.Debug(); e.Enabled() {
		e.Str("passkey", tracker.MaskSecret(req.Passkey)).Object("request", req.AnnounceRequest).
			Int64("counted_up", d.up).Int64("counted_down", d.down).Bool("accepted", ok).
			Msg("private tracker announce")
	}
	if !ok {
		return t.refuse(reasonMinInterval, req.Passkey)
	}
	t.peers.record(u.id, &req.AnnounceRequest, req.Addr, now.UnixNano())
	t.metrics.uploaded.Add(float64(d.up))
	t.metrics.downloaded.Add(float64(d.down))
	if rs.totals != nil {
		if ut := rs.totals[u.id]; ut != nil {
			ut.up.Add(d.up)
			ut.down.Add(d.down)
		}
	}
	return nil
}

// BeforeScrape implements server.Hook: a member may scrape registered
// torrents; others are left out of the reply.
func (t *Tracker) BeforeScrape(_ context.Context, req *server.ScrapeRequest) error {
	if t.rules.Load().banned(req.Addr) {
		return t.refuseRule(reasonBanned, errBanned, req.Passkey, req.Addr)
	}
	if _, err := t.authorize(req.Passkey, t.cfg.Now()); err != nil {
		return err
	}
	torrents := t.snap.Load().torrents
	kept := req.InfoHashes[:0]
	for _, h := range req.InfoHashes {
		if _, ok := torrents[h]; ok {
			kept = append(kept, h)
		}
	}
	if len(kept) == 0 {
		return t.refuse(reasonUnregistered, req.Passkey)
	}
	req.InfoHashes = kept
	return nil
}

// authorize checks the passkey and takes one request from its rate limit.
func (t *Tracker) authorize(raw string, now time.Time) (*user, error) {
	if raw == "" {
		return nil, t.refuse(reasonNoPasskey, raw)
	}
	p, err := ParsePasskey(raw)
	if err != nil {
		return nil, t.refuse(reasonBadPasskey, raw)
	}
	u := t.snap.Load().users[p]
	switch {
	case u == nil:
		return nil, t.refuse(reasonBadPasskey, raw)
	case u.disabled:
		return nil, t.refuse(reasonDisabled, raw)
	case !u.limit.AllowN(now, 1):
		return nil, t.refuse(reasonRate, raw)
	}
	return u, nil
}

// refuse counts a refusal and returns its failure reason.
func (t *Tracker) refuse(r reason, passkey string) error {
	t.metrics.refusals[r].Inc()
	if e := t.log.Debug(); e.Enabled() {
		e.Str("passkey", tracker.MaskSecret(passkey)).Str("reason", string(reasonErrors[r])).Msg("private tracker refused a request")
	}
	return reasonErrors[r]
}

type reason uint8

const (
	reasonNoPasskey reason = iota
	reasonBadPasskey
	reasonDisabled
	reasonUnregistered
	reasonRate
	reasonMinInterval
	reasonBanned
	reasonClient
	reasonRatio
	reasonTooManyIPs
	reasonNoLeech
	nReasons
)

var (
	reasonErrors = [nReasons]server.ClientError{errNoPasskey, errBadPasskey, errDisabled, errUnregistered, errRate, errMinInterval,
		errBanned, errClient, errRatio, errTooManyIPs, errNoLeech}
	reasonLabels = [nReasons]string{"no_passkey", "unknown_passkey", "disabled", "unregistered_torrent", "rate_limited", "min_interval",
		"banned", "client_not_allowed", "ratio", "too_many_ips", "may_not_leech"}
)

// reload replaces the snapshot with the users and torrents in the database.
// Rate limiters carry over by user id.
func (t *Tracker) reload(ctx context.Context) error {
	if err := t.conn.QueryRowContext(ctx, t.cfg.DB.dialect.dataVersion).Scan(&t.dataVersion); err != nil {
		return fmt.Errorf("read data version: %w", err)
	}
	old := t.snap.Load()
	limits := map[int64]*rate.Limiter{}
	if old != nil {
		for _, u := range old.users {
			limits[u.id] = u.limit
		}
	}
	s := &snapshot{users: map[Passkey]*user{}, torrents: map[metainfo.Hash]struct{}{}}
	rows, err := t.conn.QueryContext(ctx, "SELECT id, passkey, disabled, can_leech FROM users")
	if err != nil {
		return fmt.Errorf("load users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			u  user
			pk string
		)
		if err := rows.Scan(&u.id, &pk, &u.disabled, &u.canLeech); err != nil {
			return fmt.Errorf("load users: %w", err)
		}
		p, err := ParsePasskey(pk)
		if err != nil {
			return fmt.Errorf("load user %d: stored %w", u.id, err)
		}
		if u.limit = limits[u.id]; u.limit == nil {
			u.limit = rate.NewLimiter(rate.Limit(t.cfg.Rate), t.cfg.Burst)
		}
		if !u.disabled {
			s.enabled++
		}
		s.users[p] = &u
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load users: %w", err)
	}
	rows, err = t.conn.QueryContext(ctx, "SELECT info_hash FROM torrents")
	if err != nil {
		return fmt.Errorf("load torrents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return fmt.Errorf("load torrents: %w", err)
		}
		ih, err := metainfo.ParseHash(h)
		if err != nil {
			return fmt.Errorf("load torrents: stored %w", err)
		}
		s.torrents[ih] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load torrents: %w", err)
	}
	rs, err := t.loadRules(ctx)
	if err != nil {
		return err
	}
	t.snap.Store(s)
	t.rules.Store(rs)
	return nil
}

// loadState reads the open sessions, as the session snapshot and the
// journal after it leave them, and the journal's per-torrent deltas, which
// the next fold writes out. The sessions' clocks start now: a tracker that
// was down for a while neither expires them nor credits seeding time for
// its own absence.
func (t *Tracker) loadState(ctx context.Context) error {
	now := t.cfg.Now().UnixNano()
	apply := func(ops []sessionOp) {
		for _, op := range ops {
			sh := t.shards.of(&op.key)
			if op.gone {
				delete(sh.sessions, op.key)
				continue
			}
			op.s.seen, op.s.restored = now, true
			sh.sessions[op.key] = op.s
		}
	}
	rows, err := t.conn.QueryContext(ctx, "SELECT data FROM session_snapshot ORDER BY chunk")
	if err != nil {
		return fmt.Errorf("load sessions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return fmt.Errorf("load sessions: %w", err)
		}
		ops, err := decodeSnapshot(data)
		if err != nil {
			return fmt.Errorf("load sessions: %w", err)
		}
		apply(ops)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load sessions: %w", err)
	}
	rows, err = t.conn.QueryContext(ctx, "SELECT data FROM journal ORDER BY seq")
	if err != nil {
		return fmt.Errorf("load journal: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return fmt.Errorf("load journal: %w", err)
		}
		deltas, ops, err := decodeJournal(data)
		if err != nil {
			return fmt.Errorf("load journal: %w", err)
		}
		apply(ops)
		for _, sd := range deltas {
			e := t.unfolded[sd.ut]
			e.add(sd.d)
			t.unfolded[sd.ut] = e
		}
	}
	return rows.Err()
}

func (t *Tracker) sessionCount() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += len(sh.sessions)
		sh.mu.Unlock()
	}
	return n
}
