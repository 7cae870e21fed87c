// Package content prepares what a loopback benchmark transfers: the swarm
// binary under test (built from this module unless one is given), a
// pseudo-random file alone in a seed folder, and one .torrent of it, made by
// that binary, that every client of the benchmark is given. It starts no
// peers and measures nothing. Prepare may be called from any goroutine.
package content
