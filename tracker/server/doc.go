// Package server is a BitTorrent tracker: over HTTP, GET /announce (BEP 3,
// compact replies per BEP 23 and BEP 7), GET /scrape (BEP 48) and Prometheus
// metrics at /metrics; over UDP (RunUDP), BEP 15 connect, announce and scrape
// with BEP 41 URL data; both over one in-memory swarm registry sharded by
// info hash, with the same limits, Hook and metrics.
//
// It does not persist state, and keeps nothing per UDP client: connection
// ids are MACs it recomputes (connid.go). It bounds what strangers can make
// it hold: Config.MaxSwarms, allow and deny lists of info hashes
// (SetAccess), and announce rates per address and per /24 or /48
// (Config.IPRate, Config.PrefixRate). A Hook sees each parsed request
// first and may refuse it: private mode (package tracker/private) plugs in
// there, and serves its metrics through Config.Metrics. A Server's
// handler may serve any number of requests at once: each shard of the registry
// has its own mutex, held only while a swarm is read or changed, never across I/O.
package server
