package dhtlab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"swarm/dht"
	"swarm/internal/chart"
)

// Config is one experiment.
type Config struct {
	// Sizes are the network sizes N to measure, each in a fresh network.
	Sizes []int
	// Lookups is the number of random-key lookups per size; 0 means 300.
	Lookups int
	// Churn is the fraction of the nodes replaced (an abrupt leave and a
	// join) during a second set of lookups; 0 means 0.2, negative means no
	// churn run.
	Churn float64
	// Parallel is how many lookups and joins run at once; 0 means 8.
	Parallel int
	// QueryTimeout is the nodes' query timeout; 0 means 500 ms (loopback
	// answers in well under a millisecond, even on a loaded machine).
	QueryTimeout time.Duration
	// Seed makes the choice of keys and origins repeatable (node ids stay
	// random); 0 means a random seed.
	Seed uint64
	// Logger receives the nodes' logs; nil means none.
	Logger *zerolog.Logger
	// Progress, if set, gets a line as each phase starts.
	Progress io.Writer
}

// Result is the measurement for one network size.
type Result struct {
	N       int     `json:"n"`
	Log2N   float64 `json:"log2_n"`
	Lookups int     `json:"lookups"`

	MeanHops     float64 `json:"mean_hops"`
	P99Hops      float64 `json:"p99_hops"`
	MeanMessages float64 `json:"mean_messages"`
	P99Messages  float64 `json:"p99_messages"`
	// FoundClosest is the share of lookups whose nearest answer was the
	// node truly closest to the key among the live nodes.
	FoundClosest float64 `json:"found_closest"`

	Churn              float64 `json:"churn"` // fraction of nodes replaced
	ChurnLookups       int     `json:"churn_lookups"`
	ChurnFoundClosest  float64 `json:"churn_found_closest"`
	ChurnMeanHops      float64 `json:"churn_mean_hops"`
	ChurnMeanMessages  float64 `json:"churn_mean_messages"`
	ChurnFailedLookups int     `json:"churn_failed_lookups"` // returned an error

	// Timeouts and Limited sum, over the nodes live after the steady
	// lookups, the queries that went unanswered and those a node left
	// unanswered because of its per-source reply limit.
	Timeouts uint64 `json:"timeouts"`
	Limited  uint64 `json:"limited"`

	JoinSeconds   float64 `json:"join_seconds"`   // wall time to build the network
	LookupSeconds float64 `json:"lookup_seconds"` // wall time of the steady lookups
}

