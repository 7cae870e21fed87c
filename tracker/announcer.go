package tracker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of AnnouncerConfig.
const (
	DefaultInterval       = 30 * time.Minute
	DefaultMinBackoff     = time.Minute
	DefaultMaxBackoff     = 30 * time.Minute
	DefaultRefusedBackoff = 5 * time.Second
	DefaultAttemptTimeout = 30 * time.Second
)

// ErrTooSoon is returned by Announce for a regular announce (EventNone) asked
// for before the tracker's min interval has passed.
var ErrTooSoon = errors.New("announce sooner than the tracker's min interval")

// Transport sends one announce to one tracker URL. *Client implements it.
type Transport interface {
	Announce(ctx context.Context, announceURL string, req AnnounceRequest) (AnnounceResponse, error)
}

// AnnouncerConfig configures an Announcer.
type AnnouncerConfig struct {
	// Tiers is the announce list (BEP 12): tiers in order of preference, each
	// a list of announce URLs. A torrent with only "announce" is one tier of
	// one URL. Empty tiers are dropped; at least one URL is required. The
	// Announcer keeps its own copy.
	Tiers [][]string
	// Transport sends the announces; nil means a zero *Client.
	Transport Transport
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand shuffles each tier once, at NewAnnouncer; nil means a randomly
	// seeded source. The Announcer does not keep it.
	Rand *rand.Rand
	// DefaultInterval is used when a reply gives no interval; 0 means
	// DefaultInterval (30 minutes).
	DefaultInterval time.Duration
	// MinBackoff is the wait after the first round in which every tracker
	// failed; each further failed round doubles it up to MaxBackoff. 0 means
	// DefaultMinBackoff (1 minute).
	MinBackoff time.Duration
	// MaxBackoff caps the wait after failed rounds; 0 means
	// DefaultMaxBackoff (30 minutes).
	MaxBackoff time.Duration
	// RefusedBackoff takes MinBackoff's place after a round in which a
	// tracker answered with a failure reason (FailureError) and none
	// accepted: the tracker is up, and what it refused (a member's rule,
	// a passkey, a torrent not registered yet) may be put right at any
	// moment. It doubles per failed round too, up to the interval of the
	// last accepted reply, or MaxBackoff before one. 0 means
	// DefaultRefusedBackoff (5 seconds).
	RefusedBackoff time.Duration
	// AttemptTimeout bounds one announce to one tracker; 0 means
	// DefaultAttemptTimeout (30 seconds).
	AttemptTimeout time.Duration
	// Logger receives a Debug line per failed tracker; nil means no logging.
	Logger *zerolog.Logger
}

// Announcer sends a torrent's announces to its trackers by the rules of
// BEP 12: trackers are shuffled within their tier once; each announce tries
// the tiers in order and the trackers of a tier in order, and the first one
// that answers moves to the front of its tier. It also keeps the schedule:
// NextAnnounce says when the next regular announce is due, after the
// tracker's interval on success or after an exponential backoff when every
// tracker failed.
//
// Announce calls are serialized; NextAnnounce and Tiers may be called from
// any goroutine. The caller decides when to announce and with which event:
// EventStarted first, EventCompleted when the download is done, EventStopped
// on a clean shutdown.
type Announcer struct {
	cfg AnnouncerConfig
	log zerolog.Logger
	// turn holds a token while an Announce runs, so announces never overlap
	// and a waiting caller can give up with its context.
	turn chan struct{}

	mu       sync.Mutex // guards the fields below; never held across I/O
	tiers    [][]*trackerState
	next     time.Time // when the next regular announce is due; zero means now
	earliest time.Time // no regular announce before this (the tracker's min interval)
	failures int       // failed rounds in a row
	// interval is the last accepted reply's; 0 before one.
	interval time.Duration
}

type trackerState struct {
	url       string
	trackerID string // the "tracker id" of its last reply
}

