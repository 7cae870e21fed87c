package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"swarm/tracker"
)

// metrics are the Server's Prometheus collectors, in a registry of its own.
type metrics struct {
	registry  *prometheus.Registry
	announces *prometheus.CounterVec // by event
	byEvent   [4]prometheus.Counter  // announces, indexed by tracker.Event
	scrapes   prometheus.Counter
	failures  *prometheus.CounterVec // by reason: a parameter name, a refusal's label, "hook" or "internal"
	// UDP only: connect requests answered, and datagrams dropped without
	// a reply, by udpDrop.
	udpConnects prometheus.Counter
	udpDropped  [nDrops]prometheus.Counter
}

// udpDrop is why a UDP datagram got no reply.
type udpDrop int

const (
	dropShort      udpDrop = iota // under 16 bytes
	dropProtocolID                // a connect without BEP 15's protocol id
	dropConnID                    // a connection id the tracker did not give this address lately
	dropAction                    // an action other than connect, announce, scrape
	nDrops
)

var dropLabels = [nDrops]string{"short", "protocol_id", "connection_id", "action"}

func newMetrics(st store) *metrics {
	// storeStats reads the totals for a scrape of /metrics; a store that
	// fails (Redis unreachable) reports zeros rather than stale figures.
	storeStats := func() stats {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, _ := st.stats(ctx)
		return s
	}
	m := &metrics{
		registry: prometheus.NewRegistry(),
		announces: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "swarm_tracker", Name: "announces_total",
			Help: "Announces applied, by event.",
		}, []string{"event"}),
		scrapes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "swarm_tracker", Name: "scrapes_total",
			Help: "Scrapes answered.",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "swarm_tracker", Name: "failures_total",
			Help: "Requests answered with a failure reason, by the parameter at fault, the limit reached (max_swarms, not_allowed, denied, ip_rate), or hook, internal.",
		}, []string{"reason"}),
	}
	m.udpConnects = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "swarm_tracker", Name: "udp_connects_total",
		Help: "UDP connect requests answered with a connection id.",
	})
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "swarm_tracker", Name: "udp_dropped_total",
		Help: "UDP datagrams dropped without a reply, by reason: short, protocol_id, connection_id (expired or forged), action (unknown).",
	}, []string{"reason"})
	for d, l := range dropLabels {
		m.udpDropped[d] = dropped.WithLabelValues(l)
	}
	for e := tracker.EventNone; e <= tracker.EventStopped; e++ {
		name := e.String()
		if name == "" {
			name = "none"
		}
		m.byEvent[e] = m.announces.WithLabelValues(name)
	}
	gauge := func(name, help string, f func(stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "swarm_tracker", Name: name, Help: help,
		}, func() float64 { return f(storeStats()) })
	}
	m.registry.MustRegister(
		m.announces, m.scrapes, m.failures, m.udpConnects, dropped,
		gauge("swarms", "Torrents with state in the registry.", func(s stats) float64 { return float64(s.swarms) }),
		gauge("seeders", "Tracked peers with nothing left to download.", func(s stats) float64 { return float64(s.seeders) }),
		gauge("leechers", "Tracked peers still downloading.", func(s stats) float64 { return float64(s.leechers) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "swarm_tracker", Name: "snatches_total",
			Help: "Completed events counted as downloads.",
		}, func() float64 { return float64(storeStats().snatches) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// countConns registers l's metrics: connections open, and refused by cap.
func (m *metrics) countConns(l *connLimit) {
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "swarm_tracker", Name: "connections_refused_total",
		Help: "HTTP connections closed as soon as accepted, by the cap reached: per_ip (--max-conns-per-ip) or total (--max-conns).",
	}, []string{"reason"})
	l.refused[refusePerIP] = refused.WithLabelValues("per_ip")
	l.refused[refuseTotal] = refused.WithLabelValues("total")
	m.registry.MustRegister(refused, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "swarm_tracker", Name: "http_connections",
		Help: "HTTP connections open.",
	}, func() float64 { return float64(l.count()) }))
}