func (c *Config) setDefaults() error {
	if len(c.Sizes) == 0 {
		return errors.New("dhtlab: no network sizes")
	}
	for _, n := range c.Sizes {
		if n < 2 || n > 1<<14 {
			return fmt.Errorf("dhtlab: network size %d: want 2 to 16384 nodes", n)
		}
	}
	if c.Lookups < 0 || c.Parallel < 0 || c.QueryTimeout < 0 || c.Churn >= 1 {
		return errors.New("dhtlab: negative lookups, parallelism or timeout, or churn of 1 or more")
	}
	if c.Lookups == 0 {
		c.Lookups = 300
	}
	if c.Churn == 0 {
		c.Churn = 0.2
	}
	if c.Parallel == 0 {
		c.Parallel = 8
	}
	if c.QueryTimeout == 0 {
		c.QueryTimeout = 500 * time.Millisecond
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
	return nil
}

// Run measures every size in turn; report, if not nil, gets each Result as
// soon as it is ready.
func Run(ctx context.Context, cfg Config, report func(Result)) ([]Result, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	var out []Result
	for _, n := range cfg.Sizes {
		r, err := measure(ctx, cfg, rng, n)
		if err != nil {
			return out, fmt.Errorf("dhtlab: N = %d: %w", n, err)
		}
		out = append(out, r)
		if report != nil {
			report(r)
		}
	}
	return out, nil
}

// lab is one network of nodes under test.
type lab struct {
	cfg Config
	rng *rand.Rand // used from the driving goroutine only
	wg  sync.WaitGroup

	mu   sync.Mutex // guards live
	live []*member
}

type member struct {
	node *dht.Node
	stop context.CancelFunc
}

func (l *lab) progress(format string, args ...any) {
	if l.cfg.Progress != nil {
		fmt.Fprintf(l.cfg.Progress, format+"\n", args...)
	}
}

// start runs a new node; it joins nothing yet.
func (l *lab) start(ctx context.Context) (*member, error) {
	log := zerolog.Nop()
	if l.cfg.Logger != nil {
		log = *l.cfg.Logger
	}
	n, err := dht.New(dht.Config{Addr: "127.0.0.1:0", QueryTimeout: l.cfg.QueryTimeout, Logger: &log})
	if err != nil {
		return nil, err
	}
	nctx, stop := context.WithCancel(ctx)
	l.wg.Go(func() { n.Run(nctx) })
	return &member{node: n, stop: stop}, nil
}

// joinTries is how many random live nodes a newcomer tries to join
// through: on a loaded machine an answer can come after the timeout, or the
// chosen node can have just left.
const joinTries = 3

// join starts count nodes, Parallel at a time, each joining through a
// random node that had joined before; they become live when joined.
func (l *lab) join(ctx context.Context, count int) error {
	g := make(chan struct{}, l.cfg.Parallel)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range count {
		if ctx.Err() != nil {
			break
		}
		m, err := l.start(ctx)
		if err != nil {
			return err
		}
		l.mu.Lock()
		if len(l.live) == 0 { // the first node has nobody to join
			l.live = append(l.live, m)
			l.mu.Unlock()
			continue
		}
		var vias []netip.AddrPort
		for range joinTries {
			vias = append(vias, l.live[l.rng.IntN(len(l.live))].node.Addr())
		}
		l.mu.Unlock()
		g <- struct{}{}
		wg.Go(func() {
			defer func() { <-g }()
			var err error
			for _, via := range vias {
				if _, err = m.node.Ping(ctx, via); err == nil {
					if err = m.node.Bootstrap(ctx); err == nil {
						break
					}
				}
				err = fmt.Errorf("join through %v: %w", via, err)
			}
			if err != nil {
				mu.Lock()
				first = cmp(first, err)
				mu.Unlock()
				return
			}
			l.mu.Lock()
			l.live = append(l.live, m)
			l.mu.Unlock()
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

func cmp(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// leave stops count random live nodes abruptly: their sockets close with
// no goodbye, as a crashed or disconnected client's would.
func (l *lab) leave(count int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range min(count, len(l.live)-2) {
		i := l.rng.IntN(len(l.live))
		l.live[i].stop()
		l.live = slices.Delete(l.live, i, i+1)
	}
}

// sample is one lookup's outcome.
type sample struct {
	hops, messages int
	found, failed  bool
}

// lookups runs count lookups of random keys from random live nodes,
// Parallel at a time, and checks each against the live set.
func (l *lab) lookups(ctx context.Context, count int) []sample {
	out := make([]sample, count)
	g := make(chan struct{}, l.cfg.Parallel)
	var wg sync.WaitGroup
	for i := range count {
		var target dht.ID
		for j := range target {
			target[j] = byte(l.rng.Uint32())
		}
		l.mu.Lock()
		origin := l.live[l.rng.IntN(len(l.live))].node
		l.mu.Unlock()
		g <- struct{}{}
		wg.Go(func() {
			defer func() { <-g }()
			res, err := origin.FindNode(ctx, target)
			s := sample{hops: res.Hops, messages: res.Messages, failed: err != nil}
			if err == nil {
				s.found = res.Closest[0].ID == l.closest(target, origin.ID())
			}
			out[i] = s
		})
	}
	wg.Wait()
	return out
}

// closest returns the live node truly closest to target, other than the
// origin of the lookup (which never reports itself).
func (l *lab) closest(target, origin dht.ID) dht.ID {
	l.mu.Lock()
	defer l.mu.Unlock()
	var best dht.ID
	have := false
	for _, m := range l.live {
		id := m.node.ID()
		if id != origin && (!have || dht.Closer(target, id, best)) {
			best, have = id, true
		}
	}
	return best
}

// churnRounds is how many leave-and-join rounds the churn run has; the
// lookups are spread over them.
const churnRounds = 5

func measure(ctx context.Context, cfg Config, rng *rand.Rand, n int) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	l := &lab{cfg: cfg, rng: rng}
	defer func() {
		cancel()
		l.wg.Wait()
	}()
	r := Result{N: n, Log2N: math.Log2(float64(n)), Lookups: cfg.Lookups}

	l.progress("N=%d: starting and joining %d nodes", n, n)
	start := time.Now()
	if err := l.join(ctx, n); err != nil {
		return r, err
	}
	r.JoinSeconds = time.Since(start).Seconds()

	l.progress("N=%d: %d lookups", n, cfg.Lookups)
	start = time.Now()
	steady := l.lookups(ctx, cfg.Lookups)
	r.LookupSeconds = time.Since(start).Seconds()
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	r.MeanHops, r.P99Hops, r.MeanMessages, r.P99Messages, r.FoundClosest, _ = summarize(steady)
	l.mu.Lock()
	for _, m := range l.live {
		s := m.node.Stats()
		r.Timeouts += s.Timeouts
		r.Limited += s.Limited
	}
	l.mu.Unlock()

	if cfg.Churn > 0 {
		replace := int(math.Round(cfg.Churn * float64(n)))
		l.progress("N=%d: %d lookups while %d nodes leave and %d join", n, cfg.Lookups, replace, replace)
		var all []sample
		done := 0
		for round := range churnRounds {
			k := replace*(round+1)/churnRounds - replace*round/churnRounds
			l.leave(k)
			if err := l.join(ctx, k); err != nil {
				return r, err
			}
			count := cfg.Lookups*(round+1)/churnRounds - done
			done += count
			all = append(all, l.lookups(ctx, count)...)
		}
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		r.Churn, r.ChurnLookups = float64(replace)/float64(n), len(all)
		var failed int
		r.ChurnMeanHops, _, r.ChurnMeanMessages, _, r.ChurnFoundClosest, failed = summarize(all)
		r.ChurnFailedLookups = failed
	}
	return r, nil
}

// summarize returns mean and 99th-percentile hops and messages over the
// lookups that completed, the share of all lookups that found the closest
// node, and the number that failed.
func summarize(ss []sample) (meanHops, p99Hops, meanMsgs, p99Msgs, found float64, failed int) {
	var hops, msgs []float64
	nFound := 0
	for _, s := range ss {
		if s.failed {
			failed++
			continue
		}
		hops = append(hops, float64(s.hops))
		msgs = append(msgs, float64(s.messages))
		if s.found {
			nFound++
		}
	}
	if len(ss) > 0 {
		found = float64(nFound) / float64(len(ss))
	}
	return mean(hops), percentile(hops, 0.99), mean(msgs), percentile(msgs, 0.99), found, failed
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// percentile is the nearest-rank percentile p (0 < p ≤ 1).
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[max(0, int(math.Ceil(p*float64(len(s))))-1)]
}

// Plot draws mean and p99 hops against N, with log2 N for reference, as a
// PNG at path.
func Plot(results []Result, path string) error {
	var x, mean, p99, churn, log2 []float64
	for _, r := range results {
		x = append(x, float64(r.N))
		mean = append(mean, r.MeanHops)
		p99 = append(p99, r.P99Hops)
		churn = append(churn, r.ChurnMeanHops)
		log2 = append(log2, r.Log2N)
	}
	series := []chart.Series{
		{Name: "mean hops", X: x, Y: mean},
		{Name: "p99 hops", X: x, Y: p99},
	}
	if len(results) > 0 && results[0].ChurnLookups > 0 {
		series = append(series, chart.Series{Name: "mean hops with churn", X: x, Y: churn})
	}
	series = append(series, chart.Series{Name: "log2 N", X: x, Y: log2, Dashed: true})
	return chart.Lines{
		Title:  "DHT lookup hops against network size",
		XLabel: "nodes N (log scale)",
		YLabel: "hops per lookup",
		LogX:   true,
		Series: series,
	}.SavePNG(path)
}