// NewAnnouncer checks cfg, fills in its defaults and shuffles the tiers.
func NewAnnouncer(cfg AnnouncerConfig) (*Announcer, error) {
	if cfg.Transport == nil {
		cfg.Transport = &Client{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DefaultInterval == 0 {
		cfg.DefaultInterval = DefaultInterval
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.AttemptTimeout == 0 {
		cfg.AttemptTimeout = DefaultAttemptTimeout
	}
	if cfg.RefusedBackoff == 0 {
		cfg.RefusedBackoff = DefaultRefusedBackoff
	}
	switch {
	case cfg.DefaultInterval < 0 || cfg.MinBackoff < 0 || cfg.MaxBackoff < 0 || cfg.AttemptTimeout < 0 || cfg.RefusedBackoff < 0:
		return nil, errors.New("new announcer: negative duration in config")
	case cfg.MinBackoff > cfg.MaxBackoff:
		return nil, fmt.Errorf("new announcer: min backoff %v exceeds max backoff %v", cfg.MinBackoff, cfg.MaxBackoff)
	}
	rng := cfg.Rand
	if rng == nil {
		rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	cfg.Rand = nil
	a := &Announcer{
		cfg:  cfg,
		log:  zerolog.Nop(),
		turn: make(chan struct{}, 1),
	}
	if cfg.Logger != nil {
		a.log = *cfg.Logger
	}
	for _, tier := range cfg.Tiers {
		var ts []*trackerState
		for _, u := range tier {
			if u != "" {
				ts = append(ts, &trackerState{url: u})
			}
		}
		if len(ts) == 0 {
			continue
		}
		rng.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
		a.tiers = append(a.tiers, ts)
	}
	if len(a.tiers) == 0 {
		return nil, errors.New("new announcer: no tracker URL")
	}
	return a, nil
}

// NextAnnounce returns when the next regular announce is due: the zero time
// before the first announce, then the last reply's interval after it, or the
// backoff after a round in which every tracker failed.
func (a *Announcer) NextAnnounce() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.next
}

// Tiers returns the trackers in the order the next announce will try them.
func (a *Announcer) Tiers() [][]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([][]string, len(a.tiers))
	for i, tier := range a.tiers {
		for _, t := range tier {
			out[i] = append(out[i], t.url)
		}
	}
	return out
}

// Announce sends req (its TrackerID is filled in per tracker) to the first
// tracker that answers, trying them in BEP 12 order, and returns that reply.
// It returns ErrTooSoon for an EventNone announce before the last reply's min
// interval; events are always sent. When every tracker fails it returns their
// errors joined and backs off. A cancelled ctx stops the round without
// counting it as a failure.
func (a *Announcer) Announce(ctx context.Context, req AnnounceRequest) (AnnounceResponse, error) {
	select {
	case a.turn <- struct{}{}:
	case <-ctx.Done():
		return AnnounceResponse{}, fmt.Errorf("announce: %w", context.Cause(ctx))
	}
	defer func() { <-a.turn }()

	a.mu.Lock()
	tooSoon := req.Event == EventNone && a.cfg.Now().Before(a.earliest)
	a.mu.Unlock()
	if tooSoon {
		return AnnounceResponse{}, ErrTooSoon
	}

	var errs []error
	refused := false // a tracker answered with a failure reason
	for ti := 0; ; ti++ {
		tier, ok := a.tier(ti)
		if !ok {
			break
		}
		for _, t := range tier {
			a.mu.Lock()
			req.TrackerID = t.trackerID
			a.mu.Unlock()
			resp, err := a.attempt(ctx, t.url, req)
			if err == nil {
				a.succeeded(ti, t, resp)
				return resp, nil
			}
			if ctx.Err() != nil {
				return AnnounceResponse{}, fmt.Errorf("announce: %w", context.Cause(ctx))
			}
			a.log.Debug().Err(err).Str("tracker_url", MaskURL(t.url)).Stringer("event", req.Event).Msg("announce failed")
			errs = append(errs, err)
			var fe *FailureError
			refused = refused || errors.As(err, &fe)
		}
	}
	backoff := a.failed(refused)
	if len(errs) == 1 {
		return AnnounceResponse{}, fmt.Errorf("announce: the tracker failed, retry in %v: %w", backoff, errs[0])
	}
	return AnnounceResponse{}, fmt.Errorf("announce: all %d trackers failed, retry in %v: %w", len(errs), backoff, errors.Join(errs...))
}

// tier returns a copy of tier i, so that the round does not race with the
// reordering a success makes.
func (a *Announcer) tier(i int) ([]*trackerState, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i >= len(a.tiers) {
		return nil, false
	}
	return append([]*trackerState(nil), a.tiers[i]...), true
}

func (a *Announcer) attempt(ctx context.Context, url string, req AnnounceRequest) (AnnounceResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.AttemptTimeout)
	defer cancel()
	return a.cfg.Transport.Announce(ctx, url, req)
}

// succeeded moves t to the front of tier ti (BEP 12) and schedules the next
// announce from the reply.
func (a *Announcer) succeeded(ti int, t *trackerState, resp AnnounceResponse) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if resp.TrackerID != "" {
		t.trackerID = resp.TrackerID
	}
	tier := a.tiers[ti]
	for i, x := range tier {
		if x == t {
			copy(tier[1:i+1], tier[:i])
			tier[0] = t
			break
		}
	}
	interval := resp.Interval
	if interval == 0 {
		interval = a.cfg.DefaultInterval
	}
	interval = max(interval, resp.MinInterval)
	now := a.cfg.Now()
	a.failures = 0
	a.interval = interval
	a.next = now.Add(interval)
	a.earliest = now.Add(resp.MinInterval)
}

// failed counts a failed round and schedules the retry: MinBackoff
// (RefusedBackoff if a tracker refused) doubled per earlier failed round in
// a row, capped at MaxBackoff (after a refusal, at the last accepted
// interval if shorter). It returns the wait.
func (a *Announcer) failed(refused bool) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failures++
	backoff, ceiling := a.cfg.MinBackoff, a.cfg.MaxBackoff
	if refused {
		backoff = a.cfg.RefusedBackoff
		if a.interval > 0 {
			ceiling = min(ceiling, a.interval)
		}
	}
	for i := 1; i < a.failures && backoff < ceiling; i++ {
		backoff *= 2
	}
	backoff = min(backoff, ceiling)
	a.next = a.cfg.Now().Add(backoff)
	return backoff
}
