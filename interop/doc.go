// Package interop holds tests that run swarm's binary against real
// BitTorrent tools from Debian packages (mktorrent, transmission-cli,
// python3-libtorrent, aria2, opentracker). It has no production code.
//
// The tests skip a missing tool, unless SWARM_INTEROP=1 (set by the test
// script and CI), when a missing tool is a failure.
package interop
