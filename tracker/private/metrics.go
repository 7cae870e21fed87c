package private

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Tracker's Prometheus collectors; the server registers
// them beside its own (server.Config.Metrics).
type metrics struct {
	refusals             [nReasons]prometheus.Counter
	uploaded, downloaded prometheus.Counter
	flushErrors          prometheus.Counter
	flushSeconds         prometheus.Histogram
	foldSeconds          prometheus.Histogram
	cheats               map[CheatKind]prometheus.Counter
	cheatsDropped        prometheus.Counter
	all                  []prometheus.Collector
}

func newMetrics(t *Tracker) *metrics {
	const ns = "swarm_tracker_private"
	refusals := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "refusals_total",
		Help: "Requests refused by private mode, by reason.",
	}, []string{"reason"})
	accounted := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "accounted_bytes_total",
		Help: "Bytes counted into users' totals since start, written or not yet, by direction.",
	}, []string{"direction"})
	m := &metrics{
		uploaded:   accounted.WithLabelValues("uploaded"),
		downloaded: accounted.WithLabelValues("downloaded"),
		flushErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "flush_errors_total",
			Help: "Flushes and folds that failed (retried at the next flush).",
		}),
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "flush_seconds",
			Help:    "Time to write one batch of totals to the database.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
		foldSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "fold_seconds",
			Help:    "Time to fold the journal into the per-torrent totals and the session snapshot.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
	}
	for r := range nReasons {
		m.refusals[r] = refusals.WithLabelValues(reasonLabels[r])
	}
	cheats := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "uncredited_announces_total",
		Help: "Announces whose bytes anti-cheat did not credit (answered all the same), by kind.",
	}, []string{"kind"})
	m.cheats = map[CheatKind]prometheus.Counter{}
	for _, k := range cheatKinds {
		m.cheats[k] = cheats.WithLabelValues(string(k))
	}
	m.cheatsDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Name: "uncredited_announces_unrecorded_total",
		Help: "Uncredited announces not written to cheat_events: more than 10,000 waited for one flush.",
	})
	m.all = []prometheus.Collector{
		refusals, accounted, m.flushErrors, m.flushSeconds, m.foldSeconds, cheats, m.cheatsDropped,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: ns, Name: "users",
			Help: "Users allowed to announce (not disabled).",
		}, func() float64 { return float64(t.snap.Load().enabled) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: ns, Name: "torrents",
			Help: "Registered torrents.",
		}, func() float64 { return float64(len(t.snap.Load().torrents)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: ns, Name: "sessions",
			Help: "Open accounting sessions (user, torrent, peer id).",
		}, func() float64 { return float64(t.sessionCount()) }),
	}
	return m
}

// Collectors returns the Tracker's metrics, for server.Config.Metrics.
func (t *Tracker) Collectors() []prometheus.Collector { return t.metrics.all }
