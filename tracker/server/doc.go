// Package server is an HTTP BitTorrent tracker: GET /announce (BEP 3, compact
// replies per BEP 23 and BEP 7), GET /scrape (BEP 48) and Prometheus metrics at
// /metrics, over an in-memory swarm registry sharded by info hash.
//
// It does not speak UDP or persist state. It bounds what strangers can make
// it hold: Config.MaxSwarms, allow and deny lists of info hashes
// (SetAccess), and announce rates per address and per /24 or /48
// (Config.IPRate, Config.PrefixRate). A Hook sees each parsed request
// first and may refuse it: private mode (package tracker/private) plugs in
// there, and serves its metrics through Config.Metrics. A Server's
// handler may serve any number of requests at once: each shard of the registry
// has its own mutex, held only while a swarm is read or changed, never across I/O.
package server
